"""Pages of the pipeline module: thin views over services; validation by the schemas."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import marshmallow as ma
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.exceptions import Conflict

from crm_host import storage, ui
from crm_host.api import page_of, parse_sort
from crm_host.db import session
from crm_host.models import Department, User
from crm_host.security import has_permission, permission_required, scope_filter
from crm_host.ui import chart, record_panels

from . import reports, services
from .api import file_storage, read_upload
from .models import (
    ACTIVITY_KINDS,
    DOCUMENT_KINDS,
    STATUSES,
    Activity,
    Competitor,
    Deal,
    Document,
    OrderLine,
    Payment,
    Stage,
)
from .schemas import (
    ActivityIn,
    AppointmentIn,
    CompetitorIn,
    DealFilter,
    DealIn,
    DealPatch,
    DeliveryIn,
    LineIn,
    PaymentIn,
    PaymentPatch,
    StageIn,
    TargetIn,
)

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline", template_folder="templates")
PER_PAGE = 25
COLORS = ["#2f6fed", "#4c8df6", "#20c997", "#ffc107", "#fd7e14", "#6f42c1", "#d63384"]

DEAL_FORM = [  # (name, label, kind, width)
    ("name", _l("Deal name"), "text", 8),
    ("amount", _l("Amount"), "money", 4),
    ("customer_id", _l("Customer"), "customer", 6),
    ("contact_id", _l("Contact"), "contact", 6),
    ("stage_id", _l("Stage"), "stage", 4),
    ("probability", _l("Probability (%)"), "number", 4),
    ("expected_close", _l("Expected close"), "date", 4),
    ("source", _l("Source"), "text", 4),
    ("owner_id", _l("Owner"), "owner", 4),
    ("notes", _l("Notes"), "textarea", 12),
]
CONTRACT_FORM = [
    ("contract_no", _l("Contract number"), "text", 6),
    ("contract_signed_on", _l("Signed on"), "date", 6),
    ("contract_start", _l("Starts"), "date", 6),
    ("contract_end", _l("Ends"), "date", 6),
]


def labels() -> dict:
    return {
        "status": {
            "tracking": _("Tracking"),
            "won": _("Won"),
            "completed": _("Completed"),
            "lost": _("Lost"),
        },
        "kind": {
            "call": _("Call"),
            "email": _("Email"),
            "visit": _("Visit"),
            "meeting": _("Meeting"),
        },
        "doc": {"quote": _("Quote"), "contract": _("Contract"), "other": _("Other")},
        "payment": {
            "planned": _("Planned"),
            "overdue": _("Overdue"),
            "received": _("Received"),
            "partial": _("Partly received"),
        },
        "event": {
            "created": _("Deal opened"),
            "stage": _("Stage changed"),
            "status": _("Status changed"),
            "transfer": _("Handed over"),
            "urge": _("Urged"),
            "document": _("Document added"),
        },
    }


def _form_values(form, names) -> dict:
    """A submitted HTML form as the dict the schema validates (blank → None, unset → absent)."""
    out = {}
    for n in names:
        if n not in form:
            continue
        v = form.get(n, "").strip()
        out[n] = v if v != "" else None
    return out


def _drop_none(d: dict, keep=()) -> dict:
    return {k: v for k, v in d.items() if v is not None or k in keep}


_errors_text = ui.errors_text


def _try(action, ok_message=None):
    """Run a change; on refusal roll back and flash why. Returns the action's result or None."""
    return ui.attempt(action, ok_message, refused=(services.PipelineError, storage.UploadError))


def _deal_or_404(deal_id) -> Deal:
    d = services.get_deal(session(), current_user, deal_id)
    if d is None:
        abort(404)
    return d


def _back(deal, anchor=""):
    return redirect(url_for("pipeline.deal", deal_id=deal.id) + anchor, 303)


def _owners(s):
    """Active users within the viewer's scope (for owner filters and choices)."""
    stmt = select(User).where(User.is_active.is_(True)).order_by(User.name)
    cond = scope_filter(current_user, User.id)
    if cond is not None:
        stmt = stmt.where(cond)
    return list(s.scalars(stmt))


def _all_owners(s):
    return list(s.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name)))


def _my_customers(s, selected=None, limit=300):
    from crm_customers import services as customers
    from crm_customers.models import Customer

    stmt = customers.customer_query(s, current_user, customers.Filters())
    rows = list(s.scalars(stmt.order_by(Customer.name).limit(limit)))
    if selected and all(c.id != selected for c in rows):
        c = customers.get_customer(s, current_user, selected)
        if c is not None:
            rows.insert(0, c)
    return rows


# --- Deals list --------------------------------------------------------------------------


@bp.get("/")
@permission_required("pipeline.view")
def index():
    s = session()
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        args = DealFilter().load(raw)
    except ma.ValidationError as exc:
        flash(_("Some filters were not understood: %(f)s", f=", ".join(exc.messages)), "warning")
        args = DealFilter().load({})
    filters = services.Filters.from_args(args)
    stmt = services.deal_query(s, current_user, filters)
    order = parse_sort(args.get("sort"), services.SORTABLE, [Deal.id.desc()]) + [Deal.id]
    page = args["page"]
    rows, total, exact = page_of(s, stmt, order, page, PER_PAGE)  # total capped: CRM_COUNT_CAP
    users = (
        {u.id: u for u in s.scalars(select(User).where(User.id.in_({r.owner_id for r in rows})))}
        if rows
        else {}
    )
    # Open deals per stage (same filters, without the stage / status ones), one GROUP BY.
    summary_filters = services.Filters(
        **{**filters.as_dict(), "stage_id": None, "status": "tracking"}
    )
    sstmt = services.deal_query(
        s,
        current_user,
        summary_filters,
        stmt=select(Deal.stage_id, func.count(), func.coalesce(func.sum(Deal.amount), 0)),
    ).group_by(Deal.stage_id)
    per_stage = {sid: (n, Decimal(str(a))) for sid, n, a in s.execute(sstmt)}
    return render_template(
        "crm_pipeline/index.html",
        rows=rows,
        total=total,
        exact=exact,
        page=page,
        per_page=PER_PAGE,
        filters=filters.as_dict(),
        args=args,
        users=users,
        stages=services.stages(s),
        per_stage=per_stage,
        owners=_owners(s),
        labels=labels(),
        statuses=STATUSES,
        today=_local_today(),
    )


# --- Create and edit ---------------------------------------------------------------------


def _deal_form_values(form):
    values = _form_values(form, [f for f, *_ in DEAL_FORM])
    if form.get("version"):
        values["version"] = form.get("version")
    return values


@bp.route("/new", methods=["GET", "POST"])
@permission_required("pipeline.edit")
def new():
    s = session()
    errors = {}
    values = {"owner_id": current_user.id, "customer_id": request.args.get("customer_id", type=int)}
    if request.method == "POST":
        values = _deal_form_values(request.form)
        try:
            data = DealIn().load(_drop_none(values))
            d = services.create_deal(s, current_user, data)
            s.commit()
            flash(_("Deal %(code)s opened.", code=d.code), "success")
            return redirect(url_for("pipeline.deal", deal_id=d.id), 303)
        except ma.ValidationError as exc:
            errors = exc.messages
        except services.PipelineError as exc:
            s.rollback()
            errors = {exc.field or "_schema": [str(exc)]}
    return _form_page(s, None, values, errors)


def _form_page(s, deal, values, errors):
    return render_template(
        "crm_pipeline/form.html",
        deal=deal,
        values=values,
        errors=errors,
        fields=DEAL_FORM,
        stages=services.stages(s, active_only=True),
        customers=_my_customers(s, values.get("customer_id") and int(values["customer_id"])),
        owners=_all_owners(s)
        if has_permission(current_user, "pipeline.transfer")
        else [current_user],
    ), 400 if errors else 200


@bp.route("/<int:deal_id>/edit", methods=["GET", "POST"])
@permission_required("pipeline.edit")
def edit(deal_id):
    s = session()
    d = _deal_or_404(deal_id)
    errors = {}
    values = {f: getattr(d, f) for f, *_ in DEAL_FORM}
    values["version"] = d.version
    if request.method == "POST":
        values = _deal_form_values(request.form)
        values.pop("owner_id", None)
        if d.status != "tracking":
            values.pop("stage_id", None)
        try:
            data = DealPatch().load(
                _drop_none(values, keep=("customer_id", "contact_id", "expected_close"))
            )
            services.update_deal(s, current_user, d, data)
            s.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("pipeline.deal", deal_id=d.id), 303)
        except ma.ValidationError as exc:
            errors = exc.messages
        except services.PipelineError as exc:
            s.rollback()
            errors = {exc.field or "_schema": [str(exc)]}
        except Conflict as exc:
            s.rollback()
            errors = {"_schema": [exc.description]}
    return _form_page(s, d, values, errors)


# --- The deal page -----------------------------------------------------------------------


@bp.get("/<int:deal_id>")
@permission_required("pipeline.view")
def deal(deal_id):
    s = session()
    d = _deal_or_404(deal_id)
    evs = services.events(s, d)
    user_ids = {e.user_id for e in evs} | {d.owner_id}
    urges = services.urges(s, d)
    user_ids |= {u.user_id for u in urges}
    docs = services.documents(s, d)
    user_ids |= {x.uploaded_by for x in docs}
    acts = services.activities(s, current_user, deal_id=d.id, limit=50)
    user_ids |= {a.owner_id for a in acts}
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(user_ids - {None})))}
    pays = services.payments(s, d)
    won = d.status in ("won", "completed")
    return render_template(
        "crm_pipeline/deal.html",
        d=d,
        events=evs,
        urges=urges,
        docs=docs,
        activities=acts,
        users=users,
        stages=services.stages(s, active_only=True),
        competitors=services.competitors(s, d),
        competitor_catalog=services.has_competitor_catalog(),
        labels=labels(),
        lines=services.lines(s, d) if won else [],
        deliveries=services.deliveries(s, d) if won else [],
        payments=[(p, services.payment_state(p)) for p in pays] if won else [],
        received=sum((p.received_amount or 0 for p in pays), Decimal(0)),
        appointments=services.appointments(s, current_user, deal_id=d.id),
        owners=_all_owners(s) if has_permission(current_user, "pipeline.transfer") else [],
        people=_all_owners(s),
        can_edit=has_permission(current_user, "pipeline.edit"),
        panels=record_panels(services.ENTITY, d, current_user),
        value_names={
            **labels()["status"],
            **labels()["doc"],
            **{st.code: _(st.name) for st in services.stages(s)},
        },
        activity_kinds=ACTIVITY_KINDS,
        doc_kinds=DOCUMENT_KINDS,
        contract_form=CONTRACT_FORM,
        max_upload_mib=int(_max_upload() / 1024 / 1024),
        today=_local_today(),
        default_when=_default_when(),
    )


def _max_upload():
    from .api import max_upload

    return max_upload()


def _version():
    return request.form.get("version")


@bp.post("/<int:deal_id>/stage")
@permission_required("pipeline.edit")
def move_stage(deal_id):
    d = _deal_or_404(deal_id)
    stage_id = request.form.get("stage_id", type=int)
    _try(
        lambda: services.update_deal(
            session(), current_user, d, {"version": _version(), "stage_id": stage_id}
        ),
        _("Stage changed."),
    )
    return _back(d)


@bp.post("/<int:deal_id>/status")
@permission_required("pipeline.edit")
def set_status(deal_id):
    d = _deal_or_404(deal_id)
    data = {"version": _version(), "status": request.form.get("status")}
    if request.form.get("lost_reason") is not None:
        data["lost_reason"] = request.form.get("lost_reason")
    msg = {
        "won": _("Deal won. Add the order lines and the payment plan."),
        "lost": _("Deal marked as lost."),
        "completed": _("Deal completed."),
        "tracking": _("Deal reopened."),
    }.get(data["status"], _("Saved."))
    _try(lambda: services.update_deal(session(), current_user, d, DealPatch().load(data)), msg)
    return _back(d)


@bp.post("/<int:deal_id>/contract")
@permission_required("pipeline.edit")
def contract(deal_id):
    d = _deal_or_404(deal_id)
    values = _form_values(request.form, [f for f, *_ in CONTRACT_FORM])
    values["version"] = _version()
    _try(
        lambda: services.update_deal(session(), current_user, d, DealPatch().load(values)),
        _("Contract saved."),
    )
    return _back(d, "#order")


@bp.post("/<int:deal_id>/activities")
@permission_required("pipeline.edit")
def add_activity(deal_id):
    d = _deal_or_404(deal_id)
    _try(
        lambda: services.create_activity(session(), current_user, _activity_data(d)),
        _("Activity saved."),
    )
    return _back(d, "#activities")


def _local_dt(value):
    """A ``datetime-local`` form value, in the reader's time zone, as aware UTC (ISO)."""
    if not value:
        return None
    from crm_host.timezones import from_local

    try:
        v = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema says why it is not a date
    if v.tzinfo is not None:
        return v.isoformat()
    return from_local(v.date(), v.time()).isoformat()


def _local_today():
    from crm_host.timezones import local_today

    return local_today()


def _default_when() -> str:
    """Tomorrow 10:00 in the reader's zone, for ``datetime-local`` inputs."""
    from crm_host.timezones import local_today

    return (local_today() + timedelta(days=1)).strftime("%Y-%m-%dT10:00")


def _activity_data(deal=None):
    f = request.form
    done = f.get("status") == "done"
    data = {
        "kind": f.get("kind"),
        "subject": (f.get("subject") or "").strip(),
        "status": "done" if done else "planned",
        "result": f.get("result") or None,
    }
    if deal is not None:
        data["deal_id"] = deal.id
    if f.get("customer_id"):
        data["customer_id"] = f.get("customer_id")
    when = _local_dt(f.get("when"))
    if done:
        data["done_at"] = when
    else:
        data["planned_at"] = when
    return ActivityIn().load(_drop_none(data))


@bp.post("/activities/<int:activity_id>/done")
@permission_required("pipeline.edit")
def activity_done(activity_id):
    s = session()
    a = services.get_activity(s, current_user, activity_id)
    if a is None:
        abort(404)
    _try(
        lambda: services.update_activity(
            s,
            current_user,
            a,
            {
                "version": request.form.get("version"),
                "status": "done",
                "result": request.form.get("result") or a.result,
            },
        ),
        _("Activity done."),
    )
    nxt = request.form.get("next")
    if nxt == "deal" and a.deal_id:
        return redirect(url_for("pipeline.deal", deal_id=a.deal_id) + "#activities", 303)
    return redirect(url_for("pipeline.activities"), 303)


@bp.post("/<int:deal_id>/appointments")
@permission_required("pipeline.edit")
def add_appointment(deal_id):
    d = _deal_or_404(deal_id)
    _try(
        lambda: services.create_appointment(session(), current_user, _appointment_data(d)),
        _("Appointment saved; the people chosen will be reminded."),
    )
    return _back(d, "#activities")


def _appointment_data(deal=None):
    f = request.form
    data = {
        "subject": (f.get("subject") or "").strip(),
        "starts_at": _local_dt(f.get("starts_at")),
        "location": f.get("location") or None,
        "remind_minutes": f.get("remind_minutes") or 30,
        "remind_user_ids": [int(x) for x in f.getlist("remind_user_ids") if x.isdigit()]
        or [current_user.id],
    }
    if deal is not None:
        data["deal_id"] = deal.id
    if f.get("customer_id"):
        data["customer_id"] = f.get("customer_id")
    return AppointmentIn().load(_drop_none(data))


@bp.post("/<int:deal_id>/competitors")
@permission_required("pipeline.edit")
def add_competitor(deal_id):
    d = _deal_or_404(deal_id)
    values = _form_values(
        request.form, ["name", "catalog_key", "strategy", "strengths", "weaknesses", "price"]
    )
    _try(
        lambda: services.add_competitor(
            session(), current_user, d, CompetitorIn().load(_drop_none(values))
        ),
        _("Competitor added."),
    )
    return _back(d, "#competitors")


@bp.post("/<int:deal_id>/competitors/<int:competitor_id>/delete")
@permission_required("pipeline.edit")
def delete_competitor(deal_id, competitor_id):
    d = _deal_or_404(deal_id)
    c = session().get(Competitor, competitor_id)
    if c is None or c.deal_id != d.id:
        abort(404)
    _try(lambda: services.delete_competitor(session(), current_user, c), _("Competitor removed."))
    return _back(d, "#competitors")


@bp.post("/<int:deal_id>/documents")
@permission_required("pipeline.edit")
def upload(deal_id):
    d = _deal_or_404(deal_id)

    def do():
        up, filename, kind = read_upload()
        try:
            return services.add_document(
                session(), current_user, d, up, filename, kind, file_storage()
            )
        finally:
            up.file.close()

    _try(do, _("Document uploaded."))
    return _back(d, "#documents")


def _doc_or_404(doc_id) -> Document:
    doc = session().get(Document, doc_id)
    if doc is None or services.get_deal(session(), current_user, doc.deal_id) is None:
        abort(404)
    return doc


@bp.get("/documents/<int:doc_id>")
@permission_required("pipeline.view")
def download(doc_id):
    doc = _doc_or_404(doc_id)
    try:
        fh = file_storage().open(doc.storage_key)
    except FileNotFoundError:
        abort(410)
    return send_file(
        fh, mimetype=doc.content_type, as_attachment=True, download_name=doc.filename, max_age=0
    )


@bp.post("/documents/<int:doc_id>/delete")
@permission_required("pipeline.edit")
def delete_document(doc_id):
    doc = _doc_or_404(doc_id)
    d = session().get(Deal, doc.deal_id)
    _try(
        lambda: services.delete_document(session(), current_user, doc, file_storage()),
        _("Document deleted."),
    )
    return _back(d, "#documents")


@bp.post("/<int:deal_id>/urge")
@permission_required("pipeline.urge")
def urge(deal_id):
    d = _deal_or_404(deal_id)
    _try(
        lambda: services.urge(session(), current_user, d, request.form.get("message", "")),
        _("The owner has been urged."),
    )
    return _back(d, "#urges")


@bp.post("/<int:deal_id>/transfer")
@permission_required("pipeline.transfer")
def transfer_one(deal_id):
    d = _deal_or_404(deal_id)
    _try(
        lambda: services.transfer(
            session(),
            current_user,
            [d],
            request.form.get("owner_id", type=int),
            request.form.get("note", ""),
        ),
        _("Deal handed over."),
    )
    if services.get_deal(session(), current_user, d.id) is None:
        return redirect(url_for("pipeline.index"), 303)
    return _back(d)


@bp.post("/<int:deal_id>/lines")
@permission_required("pipeline.edit")
def add_line(deal_id):
    d = _deal_or_404(deal_id)
    values = _form_values(request.form, ["product", "quantity", "unit_price", "discount"])
    _try(
        lambda: services.add_line(session(), current_user, d, LineIn().load(_drop_none(values))),
        _("Order line added."),
    )
    return _back(d, "#order")


@bp.post("/<int:deal_id>/lines/<int:line_id>/delete")
@permission_required("pipeline.edit")
def delete_line(deal_id, line_id):
    d = _deal_or_404(deal_id)
    line = session().get(OrderLine, line_id)
    if line is None or line.deal_id != d.id:
        abort(404)
    _try(lambda: services.delete_line(session(), current_user, d, line), _("Order line removed."))
    return _back(d, "#order")


@bp.post("/<int:deal_id>/deliveries")
@permission_required("pipeline.edit")
def add_delivery(deal_id):
    d = _deal_or_404(deal_id)
    values = _form_values(request.form, ["delivered_on", "description"])
    _try(
        lambda: services.add_delivery(
            session(), current_user, d, DeliveryIn().load(_drop_none(values))
        ),
        _("Delivery recorded."),
    )
    return _back(d, "#order")


@bp.post("/<int:deal_id>/payments")
@permission_required("pipeline.edit")
def add_payment(deal_id):
    d = _deal_or_404(deal_id)
    values = _form_values(request.form, ["due_on", "amount", "note"])
    _try(
        lambda: services.add_payment(
            session(), current_user, d, PaymentIn().load(_drop_none(values))
        ),
        _("Payment planned."),
    )
    return _back(d, "#payments")


@bp.post("/payments/<int:payment_id>/receive")
@permission_required("pipeline.edit")
def receive(payment_id):
    s = session()
    p = s.get(Payment, payment_id)
    if p is None:
        abort(404)
    d = _deal_or_404(p.deal_id)
    values = _form_values(request.form, ["received_on", "received_amount"])
    values["version"] = _version()
    _try(
        lambda: services.receive_payment(
            s, current_user, p, PaymentPatch().load(_drop_none(values, keep=("received_amount",)))
        ),
        _("Payment received."),
    )
    return _back(d, "#payments")


# --- Bulk handover -----------------------------------------------------------------------


@bp.route("/transfer", methods=["GET", "POST"])
@permission_required("pipeline.transfer")
def transfer():
    s = session()
    if request.method == "POST":
        ids = [int(x) for x in request.form.getlist("ids") if x.isdigit()]
        deals = [d for d in (services.get_deal(s, current_user, i) for i in ids) if d is not None]
        if len(deals) != len(ids):
            abort(404)
        if not deals:
            flash(_("Choose the deals to hand over."), "warning")
        else:
            moved = _try(
                lambda: services.transfer(
                    s,
                    current_user,
                    deals,
                    request.form.get("owner_id", type=int),
                    request.form.get("note", ""),
                )
            )
            if moved:
                flash(
                    _("%(n)s deal(s) handed over.", n=moved if moved is not True else 0), "success"
                )
        return redirect(
            url_for("pipeline.transfer", owner_id=request.form.get("from_owner_id") or None), 303
        )
    owner_id = request.args.get("owner_id", type=int)
    status = request.args.get("status") or "tracking"
    f = services.Filters(owner_id=owner_id, status=status if status in STATUSES else None)
    rows = s.scalars(
        services.deal_query(s, current_user, f).order_by(Deal.id.desc()).limit(500)
    ).all()
    owners = _owners(s)
    return render_template(
        "crm_pipeline/transfer.html",
        rows=rows,
        owners=owners,
        all_owners=_all_owners(s),
        owner_id=owner_id,
        status=status,
        users={u.id: u for u in _all_owners(s)},
        labels=labels(),
        stages={st.id: st for st in services.stages(s)},
    )


# --- Activities, appointments, overdue for contact ---------------------------------------


@bp.route("/activities", methods=["GET", "POST"])
@permission_required("pipeline.view")
def activities():
    s = session()
    if request.method == "POST":
        if not has_permission(current_user, "pipeline.edit"):
            abort(403)
        if request.form.get("form") == "appointment":
            _try(
                lambda: services.create_appointment(s, current_user, _appointment_data()),
                _("Appointment saved; the people chosen will be reminded."),
            )
        else:
            _try(
                lambda: services.create_activity(s, current_user, _activity_data()),
                _("Activity saved."),
            )
        return redirect(url_for("pipeline.activities"), 303)
    owner_id = request.args.get("owner_id", type=int) or current_user.id
    page = max(request.args.get("page", 1, type=int), 1)
    overdue, more = services.overdue_for_contact(
        s, current_user, owner_id, limit=20, offset=(page - 1) * 20
    )
    now = datetime.now(timezone.utc)
    planned = services.activities(
        s, current_user, owner_id=current_user.id, status="planned", limit=50
    )
    planned.sort(key=lambda a: a.planned_at or now)
    done = services.activities(s, current_user, owner_id=current_user.id, status="done", limit=10)
    appts = services.appointments(
        s, current_user, now - timedelta(hours=2), now + timedelta(days=60), limit=30
    )
    deal_ids = {a.deal_id for a in planned + done if a.deal_id}
    deals = (
        {d.id: d for d in s.scalars(select(Deal).where(Deal.id.in_(deal_ids)))} if deal_ids else {}
    )
    from crm_customers.models import Customer

    cust_ids = {a.customer_id for a in planned + done}
    custs = (
        {c.id: c for c in s.scalars(select(Customer).where(Customer.id.in_(cust_ids)))}
        if cust_ids
        else {}
    )
    return render_template(
        "crm_pipeline/activities.html",
        overdue=overdue,
        more=more,
        page=page,
        owner_id=owner_id,
        owners=_owners(s),
        planned=planned,
        done=done,
        appointments=appts,
        deals=deals,
        custs=custs,
        labels=labels(),
        activity_kinds=ACTIVITY_KINDS,
        customers=_my_customers(s),
        days=services.contact_days(s),
        now=now,
        all_owners=_all_owners(s),
        default_when=_default_when(),
    )


# --- Targets -----------------------------------------------------------------------------


def _period_from_args(kind_default="month"):
    kind = request.values.get("period_kind") or kind_default
    if kind not in ("month", "quarter"):
        kind = "month"
    try:
        day = date.fromisoformat(request.values.get("period_start") or "")
    except ValueError:
        day = date.today()
    return kind, services.period_start(kind, day)


def _periods(kind, around: date, n=8):
    out, d = [], services.period_start(kind, around)
    for _i in range(3):
        d = services.period_start(kind, d - timedelta(days=1))
    for _i in range(n):
        out.append((d, services.period_label(kind, d)))
        d = services.period_end(kind, d)
    return out


@bp.route("/targets", methods=["GET", "POST"])
@permission_required("pipeline.targets")
def targets():
    s = session()
    kind, start = _period_from_args()
    if request.method == "POST":

        def save():
            n = 0
            for key, value in request.form.items():
                if not key.startswith(("user-", "dept-")) or value.strip() == "":
                    continue
                who, ident = key.split("-", 1)
                data = TargetIn().load(
                    {
                        "period_kind": kind,
                        "period_start": start.isoformat(),
                        "amount": value.strip(),
                        ("user_id" if who == "user" else "department_id"): int(ident),
                    }
                )
                services.set_target(s, current_user, data)
                n += 1
            return n

        _try(save, _("Targets saved."))
        return redirect(
            url_for("pipeline.targets", period_kind=kind, period_start=start.isoformat()), 303
        )
    people = [u for u in _owners(s) if has_permission(u, "pipeline.edit")]
    depts = list(s.scalars(select(Department).order_by(Department.name)))
    if scope_filter(current_user, User.id) is not None:
        dept_ids = {u.department_id for u in people}
        depts = [d for d in depts if d.id in dept_ids]
    existing = services.targets(s, kind, start)
    perf = services.performance(s, current_user, kind, start)
    return render_template(
        "crm_pipeline/targets.html",
        kind=kind,
        start=start,
        people=people,
        depts=depts,
        user_targets={t.user_id: t.amount for t in existing if t.user_id},
        dept_targets={t.department_id: t.amount for t in existing if t.department_id},
        won={r["user_id"]: r["won_amount"] for r in perf["people"]},
        dept_won={r["department_id"]: r["won_amount"] for r in perf["departments"]},
        periods=_periods(kind, start),
        label=services.period_label(kind, start),
    )


# --- Reports -----------------------------------------------------------------------------


def _report_filters():
    f = {}
    for k in ("owner_id", "department_id"):
        v = request.args.get(k, type=int)
        if v:
            f[k] = v
    return f


def _date_arg(name):
    try:
        return date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return None


@bp.get("/reports")
@permission_required("pipeline.reports")
def reports_page():
    s = session()
    f = _report_filters()
    since, until = _date_arg("since"), _date_arg("until")
    kind, start = _period_from_args()
    fun = services.funnel(s, current_user, since=since, until=until, **f)
    perf = services.performance(s, current_user, kind, start, **f)
    fc = services.forecast(s, current_user, months=6, **f)
    trend = services.won_by_month(s, current_user, start.year, **f)
    return render_template(
        "crm_pipeline/reports.html",
        funnel=fun,
        perf=perf,
        forecast=fc,
        filters=f,
        since=since,
        until=until,
        kind=kind,
        start=start,
        periods=_periods(kind, start),
        owners=_owners(s),
        depts=list(s.scalars(select(Department).order_by(Department.name))),
        funnel_chart=funnel_chart(fun),
        perf_chart=performance_chart(perf),
        forecast_chart=forecast_chart(fc),
        trend_chart=trend_chart(trend, start.year),
        args={k: v for k, v in request.args.items() if v},
    )


@bp.get("/reports/<name>.<fmt>")
@permission_required("pipeline.reports")
def export_report(name, fmt):
    if fmt not in ("csv", "xlsx") or name not in ("funnel", "performance", "forecast"):
        abort(404)
    s = session()
    f = _report_filters()
    if name == "funnel":
        return reports.funnel_export(
            s, current_user, fmt, since=_date_arg("since"), until=_date_arg("until"), **f
        )
    if name == "performance":
        kind, start = _period_from_args()
        return reports.performance_export(s, current_user, fmt, period_kind=kind, start=start, **f)
    return reports.forecast_export(s, current_user, fmt, months=6, **f)


def _num(v) -> float:
    return float(v or 0)


def funnel_chart(fun, height=300):
    data = [
        {"name": _(st["name"]), "value": st["reached"], "count": st["count"]}
        for st in fun["stages"]
    ]
    data.append({"name": _("Won"), "value": fun["won"]["count"]})
    option = {
        "tooltip": {"trigger": "item", "formatter": "{b}: {c}"},
        "color": COLORS,
        "series": [
            {
                "type": "funnel",
                "left": "8%",
                "right": "8%",
                "top": 10,
                "bottom": 10,
                "minSize": "12%",
                "sort": "descending",
                "gap": 3,
                "label": {"show": True, "position": "inside", "formatter": "{b}\n{c}"},
                "data": data,
            }
        ],
    }
    return chart(option, height=height, label=_("Sales funnel"))


def performance_chart(perf, height=300):
    rows = perf["people"]
    names = [r["name"] for r in rows]
    option = {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 8, "right": 16, "top": 16, "bottom": 40, "containLabel": True},
        "xAxis": {
            "type": "category",
            "data": names,
            "axisLabel": {"interval": 0, "rotate": 30 if len(names) > 5 else 0},
        },
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": _("Won"),
                "type": "bar",
                "data": [_num(r["won_amount"]) for r in rows],
                "itemStyle": {"color": "#2f6fed"},
            },
            {
                "name": _("Target"),
                "type": "bar",
                "data": [_num(r["target"]) for r in rows],
                "itemStyle": {"color": "#ced4da"},
            },
        ],
    }
    return chart(option, height=height, label=_("Won against target"))


def forecast_chart(rows, height=280):
    months = [_("Overdue") if r["month"] == "overdue" else r["month"] for r in rows]
    option = {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 8, "right": 16, "top": 16, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": months},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": _("Pipeline amount"),
                "type": "bar",
                "data": [_num(r["amount"]) for r in rows],
                "itemStyle": {"color": "#a5c3fa"},
            },
            {
                "name": _("Weighted forecast"),
                "type": "line",
                "smooth": True,
                "data": [_num(r["weighted"]) for r in rows],
                "itemStyle": {"color": "#20c997"},
            },
        ],
    }
    return chart(option, height=height, label=_("Forecast by expected close month"))


def trend_chart(trend, year, height=260):
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    option = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 16, "top": 16, "bottom": 24, "containLabel": True},
        "xAxis": {"type": "category", "data": [m[5:] for m in months]},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": _("Won"),
                "type": "bar",
                "data": [_num(trend.get(m)) for m in months],
                "itemStyle": {"color": "#2f6fed"},
            }
        ],
    }
    return chart(option, height=height, label=_("Won per month"))


# --- Settings (stages, contact frequency) ------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("pipeline.admin")
def settings():
    s = session()
    if request.method == "POST":
        form = request.form.get("form")
        if form == "days":
            _try(
                lambda: services.set_contact_days(
                    s, {g: request.form.get(g, type=int) for g in "ABC"}
                ),
                _("Contact frequency saved."),
            )
        elif form == "stage":
            sid = request.form.get("stage_id", type=int)
            stage = s.get(Stage, sid) if sid else None
            values = _form_values(request.form, ["code", "name", "position", "probability"])
            values["is_active"] = request.form.get("is_active") == "on"
            _try(
                lambda: services.save_stage(
                    s, current_user, StageIn().load(_drop_none(values)), stage
                ),
                _("Stage saved."),
            )
        return redirect(url_for("pipeline.settings"), 303)
    return render_template(
        "crm_pipeline/settings.html", stages=services.stages(s), days=services.contact_days(s)
    )


# --- Panels and dashboard widgets --------------------------------------------------------


def customer_panel_html(customer, deals) -> str:
    return render_template(
        "crm_pipeline/_customer_panel.html", customer=customer, deals=deals, labels=labels()
    )


def _empty(text) -> str:
    return str(Markup('<p class="text-body-secondary mb-0">{}</p>').format(text))


def funnel_widget_html() -> str:
    fun = services.funnel(session(), current_user)
    if not fun["total"]:
        return _empty(_("No deals yet."))
    caption = Markup(
        '<div class="small text-body-secondary text-center">{} · <a href="{}">{}</a></div>'
    )
    rate = "—" if fun["win_rate"] is None else f"{fun['win_rate'] * 100:.0f}%"
    return str(funnel_chart(fun, height=260)) + str(
        caption.format(
            _("Win rate %(rate)s", rate=rate),
            url_for("pipeline.reports_page"),
            _("Open the reports"),
        )
    )


def performance_widget_html() -> str:
    s = session()
    perf = services.performance(s, current_user, "month", date.today())
    won, target = perf["won_amount"], perf["target"]
    pct = int(won / target * 100) if target else None
    return render_template(
        "crm_pipeline/_widget_performance.html", perf=perf, won=won, target=target, pct=pct
    )


def forecast_widget_html() -> str:
    fc = services.forecast(session(), current_user, months=4)
    if not any(r["count"] for r in fc):
        return _empty(_("No open deals with an expected close date."))
    return str(forecast_chart(fc, height=230))


def overdue_widget_html() -> str:
    rows, more = services.overdue_for_contact(session(), current_user, current_user.id, limit=6)
    return render_template(
        "crm_pipeline/_widget_overdue.html", rows=rows, more=more, now=datetime.now(timezone.utc)
    )


_unused = (Activity,)
