"""H-14: CSV / XLSX import and export of customers and contacts, through the API and pages."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text

from crm_host import people

YEAR = date.today().year
IMPORT = "/api/v1/customers/import"
EXPORT = "/api/v1/customers/export"


@pytest.fixture
def clerk(crm_app, make_user, customers):
    """``clerk()`` → a user who may import and export but sees only their own customers."""
    with crm_app.extensions["crm"].db.session_scope() as s:
        role = people.create_role(s, "clerk", "Clerk", scope="own")
        perms = [
            "customers.view",
            "customers.create",
            "customers.edit",
            "customers.import",
            "customers.export",
        ]
        for p in perms:
            people.set_grant(s, role, p, "allow", set(perms))

    def make(**kw):
        return make_user("clerk", **kw)

    return make


def _csv(headers, rows, encoding="utf-8-sig", delimiter=","):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def _import(client, data, filename="customers.csv", kind="customers", mode="validate"):
    return client.post(
        IMPORT,
        data={"file": (io.BytesIO(data), filename), "kind": kind, "mode": mode},
        content_type="multipart/form-data",
    )


def _names(client, **query):
    r = client.get("/api/v1/customers", query_string={"per_page": 200, **query})
    assert r.status_code == 200, r.get_json()
    return sorted(i["name"] for i in r.get_json()["items"])


def _rows_of(resp) -> list[list[str]]:
    data = resp.get_data()
    if data.startswith(b"PK"):
        ws = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        return [
            ["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)
        ]
    assert data.startswith(b"\xef\xbb\xbf"), "CSV exports start with a BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


# --- Import: encodings, search, phone lookup, audit ---------------------------------------


def test_csv_utf8_bom_with_chinese_headers(api, customers):
    admin = api("admin")
    data = _csv(
        ["名稱", "簡稱", "電話", "電子郵件", "類別", "標籤", "城市", "備註"],
        [
            ["北京海宇勇創科技有限公司", "海宇", "(010) 62123456", "info@haiyu.example.cn",
             "partner", "VIP;北區", "北京", "第一位客戶"],
            ["上海宏達貿易有限公司", "宏達", "021-5555 1234", "", "existing", "", "上海", ""],
        ],
    )  # fmt: skip
    r = _import(admin, data, mode="all")
    assert r.status_code == 200, r.get_json()
    rep = r.get_json()
    assert (rep["rows"], rep["imported"], rep["errors"], rep["unknown_columns"]) == (2, 2, [], [])
    assert rep["encoding"] == "utf-8-sig" and rep["format"] == "csv"
    assert rep["columns"] == ["name", "short_name", "phone", "email", "category", "tags", "city",
                              "notes"]  # fmt: skip

    # Found by the Chinese full-text search and by the caller lookup, in any written form.
    found = admin.get("/api/v1/customers", query_string={"q": "北京海宇"}).get_json()["items"]
    assert [c["name"] for c in found] == ["北京海宇勇創科技有限公司"]
    c = admin.get(f"/api/v1/customers/{found[0]['id']}").get_json()
    cats = {x["code"]: x["id"] for x in admin.get("/api/v1/customers/categories").get_json()}
    assert c["tags"] == ["vip", "北區"] and c["category_id"] == cats["partner"]
    assert c["owner_id"] == admin.user.id and c["lifecycle"] == "prospect"
    assert re.fullmatch(rf"C{YEAR}\d{{5}}", c["code"]) and c["notes"] == "第一位客戶"
    assert _names(admin, q="海宇") == ["北京海宇勇創科技有限公司"]
    assert _names(admin, q="62123456") == ["北京海宇勇創科技有限公司"]
    hits = admin.get("/api/v1/lookup/phone/+86 10 6212 3456").get_json()
    assert [h["customer"]["id"] for h in hits] == [c["id"]]
    assert admin.get("/api/v1/lookup/phone/02155551234").get_json()[0]["customer"]["name"] == (
        "上海宏達貿易有限公司"
    )

    # One audit entry for the whole import, none per customer.
    audit = admin.get("/api/v1/audit", query_string={"entity": "customers.import"}).get_json()
    assert audit["total"] == 1
    entry = audit["items"][0]
    assert entry["action"] == "import" and entry["after"]["imported"] == 2
    assert entry["after"]["file"] == "customers.csv" and entry["user_id"] == admin.user.id
    per_row = admin.get("/api/v1/audit", query_string={"entity": "customers.customer"}).get_json()
    assert per_row["total"] == 0

    # Importing the same file again: warned as duplicates (name, phone, email), not refused.
    r = _import(admin, data, mode="validate")
    rep = r.get_json()
    assert rep["errors"] == [] and {w["row"] for w in rep["warnings"]} == {2, 3}
    w2 = next(w for w in rep["warnings"] if w["row"] == 2)["warnings"]
    assert set(w2) == {"name", "phone", "email"} and c["code"] in w2["name"][0]


@pytest.mark.parametrize(
    "encoding,name,phone_header",
    [
        ("gb18030", "北京海宇勇创科技有限公司", "电话"),
        ("big5", "台北海宇勇創科技有限公司", "電話"),
        ("utf-8", "深圳海宇科技有限公司", "电话"),
    ],
)
def test_legacy_chinese_encodings(api, customers, encoding, name, phone_header):
    admin = api("admin")
    data = _csv(["名称" if encoding == "gb18030" else "名稱", phone_header, "地址"],
                [[name, "13912345678", "中山路一號"]], encoding=encoding)  # fmt: skip
    rep = _import(admin, data, mode="all").get_json()
    assert rep["imported"] == 1, rep
    assert rep["encoding"] == encoding
    assert _names(admin) == [name]
    assert _names(admin, q=name[:4]) == [name]


def test_semicolon_csv_and_english_labels(api, customers):
    admin = api("admin")
    data = _csv(["Name", "Short name", "Postal code", "Owner email"],
                [["Acme Trading Ltd.", "Acme", "100080", admin.user.email]],
                delimiter=";")  # fmt: skip
    rep = _import(admin, data, mode="all").get_json()
    assert rep["imported"] == 1 and rep["columns"] == ["name", "short_name", "postal_code",
                                                       "owner_email"]  # fmt: skip


# --- Bad rows, modes ----------------------------------------------------------------------


BAD_FILE_HEADERS = ["name", "email", "category", "owner_email", "grade", "phone", "lifecycle",
                    "favourite_colour"]  # fmt: skip
BAD_FILE_ROWS = [
    ["Good One", "one@example.cn", "existing", "", "A", "010-62123456", "repeat", "red"],  # 2
    ["", "noname@example.cn", "", "", "", "", "", ""],  # 3: missing name
    ["Bad Email", "not-an-email", "", "", "", "", "", ""],  # 4
    ["Bad Category", "", "no-such-category", "", "", "", "", ""],  # 5
    ["Bad Owner", "", "", "ghost@example.test", "", "", "", ""],  # 6
    ["Bad Types", "", "", "", "Z", "call me", "sleeping", ""],  # 7
    ["Good Two", "", "", "", "", "", "", "blue"],  # 8
]
BAD_EXPECTED = {
    3: {"name"},
    4: {"email"},
    5: {"category"},
    6: {"owner_email"},
    7: {"grade", "phone", "lifecycle"},
}


def test_every_bad_row_is_reported_and_validate_writes_nothing(api, customers):
    admin = api("admin")
    rep = _import(admin, _csv(BAD_FILE_HEADERS, BAD_FILE_ROWS), mode="validate").get_json()
    assert (rep["rows"], rep["good"], rep["bad"], rep["imported"]) == (7, 2, 5, 0)
    assert {e["row"]: set(e["errors"]) for e in rep["errors"]} == BAD_EXPECTED
    assert rep["unknown_columns"] == ["favourite_colour"]
    by_row = {e["row"]: e["errors"] for e in rep["errors"]}
    assert "Unknown category" in by_row[5]["category"][0]
    assert by_row[6]["owner_email"] == ["Unknown or inactive owner."]
    assert _names(admin) == []


def test_mode_all_imports_nothing_when_one_row_is_bad(api, customers):
    admin = api("admin")
    r = _import(admin, _csv(BAD_FILE_HEADERS, BAD_FILE_ROWS), mode="all")
    assert r.status_code == 422
    rep = r.get_json()
    assert rep["imported"] == 0 and rep["bad"] == 5 and "Nothing was imported" in rep["detail"]
    assert _names(admin) == []
    assert admin.get("/api/v1/audit?entity=customers.import").get_json()["total"] == 0


def test_mode_good_imports_the_rest_and_returns_the_bad_rows(api, customers):
    admin = api("admin")
    r = _import(admin, _csv(BAD_FILE_HEADERS, BAD_FILE_ROWS), mode="good")
    assert r.status_code == 200, r.get_json()
    rep = r.get_json()
    assert rep["imported"] == 2 and rep["bad"] == 5
    assert _names(admin) == ["Good One", "Good Two"]
    bad = list(csv.reader(io.StringIO(rep["bad_rows_csv"])))
    assert bad[0] == [*BAD_FILE_HEADERS, "errors"]
    assert [row[0] for row in bad[1:]] == ["", "Bad Email", "Bad Category", "Bad Owner",
                                           "Bad Types"]  # fmt: skip
    assert bad[2][1] == "not-an-email" and bad[2][-1].startswith("email:")
    # The bad-rows file, corrected, imports cleanly (the errors column is ignored).
    fixed = [row[:-1] for row in bad[1:]]
    fixed[0][0], fixed[1][1], fixed[2][2], fixed[3][3] = "Named", "ok@example.cn", "agent", ""
    fixed[4][4:7] = ["B", "13912345678", "loyal"]
    again = _csv([*BAD_FILE_HEADERS, "errors"], [[*row, "old reasons"] for row in fixed])
    rep = _import(admin, again, mode="all").get_json()
    assert rep["imported"] == 5, rep["errors"]
    assert rep["unknown_columns"] == ["favourite_colour", "errors"]


def test_giving_imported_customers_to_others_needs_transfer(api, customers, clerk, make_user):
    me, other = clerk(), make_user("sales")
    gone = make_user("sales", email="gone@example.test")
    from crm_host.models import User

    a = api(me)
    with a.client.application.extensions["crm"].db.session_scope() as s:
        s.get(User, gone.id).is_active = False
    data = _csv(["name", "owner_email"], [["Mine", me.email], ["Theirs", other.email],
                                           ["Inactive", "GONE@example.test"], ["Default", ""]])  # fmt: skip
    rep = _import(a, data).get_json()
    errs = {e["row"]: e["errors"] for e in rep["errors"]}
    assert set(errs) == {3, 4}
    assert "customers.transfer" in errs[3]["owner_email"][0]
    assert errs[4]["owner_email"] == ["Unknown or inactive owner."]
    lead = api("admin")  # may hand over: the owner email is honoured
    rep = _import(lead, data, mode="good").get_json()
    assert rep["imported"] == 3
    owners = {c["name"]: c["owner_id"] for c in lead.get("/api/v1/customers").get_json()["items"]}
    assert owners == {"Mine": me.id, "Theirs": other.id, "Default": lead.user.id}


# --- Contacts -----------------------------------------------------------------------------


def test_contacts_import_checks_codes_scope_and_types(api, customers, clerk):
    me, other = clerk(), clerk()
    a, b = api(me), api(other)
    mine = a.post("/api/v1/customers", json={"name": "我的客戶"}).get_json()
    theirs = b.post("/api/v1/customers", json={"name": "別人的客戶"}).get_json()
    headers = ["客戶編號", "姓名", "手機", "生日", "主要聯絡人", "電子郵件"]
    rows = [
        [mine["code"], "陳志明", "139 1234 5678", "1980-05-01", "", "chen@example.cn"],  # 2
        [mine["code"], "林美玲", "", "", "是", ""],  # 3: becomes the primary contact
        [theirs["code"], "王大同", "", "", "", ""],  # 4: not in my scope
        ["C000NOPE", "李四", "", "", "", ""],  # 5
        [mine["code"], "錯生日", "", "31/02/2020", "", ""],  # 6
        [mine["code"], "錯布林", "", "", "maybe", ""],  # 7
        [mine["code"], "錯手機", "call me", "", "", ""],  # 8
        ["", "無客戶", "", "", "", ""],  # 9
    ]
    rep = _import(a, _csv(headers, rows), kind="contacts", mode="good").get_json()
    assert {e["row"]: set(e["errors"]) for e in rep["errors"]} == {
        4: {"customer_code"},
        5: {"customer_code"},
        6: {"birthday"},
        7: {"is_primary"},
        8: {"mobile"},
        9: {"customer_code"},
    }
    assert rep["imported"] == 2
    contacts = a.get(f"/api/v1/customers/{mine['id']}/contacts").get_json()
    by_name = {c["name"]: c for c in contacts}
    assert set(by_name) == {"陳志明", "林美玲"}
    assert by_name["林美玲"]["is_primary"] and not by_name["陳志明"]["is_primary"]
    assert by_name["陳志明"]["birthday"] == "1980-05-01"
    hit = a.get("/api/v1/lookup/phone/13912345678").get_json()
    assert hit[0]["contact"]["name"] == "陳志明"
    assert b.get(f"/api/v1/customers/{theirs['id']}/contacts").get_json() == []
    # A second import warns about the same people and keeps one primary contact.
    rep = _import(a, _csv(headers, rows[:2]), kind="contacts", mode="all").get_json()
    assert {w["row"] for w in rep["warnings"]} == {2, 3} and rep["imported"] == 2
    contacts = a.get(f"/api/v1/customers/{mine['id']}/contacts").get_json()
    assert sum(c["is_primary"] for c in contacts) == 1 and len(contacts) == 4


# --- Files that are not what they claim ---------------------------------------------------


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


@pytest.mark.parametrize(
    "data,filename,status,words",
    [
        (PNG, "customers.csv", 400, "PNG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "customers.xlsx", 400, "PDF"),
        (b"", "customers.csv", 400, "empty"),
        (b"\xef\xbb\xbf\r\n  \r\n", "customers.csv", 400, "empty"),
        (b"phone,email\n123,a@b.cn\n", "customers.csv", 400, "'name'"),
        (b"name,name\nx,y\n", "customers.csv", 400, "keep one"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old.xls", 400, ".xls"),
        (b"PK\x03\x04" + b"\x00" * 64, "fake.xlsx", 400, "ZIP"),
    ],
)
def test_files_that_are_not_csv_or_xlsx_are_refused(api, customers, data, filename, status, words):
    admin = api("admin")
    r = _import(admin, data, filename)
    assert r.status_code == status, r.get_json()
    assert r.mimetype == "application/problem+json"
    assert words in r.get_json()["detail"]


def test_missing_file_and_size_limit(api, customers):
    admin = api("admin")
    r = admin.post(IMPORT, data={"kind": "customers"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "'file'" in r.get_json()["detail"]
    r = _import(admin, b"name\n" + b"x" * (30 * 1024 * 1024))
    assert r.status_code == 413 and "30 MB" in r.get_json()["detail"]
    r = admin.post(IMPORT, data={"file": (io.BytesIO(b"name\nx\n"), "a.csv"), "kind": "deals"},
                   content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 422 and "kind" in r.get_json()["errors"]


# --- Export and round trip ----------------------------------------------------------------


def test_xlsx_round_trip_into_a_fresh_customer_set(api, customers, crm_db):
    from crm_customers.transfer import CONTACT_COLUMNS, CUSTOMER_COLUMNS

    admin = api("admin")
    owner = api("sales").user
    cats = {x["code"]: x["id"] for x in admin.get("/api/v1/customers/categories").get_json()}
    specs = [
        dict(name="北京海宇勇創科技有限公司", short_name="海宇", category_id=cats["partner"],
             grade="A", lifecycle="loyal", industry="科技", region="北區", province="北京",
             city="北京", address="中關村大街1號", postal_code="100080", phone="(010) 62123456",
             fax="010-62123457", email="info@haiyu.example.cn", website="https://haiyu.example.cn",
             source="展會", owner_id=owner.id, credit_rating="AA", tax_id="91110000X",
             tags=["vip", "北區"], notes="多行\n備註, with \"quotes\""),
        dict(name="=HYPERLINK(\"http://evil\")", phone="+86 21 5555 1234"),
        dict(name="Acme Trading Ltd.", email="sales@acme.example.com", tags=["export"]),
    ]  # fmt: skip
    created = [admin.post("/api/v1/customers", json=s).get_json() for s in specs]
    cid = created[0]["id"]
    for body in (
        {"name": "陳志明", "mobile": "13912345678", "birthday": "1980-05-01", "title": "經理"},
        {"name": "林美玲", "email": "lin@haiyu.example.cn", "is_primary": True, "code": "K1"},
    ):
        assert admin.post(f"/api/v1/customers/{cid}/contacts", json=body).status_code == 201

    def snapshot():
        out = {}
        for item in admin.get("/api/v1/customers?per_page=50").get_json()["items"]:
            c = admin.get(f"/api/v1/customers/{item['id']}").get_json()
            contacts = admin.get(f"/api/v1/customers/{item['id']}/contacts").get_json()
            for k in ("id", "version", "updated_at", "created_at", "primary_contact"):
                c.pop(k)
            c["contacts"] = sorted(
                ({k: v for k, v in x.items() if k not in ("id", "customer_id", "version")}
                 for x in contacts), key=lambda x: x["name"])  # fmt: skip
            out[c["code"]] = c
        return out

    before = snapshot()
    cust = admin.get(EXPORT, query_string={"format": "xlsx"})
    assert cust.status_code == 200 and cust.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in cust.headers["Content-Disposition"]
    rows = _rows_of(cust)
    assert tuple(rows[0]) == CUSTOMER_COLUMNS and len(rows) == 4
    assert rows[2][1] == '=HYPERLINK("http://evil")'
    sheet = openpyxl.load_workbook(io.BytesIO(cust.get_data())).worksheets[0]
    assert sheet["B3"].data_type == "s"  # kept as text, never a formula
    cont = admin.get(EXPORT, query_string={"format": "xlsx", "kind": "contacts"})
    crows = _rows_of(cont)
    assert tuple(crows[0]) == CONTACT_COLUMNS and len(crows) == 3

    crm_db.execute(text("DELETE FROM customers_customer"))
    crm_db.commit()
    assert _names(admin) == []

    rep = _import(admin, cust.get_data(), "customers.xlsx", mode="all").get_json()
    assert rep["format"] == "xlsx" and rep["imported"] == 3, rep
    rep = _import(admin, cont.get_data(), "contacts.xlsx", kind="contacts", mode="all").get_json()
    assert rep["imported"] == 2, rep
    after = snapshot()
    for code in before:
        before[code].pop("revenue"), after[code].pop("revenue")
    assert after == before
    assert _names(admin, q="北京海宇") == ["北京海宇勇創科技有限公司"]
    assert admin.get("/api/v1/lookup/phone/139-1234-5678").get_json()[0]["contact"]["name"] == (
        "陳志明"
    )


def test_kept_codes_move_the_numbering_on(api, customers):
    admin = api("admin")
    data = _csv(["code", "name"], [[f"C{YEAR}00500", "Kept"], ["OLD-7", "Legacy"], ["", "New"]])
    rep = _import(admin, data, mode="all").get_json()
    assert rep["imported"] == 3
    codes = {i["name"]: i["code"] for i in admin.get("/api/v1/customers").get_json()["items"]}
    assert codes["Kept"] == f"C{YEAR}00500" and codes["Legacy"] == "OLD-7"
    assert codes["New"] == f"C{YEAR}00001"
    nxt = admin.post("/api/v1/customers", json={"name": "Next"}).get_json()["code"]
    assert nxt == f"C{YEAR}00501"
    rep = _import(admin, data, mode="validate").get_json()  # the codes are taken now
    assert [set(e["errors"]) for e in rep["errors"]] == [{"code"}, {"code"}]
    dup = _csv(["code", "name"], [["X1", "a"], ["X1", "b"]])
    rep = _import(admin, dup).get_json()
    assert rep["errors"] == [{"row": 3, "errors": {"code": ["Same code as row 2."]}}]


def test_export_follows_the_filter_and_the_scope(api, login, customers, clerk, crm_app):
    me, other = clerk(), clerk()
    a, b = api(me), api(other)
    for name, region in [("北京甲公司", "北區"), ("上海乙公司", "南區")]:
        c = a.post("/api/v1/customers", json={"name": name, "region": region}).get_json()
        a.post(f"/api/v1/customers/{c['id']}/contacts", json={"name": f"{name}聯絡人"})
    c = b.post("/api/v1/customers", json={"name": "北京丙公司", "region": "北區"}).get_json()
    b.post(f"/api/v1/customers/{c['id']}/contacts", json={"name": "丙聯絡人"})

    def names(resp, col=1):
        assert resp.status_code == 200
        return sorted(r[col] for r in _rows_of(resp)[1:])

    assert names(a.get(EXPORT)) == ["上海乙公司", "北京甲公司"]
    assert names(a.get(EXPORT, query_string={"region": "北區"})) == ["北京甲公司"]
    assert names(a.get(EXPORT, query_string={"q": "上海", "format": "xlsx"})) == ["上海乙公司"]
    assert names(b.get(EXPORT)) == ["北京丙公司"]
    assert names(a.get(EXPORT, query_string={"kind": "contacts"})) == [
        "上海乙公司聯絡人",
        "北京甲公司聯絡人",
    ]
    assert names(a.get(EXPORT, query_string={"kind": "contacts", "region": "北區"})) == [
        "北京甲公司聯絡人"
    ]
    assert names(api("admin").get(EXPORT, query_string={"region": "北區"})) == [
        "北京丙公司",
        "北京甲公司",
    ]
    assert a.get(EXPORT, query_string={"format": "pdf"}).status_code == 422
    # The page's export link: the same filters, the same scope.
    page = login(me)
    r = page.get("/customers/transfer/export", query_string={"fmt": "csv", "region": "北區"})
    assert r.mimetype == "text/csv" and names(r) == ["北京甲公司"]
    r = page.get("/customers/transfer/export", query_string={"fmt": "xlsx", "kind": "contacts"})
    assert names(r) == ["上海乙公司聯絡人", "北京甲公司聯絡人"]
    # What the list's filter form sends when an export button submits it (empty fields too).
    form = {"q": "", "category_id": "", "region": "北區", "sort": "name", "file": "contacts.xlsx"}
    r = page.get("/customers/transfer/export", query_string=form)
    assert r.mimetype.endswith("spreadsheetml.sheet") and names(r) == ["北京甲公司聯絡人"]
    assert page.get("/customers/transfer/export?file=deals.pdf").status_code == 400
    # Streaming ends with the export's session closed (no connection left in a transaction).
    assert crm_app.extensions["crm"].db.engine.pool.checkedout() == 0


def test_csv_export_escapes_formulas_but_not_phone_numbers(api, customers):
    admin = api("admin")
    admin.post("/api/v1/customers", json={"name": "@SUM(A1)", "phone": "+86 10 6212 3456"})
    rows = _rows_of(admin.get(EXPORT))
    assert rows[1][1] == "'@SUM(A1)" and rows[1][12] == "+86 10 6212 3456"
    # ... and an import reads the escaped text back as it was.
    rep = _import(admin, admin.get(EXPORT).get_data(), mode="validate").get_json()
    assert rep["warnings"][0]["warnings"]["name"][0].startswith("An existing customer")


# --- Permissions --------------------------------------------------------------------------


def test_import_and_export_need_their_permissions(api, login, anonymous_api, customers):
    sales = api("sales")
    assert sales.get(EXPORT).status_code == 403
    assert _import(sales, b"name\nx\n", mode="all").status_code == 403
    assert anonymous_api.get(EXPORT).status_code == 401
    assert _names(sales) == []
    page = login("sales")
    for url in (
        "/customers/transfer/import",
        "/customers/transfer/export?fmt=csv",
        "/customers/transfer/template?fmt=csv",
    ):
        assert page.get(url).status_code == 403, url
    leader = login("leader")  # leaders hold both by default
    assert leader.get("/customers/transfer/import").status_code == 200
    assert leader.get("/customers/transfer/export?fmt=csv").status_code == 200


# --- The pages ----------------------------------------------------------------------------


def _token(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert m, f"no {name} in the page"
    return m.group(1)


def test_import_page_preview_then_good_rows(login, customers, crm_app):
    client = login("leader")
    page = client.get("/customers/transfer/import")
    assert page.status_code == 200 and 'data-testid="upload-form"' in page.get_data(as_text=True)

    r = client.post_form(
        "/customers/transfer/import",
        {"action": "preview", "kind": "customers",
         "file": (io.BytesIO(_csv(BAD_FILE_HEADERS, BAD_FILE_ROWS)), "clients.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="import-report"' in html
    assert re.search(r'data-testid="bad-count">5<', html)
    assert re.search(r'data-testid="good-count">2<', html)
    assert "not-an-email" not in html and "Not a valid email address." in html
    assert "Unknown category" in html and "favourite_colour" in html
    assert re.search(r'value="all"\s+disabled', html)  # "Import all" is off with errors
    token = _token(html, "token")
    uploads = Path(crm_app.instance_path) / "uploads"
    assert len(list(uploads.glob("*.upload"))) == 1

    # The token is checked: a forged one, or someone else's, gets nothing.
    r = client.post_form("/customers/transfer/import",
                         {"action": "import", "mode": "good", "token": token[:-2] + "xx"})  # fmt: skip
    assert r.status_code == 400 and "upload it again" in r.get_data(as_text=True)
    stranger = login("leader")
    r = stranger.post_form("/customers/transfer/import",
                           {"action": "import", "mode": "good", "token": token})  # fmt: skip
    assert r.status_code == 400
    # "All" is refused while rows are bad, and writes nothing.
    r = client.post_form("/customers/transfer/import",
                         {"action": "import", "mode": "all", "token": token})  # fmt: skip
    assert r.status_code == 422 and "Nothing was imported" in r.get_data(as_text=True)

    r = client.post_form("/customers/transfer/import",
                         {"action": "import", "mode": "good", "token": token})  # fmt: skip
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="import-result"' in html
    assert "2 rows imported" in html
    assert list(uploads.glob("*.upload")) == []  # the upload is gone after the import
    link = re.search(r'href="([^"]+)" data-testid="bad-rows-link"', html).group(1)
    bad = client.get(link.replace("&amp;", "&"))
    assert bad.status_code == 200 and bad.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(bad.get_data().decode("utf-8-sig"))))
    assert rows[0][-1] == "errors" and len(rows) == 6
    assert stranger.get(link.replace("&amp;", "&")).status_code == 404
    # The file cannot be imported twice.
    r = client.post_form("/customers/transfer/import",
                         {"action": "import", "mode": "good", "token": token})  # fmt: skip
    assert r.status_code == 400


def test_import_page_refuses_a_png_and_imports_all(login, customers):
    client = login("leader")
    r = client.post_form(
        "/customers/transfer/import",
        {"action": "preview", "kind": "customers", "file": (io.BytesIO(PNG), "logo.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and "PNG" in r.get_data(as_text=True)
    data = _csv(["名称", "电话"], [["北京海宇勇创科技有限公司", "010-62123456"]], "gb18030")
    r = client.post_form(
        "/customers/transfer/import",
        {"action": "preview", "kind": "customers", "file": (io.BytesIO(data), "c.csv")},
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "gb18030" in html
    assert not re.search(r'value="all"\s+disabled', html)
    r = client.post_form("/customers/transfer/import",
                         {"action": "import", "mode": "all", "token": _token(html, "token")})  # fmt: skip
    assert r.status_code == 200 and "1 rows imported" in r.get_data(as_text=True)
    found = client.get("/customers/", query_string={"q": "北京海宇"}).get_data(as_text=True)
    assert "北京海宇勇创科技有限公司" in found


def test_documented_in_openapi(anonymous_api, customers):
    spec = anonymous_api.get("/api/openapi.json").get_json()
    body = spec["paths"]["/api/v1/customers/import"]["post"]["requestBody"]["content"]
    props = body["multipart/form-data"]["schema"]
    if "$ref" in props:
        props = spec["components"]["schemas"][props["$ref"].rsplit("/", 1)[1]]
    assert {"file", "kind", "mode"} <= set(props["properties"])
    assert "/api/v1/customers/export" in spec["paths"]
    assert "CustomersTransfer" in {t["name"] for t in spec["tags"]}


def test_templates(login, customers):
    from crm_customers.transfer import CONTACT_COLUMNS, CUSTOMER_COLUMNS

    client = login("leader")
    r = client.get("/customers/transfer/template?fmt=xlsx&kind=customers")
    assert r.status_code == 200 and _rows_of(r) == [list(CUSTOMER_COLUMNS)]
    r = client.get("/customers/transfer/template?fmt=csv&kind=contacts")
    assert _rows_of(r) == [list(CONTACT_COLUMNS)]
    assert client.get("/customers/transfer/template?fmt=doc").status_code == 400


# --- Speed --------------------------------------------------------------------------------


def test_importing_5000_rows_is_fast(api, customers):
    admin = api("admin")
    n = 5000
    rows = [
        [f"測試客戶{i:05d}有限公司", f"客{i}", "existing" if i % 2 else "partner",
         f"010-{62000000 + i}", f"c{i}@example.cn", "北區" if i % 3 else "南區", "vip;華北"]
        for i in range(n)
    ]  # fmt: skip
    data = _csv(["name", "short_name", "category", "phone", "email", "region", "tags"], rows)
    t0 = time.perf_counter()
    r = _import(admin, data, mode="all")
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200 and r.get_json()["imported"] == n, r.get_json()["errors"][:3]
    print(f"\nimported {n} rows in {elapsed:.2f} s ({n / elapsed:,.0f} rows/s)")
    assert elapsed < 8, f"{n} rows took {elapsed:.1f} s"
    assert _names(admin, q="測試客戶04321") == ["測試客戶04321有限公司"]
    hits = admin.get("/api/v1/lookup/phone/+86 10 6200 4321").get_json()
    assert [h["customer"]["name"] for h in hits] == ["測試客戶04321有限公司"]
    assert admin.get("/api/v1/customers?tag=華北").get_json()["total"] == n
