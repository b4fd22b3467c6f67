"""Hook implementations of the customers module: wiring only, rules live in services.py."""

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
    Permission,
    Plugin,
    SearchResult,
    hookimpl,
)

from . import hookspecs
from .models import Contact, Customer

plugin = Plugin(
    description="Customer profiles, contacts, grading, 360° page, labels, caller lookup",
    depends=[],
    hookspecs=[hookspecs],
)


@hookimpl
def crm_entities():
    from .schemas import ContactIn, CustomerIn

    return [
        Entity(
            name="customers.customer",
            model=Customer,
            label=_l("Customer"),
            label_plural=_l("Customers"),
            schema=CustomerIn,
            owner_attr="owner_id",
            department_attr="department_id",
            searchable=["name", "short_name", "code", "phone", "email"],
            numbering_kind="customer",
            default_number_pattern="C{yyyy}{seq:05}",
            detail_endpoint="customers.detail",
        ),
        Entity(
            name="customers.contact",
            model=Contact,
            label=_l("Contact"),
            label_plural=_l("Contacts"),
            schema=ContactIn,
            owner_attr=None,
        ),
    ]


@hookimpl
def crm_blueprints():
    from . import api, outreach_api, outreach_views, transfer_api, transfer_views, views

    return [
        views.bp,
        api.blp,
        outreach_views.bp,
        outreach_api.api_blp,
        transfer_views.bp,
        transfer_api.api_blp,
    ]


@hookimpl
def crm_menu_items():
    return [
        MenuItem(
            "customers",
            _l("Customers"),
            "customers.index",
            "customers.view",
            order=10,
            icon="building",
        ),
        MenuItem(
            "customers.lookup",
            _l("Caller lookup"),
            "customers.lookup",
            "customers.view",
            order=11,
            icon="telephone-inbound",
        ),
        MenuItem(
            "customers.settings",
            _l("Customer settings"),
            "customers.settings",
            "customers.manage",
            section="admin",
            order=100,
            icon="sliders",
        ),
    ]


@hookimpl
def crm_permissions():
    P = Permission
    return [
        P("customers.view", _l("See customers"), ["leader", "sales", "service", "staff"]),
        P("customers.create", _l("Create customers"), ["leader", "sales", "service"]),
        P("customers.edit", _l("Edit customers and contacts"), ["leader", "sales", "service"]),
        P("customers.delete", _l("Move customers to the trash and restore them"), ["leader"]),
        P("customers.export", _l("Export customers"), ["leader"]),
        P("customers.import", _l("Import customers"), ["leader"]),
        P("customers.transfer", _l("Hand customers over to another owner"), ["leader"]),
        P("customers.merge", _l("Merge duplicate customers"), ["leader"]),
        P("customers.message", _l("Send batch messages and print labels"), ["leader", "sales"]),
        P("customers.manage", _l("Manage categories and grading"), []),
    ]


@hookimpl
def crm_notification_kinds():
    return [
        NotificationKind(
            "customers.message", _l("Batch message to customers"), default_channels=("email",)
        )
    ]


@hookimpl
def crm_dashboard_widgets(user):
    from .views import grade_widget_html

    return [
        DashboardWidget(
            "customers.grades",
            _l("Customers by grade"),
            grade_widget_html,
            permission="customers.view",
            order=20,
            width=5,
        )
    ]


@hookimpl
def crm_search(query, user, limit):
    from sqlalchemy import select  # noqa: F401

    from crm_host.db import session
    from crm_host.security import has_permission

    from . import services

    if not has_permission(user, "customers.view"):
        return []
    stmt = services.customer_query(session(), user, services.Filters(q=query))
    rows = session().scalars(stmt.order_by(Customer.name).limit(limit)).all()
    return [
        SearchResult(
            title=c.name,
            subtitle=f"{c.code} · {c.city or c.region or ''}".strip(" ·"),
            url=url_for("customers.detail", customer_id=c.id),
            kind=str(_l("Customers")),
        )
        for c in rows
    ]


def _regrade_job(session, now):
    from . import services

    services.regrade(session)


@hookimpl
def crm_scheduled_jobs():
    return [Job("customers.regrade", 24 * 3600, _regrade_job, label="ABC regrading")]


@click.group("customers", help="Customer data: grading and maintenance.")
def cli():
    pass


@cli.command("regrade")
def regrade_cmd():
    """Recompute ABC grades from the revenue other modules report."""
    from flask import current_app

    from . import services

    with current_app.extensions["crm"].db.session_scope() as s:
        res = services.regrade(s)
    c = res["counts"]
    if res.get("skipped"):
        click.echo(
            f"Grades kept as they are: {res['skipped']} (A {c['A']}, B {c['B']}, C {c['C']})."
        )
        return
    click.echo(
        f"A {c['A']}, B {c['B']}, C {c['C']} (revenue {res['revenue']}, "
        f"shares {res['shares']['A']}/{res['shares']['B']}/{res['shares']['C']})"
    )


@hookimpl
def crm_cli_commands():
    return [cli]


@hookimpl(optionalhook=True)
def crm_mailing_audiences(user):
    """Batch mailings (channels module): customers matching a filter, in the sender's scope."""
    from .audience import audiences

    return audiences(user)


@hookimpl
def crm_demo_data(session, users, locale):
    from .demo import fill

    fill(session, users, locale)
