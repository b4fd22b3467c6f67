"""The personal calendar (CH-7): the user's own entries plus the events other modules add
through ``crm_calendar_events(user, start, end)``, day/week/month views and a secret
iCalendar feed.

An event is a dict: ``uid`` (stable, globally unique), ``title``, ``start`` (aware UTC
datetime), ``end`` (aware or None), ``all_day``, ``url`` (or None), ``kind``
(``appointment``, ``reminder``, ``meeting`` ...), optionally ``description``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, or_, select

from crm_host import notify as bus
from crm_host import timezones
from crm_host.db import utcnow

from .models import CalendarEntry, CalendarFeed
from .services import ChannelsError

log = logging.getLogger("crm.channels.calendar")

KINDS = ("meeting", "reminder", "appointment", "task", "other")
REMINDER_KIND = "channels.reminder"
VIEWS = ("day", "week", "month")
MAX_SPAN = timedelta(days=400)


# --- Own entries -------------------------------------------------------------------------


def _aware(value, field: str, tz=timezone.utc, all_day: bool = False) -> datetime:
    """An aware UTC datetime. A value without a zone is the user's local time (``tz``); an
    all-day entry keeps its calendar date (stored as midnight UTC, shown without a zone)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ChannelsError("Not a date and time (use YYYY-MM-DDTHH:MM).", field) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=timezone.utc)
    if not isinstance(value, datetime):
        raise ChannelsError("A date and time is required.", field)
    if all_day:
        return datetime.combine(value.date(), time(0), tzinfo=timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(timezone.utc)


def clean_entry(data: dict, tz=timezone.utc) -> dict:
    """The checked fields of an own entry; times without a zone are in ``tz`` (the user's)."""
    title = (data.get("title") or "").strip()
    if not title:
        raise ChannelsError("A title is required.", "title")
    if len(title) > 200:
        raise ChannelsError("The title is at most 200 characters.", "title")
    kind = (data.get("kind") or "meeting").strip()
    if kind not in KINDS:
        raise ChannelsError(f"Choose one of: {', '.join(KINDS)}.", "kind")
    if data.get("start") in (None, ""):
        raise ChannelsError("A start is required.", "start")
    all_day = bool(data.get("all_day"))
    start = _aware(data.get("start"), "start", tz, all_day)
    end = _aware(data["end"], "end", tz, all_day) if data.get("end") not in (None, "") else None
    if end is not None and end < start:
        raise ChannelsError("The end is before the start.", "end")
    remind = data.get("remind_minutes")
    if remind in ("", None):
        remind = None
    else:
        try:
            remind = int(remind)
        except (TypeError, ValueError):
            raise ChannelsError("Minutes before, as a whole number.", "remind_minutes") from None
        if not 0 <= remind <= 60 * 24 * 14:
            raise ChannelsError("At most two weeks before.", "remind_minutes")
    location = (data.get("location") or "").strip()[:200] or None
    description = (data.get("description") or "").strip()[:5000]
    return {
        "title": title,
        "kind": kind,
        "start_at": start,
        "end_at": end,
        "all_day": all_day,
        "remind_minutes": remind,
        "location": location,
        "description": description,
    }


def create_entry(session, user, data: dict) -> CalendarEntry:
    e = CalendarEntry(user_id=user.id, **clean_entry(data, timezones.user_zone(user)))
    session.add(e)
    session.flush()
    return e


def get_entry(session, user, entry_id: int) -> CalendarEntry:
    e = session.get(CalendarEntry, entry_id)
    if e is None or e.user_id != user.id:
        raise ChannelsError("No such calendar entry.", status=404)
    return e


def update_entry(session, user, entry: CalendarEntry, data: dict) -> CalendarEntry:
    for k, v in clean_entry(data, timezones.user_zone(user)).items():
        setattr(entry, k, v)
    entry.reminded_at = None if entry.start_at > utcnow() else entry.reminded_at
    return entry


def delete_entry(session, user, entry: CalendarEntry) -> None:
    session.delete(entry)


def entry_event(e: CalendarEntry) -> dict:
    return {
        "uid": f"channels-entry-{e.id}",
        "title": e.title,
        "start": e.start_at,
        "end": e.end_at,
        "all_day": e.all_day,
        "url": None,
        "kind": e.kind,
        "description": e.description or "",
        "location": e.location,
        "own_id": e.id,
    }


# --- Collecting events -------------------------------------------------------------------


def _valid_event(ev, owner: str) -> dict | None:
    try:
        start = ev["start"]
        if not isinstance(start, datetime):
            if isinstance(start, date):
                start = datetime.combine(start, time(0), tzinfo=timezone.utc)
            else:
                raise TypeError("start is not a datetime")
        if start.tzinfo is None:
            raise TypeError("start is naive")
        end = ev.get("end")
        if end is not None and isinstance(end, date) and not isinstance(end, datetime):
            end = datetime.combine(end, time(0), tzinfo=timezone.utc)
        if end is not None and end.tzinfo is None:
            raise TypeError("end is naive")
        return {
            "uid": str(ev["uid"]),
            "title": str(ev["title"]),
            "start": start,
            "end": end,
            "all_day": bool(ev.get("all_day")),
            "url": ev.get("url"),
            "kind": str(ev.get("kind") or "other"),
            "description": str(ev.get("description") or ""),
            "location": ev.get("location"),
            "own_id": None,
            "source": owner,
        }
    except (KeyError, TypeError, AttributeError) as exc:
        log.warning("calendar event from %s ignored: %s", owner, exc)
        return None


def events(session, runtime, user, start: datetime, end: datetime) -> list[dict]:
    """Every event of ``user`` overlapping ``[start, end)``, sorted by start."""
    if end - start > MAX_SPAN:
        raise ChannelsError("At most 400 days at a time.", "end")
    own = session.scalars(
        select(CalendarEntry).where(
            CalendarEntry.user_id == user.id,
            CalendarEntry.start_at < end,
            or_(
                and_(
                    CalendarEntry.end_at.is_(None),
                    CalendarEntry.start_at >= start - timedelta(days=1),
                ),
                CalendarEntry.end_at >= start,
            ),
        )
    ).all()
    out = [{**entry_event(e), "source": "channels"} for e in own]
    for owner, ev in runtime.collect_with_owner(
        "crm_calendar_events", user=user, start=start, end=end
    ):
        valid = _valid_event(ev, owner) if isinstance(ev, dict) else None
        if valid is not None:
            out.append(valid)
    out.sort(key=lambda e: (e["start"], e["title"]))
    return out


def span(view: str, day: date, week_start: int = 0) -> tuple[date, date]:
    """The first day shown and the day after the last for ``view`` around ``day``."""
    if view == "day":
        return day, day + timedelta(days=1)
    if view == "week":
        first = day - timedelta(days=(day.weekday() - week_start) % 7)
        return first, first + timedelta(days=7)
    first_of_month = day.replace(day=1)
    first = first_of_month - timedelta(days=(first_of_month.weekday() - week_start) % 7)
    next_month = (first_of_month + timedelta(days=32)).replace(day=1)
    last = next_month + timedelta(days=(week_start - next_month.weekday()) % 7)
    return first, last


def nav(view: str, day: date) -> tuple[date, date]:
    """The day to show for "previous" and "next"."""
    if view == "day":
        return day - timedelta(days=1), day + timedelta(days=1)
    if view == "week":
        return day - timedelta(days=7), day + timedelta(days=7)
    prev = (day.replace(day=1) - timedelta(days=1)).replace(day=1)
    nxt = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return prev, nxt


def by_day(evs: list[dict], first: date, last: date, tz=timezone.utc) -> dict[date, list]:
    days: dict[date, list] = {}
    d = first
    while d < last:
        days[d] = []
        d += timedelta(days=1)
    for ev in evs:
        # An all-day event is a calendar date (midnight UTC by convention), in every zone.
        zone = timezone.utc if ev["all_day"] else tz
        s = ev["start"].astimezone(zone).date()
        e = (ev["end"].astimezone(zone) - timedelta(seconds=1)).date() if ev["end"] else s
        if ev["all_day"] and ev["end"] and ev["end"] <= ev["start"] + timedelta(days=1):
            e = s
        d = max(s, first)
        while d <= e and d < last:
            days[d].append(ev)
            d += timedelta(days=1)
    return days


# --- Feed --------------------------------------------------------------------------------


def feed_token(session, user, create: bool = True) -> str | None:
    row = session.get(CalendarFeed, user.id)
    if row is None and create:
        row = CalendarFeed(user_id=user.id, token=secrets.token_urlsafe(24))
        session.add(row)
        session.flush()
    return row.token if row else None


def reset_feed(session, user) -> str:
    row = session.get(CalendarFeed, user.id)
    token = secrets.token_urlsafe(24)
    if row is None:
        session.add(CalendarFeed(user_id=user.id, token=token))
    else:
        row.token = token
        row.created_at = utcnow()
    session.flush()
    return token


def user_for_feed(session, token: str):
    from crm_host.models import User

    if not token or len(token) > 64:
        return None
    row = session.scalar(select(CalendarFeed).where(CalendarFeed.token == token))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


def ical(evs: list[dict], name: str, base_url: str = "") -> bytes:
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//CRM//channels calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    stamp = utcnow()
    for ev in evs:
        ve = Event()
        ve.add("uid", ev["uid"] if "@" in ev["uid"] else f"{ev['uid']}@crm")
        ve.add("summary", ev["title"])
        ve.add("dtstamp", stamp)
        if ev["all_day"]:
            ve.add("dtstart", ev["start"].date())
            end = ev["end"].date() if ev["end"] else ev["start"].date() + timedelta(days=1)
            if end <= ev["start"].date():
                end = ev["start"].date() + timedelta(days=1)
            ve.add("dtend", end)
        else:
            ve.add("dtstart", ev["start"].astimezone(timezone.utc))
            if ev["end"]:
                ve.add("dtend", ev["end"].astimezone(timezone.utc))
        if ev.get("description"):
            ve.add("description", ev["description"])
        if ev.get("location"):
            ve.add("location", ev["location"])
        url = ev.get("url")
        if url:
            ve.add("url", url if url.startswith("http") else base_url.rstrip("/") + url)
        ve.add("categories", [ev["kind"]])
        cal.add_component(ve)
    return cal.to_ical()


# --- Reminders ---------------------------------------------------------------------------


def send_reminders(session, now=None, runtime=None) -> int:
    """Notify users of their own entries whose reminder time has come (job, every minute)."""
    from crm_host.models import User

    now = now or utcnow()
    runtime = runtime or bus.current_runtime()
    rows = session.scalars(
        select(CalendarEntry).where(
            CalendarEntry.remind_minutes.is_not(None),
            CalendarEntry.reminded_at.is_(None),
            CalendarEntry.start_at <= now + timedelta(days=15),
            CalendarEntry.start_at >= now - timedelta(hours=1),
        )
    ).all()
    n = 0
    for e in rows:
        if e.start_at - timedelta(minutes=e.remind_minutes) > now:
            continue
        user = session.get(User, e.user_id)
        local = timezones.to_local(e.start_at, user)  # the reader's clock, with its zone
        when = (
            e.start_at.strftime("%Y-%m-%d")
            if e.all_day
            else f"{local:%Y-%m-%d %H:%M} ({timezones.user_zone(user).key})"
        )
        bus.notify(
            session,
            REMINDER_KIND,
            f"{e.title} · {when}",
            (e.location or "") + ("\n" if e.location else "") + (e.description or ""),
            users=[user],
            data={"url": f"/channels/calendar?day={(e.start_at if e.all_day else local).date()}"},
            runtime=runtime,
        )
        e.reminded_at = now
        n += 1
    session.commit()
    return n
