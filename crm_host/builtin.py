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
        MenuItem("admin.modules", _l("Modules"), "admin.modules", "admin.modules",
                 section="admin", order=10, icon="puzzle"),
        MenuItem("admin.users", _l("Users"), "admin.users", "admin.users",
                 section="admin", order=20, icon="people"),
        MenuItem("admin.departments", _l("Departments"), "admin.departments", "admin.users",
                 section="admin", order=25, icon="diagram-3"),
        MenuItem("admin.roles", _l("Roles"), "admin.roles", "admin.roles",
                 section="admin", order=30, icon="shield-lock"),
        MenuItem("admin.numbering", _l("Numbering"), "admin.numbering_rules", "admin.numbering",
                 section="admin", order=40, icon="123"),
        MenuItem("admin.notifications", _l("Deliveries"), "admin.notifications",
                 "admin.notifications", section="admin", order=50, icon="send"),
        MenuItem("admin.audit", _l("Audit trail"), "admin.audit_log", "admin.audit",
                 section="admin", order=60, icon="clock-history"),
        MenuItem("user.profile", _l("Profile and API tokens"), "web.profile",
                 section="user", order=10, icon="person-gear"),
        MenuItem("user.notifications", _l("Notification settings"), "web.notification_settings",
                 section="user", order=20, icon="bell"),
    ]


def _log_send(message) -> None:
    # Development channel: never log bodies, they may hold customer data.
    log.info("notification #%s %s to %s: %s", message.id, message.kind,
             getattr(message.recipient, "email", None) or message.address, message.subject)


@hookimpl
def crm_notification_channels():
    return [Channel("log", _l("Server log (development)"), _log_send)]


@hookimpl
def crm_notification_kinds():
    return [NotificationKind("host.test", _l("Test message"), ("inbox", "email", "log"))]


def _prune(session, now):
    from .models import LoginAttempt

    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=30)))


@hookimpl
def crm_scheduled_jobs():
    return [Job("host.prune_login_attempts", 3600, _prune, label="Prune old login attempts")]
