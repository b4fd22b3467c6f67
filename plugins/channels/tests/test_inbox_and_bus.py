"""CH-1 inbox, the bus guarantees (rollback sends nothing, exactly once), preferences and
administrator defaults (host hook ``crm_notification_defaults``)."""

from __future__ import annotations

from sqlalchemy import select

from crm_host.models import DeliveryAttempt, OutboxMessage, User
from crm_host.notify import notify


def _notify(app, user, kind="probe.urge", subject="Follow up Acme", body="Please call them.", **kw):
    with app.extensions["crm"].db.session_scope() as s:
        with app.app_context():
            notify(
                s,
                kind,
                subject,
                body,
                users=[s.get(User, user.id)],
                runtime=app.extensions["crm"].runtime(),
                **kw,
            )


def test_notification_reaches_the_inbox_and_the_api(channels, make_user, api, deliver):
    user = make_user("sales")
    _notify(
        channels,
        user,
        html="<p>Hi <b>there</b><script>alert(1)</script></p>",
        data={"url": "/customers/"},
    )
    assert deliver()["sent"] >= 1
    client = api(user)
    r = client.get("/api/v1/inbox")
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert len(items) == 1 and items[0]["subject"] == "Follow up Acme"
    assert items[0]["read"] is False and items[0]["url"] == "/customers/"
    assert "<script>" not in items[0]["html"] and "<b>there</b>" in items[0]["html"]
    assert client.get("/api/v1/inbox/unread").get_json()["unread"] == 1

    mid = items[0]["id"]
    r = client.patch(f"/api/v1/inbox/{mid}", json={"read": True})
    assert r.status_code == 200 and r.get_json()["read"] is True
    assert client.get("/api/v1/inbox?box=unread").get_json()["total"] == 0
    r = client.patch(f"/api/v1/inbox/{mid}", json={"archived": True})
    assert r.get_json()["archived"] is True
    assert client.get("/api/v1/inbox").get_json()["total"] == 0
    assert client.get("/api/v1/inbox?box=archive").get_json()["total"] == 1
    assert client.get("/api/v1/inbox?box=nope").status_code == 422
    assert client.patch(f"/api/v1/inbox/{mid}", json={"colour": "red"}).status_code == 422


def test_someone_elses_message_is_a_404(channels, make_user, api, login, deliver):
    owner, other = make_user("sales"), make_user("sales")
    _notify(channels, owner)
    deliver()
    mid = api(owner).get("/api/v1/inbox").get_json()["items"][0]["id"]
    stranger = api(other)
    assert stranger.get(f"/api/v1/inbox/{mid}").status_code == 404
    assert stranger.patch(f"/api/v1/inbox/{mid}", json={"read": True}).status_code == 404
    web = login(other)
    assert web.get(f"/channels/inbox?m={mid}").status_code == 404
    assert web.post_form(f"/channels/inbox/{mid}/archive").status_code == 404
    # and nothing changed for the owner
    assert api(owner).get("/api/v1/inbox/unread").get_json()["unread"] == 1


def test_inbox_page_header_badge_and_actions(channels, make_user, login, deliver):
    user = make_user("sales")
    for i in range(3):
        _notify(channels, user, subject=f"Message {i}")
    deliver()
    web = login(user)
    html = web.get("/channels/inbox").get_data(as_text=True)
    assert 'data-testid="header-badge">3<' in html
    assert "Message 2" in html
    mid = int(html.split('data-message-id="')[1].split('"')[0])
    page = web.get(f"/channels/inbox?m={mid}").get_data(as_text=True)  # opening marks it read
    assert 'data-testid="header-badge">2<' in page
    r = web.post_form(f"/channels/inbox/{mid}/archive", {"box": "inbox"})
    assert r.status_code == 303
    assert web.post_form("/channels/inbox/read-all").status_code == 303
    page = web.get("/channels/inbox").get_data(as_text=True)
    assert 'data-testid="header-badge"' not in page
    # CSRF is required on the forms
    assert web.post(f"/channels/inbox/{mid}/restore").status_code == 400


def test_anonymous_and_unprivileged_are_refused(channels, anonymous_api, login, make_user):
    for path in (
        "/api/v1/inbox",
        "/api/v1/notification-preferences",
        "/api/v1/mailings",
        "/api/v1/calendar/feed",
    ):
        assert anonymous_api.get(path).status_code == 401, path
    assert (
        anonymous_api.put(
            "/api/v1/notification-defaults/probe.urge", json={"channels": []}
        ).status_code
        == 401
    )
    web = login(make_user("staff"))
    assert web.get("/channels/mailings").status_code == 403  # staff may not send mailings
    assert web.get("/channels/admin/settings").status_code == 403
    assert web.get("/channels/inbox").status_code == 200
    assert web.get("/channels/calendar").status_code == 200


def test_rollback_sends_nothing_and_commit_delivers_exactly_once(
    channels, make_user, deliver, crm_db
):
    user = make_user("sales")
    db = channels.extensions["crm"].db
    s = db.Session()
    with channels.app_context():
        notify(
            s,
            "probe.urge",
            "rolled back",
            users=[s.get(User, user.id)],
            runtime=channels.extensions["crm"].runtime(),
        )
    s.rollback()
    s.close()
    assert deliver()["sent"] == 0
    _notify(channels, user, subject="committed")
    first = deliver()
    again = deliver()
    assert again["sent"] == 0
    from crm_channels.models import InboxMessage

    rows = crm_db.scalars(select(InboxMessage).where(InboxMessage.user_id == user.id)).all()
    assert [r.subject for r in rows] == ["committed"]
    assert first["sent"] >= 1


def test_user_preferences_api_and_page(channels, make_user, api, login):
    user = make_user("sales")
    client = api(user)
    prefs = {p["kind"]: p for p in client.get("/api/v1/notification-preferences").get_json()}
    assert prefs["probe.urge"]["channels"] == ["email", "inbox"] or sorted(
        prefs["probe.urge"]["channels"]
    ) == ["email", "inbox"]
    assert prefs["probe.urge"]["custom"] is False
    r = client.put("/api/v1/notification-preferences/probe.urge", json={"channels": ["sms"]})
    assert r.status_code == 200
    mine = {p["kind"]: p for p in r.get_json()}["probe.urge"]
    assert mine["channels"] == ["sms"] and mine["custom"] is True
    bad = client.put("/api/v1/notification-preferences/probe.urge", json={"channels": ["pigeon"]})
    assert bad.status_code == 422 and "pigeon" in bad.get_json()["detail"]
    assert (
        client.put(
            "/api/v1/notification-preferences/nope.kind", json={"channels": ["inbox"]}
        ).status_code
        == 404
    )
    r = client.put("/api/v1/notification-preferences/probe.urge", json={"channels": None})
    assert {p["kind"]: p for p in r.get_json()}["probe.urge"]["custom"] is False
    # the host's settings page lists the channels this module registers
    page = login(user).get("/profile/notifications").get_data(as_text=True)
    for label in ("Inbox", "Email", "Text message"):
        assert label in page
    # fax and webhook reach addresses, not people: not offered to choose
    assert "|fax" not in page and "|webhook" not in page


def test_admin_defaults_route_users_without_a_choice(
    channels, make_user, api, login, deliver, crm_db
):
    admin = api("admin")
    user, chooser = make_user("sales"), make_user("sales")
    api(chooser).put("/api/v1/notification-preferences/probe.payment", json={"channels": ["inbox"]})
    r = admin.put("/api/v1/notification-defaults/probe.payment", json={"channels": ["webhook"]})
    assert r.status_code == 200
    row = {d["kind"]: d for d in r.get_json()}["probe.payment"]
    assert (
        row["channels"] == ["webhook"] and row["custom"] and row["declared"] == ["inbox", "email"]
    )
    assert (
        api(user)
        .put("/api/v1/notification-defaults/probe.payment", json={"channels": ["inbox"]})
        .status_code
        == 403
    )
    with channels.extensions["crm"].db.session_scope() as s:
        with channels.app_context():
            rows = notify(
                s,
                "probe.payment",
                "Invoice due",
                users=[s.get(User, user.id), s.get(User, chooser.id)],
                runtime=channels.extensions["crm"].runtime(),
            )
            got = sorted((r.recipient_id, r.channel) for r in rows)
    assert got == sorted([(user.id, "webhook"), (chooser.id, "inbox")])
    # the user's settings page pre-ticks the administrator's default
    page = login(user).get("/profile/notifications").get_data(as_text=True)
    assert "probe.payment|webhook" not in page  # not a personal channel: not offered
    assert 'name="probe.payment|email" checked' not in page
    assert 'name="probe.payment|inbox" checked' not in page
    # the admin page: back to the module's default
    web = login("admin")
    assert web.get("/channels/admin/defaults").status_code == 200
    web.post_form("/channels/admin/defaults", {"reset|probe.payment": "on"})
    assert admin.get("/api/v1/notification-defaults").get_json()[0] is not None
    d = {x["kind"]: x for x in admin.get("/api/v1/notification-defaults").get_json()}
    assert d["probe.payment"]["custom"] is False


def test_out_of_the_box_urges_reach_inbox_and_email(channels, smtp_config, make_user, deliver, api):
    """A kind declared with ("inbox", "email"), SMTP configured, no preference saved."""
    user = make_user("sales", email="wang@example.test", name="王小明")
    _notify(channels, user, kind="probe.urge", subject="催辦：報價單")
    res = deliver()
    assert res["sent"] == 2 and res["failed"] == 0
    assert api(user).get("/api/v1/inbox/unread").get_json()["unread"] == 1
    msgs = smtp_config.wait(1)
    assert msgs[0]["to"] == ["wang@example.test"]
    assert str(msgs[0]["msg"]["Subject"]) == "催辦：報價單"


def test_without_smtp_urges_reach_the_inbox_only(channels, make_user, deliver, api, crm_db):
    """Email not set up yet (a new installation, the demo): people are told in the inbox and
    the outbox holds no email that could only fail."""
    user = make_user("sales")
    _notify(channels, user, kind="probe.urge", subject="催辦：報價單")
    assert {r.channel for r in crm_db.scalars(select(OutboxMessage))} == {"inbox"}
    res = deliver()
    assert res["sent"] == 1 and res["failed"] == 0
    assert api(user).get("/api/v1/inbox/unread").get_json()["unread"] == 1


def test_failed_channel_is_retried_and_visible_to_admins(
    channels, make_user, deliver, crm_db, login, crm_app
):
    """SMTP configured but down: the attempt fails, is logged, retried later with backoff."""
    from crm_channels import settings

    crm_app.config.update(
        {
            "CRM_SMTP_HOST": "127.0.0.1",
            "CRM_SMTP_PORT": 1,
            "CRM_SMTP_SECURITY": "none",
            "CRM_SMTP_SENDER": "crm@example.test",
            "CRM_SMTP_PASSWORD": "hunter2-secret",
        }
    )
    settings.invalidate()
    user = make_user("sales")
    _notify(channels, user, kind="probe.urge")
    res = deliver()
    assert res["failed"] == 1 and res["sent"] == 1  # the inbox still got it
    row = crm_db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).one()
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert row.next_attempt_at > row.created_at
    att = crm_db.scalars(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == row.id)).all()
    assert len(att) == 1 and not att[0].ok and "hunter2" not in (att[0].error or "")
    page = login("admin").get("/admin/notifications").get_data(as_text=True)
    assert row.last_error.split(":")[0] in page


def test_migrations_match_models(channels, migration_drift):
    assert migration_drift("channels") == []


def test_dashboard_card_and_demo_data(channels, enable_modules, login, crm_app, crm_db):
    from crm_channels import demo
    from crm_channels.models import CalendarEntry, InboxMessage, Mailing

    from crm_host import people

    with crm_app.extensions["crm"].db.session_scope() as s:
        users = {
            r: people.create_user(
                s,
                f"demo-{r}@example.test",
                f"Demo {r}",
                "password123",
                roles=[r if r != "sales2" else "sales"],
            )
            for r in ("admin", "leader", "sales", "sales2", "service", "staff")
        }
        demo.fill(s, users, "zh_Hant")
    assert crm_db.query(InboxMessage).count() >= 9
    assert crm_db.query(CalendarEntry).count() >= 20
    assert crm_db.query(Mailing).count() == 1
    web = login(users["sales"])
    page = web.get("/").get_data(as_text=True)
    assert "Coming up" in page
    assert "帶新型錄拜訪客戶" in page or "週" in page or "每週業務會議" in page
    assert web.get("/channels/mailings").status_code == 200
    assert "春季價目表" in web.get("/channels/mailings").get_data(as_text=True)


def test_a_second_delivery_of_one_outbox_row_is_stored_once(channels, make_user, crm_db):
    """At-least-once delivery (a worker that lost its lease sends again) must not show the
    message twice; any other integrity failure is still an error."""
    import pytest
    from crm_channels import senders
    from crm_channels.models import InboxMessage
    from sqlalchemy.exc import IntegrityError

    from crm_host.contract import Message

    user = make_user("sales")
    msg = Message(id=987654, kind="probe.urge", subject="Hi", body="", data={},
                  recipient=crm_db.get(User, user.id))  # fmt: skip
    with channels.app_context():
        senders.send_inbox(msg)
        senders.send_inbox(msg)  # the re-send
        rows = crm_db.scalars(select(InboxMessage).where(InboxMessage.outbox_id == 987654)).all()
        assert len(rows) == 1
        ghost = Message(id=987655, kind="probe.urge", subject="Hi", body="", data={},
                        recipient=type("U", (), {"id": 10**9})())  # fmt: skip
        with pytest.raises(IntegrityError):  # no such user: a real failure, not a copy
            senders.send_inbox(ghost)
