"""Hook implementations of the knowledge module: wiring only, rules live in services.py."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm_host import DashboardWidget, Entity, MenuItem, Permission, Plugin, SearchResult, hookimpl

from . import hookspecs
from .models import Article

plugin = Plugin(
    description="Knowledge base: articles and Q&A, products, competitors, documents, "
    "public self-service pages, knowledge packs",
    depends=[],
    requires_host=">=1.0,<2",
    hookspecs=[hookspecs],
)


@hookimpl
def crm_entities():
    return [
        Entity(
            name="knowledge.article",
            model=Article,
            label=_l("Knowledge article"),
            label_plural=_l("Knowledge articles"),
            owner_attr="author_id",
            searchable=["title"],
            detail_endpoint="knowledge.article",
            import_export=False,
        )
    ]


@hookimpl
def crm_blueprints():
    from . import api, public, views

    return [views.bp, views.admin_bp, public.bp, api.blp]


@hookimpl
def crm_menu_items():
    return [
        MenuItem(
            "knowledge",
            _l("Knowledge base"),
            "knowledge.index",
            permission="knowledge.view",
            icon="journal-bookmark",
            order=70,
        ),
        MenuItem(
            "knowledge.products",
            _l("Products"),
            "knowledge.products",
            permission="knowledge.view",
            icon="box-seam",
            order=71,
        ),
        MenuItem(
            "knowledge.competitors",
            _l("Competitors"),
            "knowledge.competitors",
            permission="knowledge.view",
            icon="flag",
            order=72,
        ),
        MenuItem(
            "knowledge.documents",
            _l("Documents"),
            "knowledge.documents",
            permission="knowledge.view",
            icon="folder2-open",
            order=73,
        ),
        MenuItem(
            "knowledge.categories",
            _l("Knowledge categories"),
            "knowledge_admin.categories",
            permission="knowledge.admin",
            section="admin",
            order=130,
            icon="diagram-3",
        ),
        MenuItem(
            "knowledge.packs",
            _l("Knowledge packs"),
            "knowledge_admin.packs",
            permission="knowledge.admin",
            section="admin",
            order=131,
            icon="box2-heart",
        ),
    ]


@hookimpl
def crm_permissions():
    every = ["leader", "sales", "service", "staff"]
    return [
        Permission("knowledge.view", _l("Read the knowledge base"), every),
        Permission(
            "knowledge.edit",
            _l("Write and publish knowledge articles, products, competitors and documents"),
            ["leader", "service"],
        ),
        Permission(
            "knowledge.admin", _l("Manage knowledge categories and install knowledge packs"), []
        ),
    ]


@hookimpl
def crm_cli_commands():
    from .cli import cli

    return [cli]


@hookimpl
def crm_search(query, user, limit):
    from flask import url_for

    from crm_host.db import session

    from . import services

    if not services.can_view(user):
        return []
    arts = services.search(session(), services.visible_condition(user), query, limit)
    return [
        SearchResult(
            title=a.title,
            url=url_for("knowledge.article", article_id=a.id),
            kind=str(_l("Knowledge base")),
            subtitle=services.snippet_text(a.body, query, 80),
        )
        for a in arts
    ]


@hookimpl
def crm_dashboard_widgets(user):
    from .views import popular_widget_html

    return [
        DashboardWidget(
            "knowledge.popular",
            _l("Most read articles"),
            popular_widget_html,
            permission="knowledge.view",
            order=75,
            width=6,
        )
    ]


@hookimpl
def crm_demo_data(session, users, locale):
    from .demo import fill

    fill(session, users, locale)


# --- Hooks of other, optional plugins (import nothing from them) --------------------------


@hookimpl(optionalhook=True)
def crm_service_answers(query, user, limit, locale):
    """The Q&A bank for the service module: published Q&A and articles ``user`` may read."""
    from .integration import service_answers

    return service_answers(query, user, limit, locale)


@hookimpl(optionalhook=True)
def crm_competitor_catalog(session, query, limit):
    """Competitors to choose on a deal (pipeline module)."""
    from .integration import competitor_catalog

    return competitor_catalog(session, query, limit)
