"""REST API of the service module: thin endpoints over services."""

from __future__ import annotations

from flask_login import current_user

from crm_host.api import Blueprint, abort, page_schema, paginate, refusals, require
from crm_host.db import session

from . import services
from .models import ServiceCategory, ServiceRecord, Ticket
from .schemas import (
    ServiceAnswerArgs,
    ServiceAnswersOut,
    ServiceCategoryIn,
    ServiceCategoryOut,
    ServiceRecordFilter,
    ServiceRecordIn,
    ServiceRecordOut,
    ServiceRecordPatch,
    ServiceReportArgs,
    ServiceSlaIn,
    ServiceSlaOut,
    TicketEventOut,
    TicketFilter,
    TicketIn,
    TicketListItem,
    TicketOut,
    TicketPatch,
    TicketReplyIn,
    TicketTransitionIn,
)

blp = Blueprint(
    "Service",
    __name__,
    url_prefix="/api/v1",
    description="Tickets (complaints, support requests, after-sales visits), workflow, "
    "after-sales records, service levels and reports (service module)",
)
Err = services.ServiceError


def ticket_or_404(ticket_id: int) -> Ticket:
    t = services.get_ticket(session(), current_user, ticket_id)
    if t is None:
        abort(404, message="No such ticket.")
    return t


# --- Tickets -----------------------------------------------------------------------------


@blp.route("/tickets", methods=["GET"])
@blp.arguments(TicketFilter, location="query")
@blp.response(200, page_schema(TicketListItem))
def list_tickets(args):
    """Tickets in your scope; filters: kind, status, severity, customer, department,
    assignee (``owner_id``), category, ``overdue`` and ``q`` (code, title, customer)."""
    require("service.view")
    f = services.Filters.from_args(args)
    return paginate(
        session(),
        lambda wide: services.ticket_query(session(), current_user, f, wide=wide),
        args,
        sortable=services.SORTABLE,
        default_sort=[Ticket.id.desc()],
        tiebreak=Ticket.id,
    )


@blp.route("/tickets", methods=["POST"])
@blp.arguments(TicketIn)
@blp.response(201, TicketOut)
def create_ticket(args):
    """Open a ticket (``kind``: complaint, support or visit) at "received"."""
    require("service.create")
    s = session()
    with refusals(s, Err):
        t = services.create_ticket(s, current_user, args)
    s.commit()
    return t


@blp.route("/tickets/<int:ticket_id>", methods=["GET"])
@blp.response(200, TicketOut)
def get_ticket(ticket_id):
    require("service.view")
    return ticket_or_404(ticket_id)


@blp.route("/tickets/<int:ticket_id>", methods=["PATCH"])
@blp.arguments(TicketPatch)
@blp.response(200, TicketOut)
def patch_ticket(args, ticket_id):
    """Change fields; send the ``version`` you read (409 when stale)."""
    require("service.view")
    s = session()
    t = ticket_or_404(ticket_id)
    require("service.edit")
    with refusals(s, Err):
        services.update_ticket(s, current_user, t, args)
    s.commit()
    return t


@blp.route("/tickets/<int:ticket_id>/transitions", methods=["POST"])
@blp.arguments(TicketTransitionIn)
@blp.response(200, TicketOut)
def transition(args, ticket_id):
    """Move the ticket one step of its workflow. 409 from the wrong step, 403 without the
    step's permission (``service.triage``, ``service.approve``...); nothing changes then."""
    require("service.view")
    s = session()
    t = ticket_or_404(ticket_id)
    with refusals(s, Err):
        services.transition(
            s,
            current_user,
            t,
            args["to"],
            args.get("comment"),
            {k: args[k] for k in ("owner_id", "department_id", "version") if k in args},
        )
    s.commit()
    return t


@blp.route("/tickets/<int:ticket_id>/events", methods=["GET"])
@blp.response(200, TicketEventOut(many=True))
def ticket_events(ticket_id):
    """The timeline: every step with who, when and the comment; replies; escalations."""
    require("service.view")
    return services.events(session(), ticket_or_404(ticket_id))


@blp.route("/tickets/<int:ticket_id>/replies", methods=["POST"])
@blp.arguments(TicketReplyIn)
@blp.response(201, TicketEventOut)
def reply(args, ticket_id):
    """Answer the customer (Markdown); sent to the contact's email when ``to_customer``."""
    require("service.view")
    s = session()
    t = ticket_or_404(ticket_id)
    require("service.work")
    with refusals(s, Err):
        e = services.reply(s, current_user, t, args["body"], args["to_customer"])
    s.commit()
    return e


@blp.route("/service/answers", methods=["GET"])
@blp.arguments(ServiceAnswerArgs, location="query")
@blp.response(200, ServiceAnswersOut)
def answers(args):
    """Standard answers from the Q&A bank (the knowledge module, when enabled):
    ``available`` is false when no module answers."""
    require("service.view")
    from flask_babel import get_locale

    available = services.answers_available()
    items = (
        services.search_answers(current_user, args["q"], args["limit"], str(get_locale()))
        if available
        else []
    )
    return {"available": available, "items": items}


# --- After-sales records -----------------------------------------------------------------


@blp.route("/service/records", methods=["GET"])
@blp.arguments(ServiceRecordFilter, location="query")
@blp.response(200, page_schema(ServiceRecordOut))
def list_records(args):
    """After-sales service records in your scope, per customer or ticket."""
    require("service.view")
    stmt = services.records_query(
        session(), current_user, args.get("customer_id"), args.get("ticket_id")
    )
    return paginate(
        session(),
        stmt,
        args,
        sortable={"started_at": ServiceRecord.started_at, "id": ServiceRecord.id},
        default_sort=[ServiceRecord.started_at.desc()],
        tiebreak=ServiceRecord.id,
    )


@blp.route("/service/records", methods=["POST"])
@blp.arguments(ServiceRecordIn)
@blp.response(201, ServiceRecordOut)
def add_record(args):
    """Record an on-site or phone service with engineer, times, content, result and the
    customer's sign-off."""
    require("service.work")
    s = session()
    with refusals(s, Err):
        r = services.add_record(s, current_user, args)
    s.commit()
    return r


def record_or_404(record_id):
    r = services.get_record(session(), current_user, record_id)
    if r is None:
        abort(404, message="No such service record.")
    return r


@blp.route("/service/records/<int:record_id>", methods=["GET"])
@blp.response(200, ServiceRecordOut)
def get_record(record_id):
    require("service.view")
    return record_or_404(record_id)


@blp.route("/service/records/<int:record_id>", methods=["PATCH"])
@blp.arguments(ServiceRecordPatch)
@blp.response(200, ServiceRecordOut)
def patch_record(args, record_id):
    require("service.view")
    s = session()
    r = record_or_404(record_id)
    require("service.work")
    with refusals(s, Err):
        services.update_record(s, current_user, r, args)
    s.commit()
    return r


# --- Configuration -----------------------------------------------------------------------


@blp.route("/service/categories", methods=["GET"])
@blp.response(200, ServiceCategoryOut(many=True))
def list_categories():
    require("service.view")
    s = session()
    if services.ensure_defaults(s):
        s.commit()
    return services.categories(s)


@blp.route("/service/categories", methods=["POST"])
@blp.arguments(ServiceCategoryIn)
@blp.response(201, ServiceCategoryOut)
def add_category(args):
    require("service.admin")
    s = session()
    with refusals(s, Err):
        c = services.save_category(s, current_user, args)
    s.commit()
    return c


@blp.route("/service/categories/<int:category_id>", methods=["PUT"])
@blp.arguments(ServiceCategoryIn)
@blp.response(200, ServiceCategoryOut)
def put_category(args, category_id):
    require("service.admin")
    s = session()
    c = s.get(ServiceCategory, category_id)
    if c is None:
        abort(404, message="No such category.")
    with refusals(s, Err):
        services.save_category(s, current_user, args, c)
    s.commit()
    return c


@blp.route("/service/sla", methods=["GET"])
@blp.response(200, ServiceSlaOut(many=True))
def list_sla():
    require("service.view")
    return services.sla_targets(session())


@blp.route("/service/sla", methods=["PUT"])
@blp.arguments(ServiceSlaIn)
@blp.response(200, ServiceSlaOut)
def put_sla(args):
    """Set the response and resolution targets (business minutes) of a severity, for all
    categories (``category_id`` null) or one."""
    require("service.admin")
    s = session()
    with refusals(s, Err):
        row = services.set_sla_target(
            s,
            current_user,
            args["severity"],
            args["category_id"],
            args["response_minutes"],
            args["resolution_minutes"],
        )
    s.commit()
    return row


# --- Reports -----------------------------------------------------------------------------

REPORTS = {
    "status": services.by_status,
    "category": services.by_category,
    "department": services.by_department,
    "age": lambda s, u, kind=None, since=None, until=None: services.age_buckets(s, u, kind),
    "resolution": services.resolution_time,
    "sla": services.sla_compliance,
    "satisfaction": None,
}


@blp.route("/service/reports/<name>", methods=["GET"])
@blp.arguments(ServiceReportArgs, location="query")
@blp.response(200)
def report(args, name):
    """One report as JSON: ``status``, ``category``, ``department``, ``age``,
    ``resolution``, ``sla`` or ``satisfaction`` (``group``: agent, department, category,
    month); filters ``kind``, ``since``, ``until``."""
    require("service.reports")
    if name not in REPORTS:
        abort(404, message="No such report.")
    s = session()
    if name == "satisfaction":
        with refusals(s, Err):
            rows = services.satisfaction(
                s, current_user, args.get("group", "agent"), args.get("since"), args.get("until")
            )
        return {"items": rows}
    rows = REPORTS[name](
        s, current_user, kind=args.get("kind"), since=args.get("since"), until=args.get("until")
    )
    return {"items": rows}
