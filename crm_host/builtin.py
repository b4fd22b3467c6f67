"""The host's own hook implementations: its permissions, menus, the development ``log``
channel and housekeeping jobs. Registered first, under the name ``host``."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete

from . import Channel, Job, MenuItem, NotificationKind, Permission, hookimpl

log = logging.getLogger("crm.notify.log")


@hookimpl
def crm_permissions():
    return [
        Permission("admin.modules", _l("Manage modules")),
        Permission("admin.users", _l("Manage users and departments")),
        Permission("admin.roles", _l("Manage roles and permissions")),
        Permission("admin.numbering", _l("Manage numbering rules")),
        Permission("admin.audit", _l("Read the audit trail")),
        Permission("admin.notifications", _l("Read the notification delivery log")),
    ]


@hookimpl
def crm_menu_items():
    return [
        MenuItem("dashboard", _l("Dashboard"), "web.dashboard", order=0, icon="speedometer2"),
        MenuItem(
            "admin.modules",
            _l("Modules"),
            "admin.modules",
            "admin.modules",
            section="admin",
            order=10,
            icon="puzzle",
        ),
        MenuItem(
            "admin.users",
            _l("Users"),
            "admin.users",
            "admin.users",
            section="admin",
            order=20,
            icon="people",
        ),
        MenuItem(
            "admin.departments",
            _l("Departments"),
            "admin.departments",
            "admin.users",
            section="admin",
            order=25,
            icon="diagram-3",
        ),
        MenuItem(
            "admin.roles",
            _l("Roles"),
            "admin.roles",
            "admin.roles",
            section="admin",
            order=30,
            icon="shield-lock",
        ),
        MenuItem(
            "admin.numbering",
            _l("Numbering"),
            "admin.numbering_rules",
            "admin.numbering",
            section="admin",
            order=40,
            icon="123",
        ),
        MenuItem(
            "admin.notifications",
            _l("Delivery log"),
            "admin.notifications",
            "admin.notifications",
            section="admin",
            order=50,
            icon="send",
        ),
        MenuItem(
            "admin.audit",
            _l("Audit trail"),
            "admin.audit_log",
            "admin.audit",
            section="admin",
            order=60,
            icon="clock-history",
        ),
        MenuItem(
            "user.profile",
            _l("Profile and API tokens"),
            "web.profile",
            section="user",
            order=10,
            icon="person-gear",
        ),
        MenuItem(
            "user.notifications",
            _l("Notification settings"),
            "web.notification_settings",
            section="user",
            order=20,
            icon="bell",
        ),
    ]


def _log_send(message) -> None:
    # Development channel: never log bodies, they may hold customer data.
    log.info(
        "notification #%s %s to %s: %s",
        message.id,
        message.kind,
        getattr(message.recipient, "email", None) or message.address,
        message.subject,
    )


@hookimpl
def crm_notification_channels():
    return [Channel("log", _l("Server log (development)"), _log_send, personal=False)]


@hookimpl
def crm_notification_kinds():
    return [NotificationKind("host.test", _l("Test message"), ("inbox", "email", "log"))]


def _prune(session, now):
    from .models import LoginAttempt

    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=30)))


@hookimpl
def crm_scheduled_jobs():
    return [Job("host.prune_login_attempts", 3600, _prune, label="Prune old login attempts")]


def _system_widget() -> str:
    """Admins see the health of the installation at a glance."""
    from flask import current_app, render_template
    from sqlalchemy import func, select

    from . import modules as module_ops
    from .db import session
    from .models import OutboxMessage, User

    s = session()
    mods = module_ops.describe(current_app)
    outbox = dict(
        s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    )
    users = s.scalar(select(func.count()).select_from(User).where(User.is_active.is_(True)))
    return render_template(
        "crm/widgets/system.html",
        enabled=sum(m.state == "enabled" for m in mods),
        installed=len(mods),
        broken=[m.name for m in mods if m.state == "broken"],
        users=users,
        pending=outbox.get("pending", 0),
        failed=outbox.get("dead", 0),
    )


def _deliveries_widget() -> str:
    from datetime import timedelta

    from flask_babel import gettext as _
    from sqlalchemy import select

    from .db import session, utcnow
    from .models import OutboxMessage
    from .ui import chart

    since = (utcnow() - timedelta(days=13)).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [(since + timedelta(days=i)).date() for i in range(14)]
    sent = dict.fromkeys(days, 0)
    failed = dict.fromkeys(days, 0)
    rows = (
        session()
        .execute(
            select(OutboxMessage.created_at, OutboxMessage.status).where(
                OutboxMessage.created_at >= since
            )
        )
        .all()
    )
    for at, status in rows:  # at most two weeks of rows, grouped here to stay portable
        d = at.date()
        if d in sent:
            (failed if status == "dead" else sent)[d] += 1
    option = {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [_("Delivered or queued"), _("Failed")], "bottom": 0},
        "grid": {"left": 36, "right": 12, "top": 16, "bottom": 48},
        "xAxis": {"type": "category", "data": [d.strftime("%m-%d") for d in days]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "name": _("Delivered or queued"),
                "type": "bar",
                "stack": "n",
                "data": list(sent.values()),
                "itemStyle": {"color": "#2f6fed"},
            },
            {
                "name": _("Failed"),
                "type": "bar",
                "stack": "n",
                "data": list(failed.values()),
                "itemStyle": {"color": "#dc3545"},
            },
        ],
    }
    return str(chart(option, height=240, label=_("Notifications in the last 14 days")))


@hookimpl
def crm_dashboard_widgets(user):
    from . import DashboardWidget

    return [
        DashboardWidget(
            "host.system",
            _l("Installation"),
            _system_widget,
            permission="admin.modules",
            order=900,
            width=5,
        ),
        DashboardWidget(
            "host.deliveries",
            _l("Notifications, last 14 days"),
            _deliveries_widget,
            permission="admin.notifications",
            order=910,
            width=7,
        ),
    ]
