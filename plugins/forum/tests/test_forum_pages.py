"""The HTML pages: browse, post, reply, quote, follow, moderate, interests, categories,
case discussions on a customer's page, the dashboard widget, search and demo data."""

import re

from sqlalchemy import select


def _cat(api, name="General", **rules):
    r = api("admin").post("/api/v1/forum/categories", json={"name": name, **rules})
    assert r.status_code == 201
    return r.get_json()


def test_post_reply_quote_follow_and_edit_through_pages(forum, api, login):
    cat = _cat(api, "Sales strategy")
    alice, bob = login("sales"), login("sales")
    page = alice.get("/forum/").get_data(as_text=True)
    assert "Sales strategy" in page and 'data-testid="new-topic"' in page
    r = alice.post_form(
        "/forum/new",
        {
            "category_id": cat["id"],
            "title": "報價策略",
            "body": "Use **training** <script>alert(1)</script>",
        },
    )
    assert r.status_code == 303
    url = r.headers["Location"]
    tid = int(re.search(r"/forum/t/(\d+)", url).group(1))
    html = bob.get(f"/forum/t/{tid}").get_data(as_text=True)
    assert "<strong>training</strong>" in html and "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html
    assert bob.post_form(f"/forum/t/{tid}/reply", {"body": "First reply"}).status_code == 303
    rid = int(
        re.search(r'id="reply-(\d+)"', bob.get(f"/forum/t/{tid}").get_data(as_text=True)).group(1)
    )
    page = alice.get(f"/forum/t/{tid}?quote={rid}").get_data(as_text=True)
    assert 'data-testid="quoting"' in page
    alice.post_form(f"/forum/t/{tid}/reply", {"body": "Answer", "quote_of": rid})
    page = bob.get(f"/forum/t/{tid}").get_data(as_text=True)
    assert 'data-testid="quote"' in page and "First reply" in page
    # follow / unfollow
    assert 'data-testid="follow"' in page
    bob.post_form(f"/forum/t/{tid}/follow", {})
    assert 'data-testid="unfollow"' in bob.get(f"/forum/t/{tid}").get_data(as_text=True)
    # edit with history
    form = alice.get(f"/forum/t/{tid}/edit").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    r = alice.post_form(
        f"/forum/t/{tid}/edit", {"title": "報價策略 v2", "body": "new", "version": version}
    )
    assert r.status_code == 303
    hist = bob.get(f"/forum/t/{tid}/history").get_data(as_text=True)
    assert 'data-testid="revision"' in hist and "報價策略" in hist
    stale = alice.post_form(f"/forum/t/{tid}/edit", {"title": "x", "body": "y", "version": version})
    assert stale.status_code == 422
    assert bob.get(f"/forum/t/{tid}/edit").status_code == 403


def test_list_unread_first_pinned_on_top_and_category_filter(forum, api, login):
    a, b = _cat(api, "A"), _cat(api, "B")
    author = api("sales")
    ids = {}
    for title, cat in (("old", a), ("pinned", b), ("new", a)):
        ids[title] = author.post(
            "/api/v1/topics", json={"category_id": cat["id"], "title": title, "body": "x"}
        ).get_json()
    reader = login("sales")
    reader.get(f"/forum/t/{ids['new']['id']}")  # read
    api("leader").patch(
        f"/api/v1/topics/{ids['pinned']['id']}",
        json={"pinned": True, "version": ids["pinned"]["version"]},
    )
    html = reader.get("/forum/").get_data(as_text=True)
    order = re.findall(r'data-topic-id="(\d+)"', html)
    assert order == [str(ids["pinned"]["id"]), str(ids["old"]["id"]), str(ids["new"]["id"])]
    html = reader.get(f"/forum/?category_id={a['id']}").get_data(as_text=True)
    assert re.findall(r'data-topic-id="(\d+)"', html) == [
        str(ids["old"]["id"]),
        str(ids["new"]["id"]),
    ]
    html = reader.get("/forum/?q=pinned").get_data(as_text=True)
    assert re.findall(r'data-topic-id="(\d+)"', html) == [str(ids["pinned"]["id"])]


def test_form_errors_change_nothing(forum, api, login, crm_db):
    from crm_forum.models import Topic

    cat = _cat(api)
    c = login("sales")
    r = c.post_form("/forum/new", {"category_id": cat["id"], "title": "  ", "body": "x"})
    assert r.status_code == 422 and "This field is required." in r.get_data(as_text=True)
    r = c.post_form("/forum/new", {"category_id": "nope", "title": "t", "body": "x"})
    assert r.status_code == 422
    assert crm_db.scalar(select(Topic.id)) is None


def test_rights_on_pages(forum, api, login, crm_db):
    from crm_host.models import Role

    leader_role = crm_db.scalar(select(Role.id).where(Role.name == "leader"))
    news = _cat(api, "News", post_roles=[leader_role])
    leader = api("leader")
    t = leader.post(
        "/api/v1/topics", json={"category_id": news["id"], "title": "Closed", "body": "x"}
    ).get_json()
    sales = login("sales")
    r = sales.post_form("/forum/new", {"category_id": news["id"], "title": "t", "body": "x"})
    assert r.status_code == 403
    assert sales.post_form(f"/forum/t/{t['id']}/reply", {"body": "x"}).status_code == 403
    page = sales.get(f"/forum/t/{t['id']}").get_data(as_text=True)
    assert "You may read this category but not post in it." in page
    # locked: the reply is refused with a clear message
    open_cat = _cat(api, "Open")
    t2 = leader.post(
        "/api/v1/topics", json={"category_id": open_cat["id"], "title": "Lock me", "body": "x"}
    ).get_json()
    lead_page = login("leader")
    assert (
        lead_page.post_form(f"/forum/t/{t2['id']}/moderate", {"action": "lock"}).status_code == 303
    )
    r = sales.post_form(f"/forum/t/{t2['id']}/reply", {"body": "late"}, follow_redirects=True)
    assert "This topic is locked: no new replies." in r.get_data(as_text=True)
    assert api("sales").get(f"/api/v1/topics/{t2['id']}/replies").get_json()["total"] == 0
    # hidden: 404 for others
    lead_page.post_form(f"/forum/t/{t2['id']}/moderate", {"action": "hide"})
    assert sales.get(f"/forum/t/{t2['id']}").status_code == 404
    assert lead_page.get(f"/forum/t/{t2['id']}").status_code == 200
    # moderation and categories need their permissions
    assert sales.post_form(f"/forum/t/{t['id']}/moderate", {"action": "pin"}).status_code == 403
    assert sales.get("/admin/forum/categories").status_code == 403


def test_interest_page_and_category_admin(forum, api, login):
    cat = _cat(api, "Sales")
    c = login("sales")
    assert c.get("/forum/profile").status_code == 200
    r = c.post_form(
        "/forum/profile",
        {"mode": "digest", "category_ids": str(cat["id"]), "keywords": "報價，renewal, 海宇"},
    )
    assert r.status_code == 303
    assert api(c.crm_user).get("/api/v1/forum/profile").get_json() == {
        "mode": "digest",
        "category_ids": [cat["id"]],
        "keywords": ["renewal", "報價", "海宇"],
    }
    admin = login("admin")
    assert admin.get("/admin/forum/categories").status_code == 200
    assert (
        admin.post_form(
            "/admin/forum/categories", {"name": "案例討論", "description": "Cases", "position": "5"}
        ).status_code
        == 303
    )
    names = [x["name"] for x in api("sales").get("/api/v1/forum/categories").get_json()]
    assert names == ["案例討論", "Sales"]


def test_attachment_through_the_form_and_download(forum, api, login):
    import io

    cat = _cat(api)
    a = login("sales")
    r = a.post(
        "/forum/new",
        data={
            "csrf_token": a.csrf_token(),
            "category_id": cat["id"],
            "title": "With file",
            "body": "see file",
            "file": (io.BytesIO(b"hello notes"), "notes.txt"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 303
    tid = int(re.search(r"/forum/t/(\d+)", r.headers["Location"]).group(1))
    page = a.get(f"/forum/t/{tid}").get_data(as_text=True)
    aid = re.search(r"/forum/attachments/(\d+)", page).group(1)
    got = login("sales").get(f"/forum/attachments/{aid}")
    assert got.status_code == 200 and got.data == b"hello notes"
    assert "attachment" in got.headers["Content-Disposition"]


def test_link_field_absent_without_customers(forum, api, login):
    _cat(api)
    page = login("sales").get("/forum/new").get_data(as_text=True)
    assert 'data-testid="link-field"' not in page
    r = api("sales").post(
        "/api/v1/topics",
        json={
            "category_id": 1,
            "title": "t",
            "body": "b",
            "link_entity": "customers.customer",
            "link_id": 1,
        },
    )
    assert r.status_code == 422


def test_case_discussion_shows_on_the_customer_page(enable_modules, api, login):
    enable_modules("forum", "customers")
    cat = _cat(api, "Cases")
    owner = login("sales")
    owner_api = api(owner.crm_user)
    cust = owner_api.post("/api/v1/customers", json={"name": "北京海宇科技"}).get_json()
    page = owner.get("/forum/new").get_data(as_text=True)
    assert 'data-testid="link-field"' in page
    found = owner.get("/forum/lookup?entity=customers.customer&q=海宇").get_json()
    assert found == [{"id": cust["id"], "label": f"北京海宇科技 · {cust['code']}"}]
    r = owner_api.post(
        "/api/v1/topics",
        json={
            "category_id": cat["id"],
            "title": "Haiyu legal",
            "body": "NDA",
            "link_entity": "customers.customer",
            "link_id": cust["id"],
        },
    )
    assert r.status_code == 201
    tid = r.get_json()["id"]
    detail = owner.get(f"/customers/{cust['id']}").get_data(as_text=True)
    assert 'data-panel="forum.discussions"' in detail and "Haiyu legal" in detail
    topic_page = owner.get(f"/forum/t/{tid}").get_data(as_text=True)
    assert 'data-testid="linked-record"' in topic_page and "北京海宇科技" in topic_page
    # A colleague who may not see the customer: no lookup hit, no link shown, may not link.
    other = login("sales")
    assert other.get("/forum/lookup?entity=customers.customer&q=海宇").get_json() == []
    assert 'data-testid="linked-record"' not in other.get(f"/forum/t/{tid}").get_data(as_text=True)
    r = api(other.crm_user).post(
        "/api/v1/topics",
        json={
            "category_id": cat["id"],
            "title": "x",
            "body": "y",
            "link_entity": "customers.customer",
            "link_id": cust["id"],
        },
    )
    assert r.status_code == 422


def test_panel_respects_category_read_rights(enable_modules, api, login, crm_db):
    from crm_host.models import Role

    enable_modules("forum", "customers")
    sales_role = crm_db.scalar(select(Role.id).where(Role.name == "sales"))
    sales_only = _cat(api, "Sales only", read_roles=[sales_role])
    everyone = _cat(api, "Everyone")
    lead = login("leader")
    cust = api(lead.crm_user).post("/api/v1/customers", json={"name": "Acme"}).get_json()
    admin = api("admin")
    for cat, title in ((sales_only, "Acme margin"), (everyone, "Acme visit")):
        r = admin.post(
            "/api/v1/topics",
            json={
                "category_id": cat["id"],
                "title": title,
                "body": "x",
                "link_entity": "customers.customer",
                "link_id": cust["id"],
            },
        )
        assert r.status_code == 201
    page = lead.get(f"/customers/{cust['id']}").get_data(as_text=True)
    assert "Acme visit" in page and "Acme margin" not in page
    boss = login("admin")
    assert "Acme margin" in boss.get(f"/customers/{cust['id']}").get_data(as_text=True)


def test_dashboard_widget_and_global_search(forum, api, login):
    cat = _cat(api)
    api("sales").post(
        "/api/v1/topics", json={"category_id": cat["id"], "title": "北京海宇的報價", "body": "x"}
    )
    c = login("sales")
    assert 'data-testid="forum-widget"' in c.get("/").get_data(as_text=True)
    assert "北京海宇的報價" in c.get("/search?q=海宇").get_data(as_text=True)


def test_pages_in_chinese(forum, api, login):
    _cat(api)
    c = login("sales")
    html = c.get("/forum/", headers={"Accept-Language": "zh-TW"}).get_data(as_text=True)
    assert "論壇" in html or "討論" in html


def test_demo_data_in_chinese_and_english(crm_app, enable_modules, make_user, crm_db):
    from crm_forum import demo
    from crm_forum.models import Category, Reply, Topic

    enable_modules("forum")
    users = {
        k: make_user(r)
        for k, r in (
            ("admin", "admin"),
            ("leader", "leader"),
            ("sales", "sales"),
            ("sales2", "sales"),
            ("service", "service"),
            ("staff", "staff"),
        )
    }
    db = crm_app.extensions["crm"].db
    for locale in ("zh_Hant", "en"):
        with crm_app.test_request_context(), db.session_scope() as s:
            demo.fill(s, {k: s.merge(u) for k, u in users.items()}, locale)
    crm_db.expire_all()
    names = list(crm_db.scalars(select(Category.name)))
    assert "銷售策略" in names  # the first run wins; the second adds nothing
    titles = list(crm_db.scalars(select(Topic.title)))
    assert any("報價" in t for t in titles) and any("Shanghai" in t for t in titles)
    assert crm_db.scalar(select(Reply.id).limit(1)) is not None
    assert crm_db.scalar(select(Topic.id).where(Topic.pinned.is_(True))) is not None


def test_case_discussion_on_a_deal(enable_modules, api, login):
    enable_modules("forum", "pipeline")
    cat = _cat(api, "Cases")
    owner = login("sales")
    a = api(owner.crm_user)
    cust = a.post("/api/v1/customers", json={"name": "上海明遠"}).get_json()
    deal = a.post("/api/v1/deals", json={"name": "明遠 ERP 續約", "customer_id": cust["id"]})
    assert deal.status_code == 201, deal.get_json()
    deal = deal.get_json()
    assert [
        x["label"].split(" · ")[0]
        for x in owner.get("/forum/lookup?entity=pipeline.deal&q=ERP").get_json()
    ] == ["明遠 ERP 續約"]
    r = a.post(
        "/api/v1/topics",
        json={
            "category_id": cat["id"],
            "title": "ERP renewal price",
            "body": "x",
            "link_entity": "pipeline.deal",
            "link_id": deal["id"],
        },
    )
    assert r.status_code == 201
    page = owner.get(f"/pipeline/{deal['id']}").get_data(as_text=True)
    assert 'data-panel="forum.discussions"' in page and "ERP renewal price" in page
