"""CH-7 the personal calendar: own entries, events from other modules through the hook,
day/week/month pages, the secret iCalendar feed (no login, resettable), reminders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from icalendar import Calendar


def _iso(dt):
    return dt.isoformat()


def test_entries_events_and_hook(channels, api, make_user):
    import channels_probe

    user = make_user("sales")
    client = api(user)
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    r = client.post(
        "/api/v1/calendar/entries",
        json={
            "title": "Team meeting",
            "kind": "meeting",
            "start": _iso(start),
            "end": _iso(start + timedelta(hours=1)),
            "location": "Room 3",
        },
    )
    assert r.status_code == 201, r.get_json()
    eid = r.get_json()["id"]
    channels_probe.EVENTS.append(channels_probe.appointment(user.id, start + timedelta(hours=3)))
    channels_probe.EVENTS.append({"uid": "broken", "title": "no start"})  # skipped, no crash
    q = {"start": _iso(start - timedelta(days=1)), "end": _iso(start + timedelta(days=2))}
    evs = client.get("/api/v1/calendar/events", query_string=q).get_json()
    assert [e["uid"] for e in evs] == [f"channels-entry-{eid}", "probe-appointment-1"]
    assert evs[1]["kind"] == "appointment" and evs[1]["source"] == "channels_probe"
    # validation: end before start, unknown kind, missing title
    bad = client.post(
        "/api/v1/calendar/entries",
        json={"title": "x", "start": _iso(start), "end": _iso(start - timedelta(hours=1))},
    )
    assert bad.status_code == 422 and "before the start" in bad.get_json()["detail"]
    assert (
        client.post(
            "/api/v1/calendar/entries", json={"title": "x", "kind": "party", "start": _iso(start)}
        ).status_code
        == 422
    )
    assert client.post("/api/v1/calendar/entries", json={"start": _iso(start)}).status_code == 422
    # someone else's entry is a 404
    other = api("sales")
    assert (
        other.put(
            f"/api/v1/calendar/entries/{eid}", json={"title": "mine now", "start": _iso(start)}
        ).status_code
        == 404
    )
    assert other.delete(f"/api/v1/calendar/entries/{eid}").status_code == 404
    assert (
        client.put(
            f"/api/v1/calendar/entries/{eid}",
            json={"title": "Moved", "start": _iso(start + timedelta(hours=5))},
        ).status_code
        == 200
    )
    assert client.delete(f"/api/v1/calendar/entries/{eid}").status_code == 204


def test_calendar_pages_day_week_month(channels, login, make_user):
    import channels_probe

    user = make_user("sales")
    web = login(user)
    today = datetime.now(timezone.utc).date()
    r = web.post_form(
        f"/channels/calendar?view=month&day={today}",
        {
            "title": "客戶拜訪 Visit",
            "kind": "appointment",
            "date": today.isoformat(),
            "start_time": "10:00",
            "end_time": "11:30",
            "location": "台北",
            "description": "<b>x</b>",
        },
    )
    assert r.status_code == 303
    channels_probe.EVENTS.append(
        channels_probe.appointment(
            user.id,
            datetime.combine(today, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=15),
            title="Pipeline appointment",
        )
    )
    for view in ("month", "week", "day"):
        page = web.get(f"/channels/calendar?view={view}&day={today}").get_data(as_text=True)
        assert "客戶拜訪 Visit" in page and "Pipeline appointment" in page, view
        assert f'data-testid="{view}"' in page
    bad = web.post_form("/channels/calendar", {"title": "", "date": today.isoformat()})
    assert bad.status_code == 422 and "A title is required" in bad.get_data(as_text=True)
    bad = web.post_form(
        "/channels/calendar",
        {"title": "x", "date": today.isoformat(), "start_time": "10:00", "end_time": "09:00"},
    )
    assert bad.status_code == 422 and "before the start" in bad.get_data(as_text=True)
    # the description is shown escaped, never as HTML
    day = web.get(f"/channels/calendar?view=day&day={today}").get_data(as_text=True)
    assert "&lt;b&gt;x&lt;/b&gt;" in day
    assert web.get("/channels/calendar?view=year&day=garbage").status_code == 200


def test_ical_feed_without_login_and_reset(channels, api, make_user, crm_app):
    import channels_probe

    user = make_user("sales")
    client = api(user)
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    client.post(
        "/api/v1/calendar/entries",
        json={"title": "Quarterly review", "start": _iso(start), "all_day": True},
    )
    channels_probe.EVENTS.append(channels_probe.appointment(user.id, start + timedelta(hours=4)))
    url = client.get("/api/v1/calendar/feed").get_json()["url"]
    assert url.startswith("http://crm.test/channels/calendar/feed/") and url.endswith(".ics")
    path = url.removeprefix("http://crm.test")
    anon = crm_app.test_client()
    r = anon.get(path)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    cal = Calendar.from_ical(r.data)
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"channels-entry-1@crm", "probe-appointment-1@crm"}
    assert str(events["probe-appointment-1@crm"]["summary"]) == "Visit Acme"
    assert events["channels-entry-1@crm"].decoded("dtstart") == start.date()
    assert anon.get("/channels/calendar/feed/not-a-token.ics").status_code == 404
    new = client.post("/api/v1/calendar/feed/reset").get_json()["url"]
    assert new != url
    assert anon.get(path).status_code == 404
    assert anon.get(new.removeprefix("http://crm.test")).status_code == 200


def test_reminders_go_through_the_bus(channels, api, make_user, deliver, crm_app):
    from crm_channels import agenda

    user = make_user("sales")
    client = api(user)
    soon = datetime.now(timezone.utc) + timedelta(minutes=10)
    client.post(
        "/api/v1/calendar/entries",
        json={"title": "Call Acme", "kind": "reminder", "start": _iso(soon), "remind_minutes": 15},
    )
    client.post(
        "/api/v1/calendar/entries",
        json={"title": "Later", "start": _iso(soon + timedelta(days=3)), "remind_minutes": 15},
    )
    with crm_app.extensions["crm"].db.session_scope() as s:
        with crm_app.app_context():
            assert agenda.send_reminders(s, runtime=crm_app.extensions["crm"].runtime()) == 1
            assert agenda.send_reminders(s, runtime=crm_app.extensions["crm"].runtime()) == 0
    deliver()
    items = client.get("/api/v1/inbox").get_json()["items"]
    assert len(items) == 1 and items[0]["subject"].startswith("Call Acme")


def test_times_are_the_readers_local_time(channels, login, api, make_user, crm_db):
    """A user in Taipei (UTC+8) types 09:30: stored 01:30 UTC, shown 09:30 on the calendar,
    01:30Z in the iCalendar feed; an all-day entry stays on its date in every zone."""
    from crm_channels.models import CalendarEntry
    from sqlalchemy import select

    from crm_host.models import User

    user = make_user("sales")
    web = login(user)
    crm_db.get(User, user.id).timezone = "Asia/Taipei"
    crm_db.commit()
    day = "2026-12-01"
    form = {"title": "早會 Stand-up", "kind": "meeting", "date": day,
            "start_time": "09:30", "end_time": "10:00"}  # fmt: skip
    assert web.post_form(f"/channels/calendar?day={day}", form).status_code == 303
    assert web.post_form(f"/channels/calendar?day={day}",
                         {"title": "公司旅遊", "date": day, "all_day": "on"}).status_code == 303  # fmt: skip
    crm_db.expire_all()
    rows = {e.title: e for e in crm_db.scalars(select(CalendarEntry))}
    start = rows["早會 Stand-up"].start_at.astimezone(timezone.utc)
    assert start == datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)
    page = web.get(f"/channels/calendar?view=day&day={day}").get_data(as_text=True)
    assert "09:30" in page and "01:30" not in page and "Asia/Taipei" in page
    assert "公司旅遊" in page
    # Events from other modules are converted the same way; the API keeps UTC with offsets.
    evs = api(user).get("/api/v1/calendar/events",
                        query_string={"start": "2026-11-30T00:00:00+00:00",
                                      "end": "2026-12-02T00:00:00+00:00"}).get_json()  # fmt: skip
    by_title = {e["title"]: e for e in evs}
    assert by_title["早會 Stand-up"]["start"].startswith("2026-12-01T01:30")
    # The same user in UTC sees 01:30.
    crm_db.get(User, user.id).timezone = "UTC"
    crm_db.commit()
    page = web.get(f"/channels/calendar?view=day&day={day}").get_data(as_text=True)
    assert "01:30" in page
