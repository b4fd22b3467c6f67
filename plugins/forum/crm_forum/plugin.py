"""Hook implementations of the forum module: wiring only, rules live in services.py."""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l

from crm_host import (
    DashboardWidget,
    Entity,
    Job,
    MenuItem,
    NotificationKind,
    Panel,
    Permission,
    Plugin,
    SearchResult,
    hookimpl,
)

from .models import Topic

plugin = Plugin(
    description="Discussion board: categories, topics, interest profiles, follows, case discussions",
    depends=[],
    requires_host=">=1.0,<2",
)


@hookimpl
def crm_entities():
    return [
        Entity(
            name="forum.topic",
            model=Topic,
            label=_l("Forum topic"),
            label_plural=_l("Forum topics"),
            owner_attr="author_id",
            searchable=["title"],
            detail_endpoint="forum.topic",
            import_export=False,
        )
    ]


@hookimpl
def crm_blueprints():
    from . import api, views

    return [views.bp, views.admin_bp, api.blp]


@hookimpl
def crm_menu_items():
    return [
        MenuItem(
            "forum",
            _l("Forum"),
            "forum.index",
            permission="forum.view",
            icon="chat-square-text",
            order=60,
        ),
        MenuItem(
            "forum.interests",
            _l("Forum interests"),
            "forum.profile",
            permission="forum.view",
            section="user",
            order=60,
            icon="bell",
        ),
        MenuItem(
            "forum.categories",
            _l("Forum categories"),
            "forum_admin.categories",
            permission="forum.admin",
            section="admin",
            order=120,
            icon="chat-square-text",
        ),
    ]


@hookimpl
def crm_permissions():
    every = ["leader", "sales", "service", "staff"]
    return [
        Permission("forum.view", _l("Read the forum"), every),
        Permission("forum.post", _l("Post topics and replies in the forum"), every),
        Permission("forum.moderate", _l("Moderate the forum (pin, lock, move, hide)"), ["leader"]),
        Permission("forum.admin", _l("Manage forum categories and who may use them"), []),
    ]


@hookimpl
def crm_notification_kinds():
    ch = ("inbox", "email")
    return [
        NotificationKind("forum.interest", _l("New forum topic matching my interests"), ch),
        NotificationKind("forum.digest", _l("Daily digest of forum topics"), ch),
        NotificationKind("forum.reply", _l("Reply to a forum topic I follow"), ch),
        NotificationKind("forum.report", _l("Forum post reported to moderators"), ch),
    ]


def _digest_job(session, now):
    from . import services

    services.send_digests(session, now)


@hookimpl
def crm_scheduled_jobs():
    return [Job("forum.digest", 24 * 3600, _digest_job, label="Forum daily digest")]


@hookimpl
def crm_dashboard_widgets(user):
    from .views import latest_widget_html

    return [
        DashboardWidget(
            "forum.latest",
            _l("Latest discussions"),
            latest_widget_html,
            permission="forum.view",
            order=70,
            width=6,
        )
    ]


@hookimpl
def crm_record_panels(entity, record, user):
    from . import services
    from .views import linked_panel_html

    if entity not in services.LINKABLE:
        return None
    from crm_host.db import session
    from crm_host.security import has_permission

    if not has_permission(user, "forum.view"):
        return None
    topics = services.topics_linked_to(session(), user, entity, record.id)
    return [
        Panel(
            "forum.discussions",
            _l("Discussions"),
            lambda: linked_panel_html(entity, record, topics),
            order=80,
            count=len(topics),
        )
    ]


@hookimpl
def crm_search(query, user, limit):
    from crm_host.db import session
    from crm_host.security import has_permission

    from . import services

    if not has_permission(user, "forum.view"):
        return []
    items, _t, _e = services.list_topics(session(), user, services.Filters(q=query), 1, limit)
    return [
        SearchResult(
            title=t.title,
            url=url_for("forum.topic", topic_id=t.id),
            kind=str(_l("Forum")),
            subtitle=t.category.name,
        )
        for t in items
    ]


@hookimpl
def crm_demo_data(session, users, locale):
    from .demo import fill

    fill(session, users, locale)
