"""Hook implementations of the pipeline module: wiring only, rules live in services.py."""

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

from . import hookspecs
from .models import Activity, Appointment, Deal

plugin = Plugin(
    description="Deals, activities, appointments, handover, urges, orders and payments, "
    "funnel, targets and forecast",
    depends=("customers",),
    hookspecs=[hookspecs],
)


@hookimpl
def crm_entities():
    from .schemas import DealIn

    return [
        Entity(
            name="pipeline.deal",
            model=Deal,
            label=_l("Deal"),
            label_plural=_l("Deals"),
            schema=DealIn,
            owner_attr="owner_id",
            department_attr="department_id",
            searchable=["name", "code", "customer_name"],
            numbering_kind="deal",
            default_number_pattern="D{yyyy}{seq:05}",
            detail_endpoint="pipeline.deal",
        ),
        Entity(
            name="pipeline.activity",
            model=Activity,
            label=_l("Activity"),
            label_plural=_l("Activities"),
            owner_attr="owner_id",
            import_export=False,
        ),
        Entity(
            name="pipeline.appointment",
            model=Appointment,
            label=_l("Appointment"),
            label_plural=_l("Appointments"),
            owner_attr="owner_id",
            import_export=False,
        ),
    ]


@hookimpl
def crm_blueprints():
    from . import api, views

    return [views.bp, api.blp]


@hookimpl
def crm_menu_items():
    return [
        MenuItem(
            "pipeline", _l("Deals"), "pipeline.index", "pipeline.view", order=20, icon="briefcase"
        ),
        MenuItem(
            "pipeline.activities",
            _l("Activities"),
            "pipeline.activities",
            "pipeline.view",
            order=21,
            icon="calendar-check",
        ),
        MenuItem(
            "pipeline.reports",
            _l("Sales reports"),
            "pipeline.reports_page",
            "pipeline.reports",
            order=22,
            icon="bar-chart-line",
        ),
        MenuItem(
            "pipeline.targets",
            _l("Sales targets"),
            "pipeline.targets",
            "pipeline.targets",
            order=23,
            icon="bullseye",
        ),
        MenuItem(
            "pipeline.settings",
            _l("Pipeline settings"),
            "pipeline.settings",
            "pipeline.admin",
            section="admin",
            order=110,
            icon="sliders",
        ),
    ]


@hookimpl
def crm_permissions():
    P = Permission
    return [
        P("pipeline.view", _l("See deals and activities"), ["leader", "sales"]),
        P(
            "pipeline.edit",
            _l("Create and edit deals, activities and appointments"),
            ["leader", "sales"],
        ),
        P("pipeline.transfer", _l("Hand deals over to another sales person"), ["leader"]),
        P("pipeline.urge", _l("Urge a deal's owner"), ["leader"]),
        P("pipeline.targets", _l("Set sales targets"), ["leader"]),
        P("pipeline.reports", _l("See the funnel, performance and forecast"), ["leader", "sales"]),
        P("pipeline.admin", _l("Configure stages and contact frequency"), []),
    ]


@hookimpl
def crm_notification_kinds():
    ch = ("inbox", "email")
    return [
        NotificationKind("pipeline.reminder", _l("Appointment reminder"), ch),
        NotificationKind("pipeline.urge", _l("A leader urges one of your deals"), ch),
        NotificationKind("pipeline.payment_overdue", _l("Overdue payment of a won deal"), ch),
        NotificationKind("pipeline.assigned", _l("Deals handed over to you"), ch),
    ]


@hookimpl
def crm_dashboard_widgets(user):
    from . import views

    return [
        DashboardWidget(
            "pipeline.funnel",
            _l("Sales funnel"),
            views.funnel_widget_html,
            permission="pipeline.reports",
            order=30,
            width=7,
        ),
        DashboardWidget(
            "pipeline.performance",
            _l("Won this month against target"),
            views.performance_widget_html,
            permission="pipeline.reports",
            order=31,
            width=5,
        ),
        DashboardWidget(
            "pipeline.forecast",
            _l("Forecast by expected close month"),
            views.forecast_widget_html,
            permission="pipeline.reports",
            order=32,
            width=6,
        ),
        DashboardWidget(
            "pipeline.overdue",
            _l("Customers overdue for contact"),
            views.overdue_widget_html,
            permission="pipeline.view",
            order=33,
            width=6,
        ),
    ]


@hookimpl
def crm_search(query, user, limit):
    from crm_host.db import session
    from crm_host.security import has_permission

    from . import services

    if not has_permission(user, "pipeline.view"):
        return []
    stmt = services.deal_query(session(), user, services.Filters(q=query))
    rows = session().scalars(stmt.order_by(Deal.id.desc()).limit(limit)).all()
    return [
        SearchResult(
            title=d.name,
            subtitle=f"{d.code} · {d.customer_name or ''}".strip(" ·"),
            url=url_for("pipeline.deal", deal_id=d.id),
            kind=str(_l("Deals")),
        )
        for d in rows
    ]


# --- Hooks the customers module publishes ------------------------------------------------


@hookimpl
def crm_customer_panels(customer, user):
    from crm_host.db import session
    from crm_host.security import has_permission

    from . import services, views

    if not has_permission(user, "pipeline.view"):
        return []
    deals = services.customer_deals(session(), user, customer.id)
    return [
        Panel(
            "pipeline.deals",
            _l("Deals"),
            lambda: views.customer_panel_html(customer, deals),
            order=20,
            count=len(deals),
        )
    ]


@hookimpl
def crm_customer_revenue(session, since, until):
    from . import services

    return services.revenue(session, since, until)


@hookimpl
def crm_customer_timeline(customer, user, limit):
    from crm_host.db import session
    from crm_host.security import has_permission

    from . import services

    if not has_permission(user, "pipeline.view"):
        return []
    return services.customer_timeline(session(), user, customer.id, limit)


@hookimpl
def crm_customers_merged(session, source_id, target_id, user):
    from . import services

    services.customers_merged(session, source_id, target_id)


@hookimpl
def crm_customers_handed_over(session, customer_ids, from_owner_ids, to_owner_id, user):
    from . import services

    services.customers_handed_over(session, user, customer_ids, from_owner_ids, to_owner_id)


# --- The channels calendar (optional: channels may be absent) -----------------------------


@hookimpl(optionalhook=True)
def crm_calendar_events(user, start, end):
    from crm_host.db import session
    from crm_host.security import has_permission

    from . import services

    if not has_permission(user, "pipeline.view"):
        return []
    return services.calendar_events(session(), user, start, end)


# --- Jobs, CLI, demo ---------------------------------------------------------------------


def _reminders_job(session, now):
    from . import services

    return services.send_due_reminders(session, now)


def _payments_job(session, now):
    from . import services

    return services.send_overdue_payment_reminders(session, now)


@hookimpl
def crm_scheduled_jobs():
    return [
        Job("pipeline.reminders", 60, _reminders_job, label="Appointment reminders"),
        Job("pipeline.overdue_payments", 3600, _payments_job, label="Overdue payment reminders"),
    ]


@click.group("pipeline", help="Deals: reminders and overdue payments.")
def cli():
    pass


@cli.command("remind")
def remind_cmd():
    """Send the due appointment reminders and overdue payment reminders now."""
    from flask import current_app

    from . import services

    with current_app.extensions["crm"].db.session_scope() as s:
        a = services.send_due_reminders(s)
        p = services.send_overdue_payment_reminders(s)
    click.echo(f"{a} appointment reminder(s), {p} overdue payment reminder(s) queued.")


@hookimpl
def crm_cli_commands():
    return [cli]


@hookimpl
def crm_demo_data(session, users, locale):
    from .demo import fill

    fill(session, users, locale)
