"""Local time for every reader.

Times are stored in UTC. Each user reads them in their own time zone: the one they chose on
their profile (the browser's zone is offered at sign-in), else the organisation's
``CRM_TIMEZONE``, else UTC. Templates use the filters registered here; code that turns a
date or time a user typed into a stored value uses :func:`from_local`.

    {{ deal.created_at|dt }}      2026-11-24 09:30   (the reader's zone)
    {{ entry.start|hm }}          09:30
    {{ entry.start|day }}         2026-11-24
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import current_app, has_app_context, has_request_context
from flask_login import current_user

UTC = timezone.utc


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo | None:
    """The zone called ``name`` (an IANA name such as ``Asia/Taipei``), or None."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_valid(name: str | None) -> bool:
    return zone(name) is not None


@lru_cache(maxsize=1)
def choices() -> list[str]:
    """Every IANA zone name, sorted (for the profile's select box)."""
    return ["UTC"] + sorted(
        n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/"))
    )


def default_name() -> str:
    """The organisation's zone (``CRM_TIMEZONE``); UTC outside an application."""
    name = (current_app.config.get("CRM_TIMEZONE") if has_app_context() else None) or "UTC"
    return name if is_valid(name) else "UTC"


def select_timezone() -> str:
    """The reader's zone name (Flask-Babel's timezone selector)."""
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        name = getattr(current_user, "timezone", None)
        if is_valid(name):
            return name
    return default_name()


def user_zone(user=None) -> ZoneInfo:
    """The zone of ``user`` (default: whoever reads now)."""
    if user is not None:
        name = user.timezone if is_valid(getattr(user, "timezone", None)) else default_name()
    else:
        name = select_timezone()
    return zone(name) or ZoneInfo("UTC")


def to_local(value: datetime | None, user=None) -> datetime | None:
    """A stored (UTC) datetime in the reader's zone; naive values are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(user_zone(user))


def from_local(day: date, at: time | None = None, user=None) -> datetime:
    """What a user typed (a date, and a time of day in their zone) as an aware UTC datetime."""
    local = datetime.combine(day, at or time(0, 0), tzinfo=user_zone(user))
    return local.astimezone(UTC)


def local_today(user=None) -> date:
    return datetime.now(user_zone(user)).date()


def currency_symbol() -> str:
    """The symbol of ``CRM_CURRENCY`` as the reader's language writes it (¥, NT$, US$ ...)."""
    from babel.numbers import get_currency_symbol
    from flask_babel import get_locale

    code = current_app.config.get("CRM_CURRENCY") or "CNY"
    try:
        return get_currency_symbol(code, locale=str(get_locale() or "en"))
    except Exception:  # an unknown code or locale: the code itself is still clear
        return code


def _format(value, fmt: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return to_local(value).strftime(fmt)
    if isinstance(value, date) and "%H" not in fmt:
        return value.strftime(fmt)  # a calendar date has no zone
    return str(value)


def register(app) -> None:
    """The template filters and globals (``dt``, ``dt_seconds``, ``day``, ``hm``,
    ``local_today``, ``tz_name``)."""
    app.add_template_filter(lambda v: _format(v, "%Y-%m-%d %H:%M"), "dt")
    app.add_template_filter(lambda v: _format(v, "%Y-%m-%d %H:%M:%S"), "dt_seconds")
    app.add_template_filter(lambda v: _format(v, "%Y-%m-%d"), "day")
    app.add_template_filter(lambda v: _format(v, "%H:%M"), "hm")
    app.add_template_filter(lambda v: _format(v, "%m-%d %H:%M"), "short_dt")
    app.add_template_global(local_today, "local_today")
    app.add_template_global(to_local, "to_local")
    app.add_template_global(currency_symbol, "currency_symbol")
    app.add_template_global(select_timezone, "tz_name")
