"""Hook implementations of the channels module: wiring only, rules live in services.py,
mailings.py, agenda.py and senders.py."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm_host import Channel, Job, MenuItem, NotificationKind, Permission, Plugin, hookimpl

from . import hookspecs, senders

plugin = Plugin(
    description="Inbox, email, SMS, fax, webhooks, batch mailings and the personal calendar",
    depends=[],
    hookspecs=[hookspecs],
)


@hookimpl
def crm_blueprints():
    from . import api, views

    return [views.bp, views.public_bp, api.blp]


def _unread(user) -> int | None:
    """The unread count for the sidebar and the top-bar bell: one query per request."""
    from flask import g

    from crm_host.db import session

    from . import services

    cache = g.setdefault("_channels_unread", {})
    if user.id not in cache:
        cache[user.id] = services.unread_count(session(), user) or None
    return cache[user.id]


@hookimpl
def crm_menu_items():
    return [
        MenuItem(
            "channels.inbox",
            _l("Inbox"),
            "channels.inbox",
            "channels.inbox",
            order=5,
            icon="inbox",
            badge=_unread,
        ),
        MenuItem(
            "channels.inbox_header",
            _l("Inbox"),
            "channels.inbox",
            "channels.inbox",
            section="header",
            order=10,
            icon="bell",
            badge=_unread,
        ),
        MenuItem(
            "channels.calendar",
            _l("Calendar"),
            "channels.calendar",
            "channels.calendar",
            order=6,
            icon="calendar3",
        ),
        MenuItem(
            "channels.mailings",
            _l("Mailings"),
            "channels.mailings_index",
            "channels.mailing",
            order=60,
            icon="envelope-paper",
        ),
        MenuItem(
            "channels.settings",
            _l("Channels"),
            "channels.settings",
            "channels.manage",
            section="admin",
            order=45,
            icon="broadcast",
        ),
        MenuItem(
            "channels.defaults",
            _l("Notification defaults"),
            "channels.defaults",
            "channels.manage",
            section="admin",
            order=46,
            icon="bell",
        ),
    ]


@hookimpl
def crm_permissions():
    everyone = ["leader", "sales", "service", "staff"]
    return [
        Permission("channels.inbox", _l("Read the personal inbox"), everyone),
        Permission("channels.calendar", _l("Use the personal calendar"), everyone),
        Permission("channels.mailing", _l("Send batch mailings"), ["leader", "sales"]),
        Permission("channels.manage", _l("Configure channels, defaults and all mailings"), []),
    ]


@hookimpl
def crm_notification_channels():
    return [
        Channel("inbox", _l("Inbox"), senders.send_inbox, max_attempts=6),
        Channel(
            "email",
            _l("Email"),
            senders.send_email,
            max_attempts=6,
            ready=senders.email_ready,
        ),
        Channel(
            "sms", _l("Text message"), senders.send_sms, max_attempts=4, ready=senders.sms_ready
        ),
        # Fax and webhook reach an address, not a person: not offered on the preferences page.
        Channel("fax", _l("Fax"), senders.send_fax, max_attempts=4, personal=False),
        Channel("webhook", _l("Webhook"), senders.send_webhook, max_attempts=8, personal=False),
    ]


@hookimpl
def crm_notification_kinds():
    return [
        NotificationKind("channels.reminder", _l("Calendar reminder"), ("inbox", "email")),
        NotificationKind("channels.mailing", _l("Batch mailing"), ("email",)),
    ]


@hookimpl
def crm_notification_defaults(session, kind):
    from . import services

    chosen = services.admin_default(session, kind)
    return (
        set(chosen) if chosen is not None else None
    )  # a set: hook answers that are lists are flattened


def _mailings_job(session, now):
    from . import mailings

    mailings.run_due(session, now)


def _reminders_job(session, now):
    from . import agenda

    agenda.send_reminders(session, now)


@hookimpl
def crm_scheduled_jobs():
    return [
        Job("channels.mailings", 10, _mailings_job, label="Queue due batch mailings"),
        Job("channels.reminders", 60, _reminders_job, label="Calendar reminders"),
    ]


@hookimpl
def crm_dashboard_widgets(user):
    from crm_host import DashboardWidget

    from .views import agenda_widget_html

    return [
        DashboardWidget(
            "channels.agenda",
            _l("Coming up"),
            agenda_widget_html,
            permission="channels.calendar",
            order=15,
            width=7,
        ),
    ]


@hookimpl(optionalhook=True)
def crm_customer_timeline(customer, user, limit):
    from crm_host.db import session

    from . import services

    nouns = {
        "email": _l("Email"),
        "sms": _l("Text message"),
        "fax": _l("Fax"),
        "webhook": _l("Webhook"),
    }
    out = []
    for m in services.customer_messages(session(), customer.id, limit):
        out.append(
            {
                "at": m.sent_at,
                "kind": "message",
                "title": f"{nouns.get(m.channel, m.channel)} → {m.address or ''}: {m.subject}",
                "body": m.body,
                "url": None,
            }
        )
    return out


@hookimpl
def crm_demo_data(session, users, locale):
    from .demo import fill

    fill(session, users, locale)
