"""Service levels: the business-hours clock, the escalation job (once per breach, to the
department leader, read from an index), the paused clock, overdue marks."""

from datetime import date, datetime, timedelta, timezone

from service_testkit import backdate, new_ticket, step
from sqlalchemy import func, select

from crm_host.models import OutboxMessage


def _calendar(crm_app, holidays=()):
    from crm_service import services
    from crm_service.models import ServiceHoliday

    with crm_app.app_context():
        with crm_app.extensions["crm"].db.session_scope() as s:
            for d in holidays:
                s.add(ServiceHoliday(day=d, name="holiday"))
        with crm_app.extensions["crm"].db.session_scope() as s:
            return services.Calendar.load(s)


def test_business_hours_clock(crm_app, service):
    crm_app.config["CRM_TIMEZONE"] = "Asia/Taipei"
    cal = _calendar(crm_app, holidays=[date(2026, 11, 30)])  # a Monday
    tp = cal.zone
    fri_5pm = datetime(2026, 11, 27, 17, 0, tzinfo=tp)
    # one hour left on Friday, the weekend and the Monday holiday skipped, then Tuesday 9:00
    due = cal.add(fri_5pm, 120)
    assert due == datetime(2026, 12, 1, 10, 0, tzinfo=tp).astimezone(timezone.utc)
    assert due.tzinfo is not None
    assert cal.minutes_between(fri_5pm, datetime(2026, 12, 1, 10, 0, tzinfo=tp)) == 120
    # before opening counts from 9:00
    assert cal.add(datetime(2026, 11, 26, 7, 0, tzinfo=tp), 60) == datetime(
        2026, 11, 26, 10, 0, tzinfo=tp
    ).astimezone(timezone.utc)
    assert cal.minutes_between(fri_5pm, fri_5pm) == 0


def test_overdue_ticket_escalates_once_to_the_department_leader(crm_app, team, api):
    from crm_service import services

    alice = api(team["alice"])
    t = new_ticket(alice, kind="support", title="印表機卡紙", severity="urgent")
    fresh = new_ticket(alice, kind="support", title="剛開的")
    backdate(crm_app, t["id"], 10)
    got = alice.get(f"/api/v1/tickets/{t['id']}").get_json()
    assert got["overdue"] is True
    assert [x["id"] for x in alice.get("/api/v1/tickets?overdue=true").get_json()["items"]] == [
        t["id"]
    ]
    assert alice.get("/api/v1/tickets?overdue=false").get_json()["total"] == 1
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context():
        with db.session_scope() as s:
            assert services.escalate_breaches(s) == 1
        with db.session_scope() as s:
            assert services.escalate_breaches(s) == 0  # once per breach
            rows = s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "service.sla_breach")
            ).all()
            assert {r.recipient_id for r in rows} == {team["leader"].id}
            assert "印表機卡紙" in rows[0].subject
    got = alice.get(f"/api/v1/tickets/{t['id']}").get_json()
    assert got["response_escalated_at"] and got["resolution_escalated_at"]
    ev = [
        e for e in alice.get(f"/api/v1/tickets/{t['id']}/events").get_json() if e["kind"] == "sla"
    ]
    assert len(ev) == 1 and ev[0]["data"]["escalated_to"] == [team["leader"].id]
    assert alice.get(f"/api/v1/tickets/{fresh['id']}").get_json()["response_escalated_at"] is None


def test_response_and_resolution_breaches_are_separate(crm_app, team, api):
    """Answered in time, resolution late: only the resolution breach escalates."""
    from crm_service import services
    from crm_service.models import Ticket

    alice = api(team["alice"])
    t = new_ticket(alice, kind="support", title="慢慢解決")
    assert step(alice, t["id"], "assigned").status_code == 200  # responded now
    backdate(crm_app, t["id"], 30)
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context():
        with db.session_scope() as s:
            s.get(Ticket, t["id"]).responded_at = s.get(Ticket, t["id"]).created_at
            services._rewatch(s.get(Ticket, t["id"]))
        with db.session_scope() as s:
            assert services.escalate_breaches(s) == 1
    got = alice.get(f"/api/v1/tickets/{t['id']}").get_json()
    assert got["response_escalated_at"] is None and got["resolution_escalated_at"]


def test_waiting_for_the_customer_pauses_the_clock(crm_app, team, api):
    from crm_service import services
    from crm_service.models import Ticket

    alice = api(team["alice"])
    t = new_ticket(alice, kind="complaint", title="等客戶回覆")
    r = alice.patch(f"/api/v1/tickets/{t['id']}", json={"waiting": True, "version": t["version"]})
    assert r.status_code == 200 and r.get_json()["waiting"] is True
    backdate(crm_app, t["id"], 20)
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context():
        with db.session_scope() as s:
            tk = s.get(Ticket, t["id"])
            tk.waiting_since = tk.created_at + timedelta(minutes=1)
            services._rewatch(tk)
            assert tk.watch_at is None and tk.open_due_at is None
        with db.session_scope() as s:
            assert services.escalate_breaches(s) == 0  # paused: nothing escalates
    got = alice.get(f"/api/v1/tickets/{t['id']}").get_json()
    assert got["overdue"] is False
    before = got["resolution_due_at"]
    r = alice.patch(
        f"/api/v1/tickets/{t['id']}", json={"waiting": False, "version": got["version"]}
    )
    got = r.get_json()
    assert got["waiting"] is False and got["paused_minutes"] > 0
    assert got["resolution_due_at"] > before  # the paused time moved the deadline
    kinds = [e["kind"] for e in alice.get(f"/api/v1/tickets/{t['id']}/events").get_json()]
    assert "waiting" in kinds and "resumed" in kinds


def test_the_job_is_scheduled_and_reads_only_breaches(crm_app, team, api):
    """The host's scheduler runs it; the job's query is a range on the watch index."""
    from crm_service import services
    from crm_service.models import Ticket

    rt = crm_app.extensions["crm"].runtime()
    assert "service.escalate" in rt.jobs
    alice = api(team["alice"])
    for i in range(3):
        new_ticket(alice, kind="support", title=f"t{i}")
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context():
        with db.session_scope() as s:
            stmt = select(Ticket.id).where(Ticket.watch_at <= services.utcnow())
            if s.bind.dialect.name == "sqlite":
                plan = " ".join(
                    str(r[-1])
                    for r in s.execute(
                        __import__("sqlalchemy").text(
                            "EXPLAIN QUERY PLAN "
                            + str(stmt.compile(compile_kwargs={"literal_binds": True}))
                        )
                    )
                )
                assert "ix_service_ticket_watch" in plan
            assert s.scalar(select(func.count()).select_from(stmt.subquery())) == 0
    from crm_host.notify import run_due_jobs

    with crm_app.test_request_context():
        ran = run_due_jobs(db, rt, crm_app)
    assert "service.escalate" in ran


def test_overdue_is_marked_in_lists_and_dashboard(crm_app, team, login, api):
    alice = api(team["alice"])
    t = new_ticket(alice, kind="support", title="逾期的工單")
    backdate(crm_app, t["id"], 10)
    c = login(team["alice"])
    page = c.get("/service/").get_data(as_text=True)
    assert "overdue-badge" in page and "svc-overdue" in page
    dash = c.get("/").get_data(as_text=True)
    assert "逾期的工單" in dash and 'data-testid="overdue-widget"' in dash
