"""H-10: outbox in the caller's transaction, worker delivery, retries, attempts, jobs."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm_host import notify
from crm_host.db import utcnow
from crm_host.models import DeliveryAttempt, JobState, NotificationPreference, OutboxMessage, User


@pytest.fixture
def alpha(enable_modules):
    from crm_test_plugins.alpha import plugin

    enable_modules("alpha")
    plugin.SENT.clear()
    plugin.JOB_RUNS.clear()
    return plugin


def _notify(crm_app, user_id, commit=True, **kw):
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context():
        s = db.Session()
        user = s.get(User, user_id)
        rows = notify.notify(s, "alpha.ping", "你好 hello", "body", users=[user], **kw)
        if commit:
            s.commit()
        else:
            s.rollback()
        s.close()
        return rows


def test_rolled_back_change_sends_nothing(crm_app, make_user, alpha, crm_db):
    u = make_user("sales")
    _notify(crm_app, u.id, commit=False)
    assert crm_db.scalar(select(OutboxMessage.id)) is None
    assert notify.run_once(crm_app)["sent"] == 0
    assert alpha.SENT == []


def test_committed_notification_delivered_once(crm_app, make_user, alpha, crm_db):
    u = make_user("sales")
    _notify(crm_app, u.id)
    assert notify.run_once(crm_app)["sent"] == 1
    assert notify.run_once(crm_app)["sent"] == 0
    assert [(k, to, subj) for _i, k, to, subj in alpha.SENT] == [
        ("alpha.ping", u.email, "你好 hello")
    ]
    row = crm_db.scalar(select(OutboxMessage))
    assert row.status == "sent" and row.attempts == 1 and row.channel == "alpha_chan"
    assert crm_db.scalar(select(DeliveryAttempt)).ok


def test_user_preferences_choose_channels(crm_app, make_user, alpha, crm_db):
    u = make_user("sales")
    crm_db.add(NotificationPreference(user_id=u.id, kind="alpha.ping", channel="log", enabled=True))
    crm_db.add(
        NotificationPreference(user_id=u.id, kind="alpha.ping", channel="alpha_chan", enabled=False)
    )
    crm_db.commit()
    rows = _notify(crm_app, u.id)
    assert [r.channel for r in rows] == ["log"]


def test_failures_retry_with_backoff_then_dead(crm_app, make_user, alpha, crm_db):
    u = make_user("sales")
    _notify(crm_app, u.id, data={"fail": True})
    assert notify.run_once(crm_app)["failed"] == 1
    row = crm_db.scalar(select(OutboxMessage))
    assert row.status == "pending" and row.attempts == 1 and "gateway said no" in row.last_error
    assert row.next_attempt_at > utcnow() + timedelta(seconds=20)  # backing off
    assert notify.run_once(crm_app)["failed"] == 0  # not due yet
    for expected in (2, 3):
        crm_db.execute(
            update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        crm_db.commit()
        notify.run_once(crm_app)
        crm_db.expire_all()
        assert crm_db.scalar(select(OutboxMessage)).attempts == expected
    assert crm_db.scalar(select(OutboxMessage)).status == "dead"  # max_attempts=3
    attempts = crm_db.scalars(select(DeliveryAttempt)).all()
    assert len(attempts) == 3 and not any(a.ok for a in attempts)


def test_disabled_channel_is_retried_not_lost(crm_app, make_user, alpha, crm_db):
    from crm_host import modules

    u = make_user("sales")
    _notify(crm_app, u.id)
    modules.disable(crm_app, "alpha")
    notify.run_once(crm_app)
    row = crm_db.scalar(select(OutboxMessage))
    assert row.status == "pending" and "not available" in row.last_error


def test_deliveries_page_and_api(crm_app, make_user, alpha, login, api):
    u = make_user("sales")
    _notify(crm_app, u.id, data={"fail": True})
    notify.run_once(crm_app)
    page = login("admin").get("/admin/notifications").get_data(as_text=True)
    assert "gateway said no" in page
    r = api("admin").get("/api/v1/notifications/outbox?status=pending").get_json()
    assert r["total"] == 1 and r["items"][0]["last_error"].startswith("RuntimeError")
    assert api("sales").get("/api/v1/notifications/outbox").status_code == 403


def test_scheduled_job_runs_once_per_slot(crm_app, alpha, crm_db):
    notify.run_once(crm_app)
    notify.run_once(crm_app)
    assert len(alpha.JOB_RUNS) == 1
    st = crm_db.get(JobState, "alpha.tick")
    assert st.last_status == "ok" and st.runs == 1
    crm_db.execute(update(JobState).values(next_run_at=utcnow() - timedelta(seconds=1)))
    crm_db.commit()
    notify.run_once(crm_app)
    assert len(alpha.JOB_RUNS) == 2


def test_two_workers_never_deliver_twice(crm_app, make_user, alpha):
    """Two worker loops race over 60 messages: each is delivered exactly once.
    On PostgreSQL this exercises FOR UPDATE SKIP LOCKED; on SQLite the lease UPDATE."""
    u = make_user("sales")
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context():
        with db.session_scope() as s:
            user = s.get(User, u.id)
            for i in range(60):
                notify.notify(s, "alpha.ping", f"m{i}", users=[user])
    results = []

    def work(name):
        results.append(notify.run_once(crm_app, batch=5, worker=name))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [m[0] for m in alpha.SENT]
    assert len(ids) == 60 and len(set(ids)) == 60
    assert sum(r["sent"] for r in results) == 60


def test_an_undeliverable_message_is_dead_at_once(crm_app, crm_db, make_user):
    """A channel that knows retrying cannot help raises Undeliverable: one attempt, dead."""
    from crm_host import Channel
    from crm_host import notify as bus
    from crm_host.models import DeliveryAttempt, OutboxMessage

    def refuse(message):
        raise bus.Undeliverable("the recipient has no mobile number")

    user = make_user("sales")
    rt = crm_app.extensions["crm"].runtime()
    with crm_app.app_context():
        rows = bus.notify(crm_db, "host.test", "hello", users=[user], channels=["log"], runtime=rt)
        crm_db.commit()
        rt.channels["log"] = Channel("log", "log", refuse, personal=False)
        try:
            bus.deliver(crm_app.extensions["crm"].db, rt, rows[0].id, "w1")
        finally:
            rt.channels.pop("log")
    crm_db.expire_all()
    row = crm_db.get(OutboxMessage, rows[0].id)
    assert row.status == "dead" and row.attempts == 1
    assert "no mobile number" in row.last_error
    assert crm_db.query(DeliveryAttempt).filter_by(outbox_id=row.id).count() == 1


def test_each_recipient_reads_a_lazy_notification_in_their_language(crm_app, crm_db, make_user):
    """A notification raised by a job (no request, no reader) with a lazy subject reaches each
    user in their own language."""
    from flask_babel import lazy_gettext

    from crm_host import notify as bus
    from crm_host.models import User

    en, hant, hans = make_user("sales"), make_user("sales"), make_user("sales")
    for u, loc in ((hant, "zh_Hant"), (hans, "zh_Hans")):
        crm_db.get(User, u.id).locale = loc
    crm_db.commit()
    rt = crm_app.extensions["crm"].runtime()
    with crm_app.app_context():  # as in the worker: an app, no request
        users = [crm_db.get(User, u.id) for u in (en, hant, hans)]
        rows = bus.notify(
            crm_db,
            "host.test",
            lazy_gettext("Missing data for required field."),
            "plain body",
            users=users,
            channels=["log"],
            runtime=rt,
        )
        subjects = {r.recipient_id: r.subject for r in rows}
    assert subjects == {
        en.id: "Missing data for required field.",
        hant.id: "此欄位為必填。",
        hans.id: "此字段为必填。",
    }
    assert {r.body for r in rows} == {"plain body"}


def test_a_channel_that_is_not_set_up_is_skipped_for_people(crm_app, crm_db, make_user, alpha):
    """Email before an SMTP server is configured: people get the notification on their other
    channels, and the outbox does not fill with messages that can only fail."""
    from crm_host import Channel
    from crm_host import notify as bus

    user = make_user("sales")
    rt = crm_app.extensions["crm"].runtime()
    setup = {"done": False}
    rt.channels["mail"] = Channel("mail", "mail", lambda m: None, ready=lambda: setup["done"])
    try:
        with crm_app.app_context():
            rows = bus.notify(
                crm_db,
                "alpha.ping",
                "hi",
                users=[user],
                channels=["mail", "alpha_chan"],
                runtime=rt,
            )
            assert [r.channel for r in rows] == ["alpha_chan"]
            # Someone without a user account (a customer's address) is still queued, so a
            # missing set-up shows as a failed delivery instead of silence.
            rows = bus.notify(
                crm_db, "alpha.ping", "hi", addresses=[("mail", "x@example.com")], runtime=rt
            )
            assert [r.channel for r in rows] == ["mail"]
            setup["done"] = True
            rows = bus.notify(
                crm_db, "alpha.ping", "hi", users=[user], channels=["mail"], runtime=rt
            )
            assert [r.channel for r in rows] == ["mail"]
        crm_db.rollback()
    finally:
        rt.channels.pop("mail")
