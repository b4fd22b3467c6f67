"""REST API of the customers module: thin endpoints over services."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user

from crm_host.api import (
    Blueprint,
    abort,
    envelope,
    page_schema,
    parse_sort,
    refusals,
    require,
)
from crm_host.db import session

from . import services
from .i18n import _
from .models import Category, Customer
from .schemas import (
    CategoryIn,
    CategoryOut,
    ContactIn,
    ContactOut,
    ContactPatch,
    CustomerCreated,
    CustomerFilter,
    CustomerIn,
    CustomerListItem,
    CustomerOut,
    CustomerPatch,
    DuplicateOut,
    DuplicateQuery,
    GradeSharesIn,
    GradesOut,
    HandoverIn,
    HandoverOut,
    LookupOut,
    MergeIn,
    RegradeOut,
    SavedFilterIn,
    SavedFilterOut,
)

blp = Blueprint(
    "Customers",
    __name__,
    url_prefix="/api/v1",
    description="Customers, contacts, caller lookup, grading (customers module)",
)
Err = services.CustomerError


def _customer_or_404(customer_id: int, include_deleted=False) -> Customer:
    c = services.get_customer(session(), current_user, customer_id, include_deleted)
    if c is None:
        abort(404, message=_("No such customer."))
    return c


@blp.route("/customers", methods=["GET"])
@blp.arguments(CustomerFilter, location="query")
@blp.response(200, page_schema(CustomerListItem))
def list_customers(args):
    """Customers in your scope, filtered (``q`` searches name, short name, code, phone, email)."""
    require("customers.view")
    page, per_page = args["page"], args["per_page"]
    items, total, exact = services.customer_page(
        session(),
        current_user,
        services.Filters.from_args(args),
        parse_sort(args.get("sort"), services.SORTABLE),
        page,
        per_page,
    )
    return envelope(items, page, per_page, total, exact)


@blp.route("/customers", methods=["POST"])
@blp.arguments(CustomerIn)
@blp.response(201, CustomerCreated)
def create_customer(args):
    """Create a customer; ``duplicates`` lists existing customers that look the same."""
    require("customers.create")
    s = session()
    with refusals(s, Err):
        dups = services.find_duplicates(s, args.get("name"), args.get("phone"), args.get("email"))
        c = services.create_customer(s, current_user, args)
    s.commit()
    c.duplicates = dups  # shown once, in this answer only
    return c


@blp.route("/customers/<int:customer_id>", methods=["GET"])
@blp.response(200, CustomerOut)
def get_customer(customer_id):
    require("customers.view")
    return _customer_or_404(customer_id)


@blp.route("/customers/<int:customer_id>", methods=["PATCH"])
@blp.arguments(CustomerPatch)
@blp.response(200, CustomerOut)
def patch_customer(args, customer_id):
    """Change fields; send the ``version`` you read (409 when someone changed it since)."""
    require("customers.edit")
    s = session()
    c = _customer_or_404(customer_id)
    with refusals(s, Err):
        services.update_customer(s, current_user, c, args)
    s.commit()
    return c


@blp.route("/customers/<int:customer_id>", methods=["DELETE"])
@blp.response(204)
def delete_customer(customer_id):
    """Move a customer to the trash (restore with POST .../restore)."""
    require("customers.delete")
    s = session()
    services.trash_customer(s, current_user, _customer_or_404(customer_id))
    s.commit()


@blp.route("/customers/<int:customer_id>/restore", methods=["POST"])
@blp.response(200, CustomerOut)
def restore_customer(customer_id):
    require("customers.delete")
    s = session()
    c = _customer_or_404(customer_id, include_deleted=True)
    if c.deleted_at is None:
        abort(409, message=_("This customer is not in the trash."))
    services.restore_customer(s, current_user, c)
    s.commit()
    return c


@blp.route("/customers/<int:customer_id>/contacts", methods=["GET"])
@blp.response(200, ContactOut(many=True))
def list_contacts(customer_id):
    require("customers.view")
    return [ct for ct in _customer_or_404(customer_id).contacts if ct.deleted_at is None]


@blp.route("/customers/<int:customer_id>/contacts", methods=["POST"])
@blp.arguments(ContactIn)
@blp.response(201, ContactOut)
def create_contact(args, customer_id):
    require("customers.edit")
    s = session()
    c = _customer_or_404(customer_id)
    with refusals(s, Err):
        ct = services.create_contact(s, current_user, c, args)
    s.commit()
    return ct


def _contact_or_404(contact_id):
    ct = services.get_contact(session(), current_user, contact_id)
    if ct is None:
        abort(404, message=_("No such contact."))
    return ct


@blp.route("/contacts/<int:contact_id>", methods=["GET"])
@blp.response(200, ContactOut)
def get_contact(contact_id):
    require("customers.view")
    return _contact_or_404(contact_id)


@blp.route("/contacts/<int:contact_id>", methods=["PATCH"])
@blp.arguments(ContactPatch)
@blp.response(200, ContactOut)
def patch_contact(args, contact_id):
    require("customers.edit")
    s = session()
    ct = _contact_or_404(contact_id)
    with refusals(s, Err):
        services.update_contact(s, current_user, ct, args)
    s.commit()
    return ct


@blp.route("/contacts/<int:contact_id>", methods=["DELETE"])
@blp.response(204)
def delete_contact(contact_id):
    require("customers.edit")
    s = session()
    services.trash_contact(s, current_user, _contact_or_404(contact_id))
    s.commit()


@blp.route("/lookup/phone/<path:number>", methods=["GET"])
@blp.response(200, LookupOut(many=True))
def lookup_phone(number):
    """Caller lookup: any written form of a number finds the customer or contact."""
    require("customers.view")
    with refusals(session(), Err):
        rows = services.lookup_phone(session(), current_user, number[:40])
    for r in rows:
        r["url"] = url_for("customers.detail", customer_id=r["customer"].id)
    return rows


@blp.route("/customers/duplicates", methods=["GET"])
@blp.arguments(DuplicateQuery, location="query")
@blp.response(200, DuplicateOut(many=True))
def duplicates(args):
    """Existing customers with the same name, phone (any form) or email."""
    require("customers.create")
    return services.find_duplicates(
        session(), args.get("name"), args.get("phone"), args.get("email"), args.get("exclude_id")
    )


@blp.route("/customers/<int:customer_id>/merge", methods=["POST"])
@blp.arguments(MergeIn)
@blp.response(200, CustomerOut)
def merge(args, customer_id):
    """Merge ``source_id`` into this customer (contacts, phones, timeline, other modules'
    records); the source disappears. Send this customer's ``version``."""
    require("customers.merge")
    s = session()
    target = _customer_or_404(customer_id)
    source = services.get_customer(s, current_user, args["source_id"])
    if source is None:
        abort(404, message=_("No such source customer."))
    services.check_version(target, args["version"])
    with refusals(s, Err):
        services.merge(s, current_user, target, source)
    s.commit()
    return target


@blp.route("/customers/handover", methods=["POST"])
@blp.arguments(HandoverIn)
@blp.response(200, HandoverOut)
def handover(args):
    """Give customers (all within your scope) to another owner."""
    s = session()
    customers = []
    for cid in dict.fromkeys(args["customer_ids"]):
        c = services.get_customer(s, current_user, cid)
        if c is None:
            abort(404, message=_("No such customer: %(ids)s.", ids=cid))
        customers.append(c)
    with refusals(s, Err):
        moved = services.handover(s, current_user, customers, args["owner_id"], args["note"])
    s.commit()
    return {"moved": moved}


@blp.route("/customers/categories", methods=["GET"])
@blp.response(200, CategoryOut(many=True))
def list_categories():
    require("customers.view")
    return services.categories(session())


@blp.route("/customers/categories", methods=["POST"])
@blp.arguments(CategoryIn)
@blp.response(201, CategoryOut)
def create_category(args):
    require("customers.manage")
    s = session()
    with refusals(s, Err):
        cat = services.save_category(
            s, args["code"], args["name"], args["position"], args["is_active"]
        )
    s.commit()
    return cat


@blp.route("/customers/categories/<int:category_id>", methods=["PUT"])
@blp.arguments(CategoryIn)
@blp.response(200, CategoryOut)
def update_category(args, category_id):
    require("customers.manage")
    s = session()
    cat = s.get(Category, category_id)
    if cat is None:
        abort(404, message=_("No such category."))
    with refusals(s, Err):
        services.save_category(
            s, args["code"], args["name"], args["position"], args["is_active"], category=cat
        )
    s.commit()
    return cat


@blp.route("/customers/saved-filters", methods=["GET"])
@blp.response(200, SavedFilterOut(many=True))
def list_saved_filters():
    require("customers.view")
    return services.saved_filters(session(), current_user)


@blp.route("/customers/saved-filters", methods=["POST"])
@blp.arguments(SavedFilterIn)
@blp.response(201, SavedFilterOut)
def create_saved_filter(args):
    require("customers.view")
    s = session()
    with refusals(s, Err):
        f = services.save_filter(s, current_user, args["name"], args["query"])
    s.commit()
    return f


@blp.route("/customers/saved-filters/<int:filter_id>", methods=["DELETE"])
@blp.response(204)
def delete_saved_filter(filter_id):
    from .models import SavedFilter

    s = session()
    f = s.get(SavedFilter, filter_id)
    if f is None or f.user_id != current_user.id:
        abort(404, message=_("No such saved filter."))
    s.delete(f)
    s.commit()


@blp.route("/customers/grades", methods=["GET"])
@blp.response(200, GradesOut)
def grades():
    """The ABC distribution within your scope and the thresholds in force."""
    require("customers.view")
    dist = services.grade_distribution(session(), current_user)
    return {
        "distribution": {k or "none": v for k, v in dist.items()},
        "shares": services.grade_shares(session()),
    }


@blp.route("/customers/grades/shares", methods=["PUT"])
@blp.arguments(GradeSharesIn)
@blp.response(200, GradesOut)
def set_shares(args):
    require("customers.manage")
    s = session()
    with refusals(s, Err):
        shares = services.set_grade_shares(s, args["A"], args["B"], args["C"])
    s.commit()
    return {"distribution": {}, "shares": shares}


@blp.route("/customers/regrade", methods=["POST"])
@blp.response(200, RegradeOut)
def regrade():
    """Recompute ABC grades now from the revenue other modules report."""
    require("customers.manage")
    s = session()
    result = services.regrade(s)
    s.commit()
    return result
