"""Articles API: create, read, edit (409 when stale), revisions, visibility, search,
attachments, feedback, categories."""

import io

import pytest

from crm_host.models import Department, Role


@pytest.fixture
def admin(knowledge, api):
    return api("admin")


@pytest.fixture
def editor(knowledge, api):
    return api("leader")


def new_article(client, **kw):
    data = {"title": "車險理賠規則", "body": "理賠需要**三份**文件。", "status": "published"}
    data.update(kw)
    r = client.post("/api/v1/articles", json=data)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_create_read_patch_and_stale_409(editor):
    a = new_article(editor, tags=["車險", "理賠"], kind="qa", locale="zh_Hant")
    assert a["body_html"].strip() == "<p>理賠需要<strong>三份</strong>文件。</p>"
    assert a["tags"] == ["車險", "理賠"] and a["kind"] == "qa" and a["version"] == 1
    r = editor.patch(f"/api/v1/articles/{a['id']}", json={"version": 1, "title": "車險理賠規則 v2"})
    assert r.status_code == 200 and r.get_json()["version"] == 2
    r = editor.patch(f"/api/v1/articles/{a['id']}", json={"version": 1, "title": "stale"})
    assert r.status_code == 409
    assert editor.get(f"/api/v1/articles/{a['id']}").get_json()["title"] == "車險理賠規則 v2"
    revs = editor.get(f"/api/v1/articles/{a['id']}/revisions").get_json()
    assert [r["number"] for r in revs] == [2, 1] and revs[1]["title"] == "車險理賠規則"
    # Restore revision 1 (a new revision 3).
    r = editor.post(f"/api/v1/articles/{a['id']}/revisions/1/restore", json={"version": 2})
    assert r.status_code == 200 and r.get_json()["title"] == "車險理賠規則"
    assert len(editor.get(f"/api/v1/articles/{a['id']}/revisions").get_json()) == 3


def test_bad_input_is_422_and_changes_nothing(editor):
    r = editor.post("/api/v1/articles", json={"title": "", "status": "published"})
    assert r.status_code == 422 and "title" in r.get_json()["errors"]
    r = editor.post("/api/v1/articles", json={"title": "x", "visibility": "secret"})
    assert r.status_code == 422 and "visibility" in r.get_json()["errors"]
    r = editor.post("/api/v1/articles", json={"title": "x", "category_id": 999})
    assert r.status_code == 422 and "category_id" in r.get_json()["errors"]
    r = editor.post("/api/v1/articles", json={"title": "x" * 301})
    assert r.status_code == 422 and "title" in r.get_json()["errors"]
    r = editor.post("/api/v1/articles", json={"title": "x", "visibility": "restricted"})
    assert r.status_code == 422 and "visibility" in r.get_json()["errors"]
    r = editor.post("/api/v1/articles", json={"title": "x", "tags": ["a" * 61]})
    assert r.status_code == 422 and "tags" in r.get_json()["errors"]
    assert editor.get("/api/v1/articles").get_json()["total"] == 0


def test_markdown_is_sanitised(editor):
    a = new_article(
        editor,
        body="<script>alert(1)</script>\n\n[click](javascript:alert(1)) <img src=x onerror=alert(1)>",
    )
    html = a["body_html"]
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html and "href='javascript" not in html
    assert "&lt;script&gt;" in html  # shown as text
    a = new_article(editor, body="[ok](https://example.com) [bad](javascript:alert(1))")
    assert 'href="https://example.com"' in a["body_html"]
    assert 'href="javascript' not in a["body_html"]


def test_staff_cannot_write_and_sees_only_published(knowledge, editor, api):
    staff = api("staff")
    assert staff.post("/api/v1/articles", json={"title": "x"}).status_code == 403
    draft = new_article(editor, status="draft", title="草稿")
    pub = new_article(editor, title="已發布")
    assert staff.get(f"/api/v1/articles/{draft['id']}").status_code == 404
    assert staff.get(f"/api/v1/articles/{pub['id']}").status_code == 200
    ids = [i["id"] for i in staff.get("/api/v1/articles").get_json()["items"]]
    assert ids == [pub["id"]]
    r = staff.patch(f"/api/v1/articles/{pub['id']}", json={"version": 1, "title": "hack"})
    assert r.status_code == 403


def test_restricted_article_by_department(knowledge, crm_db, editor, api, make_user):
    claims = Department(name="Claims")
    sales = Department(name="Sales")
    crm_db.add_all([claims, sales])
    crm_db.commit()
    a = new_article(editor, visibility="restricted", departments=[claims.id], title="理賠內規")
    inside = api(make_user("staff", department_id=claims.id))
    outside = api(make_user("staff", department_id=sales.id))
    assert inside.get(f"/api/v1/articles/{a['id']}").status_code == 200
    assert outside.get(f"/api/v1/articles/{a['id']}").status_code == 404
    assert outside.get("/api/v1/articles?q=理賠").get_json()["total"] == 0
    assert inside.get("/api/v1/articles?q=理賠").get_json()["total"] == 1
    assert outside.get(f"/api/v1/articles/{a['id']}/revisions").status_code == 404
    # By role too.
    service_role = crm_db.query(Role).filter_by(name="service").one()
    b = new_article(editor, visibility="restricted", roles=[service_role.id], title="客服話術")
    assert api("service").get(f"/api/v1/articles/{b['id']}").status_code == 200
    assert api("sales").get(f"/api/v1/articles/{b['id']}").status_code == 404


def test_search_chinese_substring_english_ranked_highlighted(editor):
    a = new_article(editor, title="車險理賠規則", body="說明申請流程。")
    new_article(editor, title="Travel insurance", body="Claims for lost luggage and delays.")
    new_article(editor, title="壽險", body="與理賠無關的內容：保單借款。理賠另見。")
    r = editor.get("/api/v1/articles?q=理賠").get_json()
    assert r["total"] == 2
    assert r["items"][0]["id"] == a["id"]  # the title match ranks first
    assert (
        "<mark>理賠</mark>"
        in editor.get("/api/v1/articles?q=理賠").get_json()["items"][1]["highlight"]
    )
    r = editor.get("/api/v1/articles?q=luggage").get_json()
    assert r["total"] == 1 and "<mark>luggage</mark>" in r["items"][0]["highlight"]
    assert editor.get("/api/v1/articles?q=claim").get_json()["total"] == 1  # prefix
    assert editor.get("/api/v1/articles?q=不存在的詞").get_json()["total"] == 0


def test_filters_category_tree_and_tags(admin, editor):
    top = admin.post("/api/v1/knowledge/categories", json={"name": "理賠"}).get_json()
    sub = admin.post(
        "/api/v1/knowledge/categories", json={"name": "車險", "parent_id": top["id"]}
    ).get_json()
    a = new_article(editor, category_id=sub["id"], tags=["車險"])
    new_article(editor, title="Other")
    assert [
        i["id"] for i in editor.get(f"/api/v1/articles?category_id={top['id']}").get_json()["items"]
    ] == [a["id"]]
    assert [i["id"] for i in editor.get("/api/v1/articles?tag=車險").get_json()["items"]] == [
        a["id"]
    ]
    # A category cannot move under its own child; a non-empty one cannot be deleted.
    r = admin.patch(
        f"/api/v1/knowledge/categories/{top['id']}", json={"version": 1, "parent_id": sub["id"]}
    )
    assert r.status_code == 422
    assert admin.delete(f"/api/v1/knowledge/categories/{sub['id']}").status_code == 409
    assert editor.post("/api/v1/knowledge/categories", json={"name": "x"}).status_code == 403


def test_translations(editor):
    a = new_article(
        editor,
        locale="zh_Hant",
        translations={"en": {"title": "Car claim rules", "body": "Three documents."}},
    )
    assert [t["locale"] for t in a["translations"]] == ["en"]
    assert editor.get("/api/v1/articles?q=documents").get_json()["total"] == 1
    r = editor.patch(
        f"/api/v1/articles/{a['id']}", json={"version": 1, "translations": {"en": None}}
    )
    assert r.get_json()["translations"] == []
    r = editor.patch(
        f"/api/v1/articles/{a['id']}",
        json={"version": 2, "translations": {"zh_Hant": {"title": "same language"}}},
    )
    assert r.status_code == 422


def test_attachments_limits_and_access(knowledge, editor, api):
    knowledge.config["CRM_KNOWLEDGE_MAX_UPLOAD"] = 1024 * 1024
    a = new_article(editor, visibility="internal")
    c = editor.client
    h = {"Authorization": f"Bearer {editor.token}"}
    r = c.post(
        f"/api/v1/articles/{a['id']}/attachments",
        data={"file": (io.BytesIO(b"%PDF-1.4 hello"), "rules.pdf")},
        headers=h,
    )
    assert r.status_code == 201, r.get_json()
    att = r.get_json()
    big = io.BytesIO(b"%PDF-1.4" + b"0" * (2 * 1024 * 1024))
    r = c.post(
        f"/api/v1/articles/{a['id']}/attachments", data={"file": (big, "big.pdf")}, headers=h
    )
    assert r.status_code == 413
    r = c.post(
        f"/api/v1/articles/{a['id']}/attachments",
        data={"file": (io.BytesIO(b"MZ\x90\x00 exe"), "x.pdf")},
        headers=h,
    )
    assert r.status_code == 422
    assert editor.get(f"/api/v1/articles/{a['id']}").get_json()["attachments"] == [att]
    assert editor.client.get(att["url"], headers=h).status_code == 200


def test_feedback_one_vote_per_person(knowledge, editor, api):
    a = new_article(editor)
    staff = api("staff")
    url = f"/api/v1/articles/{a['id']}/feedback"
    assert staff.post(url, json={"helpful": True}).get_json()["helpful_yes"] == 1
    assert staff.post(url, json={"helpful": True}).get_json()["helpful_yes"] == 1
    r = staff.post(url, json={"helpful": False}).get_json()
    assert (r["helpful_yes"], r["helpful_no"]) == (0, 1)
    assert staff.post(url, json={"helpful": "maybe"}).status_code == 422


def test_products_and_competitors(knowledge, editor, api):
    r = editor.post(
        "/api/v1/products",
        json={"name": "安心車險", "number": "P-001", "price": "12800.00", "category": "車險"},
    )
    assert r.status_code == 201, r.get_json()
    p = r.get_json()
    assert editor.post("/api/v1/products", json={"name": "x", "number": "P-001"}).status_code == 422
    assert (
        editor.post(
            "/api/v1/products", json={"name": "x", "number": "P-9", "price": "-1"}
        ).status_code
        == 422
    )
    r = editor.patch(f"/api/v1/products/{p['id']}", json={"version": 1, "price": "13000"})
    assert r.status_code == 200 and r.get_json()["price"] == "13000.00"
    assert (
        editor.patch(f"/api/v1/products/{p['id']}", json={"version": 1, "name": "y"}).status_code
        == 409
    )
    assert api("staff").get("/api/v1/products?q=p-00").get_json()["total"] == 1
    assert (
        api("staff").post("/api/v1/products", json={"name": "x", "number": "Z"}).status_code == 403
    )

    r = editor.post(
        "/api/v1/competitors",
        json={
            "name": "宏遠保險",
            "summary": "Price leader",
            "products": [{"name": "宏遠車險", "price": "9900", "versus_product_id": p["id"]}],
        },
    )
    assert r.status_code == 201, r.get_json()
    comp = r.get_json()
    assert comp["products"][0]["versus_product_id"] == p["id"]
    assert editor.post("/api/v1/competitors", json={"name": "宏遠保險"}).status_code == 422
    r = editor.patch(
        f"/api/v1/competitors/{comp['id']}",
        json={"version": comp["version"], "products": [{"name": "宏遠機車險"}]},
    )
    assert [x["name"] for x in r.get_json()["products"]] == ["宏遠機車險"]
    assert api("sales").get("/api/v1/competitors?q=宏遠").get_json()["total"] == 1


def test_documents_by_role_and_department(knowledge, crm_db, editor, api, make_user):
    d1 = Department(name="Legal")
    crm_db.add(d1)
    crm_db.commit()
    h = {"Authorization": f"Bearer {editor.token}"}
    r = editor.client.post(
        "/api/v1/knowledge/documents",
        data={
            "file": (io.BytesIO(b"%PDF-1.4 contract"), "contract.pdf"),
            "title": "合約範本",
            "departments": str(d1.id),
        },
        headers=h,
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    r = editor.client.post(
        "/api/v1/knowledge/documents",
        data={"file": (io.BytesIO(b"price list"), "prices.txt"), "title": "Price list"},
        headers=h,
    )
    assert r.status_code == 201
    legal = api(make_user("staff", department_id=d1.id))
    other = api("staff")
    assert legal.get(f"/api/v1/knowledge/documents/{doc['id']}").status_code == 200
    assert other.get(f"/api/v1/knowledge/documents/{doc['id']}").status_code == 404
    assert other.get("/api/v1/knowledge/documents").get_json()["total"] == 1
    assert legal.get("/api/v1/knowledge/documents").get_json()["total"] == 2
    assert (
        other.client.get(doc["url"], headers={"Authorization": f"Bearer {other.token}"}).status_code
        == 404
    )
    knowledge.config["CRM_KNOWLEDGE_MAX_DOCUMENT"] = 1024 * 1024
    r = editor.client.post(
        "/api/v1/knowledge/documents",
        data={"file": (io.BytesIO(b"%PDF" + b"0" * (2 * 1024 * 1024)), "huge.pdf")},
        headers=h,
    )
    assert r.status_code == 413
    r = editor.client.post(
        "/api/v1/knowledge/documents",
        data={"file": (io.BytesIO(b"\x7fELF..."), "x.txt")},
        headers=h,
    )
    assert r.status_code == 422


def test_anonymous_api_is_401(knowledge, anonymous_api):
    assert anonymous_api.get("/api/v1/articles").status_code == 401
