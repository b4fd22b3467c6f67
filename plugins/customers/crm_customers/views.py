"""Pages of the customers module: thin views over services; validation by the schemas."""

from __future__ import annotations

import marshmallow as ma
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from crm_host.api import parse_sort
from crm_host.db import session
from crm_host.models import User
from crm_host.security import has_permission, permission_required
from crm_host.ui import chart, record_panels, render_panels

from . import services
from .models import GRADES, LIFECYCLE, Category, Customer, SavedFilter
from .schemas import ContactIn, ContactPatch, CustomerFilter, CustomerIn, CustomerPatch

bp = Blueprint("customers", __name__, url_prefix="/customers", template_folder="templates")
PER_PAGE = 25

FORM_FIELDS = [  # (name, label, kind, column width)
    ("name", _l("Name"), "text", 8),
    ("short_name", _l("Short name"), "text", 4),
    ("category_id", _l("Category"), "category", 4),
    ("grade", _l("Grade"), "grade", 4),
    ("lifecycle", _l("Lifecycle stage"), "lifecycle", 4),
    ("industry", _l("Industry"), "text", 4),
    ("source", _l("Source"), "text", 4),
    ("owner_id", _l("Owner"), "owner", 4),
    ("region", _l("Region"), "text", 4),
    ("province", _l("Province"), "text", 4),
    ("city", _l("City"), "text", 4),
    ("address", _l("Address"), "text", 8),
    ("postal_code", _l("Postal code"), "text", 4),
    ("phone", _l("Phone"), "text", 4),
    ("fax", _l("Fax"), "text", 4),
    ("email", _l("Email"), "email", 4),
    ("website", _l("Website"), "text", 6),
    ("tax_id", _l("Tax id"), "text", 3),
    ("credit_rating", _l("Credit rating"), "text", 3),
    ("tags", _l("Tags"), "tags", 12),
    ("notes", _l("Notes"), "textarea", 12),
]
CONTACT_FORM = [
    ("name", _l("Name"), "text", 6),
    ("code", _l("Contact code"), "text", 6),
    ("department", _l("Department"), "text", 6),
    ("title", _l("Job title"), "text", 6),
    ("phone", _l("Phone"), "text", 4),
    ("mobile", _l("Mobile"), "text", 4),
    ("email", _l("Email"), "email", 4),
    ("birthday", _l("Birthday"), "date", 4),
    ("is_primary", _l("Primary contact"), "check", 8),
    ("notes", _l("Notes"), "textarea", 12),
]


def _labels():
    return {
        "lifecycle": {
            "prospect": _("Prospect"),
            "first_purchase": _("First purchase"),
            "repeat": _("Repeat"),
            "loyal": _("Loyal"),
            "at_risk": _("At risk"),
            "lost": _("Lost"),
        },
    }


def _form_data(form, field_defs) -> dict:
    """Turn a submitted HTML form into the dict the schema validates."""
    data = {}
    for name, _label, kind, _w in field_defs:
        if kind == "check":
            data[name] = form.get(name) == "on"
            continue
        if name not in form:
            continue
        value = form.get(name, "").strip()
        if kind == "tags":
            data[name] = [t for t in value.replace("，", ",").split(",") if t.strip()]
        elif kind in ("category", "owner"):
            if value:
                data[name] = value  # the schema turns it into an int or says why not
            elif kind == "category":
                data[name] = None
        elif value == "" and name != "name":
            data[name] = None
        else:
            data[name] = value
    if form.get("version"):
        data["version"] = form.get("version")
    return data


def _choices(s, customer=None):
    if has_permission(current_user, "customers.transfer"):
        owners = s.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name)).all()
    else:  # without the right to give customers away, the owner stays who it is
        owner = s.get(User, customer.owner_id) if customer else current_user
        owners = [owner]
    return {
        "categories": services.categories(s, active_only=True),
        "owners": owners,
        "grades": GRADES,
        "lifecycles": LIFECYCLE,
    }


@bp.get("/")
@permission_required("customers.view")
def index():
    s = session()
    try:
        args = CustomerFilter().load({k: v for k, v in request.args.items() if v != ""})
    except ma.ValidationError as exc:
        flash(_("Some filters were not understood: %(f)s", f=", ".join(exc.messages)), "warning")
        args = CustomerFilter().load({})
    filters = services.Filters.from_args(args)
    page = args["page"]
    rows, total, exact = services.customer_page(
        s, current_user, filters, parse_sort(args.get("sort"), services.SORTABLE), page, PER_PAGE
    )
    row_owners = (
        {u.id: u for u in s.scalars(select(User).where(User.id.in_({r.owner_id for r in rows})))}
        if rows
        else {}
    )
    ctx = dict(
        rows=rows,
        total=total,
        exact=exact,
        page=page,
        per_page=PER_PAGE,
        filters=filters.as_dict(),
        args=args,
        row_owners=row_owners,
        saved=services.saved_filters(s, current_user),
        labels=_labels(),
        cats={c.id: c for c in services.categories(s)},
        **_choices(s),
    )
    if request.headers.get("HX-Request"):
        return render_template("crm_customers/_table.html", **ctx)
    return render_template("crm_customers/index.html", **ctx)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("customers.create")
def new():
    s = session()
    errors, values = {}, {"owner_id": current_user.id, "lifecycle": "prospect"}
    if request.method == "POST":
        values = _form_data(request.form, FORM_FIELDS)
        try:
            data = CustomerIn().load(values)
            dups = services.find_duplicates(
                s, data.get("name"), data.get("phone"), data.get("email")
            )
            if dups and not request.form.get("confirm_duplicate"):
                return render_template(
                    "crm_customers/form.html",
                    fields=FORM_FIELDS,
                    values=values,
                    errors={},
                    customer=None,
                    duplicates=dups,
                    **_choices(s),
                ), 409
            c = services.create_customer(s, current_user, data)
            s.commit()
            flash(_("Customer %(code)s created.", code=c.code), "success")
            return redirect(url_for("customers.detail", customer_id=c.id), 303)
        except ma.ValidationError as exc:
            errors = exc.messages
        except services.CustomerError as exc:
            s.rollback()
            errors = {exc.field or "name": [str(exc)]}
    return render_template(
        "crm_customers/form.html",
        fields=FORM_FIELDS,
        values=values,
        errors=errors,
        customer=None,
        duplicates=[],
        **_choices(s),
    ), 400 if errors else 200


def _own_or_404(customer_id, include_deleted=False) -> Customer:
    c = services.get_customer(session(), current_user, customer_id, include_deleted)
    if c is None:
        abort(404)
    return c


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@permission_required("customers.edit")
def edit(customer_id):
    s = session()
    c = _own_or_404(customer_id)
    errors = {}
    values = {f: getattr(c, f) for f, *_ in FORM_FIELDS if f != "tags"}
    values["tags"] = c.tags
    values["version"] = c.version
    status = 200
    if request.method == "POST":
        values = _form_data(request.form, FORM_FIELDS)
        try:
            data = CustomerPatch().load(values)
            services.update_customer(s, current_user, c, data)
            s.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("customers.detail", customer_id=c.id), 303)
        except ma.ValidationError as exc:
            errors, status = exc.messages, 400
        except services.CustomerError as exc:
            s.rollback()
            errors, status = (
                {exc.field or "name": [str(exc)]},
                exc.status if exc.status != 422 else 400,
            )
    return render_template(
        "crm_customers/form.html",
        fields=FORM_FIELDS,
        values=values,
        errors=errors,
        customer=c,
        duplicates=[],
        **_choices(s, c),
    ), status


@bp.get("/<int:customer_id>")
@permission_required("customers.view")
def detail(customer_id):
    s = session()
    c = _own_or_404(customer_id, include_deleted=True)
    # This module's own hook first (crm_customer_panels), then the host's generic one.
    panels = render_panels(
        g.crm_runtime.collect("crm_customer_panels", customer=c, user=current_user)
    ) + record_panels(services.ENTITY, c, current_user)
    owner = s.get(User, c.owner_id)
    return render_template(
        "crm_customers/detail.html",
        c=c,
        owner=owner,
        panels=panels,
        contacts=sorted(
            (x for x in c.contacts if x.deleted_at is None), key=lambda x: (not x.is_primary, x.id)
        ),
        timeline=services.timeline(s, c, current_user),
        labels=_labels(),
        can_edit=has_permission(current_user, "customers.edit"),
    )


@bp.post("/<int:customer_id>/delete")
@permission_required("customers.delete")
def delete(customer_id):
    s = session()
    c = _own_or_404(customer_id)
    services.trash_customer(s, current_user, c)
    s.commit()
    flash(_("%(name)s moved to the trash.", name=c.name), "success")
    return redirect(url_for("customers.index"), 303)


@bp.post("/<int:customer_id>/restore")
@permission_required("customers.delete")
def restore(customer_id):
    s = session()
    c = _own_or_404(customer_id, include_deleted=True)
    services.restore_customer(s, current_user, c)
    s.commit()
    flash(_("%(name)s restored.", name=c.name), "success")
    return redirect(url_for("customers.detail", customer_id=c.id), 303)


@bp.route("/<int:customer_id>/contacts/new", methods=["GET", "POST"])
@bp.route("/<int:customer_id>/contacts/<int:contact_id>", methods=["GET", "POST"])
@permission_required("customers.edit")
def contact_form(customer_id, contact_id=None):
    s = session()
    c = _own_or_404(customer_id)
    ct = None
    if contact_id is not None:
        ct = services.get_contact(s, current_user, contact_id)
        if ct is None or ct.customer_id != c.id:
            abort(404)
    values = {f: getattr(ct, f) for f, *_ in CONTACT_FORM} if ct else {}
    if ct:
        values["version"] = ct.version
    errors, status = {}, 200
    if request.method == "POST":
        if request.form.get("action") == "delete" and ct is not None:
            services.trash_contact(s, current_user, ct)
            s.commit()
            flash(_("Contact removed."), "success")
            return redirect(url_for("customers.detail", customer_id=c.id), 303)
        values = _form_data(request.form, CONTACT_FORM)
        if values.get("birthday") is None:
            values.pop("birthday", None)
        try:
            if ct is None:
                services.create_contact(s, current_user, c, ContactIn().load(values))
            else:
                services.update_contact(s, current_user, ct, ContactPatch().load(values))
            s.commit()
            flash(_("Contact saved."), "success")
            return redirect(url_for("customers.detail", customer_id=c.id), 303)
        except ma.ValidationError as exc:
            errors, status = exc.messages, 400
        except services.CustomerError as exc:
            s.rollback()
            errors, status = {exc.field or "name": [str(exc)]}, 400
    return render_template(
        "crm_customers/contact_form.html",
        c=c,
        ct=ct,
        fields=CONTACT_FORM,
        values=values,
        errors=errors,
    ), status


@bp.get("/lookup")
@permission_required("customers.view")
def lookup():
    number = (request.args.get("phone") or "").strip()[:40]
    results, error = [], None
    if number:
        try:
            results = services.lookup_phone(session(), current_user, number)
        except services.CustomerError as exc:
            error = str(exc)
        if len(results) == 1 and request.args.get("go") == "1":
            return redirect(url_for("customers.detail", customer_id=results[0]["customer"].id))
    return render_template("crm_customers/lookup.html", number=number, results=results, error=error)


@bp.post("/saved-filters")
@permission_required("customers.view")
def save_filter():
    s = session()
    query = {k: v for k, v in request.form.items() if k not in ("csrf_token", "filter_name")}
    try:
        services.save_filter(s, current_user, request.form.get("filter_name", ""), query)
        s.commit()
        flash(_("Filter saved."), "success")
    except services.CustomerError as exc:
        s.rollback()
        flash(str(exc), "danger")
    return redirect(url_for("customers.index", **{k: v for k, v in query.items() if v}), 303)


@bp.post("/saved-filters/<int:filter_id>/delete")
@permission_required("customers.view")
def delete_filter(filter_id):
    s = session()
    f = s.get(SavedFilter, filter_id)
    if f is None or f.user_id != current_user.id:
        abort(404)
    s.delete(f)
    s.commit()
    return redirect(url_for("customers.index"), 303)


@bp.post("/handover")
@permission_required("customers.transfer")
def handover():
    s = session()
    ids = request.form.getlist("ids", type=int)
    owner_id = request.form.get("owner_id", type=int)
    customers = [c for c in (services.get_customer(s, current_user, i) for i in ids) if c]
    if not customers or len(customers) != len(set(ids)):
        flash(_("Choose customers first."), "warning")
        return redirect(request.referrer or url_for("customers.index"), 303)
    try:
        n = services.handover(
            s, current_user, customers, owner_id or 0, request.form.get("note", "")
        )
        s.commit()
        flash(_("%(n)s customers handed over.", n=n), "success")
    except services.CustomerError as exc:
        s.rollback()
        flash(str(exc), "danger")
    return redirect(url_for("customers.index"), 303)


@bp.route("/<int:customer_id>/merge", methods=["GET", "POST"])
@permission_required("customers.merge")
def merge(customer_id):
    s = session()
    target = _own_or_404(customer_id)
    source = None
    code = (request.values.get("source") or "").strip()[:40]
    if code:
        found = s.scalar(
            select(Customer).where(Customer.code == code, Customer.deleted_at.is_(None))
        )
        if found is not None and services.get_customer(s, current_user, found.id):
            source = found
        else:
            flash(_("No customer with the code %(code)s that you may see.", code=code), "warning")
    if request.method == "POST" and source is not None and request.form.get("confirm") == "1":
        try:
            services.check_version(target, request.form.get("version"))
            services.merge(s, current_user, target, source)
            s.commit()
            flash(_("Merged."), "success")
            return redirect(url_for("customers.detail", customer_id=target.id), 303)
        except services.CustomerError as exc:
            s.rollback()
            flash(str(exc), "danger")
    dups = services.find_duplicates(
        s, target.name, target.phone, target.email, exclude_id=target.id
    )
    return render_template("crm_customers/merge.html", target=target, source=source, dups=dups)


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("customers.manage")
def settings():
    s = session()
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "shares":
                services.set_grade_shares(
                    s, *(request.form.get(k, type=int) for k in ("A", "B", "C"))
                )
                flash(_("Grade thresholds saved."), "success")
            elif action == "regrade":
                res = services.regrade(s)
                flash(
                    _(
                        "Regraded: A %(a)s, B %(b)s, C %(c)s.",
                        a=res["counts"]["A"],
                        b=res["counts"]["B"],
                        c=res["counts"]["C"],
                    ),
                    "success",
                )
            elif action == "category":
                cat = s.get(Category, request.form.get("category_id", type=int) or 0)
                services.save_category(
                    s,
                    request.form.get("code"),
                    request.form.get("name"),
                    request.form.get("position", type=int) or 100,
                    request.form.get("is_active") == "on",
                    category=cat,
                )
                flash(_("Category saved."), "success")
            s.commit()
        except services.CustomerError as exc:
            s.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("customers.settings"), 303)
    return render_template(
        "crm_customers/settings.html",
        categories=services.categories(s),
        shares=services.grade_shares(s),
    )


def grade_widget_html() -> str:
    s = session()
    dist = services.grade_distribution(s, current_user)
    colors = {"A": "#2f6fed", "B": "#20c997", "C": "#ffc107", None: "#adb5bd"}
    option = {
        "tooltip": {"trigger": "item"},
        "legend": {"bottom": 0},
        "series": [
            {
                "type": "pie",
                "radius": ["45%", "72%"],
                "avoidLabelOverlap": True,
                "label": {"formatter": "{b}: {c}"},
                "data": [
                    {"name": g or _("Ungraded"), "value": n, "itemStyle": {"color": colors[g]}}
                    for g, n in dist.items()
                    if n
                ],
            }
        ],
    }
    total = sum(dist.values())
    if not total:
        return str(
            Markup('<p class="text-body-secondary mb-0">{}</p>').format(_("No customers yet."))
        )
    caption = Markup(
        '<div class="small text-body-secondary text-center">{} · <a href="{}">{}</a></div>'
    )
    return str(chart(option, height=240, label=_("Customers by grade"))) + str(
        caption.format(
            ngettext("%(num)s customer", "%(num)s customers", total),
            url_for("customers.index"),
            _("Open the list"),
        )
    )
