"""The business rules' messages reach users in their language (zh_Hant, zh_Hans), through the
API, import reports and the bad-rows file; English stays as it was for everyone else."""

from __future__ import annotations

import csv
import io
import re

import pytest

IMPORT = "/api/v1/customers/import"
HEADERS = ["name", "category", "phone"]
ROWS = [
    ["Good Co", "", "010-62123456"],  # row 2
    ["Bad Category Co", "nosuch", ""],  # row 3
    ["Bad Phone Co", "", "call me"],  # row 4
]


def _speaks(client, crm_db, locale):
    client.user.locale = locale
    crm_db.merge(client.user)
    crm_db.commit()
    return client


def _csv(headers, rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def _import(client, mode="good"):
    return client.post(
        IMPORT,
        data={
            "file": (io.BytesIO(_csv(HEADERS, ROWS)), "c.csv"),
            "kind": "customers",
            "mode": mode,
        },
        content_type="multipart/form-data",
    )


def _bad_rows(text: str) -> dict:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][-1] == "errors"
    return {r[0]: r[-1] for r in rows[1:]}


EXPECTED = {
    "en": {
        "phone": "Not a phone number.",
        "category": "Unknown category.",
        "stale": "This record was changed by someone else (your version {y}, current version {c}). "
        "Reload it and apply your change again.",
        "row_category": "Unknown category 'nosuch'.",
        "nothing": "Nothing was imported: 2 rows have errors.",
        "missing": "No such customer.",
    },
    "zh_Hant": {
        "phone": "不是有效的電話號碼。",
        "category": "未知的分類。",
        "stale": "此紀錄已被他人修改（您的版本為 {y}，目前版本為 {c}）。請重新載入後再修改一次。",
        "row_category": "未知的分類「nosuch」。",
        "nothing": "未匯入任何資料：2 列有錯誤。",
        "missing": "找不到此客戶。",
    },
    "zh_Hans": {
        "phone": "不是有效的电话号码。",
        "category": "未知的分类。",
        "stale": "该记录已被他人修改（您的版本为 {y}，当前版本为 {c}）。请重新加载后再修改一次。",
        "row_category": "未知的分类“nosuch”。",
        "nothing": "未导入任何数据：2 行有错误。",
        "missing": "找不到该客户。",
    },
}


@pytest.mark.parametrize("locale", ["en", "zh_Hant", "zh_Hans"])
def test_api_refusals_speak_the_users_language(api, customers, crm_db, locale):
    client = api("admin")
    if locale != "en":  # "en": a user without a locale reads the English of today
        _speaks(client, crm_db, locale)
    want = EXPECTED[locale]

    r = client.post("/api/v1/customers", json={"name": "Acme", "phone": "call me"})
    assert r.status_code == 422
    body = r.get_json()
    assert body["errors"] == {"phone": [want["phone"]]} and body["detail"] == want["phone"]

    r = client.post("/api/v1/customers", json={"name": "Acme", "category_id": 99999})
    assert r.status_code == 422 and r.get_json()["errors"] == {"category_id": [want["category"]]}

    c = client.post("/api/v1/customers", json={"name": "Acme"}).get_json()
    url = f"/api/v1/customers/{c['id']}"
    v = c["version"]
    assert client.patch(url, json={"version": v, "short_name": "A"}).status_code == 200
    r = client.patch(url, json={"version": v, "short_name": "late"})
    want_stale = want["stale"].format(y=v, c=v + 1)
    assert r.status_code == 409 and r.get_json()["detail"] == want_stale

    r = client.get("/api/v1/customers/999999")
    assert r.status_code == 404 and r.get_json()["detail"] == want["missing"]


@pytest.mark.parametrize("locale", ["en", "zh_Hant", "zh_Hans"])
def test_import_report_and_bad_rows_speak_the_users_language(api, customers, crm_db, locale):
    client = api("admin")
    if locale != "en":
        _speaks(client, crm_db, locale)
    want = EXPECTED[locale]

    r = _import(client, mode="all")
    assert r.status_code == 422 and r.get_json()["detail"] == want["nothing"]

    r = _import(client, mode="good")
    assert r.status_code == 200
    rep = r.get_json()
    errors = {e["row"]: e["errors"] for e in rep["errors"]}
    assert errors == {3: {"category": [want["row_category"]]}, 4: {"phone": [want["phone"]]}}
    bad = _bad_rows(rep["bad_rows_csv"])
    assert bad == {
        "Bad Category Co": f"category: {want['row_category']}",
        "Bad Phone Co": f"phone: {want['phone']}",
    }


def test_import_page_bad_rows_file_in_chinese(login, make_user, customers, crm_db):
    user = make_user("leader")
    user.locale = "zh_Hant"
    crm_db.merge(user)
    crm_db.commit()
    client = login(user)
    r = client.post_form(
        "/customers/transfer/import",
        {"action": "preview", "kind": "customers", "file": (io.BytesIO(_csv(HEADERS, ROWS)), "c.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "未知的分類「nosuch」。" in html
    link = re.search(r'href="([^"]*/import/bad-rows[^"]*)"', html)
    assert link, "no link to the bad rows"
    bad = client.get(link.group(1).replace("&amp;", "&"))
    assert bad.status_code == 200
    assert _bad_rows(bad.get_data().decode("utf-8-sig")) == {
        "Bad Category Co": "category: 未知的分類「nosuch」。",
        "Bad Phone Co": "phone: 不是有效的電話號碼。",
    }


def test_a_user_without_a_locale_reads_english(api, customers):
    """The API answers a Bearer client in English unless the user chose a language."""
    client = api("admin")
    r = client.post(
        "/api/v1/customers",
        json={"name": "Acme", "phone": "call me"},
        headers={"Accept-Language": "en"},
    )
    assert r.get_json()["errors"] == {"phone": ["Not a phone number."]}


def test_outside_a_request_messages_stay_english(crm_app, customers):
    from crm_customers import services, transfer
    from crm_customers.i18n import _, _l

    with crm_app.app_context():  # the CLI and the worker run like this
        exc = services.CustomerError(_l("The code %(code)s is taken.", code="C1"), "code")
        assert str(exc) == "The code C1 is taken." and exc.field == "code"
        assert _("At most %(n)s tags.", n=30) == "At most 30 tags."
        with pytest.raises(transfer.TransferError, match=r"^The file is empty\.$"):
            transfer.parse(b"")


def test_outreach_refusal_in_simplified_chinese(api, customers, crm_db):
    client = _speaks(api("admin"), crm_db, "zh_Hans")
    c = client.post("/api/v1/customers", json={"name": "Acme"}).get_json()
    r = client.post(
        "/api/v1/customers/messages",
        json={"ids": [c["id"]], "subject": "Hi {bogus}", "body": "x", "dry_run": True},
    )
    assert r.status_code == 422
    msg = r.get_json()["errors"]["subject"][0]
    assert msg.startswith("主题中有未知的合并字段：{bogus}。可用的合并字段：{customer_name}, ")
    r = client.post("/api/v1/customers/labels", json={"ids": [c["id"]], "start_position": 99})
    assert r.status_code == 422
    assert r.get_json()["errors"]["start_position"] == ["起始位置须为 1 到 21 之间的标签编号。"]


def test_a_lazy_message_in_json_is_plain_text(crm_app, customers, crm_db, make_user):
    """Should a lazy message reach the JSON encoder, it is written as text."""
    from crm_customers.i18n import _l
    from flask_login import login_user

    from crm_host.models import User

    user = make_user("sales")
    with crm_app.test_request_context("/api/v1/customers"):
        u = crm_db.get(User, user.id)
        u.locale = "zh_Hant"
        login_user(u)
        out = crm_app.json.dumps({"errors": {"phone": [_l("Not a phone number.")]}})
    assert out == crm_app.json.dumps({"errors": {"phone": ["不是有效的電話號碼。"]}})


@pytest.mark.parametrize(
    ("locale", "handed", "merged"),
    [
        ("en", "Handed over to {owner}", "Merged {code} Acme Two into this customer"),
        ("zh_Hant", "已移交給 {owner}", "已將 {code} Acme Two 合併至此客戶"),
        ("zh_Hans", "已移交给 {owner}", "已将 {code} Acme Two 合并到该客户"),
    ],
)
def test_timeline_reads_in_the_users_language_and_stays_english_in_the_database(
    api, login, make_user, customers, crm_db, locale, handed, merged
):
    from crm_customers.models import TimelineEntry
    from sqlalchemy import select

    admin = make_user("admin")
    owner = make_user("sales", name="Wang Wei")
    if locale != "en":
        admin.locale = locale
        crm_db.merge(admin)
        crm_db.commit()
    client = api(admin)
    one = client.post("/api/v1/customers", json={"name": "Acme One"}).get_json()
    two = client.post("/api/v1/customers", json={"name": "Acme Two"}).get_json()
    r = client.post(
        f"/api/v1/customers/{one['id']}/merge",
        json={"source_id": two["id"], "version": one["version"]},
    )
    assert r.status_code == 200
    r = client.post(
        "/api/v1/customers/handover", json={"customer_ids": [one["id"]], "owner_id": owner.id}
    )
    assert r.status_code == 200
    html = login(admin).get(f"/customers/{one['id']}").get_data(as_text=True)
    assert handed.format(owner="Wang Wei") in html
    assert merged.format(code=two["code"]) in html
    stored = set(crm_db.scalars(select(TimelineEntry.title)))
    assert stored == {
        "Handed over to Wang Wei",
        f"Merged {two['code']} Acme Two into this customer",
    }


def test_message_timeline_title_is_rebuilt_in_the_readers_language(crm_app, crm_db, make_user):
    from crm_customers import services
    from crm_customers.models import TimelineEntry
    from flask_login import login_user

    from crm_host.models import User

    data = {"channel": "sms", "address": "+886 912 345 678", "subject": "新品通知"}
    entry = TimelineEntry(
        module="customers",
        kind="message",
        title="Text message sent to 陳志明 <+886 912 345 678>: 新品通知",
        data=data,
    )
    odd = TimelineEntry(module="customers", kind="message", title="Something else", data=data)
    user = make_user("sales")
    with crm_app.test_request_context("/customers/1"):
        u = crm_db.get(User, user.id)
        u.locale = "zh_Hant"
        login_user(u)
        assert (
            services._timeline_title(entry)
            == "已透過簡訊發送給 陳志明 <+886 912 345 678>：新品通知"
        )
        assert services._timeline_title(odd) == "Something else"  # not ours: as stored
    with crm_app.app_context():
        assert services._timeline_title(entry) == entry.title
