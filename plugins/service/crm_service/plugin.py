"""Hook implementations of the service module: wiring only, rules live in services.py."""

from __future__ import annotations

import click
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

from . import hookspecs as service_hookspecs
from .models import ServiceRecord, Ticket

plugin = Plugin(
    description="Service: complaints workflow, support from the Q&A bank, after-sales "
    "records, service levels, satisfaction",
    depends=("customers",),
    hookspecs=[service_hookspecs],
)


@hookimpl
def crm_entities():
    from .schemas import TicketIn

    return [
        Entity(
            name="service.ticket",
            model=Ticket,
            label=_l("Ticket"),
            label_plural=_l("Tickets"),
            schema=TicketIn,
            owner_attr="owner_id",
            department_attr="department_id",
            searchable=["title", "code", "customer_name"],
            numbering_kind="ticket",
            default_number_pattern="T{yyyy}{seq:06}",
            detail_endpoint="service.ticket",
        ),
        Entity(
            name="service.record",
            model=ServiceRecord,
            label=_l("Service record"),
            label_plural=_l("Service records"),
            owner_attr="owner_id",
            department_attr="department_id",
            import_export=False,
        ),
    ]


@hookimpl
def crm_blueprints():
    from . import api, views

    return [views.bp, api.blp]


def _overdue_badge(user):
    from crm_host.db import session

    from . import services

    # counted up to 100 on every page; the list shows the rest
    return services.overdue_count(session(), user, cap=100) or None


@hookimpl
def crm_menu_items():
    return [
        MenuItem(
            "service",
            _l("Tickets"),
            "service.index",
            "service.view",
            order=30,
            icon="life-preserver",
            badge=_overdue_badge,
        ),
        MenuItem(
            "service.records",
            _l("After-sales records"),
            "service.records",
            "service.view",
            order=31,
            icon="tools",
        ),
        MenuItem(
            "service.reports",
            _l("Service reports"),
            "service.reports_page",
            "service.reports",
            order=32,
            icon="graph-up",
        ),
        MenuItem(
            "service.settings",
            _l("Service settings"),
            "service.settings",
            "service.admin",
            section="admin",
            order=120,
            icon="stopwatch",
        ),
    ]


@hookimpl
def crm_permissions():
    P = Permission
    return [
        P("service.view", _l("See tickets and service records"), ["leader", "service", "sales"]),
        P("service.create", _l("Open tickets"), ["leader", "service", "sales"]),
        P("service.edit", _l("Edit tickets"), ["leader", "service"]),
        P("service.triage", _l("Triage complaints"), ["leader", "service"]),
        P("service.assign", _l("Assign tickets to people and departments"), ["leader", "service"]),
        P(
            "service.work",
            _l("Work on tickets: solutions, answers, service records"),
            ["leader", "service"],
        ),
        P(
            "service.escalate",
            _l("Escalate support requests to technical support"),
            ["leader", "service"],
        ),
        P("service.approve", _l("Approve proposed solutions (leader approval)"), ["leader"]),
        P("service.close", _l("Close tickets"), ["leader", "service"]),
        P("service.reports", _l("See service reports and satisfaction"), ["leader", "service"]),
        P("service.admin", _l("Configure categories, service levels and business hours"), []),
    ]


@hookimpl
def crm_notification_kinds():
    return [
        NotificationKind(
            "service.sla_breach", _l("A ticket missed its service level"), ("inbox", "email")
        ),
        NotificationKind("service.survey", _l("Satisfaction survey to a customer"), ("email",)),
        NotificationKind("service.reply", _l("Answer to a customer"), ("email",)),
    ]


@hookimpl
def crm_dashboard_widgets(user):
    from . import views

    return [
        DashboardWidget(
            "service.status",
            _l("Open tickets by status and age"),
            views.status_widget_html,
            permission="service.view",
            order=40,
            width=6,
        ),
        DashboardWidget(
            "service.overdue",
            _l("Overdue tickets"),
            views.overdue_widget_html,
            permission="service.view",
            order=41,
            width=6,
        ),
        DashboardWidget(
            "service.satisfaction",
            _l("Customer satisfaction"),
            views.satisfaction_widget_html,
            permission="service.reports",
            order=42,
            width=6,
        ),
    ]


@hookimpl
def crm_search(query, user, limit):
    from crm_host.db import session
    from crm_host.security import has_permission

    from . import services

    if not has_permission(user, "service.view"):
        return []
    stmt = services.ticket_query(session(), user, services.Filters(q=query))
    rows = session().scalars(stmt.order_by(Ticket.id.desc()).limit(limit)).all()
    return [
        SearchResult(
            title=t.title,
            subtitle=f"{t.code} · {t.customer_name or ''}".strip(" ·"),
            url=url_for("service.ticket", ticket_id=t.id),
            kind=str(_l("Tickets")),
        )
        for t in rows
    ]


# --- Hooks the customers module publishes ------------------------------------------------


@hookimpl
def crm_customer_panels(customer, user):
    from crm_host.db import session
    from crm_host.security import has_permission

    from . import services, views

    if not has_permission(user, "service.view"):
        return []
    s = session()
    tickets = services.customer_tickets(s, user, customer.id)
    records = services.customer_records(s, user, customer.id)
    return [
        Panel(
            "service.tickets",
            _l("Tickets and service"),
            lambda: views.customer_panel_html(customer, tickets, records),
            order=30,
            count=len(tickets),
        )
    ]


@hookimpl
def crm_customers_merged(session, source_id, target_id, user):
    from . import services

    services.customers_merged(session, source_id, target_id)


# --- Jobs, CLI, demo ---------------------------------------------------------------------


def _escalate_job(session, now):
    from . import services

    return services.escalate_breaches(session, now)


@hookimpl
def crm_scheduled_jobs():
    return [Job("service.escalate", 300, _escalate_job, label="Service-level escalation")]


@click.group("service", help="Tickets: service-level escalation.")
def cli():
    pass


@cli.command("escalate")
def escalate_cmd():
    """Escalate the tickets that missed their service level now."""
    from flask import current_app

    from . import services

    with current_app.extensions["crm"].db.session_scope() as s:
        n = services.escalate_breaches(s)
    click.echo(f"{n} ticket(s) escalated.")


@hookimpl
def crm_cli_commands():
    return [cli]


@hookimpl
def crm_demo_data(session, users, locale):
    from .demo import fill

    fill(session, users, locale)
