"""Pages, the public self-service help center, hooks for other plugins, CLI and packs screen."""

import io
import re

import pytest
from flask_login import login_user
from knowledge_testkit import write_pack

from crm_host.models import Department


@pytest.fixture
def editor(knowledge, api):
    return api("leader")


def new_article(client, **kw):
    data = {"title": "車險理賠規則", "body": "理賠需要三份文件。", "status": "published"}
    data.update(kw)
    r = client.post("/api/v1/articles", json=data)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# --- Internal pages ----------------------------------------------------------------------


def test_pages_render_for_editor_and_reader(knowledge, editor, login):
    a = new_article(editor, tags=["車險"], kind="qa")
    c = login("leader")
    for url in (
        "/knowledge/articles/",
        "/knowledge/articles/?q=理賠",
        f"/knowledge/articles/{a['id']}",
        f"/knowledge/articles/{a['id']}/history",
        f"/knowledge/articles/{a['id']}/edit",
        "/knowledge/articles/new",
        "/knowledge/articles/insights",
        "/knowledge/products",
        "/knowledge/products/new",
        "/knowledge/competitors",
        "/knowledge/competitors/new",
        "/knowledge/documents",
        "/",
    ):
        r = c.get(url)
        assert r.status_code == 200, (url, r.status_code)
    assert "<mark>理賠</mark>" in c.get("/knowledge/articles/?q=理賠").get_data(as_text=True)
    staff = login("staff")
    assert staff.get("/knowledge/articles/insights").status_code == 403
    assert staff.get(f"/knowledge/articles/{a['id']}/edit").status_code == 403
    assert staff.get("/admin/knowledge/categories").status_code == 403
    admin = login("admin")
    assert admin.get("/admin/knowledge/categories").status_code == 200
    assert admin.get("/admin/knowledge/packs").status_code == 200


def test_edit_form_stale_version_and_validation(knowledge, editor, login):
    a = new_article(editor)
    c = login("leader")
    url = f"/knowledge/articles/{a['id']}/edit"
    form = {
        "title": "新標題",
        "body": "內容",
        "status": "published",
        "visibility": "internal",
        "kind": "article",
        "locale": "zh_Hant",
        "version": "1",
    }
    r = c.post_form(url, data=form)
    assert r.status_code == 303
    r = c.post_form(url, data=dict(form, title="過時的"))
    assert r.status_code == 409
    r = c.post_form(url, data=dict(form, title="", version="2"))
    assert r.status_code == 422 and "is-invalid" in r.get_data(as_text=True)
    assert editor.get(f"/api/v1/articles/{a['id']}").get_json()["title"] == "新標題"
    r = c.post(url, data=dict(form, version="2"))  # no CSRF token
    assert r.status_code == 400


def test_new_article_form_with_oversized_attachment(knowledge, login, crm_app):
    crm_app.config["CRM_KNOWLEDGE_MAX_UPLOAD"] = 1024 * 1024
    c = login("leader")
    data = {
        "title": "附件測試",
        "body": "x",
        "status": "draft",
        "visibility": "internal",
        "kind": "article",
        "locale": "zh_Hant",
        "file": (io.BytesIO(b"%PDF-1.4" + b"0" * (2 * 1024 * 1024)), "big.pdf"),
    }
    r = c.post_form("/knowledge/articles/new", data=data, content_type="multipart/form-data")
    assert r.status_code == 413 or r.status_code == 422
    assert "附件測試" not in c.get("/knowledge/articles/").get_data(as_text=True)


def test_restricted_article_page_wrong_department_404(knowledge, crm_db, editor, login, make_user):
    d1, d2 = Department(name="Claims"), Department(name="Sales")
    crm_db.add_all([d1, d2])
    crm_db.commit()
    a = new_article(editor, visibility="restricted", departments=[d1.id])
    outsider = login(make_user("staff", department_id=d2.id))
    insider = login(make_user("staff", department_id=d1.id))
    assert outsider.get(f"/knowledge/articles/{a['id']}").status_code == 404
    assert outsider.get(f"/knowledge/articles/{a['id']}/history").status_code == 404
    assert insider.get(f"/knowledge/articles/{a['id']}").status_code == 200


def test_internal_feedback_and_insights(knowledge, editor, login):
    a = new_article(editor)
    staff = login("staff")
    r = staff.post_form(f"/knowledge/articles/{a['id']}/feedback", data={"helpful": "no"})
    assert r.status_code == 303
    staff.post_form(f"/knowledge/articles/{a['id']}/feedback", data={"helpful": "no"})
    staff.get(f"/knowledge/articles/{a['id']}")
    got = editor.get(f"/api/v1/articles/{a['id']}").get_json()
    assert got["helpful_no"] == 1 and got["view_count"] == 1
    page = login("leader").get("/knowledge/articles/insights").get_data(as_text=True)
    assert "車險理賠規則" in page.split('data-testid="least-helpful"')[1]


# --- Public help center ------------------------------------------------------------------


@pytest.fixture
def published(knowledge, editor, crm_db, api):
    """A public Q&A with a translation and an attachment, plus internal, restricted and
    draft articles with attachments of their own."""
    d = Department(name="Claims")
    crm_db.add(d)
    crm_db.commit()
    cat = api("admin").post("/api/v1/knowledge/categories", json={"name": "理賠"}).get_json()["id"]
    pub = new_article(
        editor,
        visibility="public",
        kind="qa",
        locale="zh_Hant",
        category_id=cat,
        translations={
            "en": {"title": "Car claim rules", "body": "You need **three** documents."},
            "zh_Hans": {"title": "车险理赔规则", "body": "理赔需要三份文件。"},
        },
    )
    internal = new_article(editor, visibility="internal", title="內部理賠規則", category_id=cat)
    restricted = new_article(editor, visibility="restricted", departments=[d.id], title="理賠機密")
    draft = new_article(editor, visibility="public", status="draft", title="理賠草稿")
    atts = {}
    h = {"Authorization": f"Bearer {editor.token}"}
    for name, art in (
        ("pub", pub),
        ("internal", internal),
        ("restricted", restricted),
        ("draft", draft),
    ):
        r = editor.client.post(
            f"/api/v1/articles/{art['id']}/attachments",
            data={"file": (io.BytesIO(b"%PDF-1.4 " + name.encode()), f"{name}.pdf")},
            headers=h,
        )
        assert r.status_code == 201
        atts[name] = r.get_json()["id"]
    return {
        "pub": pub,
        "internal": internal,
        "restricted": restricted,
        "draft": draft,
        "atts": atts,
    }


def test_public_pages_without_login(knowledge, crm_app, published):
    c = crm_app.test_client()
    pub = published["pub"]
    r = c.get("/kb/")
    assert r.status_code == 200 and "Set-Cookie" not in r.headers
    assert "public" in r.headers["Cache-Control"] and r.headers.get("ETag")
    r = c.get(f"/kb/a/{pub['id']}?lang=en")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "Car claim rules" in body and "<strong>three</strong>" in body
    assert "Set-Cookie" not in r.headers
    etag = r.headers["ETag"]
    assert c.get(f"/kb/a/{pub['id']}?lang=en", headers={"If-None-Match": etag}).status_code == 304
    assert "车险理赔规则" in c.get(f"/kb/a/{pub['id']}?lang=zh_Hans").get_data(as_text=True)
    assert "車險理賠規則" in c.get(f"/kb/a/{pub['id']}?lang=zh_Hant").get_data(as_text=True)
    # The browser's language when the URL has none.
    r = c.get(f"/kb/a/{pub['id']}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "车险理赔规则" in r.get_data(as_text=True) and "Accept-Language" in r.headers["Vary"]
    # Search finds only the public article.
    r = c.get("/kb/search?q=理賠")
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and f"/kb/a/{pub['id']}" in text
    for other in ("internal", "restricted", "draft"):
        assert f"/kb/a/{published[other]['id']}" not in text
    assert "<mark>" in text
    assert c.get(f"/kb/attachments/{published['atts']['pub']}").status_code == 200


def test_public_never_leaks_by_guessed_ids(knowledge, crm_app, published, editor):
    c = crm_app.test_client()
    for other in ("internal", "restricted", "draft"):
        aid = published[other]["id"]
        assert c.get(f"/kb/a/{aid}").status_code == 404
        assert c.get(f"/kb/a/{aid}?lang=en").status_code == 404
        assert c.post(f"/kb/a/{aid}/feedback", data={"helpful": "yes"}).status_code == 404
        assert c.get(f"/kb/attachments/{published['atts'][other]}").status_code == 404
        # Revisions and internal pages have no public URL; internal ones need a login.
        assert c.get(f"/knowledge/articles/{aid}").status_code in (302, 401)
        assert c.get(f"/knowledge/articles/{aid}/history").status_code in (302, 401)
        assert c.get(f"/api/v1/articles/{aid}/revisions").status_code == 401
    for guess in range(1, 60):
        if guess == published["pub"]["id"]:
            continue
        assert c.get(f"/kb/a/{guess}").status_code == 404
    last_att = max(published["atts"].values())
    for guess in range(1, last_att + 10):
        if guess == published["atts"]["pub"]:
            continue
        assert c.get(f"/kb/attachments/{guess}").status_code == 404
    # Unpublishing or making internal hides the public one at once.
    pub = published["pub"]
    editor.patch(
        f"/api/v1/articles/{pub['id']}", json={"version": pub["version"], "visibility": "internal"}
    )
    assert c.get(f"/kb/a/{pub['id']}").status_code == 404
    assert c.get(f"/kb/attachments/{published['atts']['pub']}").status_code == 404


def test_public_feedback_one_vote_per_visitor(knowledge, crm_app, published, editor):
    aid = published["pub"]["id"]
    c = crm_app.test_client()
    r = c.post(f"/kb/a/{aid}/feedback?lang=en", data={"helpful": "yes"})
    assert r.status_code == 303 and "voted=yes" in r.headers["Location"]
    assert "crm_kb_visitor" in r.headers.get("Set-Cookie", "")
    c.post(f"/kb/a/{aid}/feedback", data={"helpful": "yes"})
    c.post(f"/kb/a/{aid}/feedback", data={"helpful": "yes"})
    assert editor.get(f"/api/v1/articles/{aid}").get_json()["helpful_yes"] == 1
    other = crm_app.test_client()
    other.post(f"/kb/a/{aid}/feedback", data={"helpful": "no"})
    got = editor.get(f"/api/v1/articles/{aid}").get_json()
    assert (got["helpful_yes"], got["helpful_no"]) == (1, 1)
    # A forged cookie is a new visitor, never someone else's vote.
    forged = crm_app.test_client()
    forged.set_cookie("crm_kb_visitor", "forged", path="/kb/")
    forged.post(f"/kb/a/{aid}/feedback", data={"helpful": "no"})
    assert editor.get(f"/api/v1/articles/{aid}").get_json()["helpful_no"] == 2
    assert c.post(f"/kb/a/{aid}/feedback", data={"helpful": "maybe"}).status_code == 400


def test_public_category_pages(knowledge, crm_app, api, editor):
    admin = api("admin")
    top = admin.post(
        "/api/v1/knowledge/categories",
        json={"name": "理賠", "names": {"en": "Claims", "zh_Hans": "理赔"}},
    ).get_json()
    secret = admin.post("/api/v1/knowledge/categories", json={"name": "內部"}).get_json()
    new_article(editor, visibility="public", category_id=top["id"])
    new_article(editor, visibility="internal", category_id=secret["id"], title="內部文章")
    c = crm_app.test_client()
    home = c.get("/kb/?lang=en").get_data(as_text=True)
    assert "Claims" in home and "內部" not in home
    assert c.get(f"/kb/c/{top['id']}?lang=en").status_code == 200
    assert c.get(f"/kb/c/{secret['id']}").status_code == 404
    assert c.get("/kb/c/9999").status_code == 404


# --- Hooks for other plugins -------------------------------------------------------------


def _runtime(app):
    return app.extensions["crm"].runtime()


def test_service_answers_hook(knowledge, crm_app, editor, make_user, crm_db):
    d1, d2 = Department(name="Claims"), Department(name="Sales")
    crm_db.add_all([d1, d2])
    crm_db.commit()
    qa = new_article(
        editor,
        kind="qa",
        locale="zh_Hant",
        title="車險理賠需要哪些文件？",
        body="請準備**理賠申請書**。",
        translations={
            "en": {"title": "Which documents for a car claim?", "body": "The claim form."}
        },
    )
    secret = new_article(editor, visibility="restricted", departments=[d1.id], title="理賠內規")
    new_article(editor, status="draft", title="理賠草稿")
    outsider = make_user("service", department_id=d2.id)
    with crm_app.test_request_context():
        login_user(outsider)
        rt = _runtime(crm_app)
        got = rt.collect("crm_service_answers", query="理賠", user=outsider, limit=5, locale="en")
        assert [g["id"] for g in got] == [str(qa["id"])]
        assert got[0]["title"] == "Which documents for a car claim?"
        assert got[0]["answer"] == "The claim form." and got[0]["url"].endswith(f"/{qa['id']}")
        assert set(got[0]) == {"id", "title", "answer", "url", "snippet"}
        zh = rt.collect(
            "crm_service_answers", query="理賠", user=outsider, limit=5, locale="zh_Hant"
        )
        assert zh[0]["answer"] == "請準備**理賠申請書**。" and "**" not in zh[0]["snippet"]
        assert (
            rt.collect("crm_service_answers", query="  ", user=outsider, limit=5, locale="en") == []
        )
        assert (
            len(
                rt.collect("crm_service_answers", query="理賠", user=outsider, limit=0, locale="en")
            )
            == 0
        )
    insider = make_user("service", department_id=d1.id)
    with crm_app.test_request_context():
        login_user(insider)
        got = _runtime(crm_app).collect(
            "crm_service_answers", query="理賠", user=insider, limit=5, locale="en"
        )
        assert {g["id"] for g in got} == {str(qa["id"]), str(secret["id"])}


def test_competitor_catalog_hook_and_disabled_plugin(knowledge, crm_app, editor, crm_db):
    for name in ("宏遠保險", "Acme Insurance", "安泰人壽"):
        r = editor.post("/api/v1/competitors", json={"name": name, "summary": f"{name} summary"})
        assert r.status_code == 201
    with crm_app.test_request_context():
        rt = _runtime(crm_app)
        got = rt.collect("crm_competitor_catalog", session=crm_db, query="acme", limit=10)
        assert [g["name"] for g in got] == ["Acme Insurance"]
        assert (
            got[0]["key"].startswith("knowledge:") and got[0]["summary"] == "Acme Insurance summary"
        )
        assert got[0]["url"].startswith("/knowledge/competitors/")
        assert len(rt.collect("crm_competitor_catalog", session=crm_db, query="", limit=2)) == 2
    from crm_host import modules

    modules.disable(crm_app, "knowledge", actor="test")
    with crm_app.test_request_context():
        rt = _runtime(crm_app)
        assert rt.collect("crm_competitor_catalog", session=crm_db, query="", limit=5) == []
        assert rt.collect("crm_service_answers", query="x", user=None, limit=5, locale="en") == []
    # Its pages and the public help center are gone too (data kept).
    assert crm_app.test_client().get("/kb/").status_code == 404


def test_knowledge_packs_hookspec_published(knowledge, crm_app):
    rt = _runtime(crm_app)
    assert rt.pm.hook.crm_knowledge_packs.spec is not None
    assert rt.collect("crm_knowledge_packs") == []


# --- Packs: CLI and admin screen ---------------------------------------------------------


@pytest.fixture
def pack_dir(tmp_path, monkeypatch):
    from crm_knowledge import packs

    root = write_pack(tmp_path / "pack")
    state = {"root": root}
    monkeypatch.setattr(
        packs,
        "_contributions",
        lambda runtime: [
            ("insurance", lambda: [packs.KnowledgePack.from_directory(state["root"])])
        ],
    )
    return state


def test_cli_packs_list_install_upgrade(knowledge, crm_cli, pack_dir, tmp_path):
    r = crm_cli("knowledge", "packs", "list")
    assert r.exit_code == 0 and "insurance-faq" in r.output and "not installed" in r.output
    r = crm_cli("knowledge", "packs", "install", "insurance-faq")
    assert r.exit_code == 0, r.output
    assert "installed" in r.output and "articles created: 2" in r.output
    r = crm_cli("knowledge", "packs", "install", "insurance-faq")
    assert r.exit_code == 0 and "unchanged" in r.output
    assert "installed 1.0.0" in crm_cli("knowledge", "packs", "list").output
    r = crm_cli("knowledge", "packs", "install", "nope")
    assert r.exit_code != 0 and "No pack named 'nope'" in r.output
    write_pack(pack_dir["root"], version="1.1.0")
    assert "upgrade available to 1.1.0" in crm_cli("knowledge", "packs", "list").output
    r = crm_cli("knowledge", "packs", "upgrade", "insurance-faq")
    assert r.exit_code == 0 and "upgraded" in r.output, r.output


def test_cli_refuses_malformed_pack_whole(knowledge, crm_cli, tmp_path, monkeypatch, crm_db):
    from crm_knowledge import packs
    from crm_knowledge.models import Article

    bad = write_pack(
        tmp_path / "bad",
        articles={
            "good.md": '+++\nkind = "qa"\ncategory = "claims"\ntitle = "OK"\nvisibility = "public"\n+++\nfine\n',
            "broken.md": '+++\nkind = "qa"\ncategory = "nowhere"\ntitle = "X"\nvisibility = "public"\n+++\nbody\n',
        },
    )

    monkeypatch.setattr(
        packs,
        "_contributions",
        lambda runtime: [("insurance", lambda: [packs.KnowledgePack.from_directory(bad)])],
    )
    r = crm_cli("knowledge", "packs", "install", "insurance-faq")
    assert r.exit_code != 0
    assert "articles/broken.md" in r.output and "'category'" in r.output
    assert crm_db.query(Article).count() == 0
    r = crm_cli("knowledge", "packs", "list")
    assert "refused (plugin insurance)" in r.output


def test_admin_screen_shows_refused_pack(knowledge, login, tmp_path, monkeypatch):
    from crm_knowledge import packs

    bad = write_pack(tmp_path / "bad", articles={"x.md": "no front matter"})
    monkeypatch.setattr(
        packs,
        "_contributions",
        lambda runtime: [("insurance", lambda: [packs.KnowledgePack.from_directory(bad)])],
    )
    page = login("admin").get("/admin/knowledge/packs").get_data(as_text=True)
    assert 'data-testid="pack-refused"' in page and "articles/x.md" in page


def test_admin_packs_screen(knowledge, login, pack_dir):
    c = login("admin")
    page = c.get("/admin/knowledge/packs").get_data(as_text=True)
    assert "Insurance FAQ" in page or "保險常見問題" in page
    r = c.post_form("/admin/knowledge/packs", data={"name": "insurance-faq", "action": "install"})
    assert r.status_code == 200 and 'data-testid="pack-report"' in r.get_data(as_text=True)
    r = c.post_form("/admin/knowledge/packs", data={"name": "insurance-faq", "action": "install"})
    assert "nothing changed" in r.get_data(as_text=True)
    assert login("leader").get("/admin/knowledge/packs").status_code == 403


def test_categories_admin_screen(knowledge, login):
    c = login("admin")
    r = c.post_form("/admin/knowledge/categories", data={"name": "理賠", "name_en": "Claims"})
    assert r.status_code == 303
    page = c.get("/admin/knowledge/categories").get_data(as_text=True)
    assert "理賠" in page and "Claims" in page
    r = c.post_form("/admin/knowledge/categories", data={"name": ""})
    assert r.status_code == 422
    assert re.search(r"is-invalid", r.get_data(as_text=True))


def test_demo_data_in_chinese_and_english(crm_app, enable_modules, make_user, crm_db):
    from crm_knowledge import demo
    from crm_knowledge.models import Article, Competitor, Product
    from sqlalchemy import select

    enable_modules("knowledge")
    users = {
        k: make_user(r) for k, r in (("admin", "admin"), ("leader", "leader"), ("sales", "sales"))
    }
    db = crm_app.extensions["crm"].db
    for locale in ("zh_Hant", "en"):
        with crm_app.test_request_context(), db.session_scope() as s:
            demo.fill(s, {k: s.merge(u) for k, u in users.items()}, locale)
    crm_db.expire_all()
    titles = list(crm_db.scalars(select(Article.title)))
    assert "產品保固期多久？" in titles and len(titles) == len(demo.ARTICLES) + 1
    a = crm_db.scalar(select(Article).where(Article.title == "產品保固期多久？"))
    assert a.translation("en").title == "How long is the warranty?"
    assert crm_db.query(Product).count() == len(demo.PRODUCTS)
    assert crm_db.query(Competitor).count() == len(demo.COMPETITORS)
    assert crm_db.query(Article).filter_by(visibility="restricted").count() == 1


def test_public_help_center_speaks_three_languages(knowledge, crm_app):
    c = crm_app.test_client()
    assert "需要什麼協助？" in c.get("/kb/?lang=zh_Hant").get_data(as_text=True)
    assert "需要什么帮助？" in c.get("/kb/?lang=zh_Hans").get_data(as_text=True)
    assert "How can we help?" in c.get("/kb/?lang=en").get_data(as_text=True)
    r = c.get("/kb/", headers={"Accept-Language": "zh-TW"})
    assert "需要什麼協助？" in r.get_data(as_text=True)


def test_hooks_under_the_real_hookspecs(
    knowledge, crm_app, enable_modules, editor, crm_db, make_user
):
    """With the service and pipeline modules installed and enabled, their hookspecs are
    registered and the knowledge implementations answer through them."""
    import importlib.util

    wanted = [m for m in ("service", "pipeline") if importlib.util.find_spec(f"crm_{m}")]
    if not wanted:
        pytest.skip("neither the service nor the pipeline module is installed")
    enable_modules(*wanted)
    new_article(editor, kind="qa", title="退貨流程", body="七天內可退貨。")
    editor.post("/api/v1/competitors", json={"name": "宏遠保險"})
    user = make_user("service")
    with crm_app.test_request_context():
        login_user(user)
        rt = _runtime(crm_app)
        if "service" in wanted:
            assert rt.pm.hook.crm_service_answers.spec is not None
            got = rt.collect(
                "crm_service_answers", query="退貨", user=user, limit=3, locale="zh_Hant"
            )
            assert [g["title"] for g in got if g["title"] == "退貨流程"] == ["退貨流程"]
        if "pipeline" in wanted:
            assert rt.pm.hook.crm_competitor_catalog.spec is not None
            got = rt.collect("crm_competitor_catalog", session=crm_db, query="宏遠", limit=5)
            assert [g["name"] for g in got if g["key"].startswith("knowledge:")] == ["宏遠保險"]
