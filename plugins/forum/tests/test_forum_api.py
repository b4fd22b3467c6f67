"""Topics and replies through the API: Markdown, rights, locking, hiding, versions."""


def _topic(client, category_id, title="Pricing for 北京海宇", body="Let's **discuss**.", **kw):
    r = client.post(
        "/api/v1/topics", json={"category_id": category_id, "title": title, "body": body, **kw}
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_post_read_reply_and_list(category, api):
    cat = category("Sales strategy")
    alice, bob = api("sales"), api("sales")
    t = _topic(alice, cat["id"])
    assert t["body_html"] == "<p>Let's <strong>discuss</strong>.</p>\n"
    assert t["following"] is True  # authors follow their own topics
    r = bob.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "Agreed"})
    assert r.status_code == 201
    reply_id = r.get_json()["id"]
    r = alice.post(
        f"/api/v1/topics/{t['id']}/replies", json={"body": "Thanks", "quote_of": reply_id}
    )
    assert r.status_code == 201 and r.get_json()["quote_of_id"] == reply_id
    page = bob.get("/api/v1/topics").get_json()
    assert page["total"] == 1 and page["items"][0]["reply_count"] == 2
    assert page["items"][0]["unread"] is True  # alice replied after bob's last visit
    bob.get(f"/api/v1/topics/{t['id']}")
    replies = bob.get(f"/api/v1/topics/{t['id']}/replies").get_json()
    assert [x["body"] for x in replies["items"]] == ["Agreed", "Thanks"]
    assert bob.get(f"/api/v1/topics?author_id={alice.user.id}").get_json()["total"] == 1
    assert bob.get(f"/api/v1/topics?category_id={cat['id'] + 99}").get_json()["total"] == 0


def _tags(html):
    from html.parser import HTMLParser

    found, attrs = set(), []

    class P(HTMLParser):
        def handle_starttag(self, tag, a):
            found.add(tag)
            attrs.extend(a)

    P().feed(html)
    return found, attrs


def test_script_in_a_post_comes_out_inert(category, api):
    cat = category()
    c = api("sales")
    body = (
        '<script>alert(1)</script> <img src=x onerror="alert(2)"> '
        '[click](javascript:alert(3)) <a href="javascript:alert(4)">x</a>'
    )
    t = _topic(c, cat["id"], body=body)
    tags, attrs = _tags(t["body_html"])
    assert tags <= {"p", "a"}, tags
    assert not [a for a in attrs if a[0].startswith("on") or "javascript" in (a[1] or "")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in t["body_html"]  # shown as text
    r = c.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "<script>x()</script>"})
    assert "<script" not in r.get_json()["body_html"]


def test_bad_input_is_refused_and_changes_nothing(category, api):
    cat = category()
    c = api("sales")
    cases = [
        {"category_id": cat["id"], "title": "  ", "body": "x"},
        {"category_id": cat["id"], "title": "ok", "body": "x" * (10 * 1024 * 1024)},
        {"category_id": "abc", "title": "ok", "body": "x"},
        {"category_id": cat["id"], "title": 5, "body": "x"},
        {"category_id": 9999, "title": "ok", "body": "x"},
        {"category_id": cat["id"], "title": "ok", "body": "x", "colour": "red"},
    ]
    for data in cases:
        r = c.post("/api/v1/topics", json=data)
        assert r.status_code in (400, 422), (data.get("title"), r.status_code)
        assert r.content_type == "application/problem+json"
    assert c.get("/api/v1/topics").get_json()["total"] == 0
    r = c.post("/api/v1/topics", json={"category_id": 9999, "title": "ok", "body": "x"})
    assert "category_id" in r.get_json()["errors"]


def test_edit_keeps_history_and_stale_version_is_409(category, api):
    cat = category()
    c = api("sales")
    t = _topic(c, cat["id"], title="v1", body="first")
    r = c.patch(
        f"/api/v1/topics/{t['id']}", json={"title": "v2", "body": "second", "version": t["version"]}
    )
    assert r.status_code == 200 and r.get_json()["title"] == "v2"
    assert r.get_json()["edited_at"]
    r = c.patch(f"/api/v1/topics/{t['id']}", json={"title": "v3", "version": t["version"]})
    assert r.status_code == 409 and r.content_type == "application/problem+json"
    assert c.get(f"/api/v1/topics/{t['id']}").get_json()["title"] == "v2"
    revs = c.get(f"/api/v1/topics/{t['id']}/revisions").get_json()
    assert [(x["title"], x["body"]) for x in revs] == [("v1", "first")]
    # Someone else may not edit it; a reply does not make the author's copy stale.
    other = api("sales")
    assert (
        other.patch(
            f"/api/v1/topics/{t['id']}", json={"title": "x", "version": t["version"] + 1}
        ).status_code
        == 403
    )
    other.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "hi"})
    cur = c.get(f"/api/v1/topics/{t['id']}").get_json()
    assert (
        c.patch(
            f"/api/v1/topics/{t['id']}", json={"body": "third", "version": cur["version"]}
        ).status_code
        == 200
    )


def test_locked_topic_refuses_replies(category, api):
    cat = category()
    author, leader = api("sales"), api("leader")
    t = _topic(author, cat["id"])
    r = leader.patch(f"/api/v1/topics/{t['id']}", json={"locked": True, "version": t["version"]})
    assert r.status_code == 200
    r = author.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "one more"})
    assert r.status_code == 409 and "locked" in r.get_json()["detail"]
    assert author.get(f"/api/v1/topics/{t['id']}/replies").get_json()["total"] == 0


def test_moderation_needs_the_permission(category, api):
    cat = category()
    other = category("Other")
    author = api("sales")
    t = _topic(author, cat["id"])
    for change in ({"pinned": True}, {"hidden": True}, {"category_id": other["id"]}):
        r = author.patch(f"/api/v1/topics/{t['id']}", json={**change, "version": t["version"]})
        assert r.status_code == 403
    leader = api("leader")
    r = leader.patch(
        f"/api/v1/topics/{t['id']}",
        json={"pinned": True, "category_id": other["id"], "version": t["version"]},
    )
    assert r.status_code == 200 and r.get_json()["pinned"] is True
    assert r.get_json()["category"]["id"] == other["id"]


def test_hidden_topic_requested_directly_is_404(category, api):
    cat = category()
    author, reader, leader = api("sales"), api("sales"), api("leader")
    t = _topic(author, cat["id"], title="Hidden one")
    assert (
        leader.patch(
            f"/api/v1/topics/{t['id']}", json={"hidden": True, "version": t["version"]}
        ).status_code
        == 200
    )
    assert reader.get(f"/api/v1/topics/{t['id']}").status_code == 404
    assert reader.get(f"/api/v1/topics/{t['id']}/replies").status_code == 404
    assert reader.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "x"}).status_code == 404
    assert reader.get("/api/v1/topics").get_json()["total"] == 0
    assert reader.get("/api/v1/topics?q=Hidden").get_json()["total"] == 0
    assert leader.get(f"/api/v1/topics/{t['id']}").status_code == 200


def test_category_rights_read_and_post(category, api, crm_db):
    from sqlalchemy import select

    from crm_host.models import Role

    leader_role = crm_db.scalar(select(Role.id).where(Role.name == "leader"))
    sales_role = crm_db.scalar(select(Role.id).where(Role.name == "sales"))
    secret = category("Leaders only", read_roles=[leader_role])
    news = category("Announcements", read_roles=[leader_role, sales_role], post_roles=[leader_role])
    sales, leader = api("sales"), api("leader")
    r = sales.post("/api/v1/topics", json={"category_id": news["id"], "title": "x", "body": "y"})
    assert r.status_code == 403  # may read, may not post
    assert r.content_type == "application/problem+json"
    t = _topic(leader, secret["id"], title="Bonus plan")
    n = _topic(leader, news["id"], title="Office closed")
    assert sales.get(f"/api/v1/topics/{t['id']}").status_code == 404
    assert sales.post(f"/api/v1/topics/{n['id']}/replies", json={"body": "x"}).status_code == 403
    titles = [x["title"] for x in sales.get("/api/v1/topics").get_json()["items"]]
    assert titles == ["Office closed"]
    assert [c["name"] for c in sales.get("/api/v1/forum/categories").get_json()] == [
        "Announcements"
    ]
    r = sales.post("/api/v1/topics", json={"category_id": secret["id"], "title": "x", "body": "y"})
    assert r.status_code == 422  # an unreadable category is unknown to them
    assert sales.post("/api/v1/forum/categories", json={"name": "Mine"}).status_code == 403


def test_search_chinese_and_english(category, api):
    cat = category()
    c = api("sales")
    _topic(c, cat["id"], title="北京海宇科技的報價策略", body="Discount for the renewal")
    _topic(c, cat["id"], title="Trade fair in Shanghai", body="上海展會的攤位")
    _topic(c, cat["id"], title="Unrelated", body="nothing")

    def titles(q):
        return sorted(x["title"] for x in c.get(f"/api/v1/topics?q={q}").get_json()["items"])

    assert titles("海宇") == ["北京海宇科技的報價策略"]
    assert titles("報價") == ["北京海宇科技的報價策略"]
    assert titles("renewal") == ["北京海宇科技的報價策略"]
    assert titles("renew") == ["北京海宇科技的報價策略"]  # a word being typed
    assert titles("展會") == ["Trade fair in Shanghai"]
    assert titles("shanghai") == ["Trade fair in Shanghai"]
    assert titles("海宇 discount") == ["北京海宇科技的報價策略"]
    assert titles("深圳") == []
    t = c.get("/api/v1/topics?q=Unrelated").get_json()["items"][0]
    c.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "客訴處理的經驗"})
    assert titles("客訴") == ["Unrelated"]  # replies are searched too


def test_follow_unfollow_api(category, api):
    cat = category()
    a, b = api("sales"), api("sales")
    t = _topic(a, cat["id"])
    assert b.put(f"/api/v1/topics/{t['id']}/follow").get_json() == {"following": True}
    assert b.get(f"/api/v1/topics/{t['id']}").get_json()["following"] is True
    assert b.get("/api/v1/topics?following=true").get_json()["total"] == 1
    assert b.delete(f"/api/v1/topics/{t['id']}/follow").get_json() == {"following": False}
    assert b.get("/api/v1/topics?following=true").get_json()["total"] == 0


def test_reply_edit_and_hide(category, api):
    cat = category()
    a, b, leader = api("sales"), api("sales"), api("leader")
    t = _topic(a, cat["id"])
    r = b.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "typo"}).get_json()
    url = f"/api/v1/topics/{t['id']}/replies/{r['id']}"
    assert a.patch(url, json={"body": "not mine", "version": r["version"]}).status_code == 403
    e = b.patch(url, json={"body": "fixed", "version": r["version"]})
    assert e.status_code == 200 and e.get_json()["body"] == "fixed"
    assert b.patch(url, json={"body": "again", "version": r["version"]}).status_code == 409
    assert b.patch(url, json={"hidden": True, "version": 2}).status_code == 403
    assert leader.patch(url, json={"hidden": True, "version": 2}).status_code == 200
    assert a.get(f"/api/v1/topics/{t['id']}/replies").get_json()["total"] == 0


def test_attachments_limits(category, api, crm_app):
    import io

    cat = category()
    a = api("sales")
    t = _topic(a, cat["id"])
    url = f"/api/v1/topics/{t['id']}/attachments"
    ok = a.client.post(
        url,
        data={"file": (io.BytesIO(b"%PDF-1.4 hello"), "offer.pdf")},
        headers=a._headers(None),
        content_type="multipart/form-data",
    )
    assert ok.status_code == 201, ok.get_json()
    att = ok.get_json()
    assert att["content_type"] == "application/pdf" and att["size"] == 14
    exe = a.client.post(
        url,
        data={"file": (io.BytesIO(b"MZ\x90\x00binary"), "x.pdf")},
        headers=a._headers(None),
        content_type="multipart/form-data",
    )
    assert exe.status_code == 422
    crm_app.config["CRM_FORUM_MAX_UPLOAD"] = 1024
    big = a.client.post(
        url,
        data={"file": (io.BytesIO(b"a" * 5000), "big.txt")},
        headers=a._headers(None),
        content_type="multipart/form-data",
    )
    assert big.status_code == 413
    got = a.get(f"/api/v1/topics/{t['id']}").get_json()["attachments"]
    assert [x["filename"] for x in got] == ["offer.pdf"]
    other = api("sales")
    r = other.client.post(
        url,
        data={"file": (io.BytesIO(b"%PDF-1.4"), "x.pdf")},
        headers=other._headers(None),
        content_type="multipart/form-data",
    )
    assert r.status_code == 403


def test_migrations_match_models(forum, migration_drift):
    assert migration_drift("forum") == []


def test_disabled_module_answers_404(category, api, crm_app):
    from crm_host import modules

    category()
    c = api("sales")
    modules.disable(crm_app, "forum")
    assert c.get("/api/v1/topics").status_code == 404


def test_mark_all_as_read(category, api, login):
    cat = category()
    author, reader = api("sales"), api("sales")
    t1 = _topic(author, cat["id"], title="one")
    _topic(author, cat["id"], title="two")
    assert reader.get("/api/v1/topics?unread=true").get_json()["total"] == 2
    assert reader.post("/api/v1/topics/read-all").status_code == 204
    assert reader.get("/api/v1/topics?unread=true").get_json()["total"] == 0
    author.post(f"/api/v1/topics/{t1['id']}/replies", json={"body": "news"})
    page = reader.get("/api/v1/topics?unread=true").get_json()
    assert [x["title"] for x in page["items"]] == ["one"]
    web = login("sales")
    assert web.post_form("/forum/read-all", {}).status_code == 303
