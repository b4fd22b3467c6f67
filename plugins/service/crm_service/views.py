"""Pages of the service module: thin views over services; validation by the schemas."""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.exceptions import Conflict

from crm_host import ui
from crm_host.api import csrf_exempt, page_of, parse_sort, public
from crm_host.db import session, utcnow
from crm_host.models import Department, User
from crm_host.security import has_permission, permission_required, scope_filter

from . import markup, reports, services
from .models import KINDS, RECORD_KINDS, SEVERITIES, ServiceRecord, Ticket
from .schemas import ServiceRecordIn, TicketFilter, TicketIn, TicketPatch

bp = Blueprint("service", __name__, url_prefix="/service", template_folder="templates")
PER_PAGE = 25
COLORS = ["#2f6fed", "#20c997", "#ffc107", "#fd7e14", "#6f42c1", "#d63384", "#0dcaf0", "#6c757d"]
SEVERITY_COLORS = {"low": "secondary", "normal": "info", "high": "warning", "urgent": "danger"}


def labels() -> dict:
    return {
        "status": {k: str(v) for k, v in services.STATUS_LABELS.items()},
        "kind": {k: str(v) for k, v in services.KIND_LABELS.items()},
        "severity": {k: str(v) for k, v in services.SEVERITY_LABELS.items()},
        "record": {k: str(v) for k, v in services.RECORD_KIND_LABELS.items()},
        "event": {
            "created": _("Ticket opened"),
            "transition": _("Step"),
            "reply": _("Answer to the customer"),
            "assign": _("Reassigned"),
            "waiting": _("Waiting for the customer (clock paused)"),
            "resumed": _("Clock resumed"),
            "sla": _("Service level missed: escalated"),
            "record": _("After-sales service recorded"),
        },
        "age": {
            "lt1": _("under 1 day"),
            "1to3": _("1–3 days"),
            "3to7": _("3–7 days"),
            "7to30": _("7–30 days"),
            "gt30": _("over 30 days"),
        },
    }


def category_name(cat) -> str:
    return _(cat.name) if cat is not None else "—"


@bp.app_template_global("service_markdown")
def service_markdown(text):
    return Markup(markup.render(text))


_errors_text = ui.errors_text


def _try(action, ok_message=None):
    """Run a change; on refusal roll back and flash why. Returns the action's result or None."""
    return ui.attempt(action, ok_message, refused=(services.ServiceError,))


def _ticket_or_404(ticket_id) -> Ticket:
    t = services.get_ticket(session(), current_user, ticket_id)
    if t is None:
        abort(404)
    return t


def _back(t, anchor=""):
    return redirect(url_for("service.ticket", ticket_id=t.id) + anchor, 303)


def _people(s):
    return list(s.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name)))


def _scoped_people(s):
    stmt = select(User).where(User.is_active.is_(True)).order_by(User.name)
    cond = scope_filter(current_user, User.id)
    return list(s.scalars(stmt if cond is None else stmt.where(cond)))


def _departments(s):
    return list(s.scalars(select(Department).order_by(Department.name)))


def _form_values(form, names) -> dict:
    out = {}
    for n in names:
        if n in form:
            v = form.get(n, "").strip()
            out[n] = v if v != "" else None
    return out


# --- List --------------------------------------------------------------------------------


@bp.get("/")
@permission_required("service.view")
def index():
    s = session()
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        args = TicketFilter().load(raw)
    except ma.ValidationError as exc:
        flash(_("Some filters were not understood: %(f)s", f=", ".join(exc.messages)), "warning")
        args = TicketFilter().load({})
    f = services.Filters.from_args(args)
    order = parse_sort(args.get("sort"), services.SORTABLE, [Ticket.id.desc()]) + [Ticket.id]
    rows, total, exact = page_of(
        s,
        lambda wide: services.ticket_query(s, current_user, f, wide=wide),
        order,
        args["page"],
        PER_PAGE,
    )
    ids = {r.owner_id for r in rows}
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return render_template(
        "crm_service/index.html",
        rows=rows,
        total=total,
        exact=exact,
        page=args["page"],
        per_page=PER_PAGE,
        filters=f.as_dict(),
        users=users,
        labels=labels(),
        kinds=KINDS,
        severities=SEVERITIES,
        statuses=sorted(
            {st for k in KINDS for st in services.WORKFLOWS[k]},
            key=lambda x: services.status_label(x),
        ),
        owners=_scoped_people(s),
        departments=_departments(s),
        overdue_n=services.overdue_count(s, current_user),
        now=utcnow(),
        category_name=category_name,
        severity_colors=SEVERITY_COLORS,
    )


# --- Create and edit ---------------------------------------------------------------------

FORM_FIELDS = (
    "kind",
    "title",
    "category_id",
    "severity",
    "customer_id",
    "contact_id",
    "target",
    "description",
    "owner_id",
    "department_id",
)


def _form_page(s, t, values, errors):
    services.ensure_defaults(s)
    selected = values.get("customer_id")
    customer = None
    if selected:
        from crm_customers import services as customers

        customer = customers.get_customer(s, current_user, int(selected))
    return render_template(
        "crm_service/form.html",
        t=t,
        values=values,
        errors=errors,
        kinds=KINDS,
        severities=SEVERITIES,
        categories=services.categories(s, active_only=True),
        customer=customer,
        people=_people(s) if has_permission(current_user, "service.assign") else [current_user],
        departments=_departments(s),
        labels=labels(),
    ), 400 if errors else 200


@bp.route("/new", methods=["GET", "POST"])
@permission_required("service.create")
def new():
    s = session()
    errors = {}
    values = {
        "kind": request.args.get("kind", "complaint"),
        "severity": "normal",
        "customer_id": request.args.get("customer_id", type=int),
        "owner_id": current_user.id,
    }
    if request.method == "POST":
        values = _form_values(request.form, FORM_FIELDS)
        try:
            data = TicketIn().load({k: v for k, v in values.items() if v is not None})
            t = services.create_ticket(s, current_user, data)
            s.commit()
            flash(_("Ticket %(code)s opened.", code=t.code), "success")
            return redirect(url_for("service.ticket", ticket_id=t.id), 303)
        except ma.ValidationError as exc:
            errors = exc.messages
        except services.ServiceError as exc:
            s.rollback()
            errors = {exc.field or "_schema": [str(exc)]}
    return _form_page(s, None, values, errors)


@bp.route("/<int:ticket_id>/edit", methods=["GET", "POST"])
@permission_required("service.edit")
def edit(ticket_id):
    s = session()
    t = _ticket_or_404(ticket_id)
    errors = {}
    values = {f: getattr(t, f) for f in FORM_FIELDS}
    values["version"] = t.version
    if request.method == "POST":
        values = _form_values(
            request.form,
            (
                "title",
                "category_id",
                "severity",
                "customer_id",
                "contact_id",
                "target",
                "description",
            ),
        )
        values["version"] = request.form.get("version")
        values["kind"] = t.kind
        data_in = {k: v for k, v in values.items() if k != "kind"}
        for k in ("title", "severity"):
            if data_in.get(k) is None:
                data_in.pop(k, None)
        try:
            data = TicketPatch().load(data_in)
            services.update_ticket(s, current_user, t, data)
            s.commit()
            flash(_("Saved."), "success")
            return _back(t)
        except ma.ValidationError as exc:
            errors = exc.messages
        except services.ServiceError as exc:
            s.rollback()
            errors = {exc.field or "_schema": [str(exc)]}
        except Conflict as exc:
            s.rollback()
            errors = {"_schema": [exc.description]}
    return _form_page(s, t, values, errors)


# --- The ticket page ---------------------------------------------------------------------


@bp.get("/<int:ticket_id>")
@permission_required("service.view")
def ticket(ticket_id):
    s = session()
    t = _ticket_or_404(ticket_id)
    evs = services.events(s, t)
    recs = list(
        s.scalars(
            services.records_query(s, current_user, ticket_id=t.id).order_by(
                ServiceRecord.started_at.desc()
            )
        )
    )
    ids = {e.user_id for e in evs} | {t.owner_id, t.created_by} | {r.engineer_id for r in recs}
    ids |= {e.data.get("to") for e in evs if e.kind == "assign" and e.data}
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(ids - {None})))}
    steps = []
    for to in services.next_steps(t):
        perm = services.TRANSITIONS[(t.kind, t.status, to)]
        steps.append((to, perm, has_permission(current_user, perm)))
    survey = services.survey_of(s, t)
    depts = {d.id: d for d in _departments(s)}
    return render_template(
        "crm_service/ticket.html",
        t=t,
        events=evs,
        records=recs,
        users=users,
        steps=steps,
        flow=services.WORKFLOWS[t.kind],
        labels=labels(),
        survey=survey,
        survey_link=services.survey_url(survey) if survey and not survey.answered_at else None,
        answers_available=services.answers_available(),
        can_work=has_permission(current_user, "service.work"),
        can_edit=has_permission(current_user, "service.edit"),
        overdue=services.is_overdue(t),
        now=utcnow(),
        people=_people(s),
        departments=list(depts.values()),
        dept=depts.get(t.department_id),
        category_name=category_name,
        severity_colors=SEVERITY_COLORS,
        record_kinds=RECORD_KINDS,
        tech_department_id=services.get_setting(s, "tech_department_id", None),
    )


@bp.post("/<int:ticket_id>/step")
@permission_required("service.view")
def step(ticket_id):
    t = _ticket_or_404(ticket_id)
    to = request.form.get("to", "")
    data = {"version": request.form.get("version")}
    for k in ("owner_id", "department_id"):
        v = request.form.get(k, type=int)
        if v:
            data[k] = v
    ok = _try(
        lambda: services.transition(
            session(), current_user, t, to, request.form.get("comment"), data
        ),
        _("Moved to “%(s)s”.", s=services.status_label(to)),
    )
    if ok is None and request.form.get("comment"):
        flash(
            _(
                "Your comment was not saved; here it is to copy: %(c)s",
                c=request.form.get("comment")[:500],
            ),
            "secondary",
        )
    return _back(t)


@bp.post("/<int:ticket_id>/waiting")
@permission_required("service.edit")
def waiting(ticket_id):
    t = _ticket_or_404(ticket_id)
    on = request.form.get("waiting") == "1"
    _try(
        lambda: services.update_ticket(
            session(), current_user, t, {"version": request.form.get("version"), "waiting": on}
        ),
        _("Waiting for the customer: the clock is paused.") if on else _("The clock runs again."),
    )
    return _back(t)


@bp.post("/<int:ticket_id>/reply")
@permission_required("service.work")
def reply(ticket_id):
    t = _ticket_or_404(ticket_id)
    _try(
        lambda: services.reply(
            session(),
            current_user,
            t,
            request.form.get("body", ""),
            request.form.get("to_customer") == "1",
        ),
        _("Answer saved."),
    )
    return _back(t, "#timeline")


@bp.post("/<int:ticket_id>/record")
@permission_required("service.work")
def add_record(ticket_id):
    t = _ticket_or_404(ticket_id)

    def act():
        from crm_host.timezones import to_local

        values = _form_values(
            request.form,
            ("kind", "engineer_id", "started_at", "ended_at", "content", "result", "signed_by"),
        )
        zone = to_local(utcnow()).tzinfo
        for k in ("started_at", "ended_at"):
            if values.get(k):  # a local datetime-local value: add the reader's zone
                from datetime import datetime

                try:
                    values[k] = datetime.fromisoformat(values[k]).replace(tzinfo=zone).isoformat()
                except ValueError:
                    pass
        data = ServiceRecordIn().load(
            {"ticket_id": t.id, **{k: v for k, v in values.items() if v is not None}}
        )
        return services.add_record(session(), current_user, data)

    _try(act, _("Service record saved."))
    return _back(t, "#records")


# --- After-sales records -----------------------------------------------------------------


@bp.get("/records")
@permission_required("service.view")
def records():
    s = session()
    cid = request.args.get("customer_id", type=int)
    page = max(request.args.get("page", 1, type=int), 1)
    stmt = services.records_query(s, current_user, customer_id=cid)
    rows, total, exact = page_of(
        s, stmt, [ServiceRecord.started_at.desc(), ServiceRecord.id.desc()], page, PER_PAGE
    )
    ids = {r.engineer_id for r in rows}
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    customer = None
    if cid:
        from crm_customers import services as customers

        customer = customers.get_customer(s, current_user, cid)
    names = {}
    cids = {r.customer_id for r in rows}
    if cids:
        from crm_customers.models import Customer

        names = dict(
            s.execute(select(Customer.id, Customer.name).where(Customer.id.in_(cids))).all()
        )
    return render_template(
        "crm_service/records.html",
        rows=rows,
        total=total,
        exact=exact,
        page=page,
        per_page=PER_PAGE,
        users=users,
        customer=customer,
        names=names,
        labels=labels(),
    )


# --- Settings (categories, service levels, business hours, holidays) --------------------


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("service.admin")
def settings():
    s = session()
    services.ensure_defaults(s)
    s.commit()
    if request.method == "POST":
        what = request.form.get("what")
        f = request.form
        if what == "category":
            cid = f.get("id", type=int)
            cat = s.get(services.ServiceCategory, cid) if cid else None
            _try(
                lambda: services.save_category(
                    s,
                    current_user,
                    {
                        "kind": f.get("kind"),
                        "code": f.get("code"),
                        "name": f.get("name"),
                        "needs_approval": f.get("needs_approval") == "1",
                        "is_active": f.get("is_active") == "1",
                        "position": f.get("position", type=int) or 100,
                    },
                    cat,
                ),
                _("Saved."),
            )
        elif what == "sla":
            _try(
                lambda: services.set_sla_target(
                    s,
                    current_user,
                    f.get("severity"),
                    f.get("category_id", type=int),
                    _minutes(f.get("response_hours")),
                    _minutes(f.get("resolution_hours")),
                ),
                _("Saved."),
            )
        elif what == "sla_delete":
            row = s.get(services.SlaTarget, f.get("id", type=int) or 0)
            if row is not None:
                _try(lambda: services.delete_sla_target(s, current_user, row), _("Deleted."))
        elif what == "hours":
            _try(
                lambda: services.set_business_hours(
                    s, current_user, f.getlist("days"), f.get("start"), f.get("end")
                ),
                _("Saved."),
            )
        elif what == "holiday":
            try:
                day = date.fromisoformat(f.get("day", ""))
            except ValueError:
                day = None
            _try(lambda: services.add_holiday(s, current_user, day, f.get("name")), _("Saved."))
        elif what == "holiday_delete":
            try:
                day = date.fromisoformat(f.get("day", ""))
                _try(lambda: services.delete_holiday(s, current_user, day), _("Deleted."))
            except ValueError:
                pass
        elif what == "tech":
            dep = f.get("tech_department_id", type=int)
            _try(lambda: services.set_setting(s, "tech_department_id", dep), _("Saved."))
        return redirect(url_for("service.settings") + f"#{what}", 303)
    cats = services.categories(s)
    return render_template(
        "crm_service/settings.html",
        categories=cats,
        cat_names={c.id: c for c in cats},
        targets=services.sla_targets(s),
        defaults=services.DEFAULT_TARGETS,
        hours=services.business_hours(s),
        holidays=services.holidays(s, date.today().replace(month=1, day=1)),
        labels=labels(),
        kinds=KINDS,
        severities=SEVERITIES,
        departments=_departments(s),
        tech_department_id=services.get_setting(s, "tech_department_id", None),
        category_name=category_name,
    )


def _minutes(hours):
    try:
        return int(round(float(hours) * 60))
    except (TypeError, ValueError):
        return None


# --- Reports -----------------------------------------------------------------------------


def _date_arg(name):
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _report_args():
    """The report filters; without a ``since`` in the address the page starts at the first
    day of the month eleven months ago (a year of months, shown in the filter), so the
    monthly reports of a book of millions read a year, not its whole history. An empty
    ``since`` (the field cleared) means all time."""
    kind = request.args.get("kind")
    since = _date_arg("since")
    if "since" not in request.args:
        today = date.today()
        y, m = divmod(today.year * 12 + today.month - 1 - 11, 12)
        since = date(y, m + 1, 1)
    return {"kind": kind if kind in KINDS else None, "since": since, "until": _date_arg("until")}


@bp.get("/reports")
@permission_required("service.reports")
def reports_page():
    s = session()
    a = _report_args()
    group = request.args.get("group", "agent")
    if group not in services.CSAT_GROUPS:
        group = "agent"
    data = reports.collect(s, current_user, group=group, **a)
    return render_template(
        "crm_service/reports.html",
        d=data,
        a=a,
        group=group,
        kinds=KINDS,
        labels=labels(),
        charts=reports.charts(data, labels()),
        args={
            **({"since": a["since"].isoformat()} if a["since"] else {"since": ""}),
            **{k: v for k, v in request.args.items() if v},
        },
        totals=services.survey_totals(s, current_user),
    )


@bp.get("/reports/<name>.<fmt>")
@permission_required("service.reports")
def export_report(name, fmt):
    if fmt not in ("csv", "xlsx") or name not in reports.TABLES:
        abort(404)
    group = request.args.get("group", "agent")
    if group not in services.CSAT_GROUPS:
        group = "agent"
    return reports.export_one(session(), current_user, name, fmt, group=group, **_report_args())


# --- The satisfaction survey (public, signed link) ---------------------------------------


@bp.route("/survey/<token>", methods=["GET", "POST"])
@public
@csrf_exempt
def survey(token):
    s = session()
    try:
        sv = services.survey_for_token(s, token)
    except services.SurveyLinkError as exc:
        status = 410 if exc.reason == "expired" else 400
        return render_template("crm_service/survey.html", error=exc.reason), status
    t = s.get(Ticket, sv.ticket_id)
    if sv.answered_at is not None:
        return render_template("crm_service/survey.html", done=True, again=True, t=t), 409
    error = None
    if request.method == "POST":
        try:
            ok = services.answer_survey(
                s, sv, request.form.get("score"), request.form.get("comment")
            )
            s.commit()
            if not ok:
                return render_template("crm_service/survey.html", done=True, again=True, t=t), 409
            return render_template("crm_service/survey.html", done=True, t=t)
        except services.ServiceError as exc:
            s.rollback()
            error = str(exc)
    return render_template("crm_service/survey.html", t=t, form_error=error), 400 if error else 200


# --- Panels and widgets ------------------------------------------------------------------


def customer_panel_html(customer, tickets, recs) -> str:
    return render_template(
        "crm_service/_customer_panel.html",
        customer=customer,
        tickets=tickets,
        records=recs,
        labels=labels(),
        now=utcnow(),
    )


def _empty(text) -> str:
    return str(Markup('<p class="text-body-secondary mb-0">{}</p>').format(text))


def status_widget_html() -> str:
    s = session()
    rows = [r for r in services.by_status(s, current_user) if r["status"] != services.CLOSED]
    ages = services.age_buckets(s, current_user)
    if not rows:
        return _empty(_("No open tickets."))
    lab = labels()
    return render_template(
        "crm_service/_widget_status.html",
        status_chart=reports.status_chart(rows, lab, height=220),
        age_chart=reports.age_chart(ages, lab, height=140),
    )


def overdue_widget_html() -> str:
    s = session()
    rows = services.overdue_tickets(s, current_user, limit=6)
    return render_template(
        "crm_service/_widget_overdue.html",
        rows=rows,
        total=services.overdue_count(s, current_user) if rows else 0,
        now=utcnow(),
    )


def satisfaction_widget_html() -> str:
    s = session()
    totals = services.survey_totals(s, current_user)
    months = services.satisfaction(s, current_user, "month")[-6:]
    if not totals["answered"]:
        return _empty(_("No survey answers yet."))
    return render_template(
        "crm_service/_widget_satisfaction.html",
        totals=totals,
        chart=reports.csat_chart(months, height=180),
    )
