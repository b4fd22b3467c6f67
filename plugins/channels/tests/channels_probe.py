"""A test plugin: a kind of notification declared with default channels (like pipeline's
urges), calendar events added through the hook channels publishes, and a broken event."""

from datetime import datetime, timedelta, timezone

from crm_host import NotificationKind, Plugin, hookimpl

plugin = Plugin(description="channels test probe (tests only)")
EVENTS: list = []


@hookimpl
def crm_notification_kinds():
    return [
        NotificationKind("probe.urge", "Urge (probe)", ("inbox", "email")),
        NotificationKind("probe.payment", "Payment reminder (probe)", ("inbox", "email")),
    ]


@hookimpl(optionalhook=True)
def crm_calendar_events(user, start, end):
    out = []
    for ev in EVENTS:
        if ev.get("user_id") not in (None, user.id):
            continue
        if isinstance(ev.get("start"), datetime) and start <= ev["start"] < end:
            out.append({k: v for k, v in ev.items() if k != "user_id"})
        elif not isinstance(ev.get("start"), datetime):
            out.append(ev)  # a malformed event: must be skipped, not crash the page
    return out


def appointment(user_id, start, uid="probe-appointment-1", title="Visit Acme"):
    return {
        "user_id": user_id,
        "uid": uid,
        "title": title,
        "start": start,
        "end": start + timedelta(hours=1),
        "all_day": False,
        "url": "/customers/",
        "kind": "appointment",
        "description": "Bring the catalogue",
    }


def now():
    return datetime.now(timezone.utc)


RECIPIENTS: list = []


def _recipients(session, user, params):
    yield from RECIPIENTS


@hookimpl(optionalhook=True)
def crm_mailing_audiences(user):
    return [
        {
            "name": "probe.list",
            "label": "Probe list",
            "recipients": _recipients,
            "fields": {"company": "Company"},
        }
    ]
