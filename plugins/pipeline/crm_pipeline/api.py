"""REST API of the pipeline module: thin endpoints over services."""

from __future__ import annotations

from flask import current_app, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm_host import storage
from crm_host.api import Blueprint, abort, page_schema, paginate, refusals, require
from crm_host.db import session

from . import reports, services
from .models import DOCUMENT_KINDS, Competitor, Deal, Document, OrderLine, Payment, Stage
from .schemas import (
    ActivityFilter,
    ActivityIn,
    ActivityOut,
    ActivityPatch,
    AppointmentIn,
    AppointmentOut,
    AppointmentPatch,
    BulkTransferIn,
    CompetitorIn,
    CompetitorOut,
    ContactDaysIn,
    DealFilter,
    DealIn,
    DealListItem,
    DealOut,
    DealPatch,
    DeliveryIn,
    DeliveryOut,
    DocumentOut,
    EventOut,
    ForecastArgs,
    ForecastOut,
    FunnelOut,
    LineIn,
    LineOut,
    OverdueArgs,
    OverduePage,
    PaymentIn,
    PaymentOut,
    PaymentPatch,
    PerformanceArgs,
    PerformanceOut,
    RangeArgs,
    ReportArgs,
    StageIn,
    StageOut,
    TargetIn,
    TargetOut,
    TargetQuery,
    TransferIn,
    TransferOut,
    UrgeIn,
    UrgeOut,
)

blp = Blueprint(
    "Pipeline",
    __name__,
    url_prefix="/api/v1",
    description="Deals, activities, appointments, orders and payments, targets, reports (pipeline module)",
)
Err = services.PipelineError


def deal_or_404(deal_id: int) -> Deal:
    d = services.get_deal(session(), current_user, deal_id)
    if d is None:
        abort(404, message="No such deal.")
    return d


# --- Deals -------------------------------------------------------------------------------


@blp.route("/deals", methods=["GET"])
@blp.arguments(DealFilter, location="query")
@blp.response(200, page_schema(DealListItem))
def list_deals(args):
    """Deals in your scope; filters: status, stage, owner, department, customer, expected
    close range (``close_from``/``close_to``), amount range (``amount_min``/``amount_max``)."""
    require("pipeline.view")
    stmt = services.deal_query(session(), current_user, services.Filters.from_args(args))
    return paginate(
        session(),
        stmt,
        args,
        sortable=services.SORTABLE,
        default_sort=[Deal.id.desc()],
        tiebreak=Deal.id,
    )


@blp.route("/deals", methods=["POST"])
@blp.arguments(DealIn)
@blp.response(201, DealOut)
def create_deal(args):
    """Open a deal; choosing ``customer_id`` fills in the customer's details."""
    require("pipeline.edit")
    s = session()
    with refusals(s, Err):
        d = services.create_deal(s, current_user, args)
    s.commit()
    return d


@blp.route("/deals/<int:deal_id>", methods=["GET"])
@blp.response(200, DealOut)
def get_deal(deal_id):
    require("pipeline.view")
    return deal_or_404(deal_id)


@blp.route("/deals/<int:deal_id>", methods=["PATCH"])
@blp.arguments(DealPatch)
@blp.response(200, DealOut)
def patch_deal(args, deal_id):
    """Change fields, the stage or the status (tracking → won → completed, or lost with
    ``lost_reason``); send the ``version`` you read (409 when stale)."""
    require("pipeline.edit")
    s = session()
    d = deal_or_404(deal_id)
    with refusals(s, Err):
        services.update_deal(s, current_user, d, args)
    s.commit()
    return d


@blp.route("/deals/<int:deal_id>/history", methods=["GET"])
@blp.response(200, EventOut(many=True))
def deal_history(deal_id):
    """Every stage, status and owner change, urge and document, newest first."""
    require("pipeline.view")
    return services.events(session(), deal_or_404(deal_id))


@blp.route("/deals/<int:deal_id>/transfer", methods=["POST"])
@blp.arguments(TransferIn)
@blp.response(200, DealOut)
def transfer_deal(args, deal_id):
    """Hand the deal over to another sales person (needs ``pipeline.transfer``)."""
    require("pipeline.view")
    s = session()
    d = deal_or_404(deal_id)  # out of scope: 404 before any permission talk
    require("pipeline.transfer")
    with refusals(s, Err):
        services.transfer(s, current_user, [d], args["owner_id"], args["note"])
    s.commit()
    return d


@blp.route("/deals/transfer", methods=["POST"])
@blp.arguments(BulkTransferIn)
@blp.response(200, TransferOut)
def transfer_deals(args):
    """Hand several deals (all within your scope) over at once."""
    require("pipeline.view")
    s = session()
    deals = [deal_or_404(i) for i in dict.fromkeys(args["deal_ids"])]
    require("pipeline.transfer")
    with refusals(s, Err):
        moved = services.transfer(s, current_user, deals, args["owner_id"], args["note"])
    s.commit()
    return {"moved": moved}


@blp.route("/deals/<int:deal_id>/urge", methods=["POST"])
@blp.arguments(UrgeIn)
@blp.response(201, UrgeOut)
def urge_deal(args, deal_id):
    """Urge the deal's owner (needs ``pipeline.urge``; leaders by default)."""
    require("pipeline.view")
    s = session()
    d = deal_or_404(deal_id)
    require("pipeline.urge")
    with refusals(s, Err):
        u = services.urge(s, current_user, d, args["message"])
    s.commit()
    return u


@blp.route("/deals/<int:deal_id>/urges", methods=["GET"])
@blp.response(200, UrgeOut(many=True))
def list_urges(deal_id):
    require("pipeline.view")
    return services.urges(session(), deal_or_404(deal_id))


# --- Stages and settings -----------------------------------------------------------------


@blp.route("/pipeline/stages", methods=["GET"])
@blp.response(200, StageOut(many=True))
def list_stages():
    require("pipeline.view")
    return services.stages(session())


@blp.route("/pipeline/stages", methods=["POST"])
@blp.arguments(StageIn)
@blp.response(201, StageOut)
def create_stage(args):
    require("pipeline.admin")
    s = session()
    with refusals(s, Err):
        st = services.save_stage(s, current_user, args)
    s.commit()
    return st


@blp.route("/pipeline/stages/<int:stage_id>", methods=["PUT"])
@blp.arguments(StageIn)
@blp.response(200, StageOut)
def update_stage(args, stage_id):
    require("pipeline.admin")
    s = session()
    st = s.get(Stage, stage_id)
    if st is None:
        abort(404, message="No such stage.")
    with refusals(s, Err):
        services.save_stage(s, current_user, args, st)
    s.commit()
    return st


@blp.route("/pipeline/contact-frequency", methods=["GET"])
@blp.response(200, ContactDaysIn)
def get_contact_days():
    """Days allowed between contacts, per customer grade."""
    require("pipeline.view")
    return services.contact_days(session())


@blp.route("/pipeline/contact-frequency", methods=["PUT"])
@blp.arguments(ContactDaysIn)
@blp.response(200, ContactDaysIn)
def set_contact_days(args):
    require("pipeline.admin")
    s = session()
    with refusals(s, Err):
        v = services.set_contact_days(s, args)
    s.commit()
    return v


# --- Activities --------------------------------------------------------------------------


@blp.route("/activities", methods=["GET"])
@blp.arguments(ActivityFilter, location="query")
@blp.response(200, ActivityOut(many=True))
def list_activities(args):
    require("pipeline.view")
    s = session()
    if args.get("deal_id") is not None:
        deal_or_404(args["deal_id"])
    if args.get("customer_id") is not None:
        from crm_customers import services as customers

        if customers.get_customer(s, current_user, args["customer_id"]) is None:
            abort(404, message="No such customer.")
    return services.activities(s, current_user, **args)


@blp.route("/activities", methods=["POST"])
@blp.arguments(ActivityIn)
@blp.response(201, ActivityOut)
def create_activity(args):
    """Plan (``planned_at``) or record (``status: done``, ``result``) a call, email, visit or meeting."""
    require("pipeline.edit")
    s = session()
    with refusals(s, Err):
        a = services.create_activity(s, current_user, args)
    s.commit()
    return a


@blp.route("/activities/<int:activity_id>", methods=["PATCH"])
@blp.arguments(ActivityPatch)
@blp.response(200, ActivityOut)
def patch_activity(args, activity_id):
    require("pipeline.edit")
    s = session()
    a = services.get_activity(s, current_user, activity_id)
    if a is None:
        abort(404, message="No such activity.")
    with refusals(s, Err):
        services.update_activity(s, current_user, a, args)
    s.commit()
    return a


@blp.route("/activities/overdue-customers", methods=["GET"])
@blp.arguments(OverdueArgs, location="query")
@blp.response(200, OverduePage)
def overdue_customers(args):
    """Customers overdue for contact: no done activity within their grade's frequency
    (``owner_id`` defaults to you)."""
    require("pipeline.view")
    owner = args.get("owner_id") or current_user.id
    per = args["per_page"]
    rows, more = services.overdue_for_contact(
        session(), current_user, owner, limit=per, offset=(args["page"] - 1) * per
    )
    items = [
        {
            "customer_id": c.id,
            "code": c.code,
            "name": c.name,
            "grade": c.grade,
            "owner_id": c.owner_id,
            "last_contact": last,
            "allowed_days": days,
            "url": url_for("customers.detail", customer_id=c.id),
        }
        for c, last, days in rows
    ]
    return {"items": items, "page": args["page"], "per_page": per, "has_more": more}


# --- Appointments ------------------------------------------------------------------------


@blp.route("/appointments", methods=["GET"])
@blp.arguments(RangeArgs, location="query")
@blp.response(200, AppointmentOut(many=True))
def list_appointments(args):
    """Your appointments (as owner or as someone to remind) in a time range."""
    require("pipeline.view")
    return services.appointments(session(), current_user, args.get("start"), args.get("end"))


@blp.route("/appointments", methods=["POST"])
@blp.arguments(AppointmentIn)
@blp.response(201, AppointmentOut)
def create_appointment(args):
    """Time, subject and the people to remind (``remind_user_ids``, default you); each is
    reminded once, ``remind_minutes`` before the start."""
    require("pipeline.edit")
    s = session()
    with refusals(s, Err):
        a = services.create_appointment(s, current_user, args)
    s.commit()
    return a


def _appointment_or_404(appointment_id):
    a = services.get_appointment(session(), current_user, appointment_id)
    if a is None:
        abort(404, message="No such appointment.")
    return a


@blp.route("/appointments/<int:appointment_id>", methods=["PATCH"])
@blp.arguments(AppointmentPatch)
@blp.response(200, AppointmentOut)
def patch_appointment(args, appointment_id):
    require("pipeline.edit")
    s = session()
    a = _appointment_or_404(appointment_id)
    with refusals(s, Err):
        services.update_appointment(s, current_user, a, args)
    s.commit()
    return a


@blp.route("/appointments/<int:appointment_id>", methods=["DELETE"])
@blp.response(204)
def delete_appointment(appointment_id):
    require("pipeline.edit")
    s = session()
    services.delete_appointment(s, current_user, _appointment_or_404(appointment_id))
    s.commit()


# --- Competitors and documents -----------------------------------------------------------


@blp.route("/competitor-catalog", methods=["GET"])
def competitor_catalog():
    """Competitor profiles to pick from when adding one to a deal (from the knowledge base
    when that module is enabled; an empty list otherwise)."""
    require("pipeline.view")
    try:
        limit = int(request.args.get("limit", 10))
    except ValueError:
        abort(422, message=_l("limit must be a whole number."))
    return {"items": services.competitor_catalog(session(), request.args.get("q", ""), limit)}


@blp.route("/deals/<int:deal_id>/competitors", methods=["GET"])
@blp.response(200, CompetitorOut(many=True))
def list_competitors(deal_id):
    require("pipeline.view")
    return services.competitors(session(), deal_or_404(deal_id))


@blp.route("/deals/<int:deal_id>/competitors", methods=["POST"])
@blp.arguments(CompetitorIn)
@blp.response(201, CompetitorOut)
def add_competitor(args, deal_id):
    require("pipeline.edit")
    s = session()
    d = deal_or_404(deal_id)
    with refusals(s, Err):
        c = services.add_competitor(s, current_user, d, args)
    s.commit()
    return c


@blp.route("/deals/<int:deal_id>/competitors/<int:competitor_id>", methods=["DELETE"])
@blp.response(204)
def delete_competitor(deal_id, competitor_id):
    require("pipeline.edit")
    s = session()
    d = deal_or_404(deal_id)
    c = s.get(Competitor, competitor_id)
    if c is None or c.deal_id != d.id:
        abort(404, message="No such competitor.")
    services.delete_competitor(s, current_user, c)
    s.commit()


def file_storage():
    return storage.storage_for_app(current_app, "CRM_PIPELINE_STORAGE_DIR", "pipeline-files")


def max_upload() -> int:
    return int(current_app.config.get("CRM_PIPELINE_MAX_UPLOAD") or storage.DEFAULT_MAX_BYTES)


def read_upload():
    """The uploaded file, refused (413) from its Content-Length before anything is read,
    and read in chunks within the limit when the length is not given."""
    limit = max_upload()
    envelope = limit + 64 * 1024  # room for the multipart headers and the other fields
    if request.content_length is not None and request.content_length > envelope:
        raise storage.UploadError(storage.too_large_message(limit), status=413)
    request.max_content_length = envelope  # a body without a length stops at the limit too
    f = request.files.get("file")
    if f is None or not f.filename:
        raise storage.UploadError(_l("Choose a file to upload."))
    kind = request.form.get("kind") or "other"
    if kind not in DOCUMENT_KINDS:
        raise storage.UploadError(_l("Unknown kind of document."), field="kind")
    return storage.accept_upload(f.stream, limit), f.filename, kind


@blp.route("/deals/<int:deal_id>/documents", methods=["GET"])
@blp.response(200, DocumentOut(many=True))
def list_documents(deal_id):
    require("pipeline.view")
    return services.documents(session(), deal_or_404(deal_id))


@blp.route("/deals/<int:deal_id>/documents", methods=["POST"])
@blp.response(201, DocumentOut)
def upload_document(deal_id):
    """Upload a quote or contract (multipart field ``file``, optional ``kind``: quote,
    contract, other). Size limit ``CRM_PIPELINE_MAX_UPLOAD`` (20 MiB); the type is decided
    from the content (PDF, Office, images, text), never from the name."""
    require("pipeline.edit")
    s = session()
    d = deal_or_404(deal_id)
    with refusals(s, Err, storage.UploadError):
        upload, filename, kind = read_upload()
        try:
            doc = services.add_document(s, current_user, d, upload, filename, kind, file_storage())
        finally:
            upload.file.close()
    s.commit()
    return doc


def document_or_404(doc_id) -> Document:
    doc = session().get(Document, doc_id)
    if doc is None or services.get_deal(session(), current_user, doc.deal_id) is None:
        abort(404, message="No such document.")
    return doc


@blp.route("/documents/<int:doc_id>/download", methods=["GET"])
def download_document(doc_id):
    """The file, for those who can see the deal (404 otherwise)."""
    require("pipeline.view")
    doc = document_or_404(doc_id)
    try:
        fh = file_storage().open(doc.storage_key)
    except FileNotFoundError:
        abort(410, message="The file is no longer in the storage.")
    return send_file(
        fh, mimetype=doc.content_type, as_attachment=True, download_name=doc.filename, max_age=0
    )


@blp.route("/documents/<int:doc_id>", methods=["DELETE"])
@blp.response(204)
def delete_document(doc_id):
    require("pipeline.edit")
    s = session()
    services.delete_document(s, current_user, document_or_404(doc_id), file_storage())
    s.commit()


# --- Won deals ---------------------------------------------------------------------------


@blp.route("/deals/<int:deal_id>/lines", methods=["GET"])
@blp.response(200, LineOut(many=True))
def list_lines(deal_id):
    require("pipeline.view")
    return services.lines(session(), deal_or_404(deal_id))


@blp.route("/deals/<int:deal_id>/lines", methods=["POST"])
@blp.arguments(LineIn)
@blp.response(201, LineOut)
def add_line(args, deal_id):
    """Add an order line to a won deal; the deal's amount becomes the lines' total."""
    require("pipeline.edit")
    s = session()
    d = deal_or_404(deal_id)
    with refusals(s, Err):
        line = services.add_line(s, current_user, d, args)
    s.commit()
    return line


@blp.route("/deals/<int:deal_id>/lines/<int:line_id>", methods=["DELETE"])
@blp.response(204)
def delete_line(deal_id, line_id):
    require("pipeline.edit")
    s = session()
    d = deal_or_404(deal_id)
    line = s.get(OrderLine, line_id)
    if line is None or line.deal_id != d.id:
        abort(404, message="No such order line.")
    with refusals(s, Err):
        services.delete_line(s, current_user, d, line)
    s.commit()


@blp.route("/deals/<int:deal_id>/deliveries", methods=["GET"])
@blp.response(200, DeliveryOut(many=True))
def list_deliveries(deal_id):
    require("pipeline.view")
    return services.deliveries(session(), deal_or_404(deal_id))


@blp.route("/deals/<int:deal_id>/deliveries", methods=["POST"])
@blp.arguments(DeliveryIn)
@blp.response(201, DeliveryOut)
def add_delivery(args, deal_id):
    require("pipeline.edit")
    s = session()
    d = deal_or_404(deal_id)
    with refusals(s, Err):
        x = services.add_delivery(s, current_user, d, args)
    s.commit()
    return x


@blp.route("/deals/<int:deal_id>/payments", methods=["GET"])
@blp.response(200, PaymentOut(many=True))
def list_payments(deal_id):
    require("pipeline.view")
    return services.payments(session(), deal_or_404(deal_id))


@blp.route("/deals/<int:deal_id>/payments", methods=["POST"])
@blp.arguments(PaymentIn)
@blp.response(201, PaymentOut)
def add_payment(args, deal_id):
    """Plan a payment; an unpaid one past its due date reminds the owner once."""
    require("pipeline.edit")
    s = session()
    d = deal_or_404(deal_id)
    with refusals(s, Err):
        p = services.add_payment(s, current_user, d, args)
    s.commit()
    return p


@blp.route("/payments/<int:payment_id>", methods=["PATCH"])
@blp.arguments(PaymentPatch)
@blp.response(200, PaymentOut)
def patch_payment(args, payment_id):
    """Record what was received (``received_on``, ``received_amount``); send ``version``."""
    require("pipeline.edit")
    s = session()
    p = s.get(Payment, payment_id)
    if p is None or services.get_deal(s, current_user, p.deal_id) is None:
        abort(404, message="No such payment.")
    with refusals(s, Err):
        services.receive_payment(s, current_user, p, args)
    s.commit()
    return p


# --- Targets and reports -----------------------------------------------------------------


@blp.route("/pipeline/targets", methods=["GET"])
@blp.arguments(TargetQuery, location="query")
@blp.response(200, TargetOut(many=True))
def list_targets(args):
    require("pipeline.reports")
    start = services.period_start(args["period_kind"], args.get("period_start") or services.today())
    return services.targets(session(), args["period_kind"], start)


@blp.route("/pipeline/targets", methods=["PUT"])
@blp.arguments(TargetIn)
@blp.response(200, TargetOut)
def put_target(args):
    """Set a person's (``user_id``) or a department's (``department_id``) target for a month
    or quarter (needs ``pipeline.targets``); ``period_start`` is any day of the period."""
    require("pipeline.targets")
    s = session()
    with refusals(s, Err):
        t = services.set_target(s, current_user, args)
    s.commit()
    return t


def _filters(args):
    return {k: args.get(k) for k in ("owner_id", "department_id") if args.get(k) is not None}


@blp.route("/reports/funnel", methods=["GET"])
@blp.arguments(ReportArgs, location="query")
@blp.response(200, FunnelOut)
def funnel(args):
    """Count and amount per stage and stage-to-stage conversion, for deals created in the
    period (``since`` inclusive, ``until`` exclusive). ``format=csv|xlsx`` downloads it."""
    require("pipeline.reports")
    kw = {**_filters(args), "since": args.get("since"), "until": args.get("until")}
    if args["format"] != "json":
        return reports.funnel_export(session(), current_user, args["format"], **kw)
    return services.funnel(session(), current_user, **kw)


@blp.route("/reports/performance", methods=["GET"])
@blp.arguments(PerformanceArgs, location="query")
@blp.response(200, PerformanceOut)
def performance(args):
    """Won amount per person and department against targets for a month or quarter."""
    require("pipeline.reports")
    kw = {
        **_filters(args),
        "period_kind": args["period_kind"],
        "start": args.get("period_start") or services.today(),
    }
    if args["format"] != "json":
        return reports.performance_export(session(), current_user, args["format"], **kw)
    return services.performance(session(), current_user, **kw)


@blp.route("/reports/forecast", methods=["GET"])
@blp.arguments(ForecastArgs, location="query")
@blp.response(200, ForecastOut)
def forecast(args):
    """Open deals by expected close month: amount and amount weighted by probability."""
    require("pipeline.reports")
    kw = {**_filters(args), "months": args["months"]}
    if args["format"] != "json":
        return reports.forecast_export(session(), current_user, args["format"], **kw)
    return {"months": services.forecast(session(), current_user, **kw)}
