"""Interest profiles, the daily digest, follows and reports: who is told, and how often."""

from sqlalchemy import select


def _post(client, cat_id, title, body="text"):
    r = client.post("/api/v1/topics", json={"category_id": cat_id, "title": title, "body": body})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_interest_profile_matches_keywords_and_categories_once(category, api, outbox):
    general, sales_cat = category("General"), category("Sales")
    by_kw, by_cat, both, nobody, author = (api("sales") for _ in range(5))
    assert (
        by_kw.put("/api/v1/forum/profile", json={"keywords": ["海宇", "renewal"]}).status_code
        == 200
    )
    by_cat.put("/api/v1/forum/profile", json={"category_ids": [sales_cat["id"]]})
    both.put(
        "/api/v1/forum/profile",
        json={"category_ids": [sales_cat["id"]], "keywords": ["北京海宇", "Discount"]},
    )
    nobody.put("/api/v1/forum/profile", json={"keywords": ["深圳"]})
    # The author's own profile matches too, but authors are never told about their topic.
    author.put(
        "/api/v1/forum/profile", json={"category_ids": [sales_cat["id"]], "keywords": ["海宇"]}
    )
    _post(author, sales_cat["id"], "北京海宇 discount", "For the renewal")
    got = outbox("forum.interest")
    emails = sorted({r.email for r in got})
    assert emails == sorted([by_kw.user.email, by_cat.user.email, both.user.email])
    # once per person and channel, never twice for one topic
    per = {}
    for r in got:
        per.setdefault((r.email, r.channel), 0)
        per[(r.email, r.channel)] += 1
    assert set(per.values()) == {1}
    assert author.user.email not in emails and nobody.user.email not in emails
    # A keyword needs all of its characters: 北京海宇 does not match a topic about 北京.
    n = len(got)
    _post(author, general["id"], "北京的天氣")
    assert len(outbox("forum.interest")) == n


def test_profile_respects_category_read_rights(category, api, outbox, crm_db):
    from crm_host.models import Role

    leader_role = crm_db.scalar(select(Role.id).where(Role.name == "leader"))
    secret = category("Leaders", read_roles=[leader_role])
    curious = api("sales")
    curious.put("/api/v1/forum/profile", json={"keywords": ["bonus"]})
    leader = api("leader")
    _post(leader, secret["id"], "Bonus plan")
    assert outbox("forum.interest") == []


def test_bad_profile_is_refused(category, api):
    category()
    c = api("sales")
    assert c.put("/api/v1/forum/profile", json={"mode": "hourly"}).status_code == 422
    assert c.put("/api/v1/forum/profile", json={"category_ids": [999]}).status_code == 422
    assert c.put("/api/v1/forum/profile", json={"keywords": ["x" * 61]}).status_code == 422
    assert c.put("/api/v1/forum/profile", json={"keywords": "a"}).status_code == 422
    assert c.get("/api/v1/forum/profile").get_json() == {
        "mode": "instant",
        "category_ids": [],
        "keywords": [],
    }


def test_digest_collects_and_never_repeats_a_topic(category, api, outbox, crm_app):
    from crm_forum import services

    from crm_host.db import utcnow

    cat = category("Sales")
    reader, author = api("sales"), api("sales")
    reader.put("/api/v1/forum/profile", json={"mode": "digest", "category_ids": [cat["id"]]})
    t1 = _post(author, cat["id"], "First")
    t2 = _post(author, cat["id"], "Second")
    assert outbox("forum.interest") == []  # digest people are not told at once

    db = crm_app.extensions["crm"].db

    def run_job():
        with crm_app.app_context(), db.session_scope() as s:
            return services.send_digests(s, utcnow())

    assert run_job() == 1
    digests = outbox("forum.digest")
    assert {r.email for r in digests} == {reader.user.email}
    body = digests[0].body
    assert "First" in body and "Second" in body
    assert sorted(digests[0].data["topic_ids"]) == [t1["id"], t2["id"]]
    n = len(digests)
    assert run_job() == 0  # nothing new: nothing sent, nothing repeated
    assert len(outbox("forum.digest")) == n
    # Editing a topic that was in a digest does not queue it again.
    author.patch(f"/api/v1/topics/{t1['id']}", json={"body": "more", "version": t1["version"]})
    _post(author, cat["id"], "Third")
    assert run_job() == 1
    last = outbox("forum.digest")[n:]
    assert all("Third" in r.body and "First" not in r.body for r in last)


def test_digest_job_is_declared(forum):
    with forum.app_context():
        jobs = forum.extensions["crm"].runtime().jobs
    assert jobs["forum.digest"].every_seconds == 24 * 3600


def test_replies_notify_followers_not_the_replier(category, api, outbox):
    cat = category()
    author, follower, replier, stranger = (api("sales") for _ in range(4))
    t = _post(author, cat["id"], "Discuss")
    follower.put(f"/api/v1/topics/{t['id']}/follow")
    replier.put(f"/api/v1/topics/{t['id']}/follow")
    replier.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "My **view**"})
    got = outbox("forum.reply")
    assert {r.email for r in got} == {author.user.email, follower.user.email}
    assert stranger.user.email not in {r.email for r in got}
    assert "My view" in got[0].body and "/forum/unfollow/" in got[0].body


def test_unfollow_in_one_click_from_the_notification(category, api, outbox, crm_app):
    cat = category()
    author, follower = api("sales"), api("sales")
    t = _post(author, cat["id"], "Discuss")
    follower.put(f"/api/v1/topics/{t['id']}/follow")
    author.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "one"})
    msg = [r for r in outbox("forum.reply") if r.email == follower.user.email][0]
    link = msg.data["unfollow_url"]
    path = link[link.index("/forum/unfollow/") :]
    anon = crm_app.test_client()  # works from a mail client, signed out
    r = anon.get(path)  # opening it (or a mail scanner fetching it) only asks
    assert r.status_code == 200 and 'data-testid="confirm-unfollow"' in r.get_data(as_text=True)
    assert follower.get(f"/api/v1/topics/{t['id']}").get_json()["following"] is True
    r = anon.post(path)
    assert r.status_code == 200 and 'data-testid="unfollowed"' in r.get_data(as_text=True)
    assert follower.get(f"/api/v1/topics/{t['id']}").get_json()["following"] is False
    n = len(outbox("forum.reply"))
    author.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "two"})
    assert all(r.email != follower.user.email for r in outbox("forum.reply")[n:])
    assert anon.get(path[:-3] + "abc").status_code == 400  # a changed token is refused
    assert anon.post(path[:-3] + "abc").status_code == 400


def test_report_notifies_moderators(category, api, outbox):
    cat = category()
    author, reporter, leader = api("sales"), api("sales"), api("leader")
    t = _post(author, cat["id"], "Spam?")
    r = reporter.post(f"/api/v1/topics/{t['id']}/reports", json={"reason": "Advertising"})
    assert r.status_code == 201
    got = outbox("forum.report")
    assert leader.user.email in {x.email for x in got}
    assert reporter.user.email not in {x.email for x in got}
    assert author.user.email not in {x.email for x in got}
    assert (
        reporter.post(f"/api/v1/topics/{t['id']}/reports", json={"reason": " "}).status_code == 422
    )


def test_notification_kinds_declared(forum):
    with forum.app_context():
        kinds = forum.extensions["crm"].runtime().notification_kinds
    assert {"forum.interest", "forum.digest", "forum.reply", "forum.report"} <= set(kinds)


def test_notifications_read_in_the_recipients_language(category, api, outbox, crm_db):
    from crm_host.models import User

    cat = category("Sales")
    author, follower = api("sales"), api("sales")
    crm_db.get(User, follower.user.id).locale = "zh_Hant"
    crm_db.commit()
    t = _post(author, cat["id"], "Haiyu")
    follower.put(f"/api/v1/topics/{t['id']}/follow")
    follower.put("/api/v1/forum/profile", json={"keywords": ["海宇"]})
    author.post(f"/api/v1/topics/{t['id']}/replies", json={"body": "ok"})
    msg = [r for r in outbox("forum.reply") if r.email == follower.user.email][0]
    assert msg.subject.endswith("回覆了「Haiyu」") and "取消關注此主題" in msg.body
    _post(author, cat["id"], "海宇的新報價")
    got = [r for r in outbox("forum.interest") if r.email == follower.user.email]
    assert got and got[0].subject == "Sales 有新主題：海宇的新報價"
