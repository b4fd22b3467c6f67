"""Pages for reaching many customers at once: mailing labels (CUS-6) and batch messages
(CUS-7). Thin views over ``labels`` and ``outreach``.

Both pages take the customers chosen on the list: ``ids`` from the list's bulk form, or, with
``all=1``, every customer matching the list's filter, which travels in the query string
(``/customers/outreach/labels?region=華北&all=1``).
"""

from __future__ import annotations

import io

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm_host.db import session
from crm_host.security import permission_required

from . import outreach, services
from .labels import DEFAULT_LAYOUT, LAYOUTS, labels_pdf
from .schemas import CustomerFilter

bp = Blueprint(
    "customers_outreach", __name__, url_prefix="/customers/outreach", template_folder="templates"
)
PERMISSION = outreach.PERMISSION
SHOWN = 8  # customers named on the page; the rest are counted
FILTER_KEYS = set(services.Filters.__dataclass_fields__) - {"trash"}

LAYOUT_LABELS = {
    "a4-3x7": _l("A4 · 3 × 7 labels · 63.5 × 38.1 mm (Avery L7160)"),
    "a4-2x7": _l("A4 · 2 × 7 labels · 99.1 × 38.1 mm (Avery L7163)"),
    "letter-3x10": _l("US Letter · 3 × 10 labels · 2⅝ × 1 in (Avery 5160)"),
}
MERGE_FIELD_LABELS = {
    "customer_name": _l("Customer name"),
    "customer_code": _l("Customer code"),
    "contact_name": _l("Contact name"),
    "contact_title": _l("Contact's job title"),
    "owner_name": _l("Account owner's name"),
    "owner_email": _l("Account owner's email"),
}
SKIP_REASONS = {
    "no_contact": _l("no contact"),
    "no_address": _l("no address for this channel"),
}


def _selection():
    """The chosen customers and what to carry to the next request (``ids`` or the filter)."""
    s = session()
    if request.values.get("all") == "1":
        raw = {k: v for k, v in request.args.items() if k in FILTER_KEYS and v != ""}
        try:
            args = CustomerFilter().load(raw)
        except ma.ValidationError:
            abort(400)
        filters = services.Filters.from_args(args)
        carried = filters.as_dict()
        customers = outreach.select_customers(s, current_user, filters=filters)
        return customers, {"all": True, "ids": [], "filters": carried}
    ids = request.values.getlist("ids", type=int)
    customers = outreach.select_customers(s, current_user, ids=ids)
    return customers, {"all": False, "ids": [c.id for c in customers], "filters": {}}


def _refuse_selection(exc: services.CustomerError):
    if exc.status == 404:
        abort(404)
    flash(str(exc) if exc.field == "filter" else _("Choose customers first."), "warning")
    return redirect(url_for("customers.index"), 303)


@bp.route("/labels", methods=["GET", "POST"])
@permission_required(PERMISSION)
def labels():
    """Pick the sheet and the first free label, then download ``labels.pdf``. A POST without
    ``layout`` (the list's bulk button) shows the page for the posted ids."""
    try:
        customers, sel = _selection()
    except services.CustomerError as exc:
        return _refuse_selection(exc)
    layout = request.form.get("layout") or DEFAULT_LAYOUT
    start = (request.form.get("start_position") or "1").strip()
    outlines = request.form.get("outlines") == "on"
    errors: dict = {}
    if request.method == "POST" and "layout" in request.form:
        try:
            pdf = labels_pdf(
                customers,
                layout,
                int(start) if start.isdigit() else 0,
                locale=str(get_locale() or ""),
                outlines=outlines,
            )
            return send_file(
                io.BytesIO(pdf),
                mimetype="application/pdf",
                as_attachment=True,
                download_name="labels.pdf",
            )
        except services.CustomerError as exc:
            errors = {exc.field or "layout": [str(exc)]}
    return render_template(
        "crm_customers/labels.html",
        shown=customers[:SHOWN],
        total=len(customers),
        sel=sel,
        layouts=[
            (key, LAYOUT_LABELS.get(key, lay.description), lay) for key, lay in LAYOUTS.items()
        ],
        layout=layout if layout in LAYOUTS else DEFAULT_LAYOUT,
        start_position=start,
        outlines=outlines,
        errors=errors,
    ), 400 if errors else 200


@bp.route("/message", methods=["GET", "POST"])
@permission_required(PERMISSION)
def message():
    """Write one message with merge fields, preview it for the first recipients, send it.
    A POST without ``action`` (the list's bulk button) only shows the form."""
    s = session()
    try:
        customers, sel = _selection()
    except services.CustomerError as exc:
        return _refuse_selection(exc)
    channels = outreach.available_channels()
    form = request.form
    channel = form.get("channel") or ("email" if "email" in channels else next(iter(channels), ""))
    subject = form.get("subject", "")
    body = form.get("body", "")
    to_all = form.get("to_all") == "on"
    action = form.get("action") if request.method == "POST" else None
    errors: dict = {}
    status = 200
    previews, plan = [], None
    if action in ("preview", "send"):
        try:
            if action == "send":
                summary = outreach.send_batch(
                    s, current_user, customers, subject, body, channel, to_all=to_all
                )
                s.commit()
                _flash_summary(summary)
                return redirect(url_for("customers.index"), 303)
            previews, plan = outreach.preview(
                s, current_user, customers, subject, body, channel, to_all
            )
        except services.CustomerError as exc:
            s.rollback()
            errors = {exc.field or "body": [str(exc)]}
            status = 409 if exc.status == 409 else 403 if exc.status == 403 else 400
    return render_template(
        "crm_customers/message.html",
        shown=customers[:SHOWN],
        total=len(customers),
        sel=sel,
        channels=channels,
        channel=channel,
        subject=subject,
        body=body,
        to_all=to_all,
        merge_fields=MERGE_FIELD_LABELS,
        previews=previews,
        plan=plan,
        skip_reasons=SKIP_REASONS,
        errors=errors,
        max_subject=outreach.MAX_SUBJECT,
        max_body=outreach.MAX_BODY,
    ), status


def _flash_summary(summary: dict) -> None:
    if summary["queued"]:
        flash(
            _(
                "%(n)s messages queued for %(c)s customers.",
                n=summary["queued"],
                c=summary["customers"],
            ),
            "success",
        )
    else:
        flash(_("No message was queued."), "warning")
    skipped = summary["skipped"]
    if skipped:
        names = "; ".join(
            f"{x['name']} ({SKIP_REASONS.get(x['reason'], x['reason'])})" for x in skipped[:10]
        )
        if len(skipped) > 10:
            names += " …"
        flash(_("%(n)s customers skipped: %(names)s", n=len(skipped), names=names), "warning")
