"""The customers audience for batch mailings (the channels module's hook
``crm_mailing_audiences``): customers matching the list's filters, within the sender's scope,
reached through their contacts' email addresses.

Plain dicts only: customers does not import the channels module.
"""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import and_, func, select

from crm_host.models import User

from . import services
from .i18n import N_, _
from .models import Contact, Customer
from .schemas import CustomerFilter

NAME = "customers.filter"
CHUNK = 500
# Labels in English, marked for the catalog: the channels module translates them as it shows
# them (``_(label)``), so they stay plain text here.
FIELDS = {
    "customer_name": N_("Customer name"),
    "customer_code": N_("Customer code"),
    "contact_name": N_("Contact name"),
    "contact_title": N_("Contact's job title"),
    "owner_name": N_("Account owner's name"),
    "owner_email": N_("Account owner's email"),
}
PARAMS = {
    "q": N_("Search"),
    "grade": N_("Grade"),
    "lifecycle": N_("Lifecycle stage"),
    "region": N_("Region"),
    "city": N_("City"),
    "industry": N_("Industry"),
    "tag": N_("Tag"),
    "to": {
        "label": N_("Contacts"),
        "choices": {"primary": N_("Primary contact"), "all": N_("Every contact with an email")},
    },
}
FILTER_KEYS = set(services.Filters.__dataclass_fields__) - {"trash"}


def _filters(params: dict) -> tuple[services.Filters, bool]:
    params = dict(params or {})
    to = str(params.pop("to", "") or "primary").strip().lower()
    if to not in ("primary", "all"):
        raise ValueError(_("'to' is 'primary' (each customer's primary contact) or 'all'."))
    unknown = sorted(set(params) - FILTER_KEYS)
    if unknown:
        raise ValueError(
            _(
                "unknown filter %(names)s; use %(allowed)s",
                names=", ".join(unknown),
                allowed=", ".join(sorted(FILTER_KEYS)),
            )
        )
    raw = {k: v for k, v in params.items() if v not in (None, "")}
    try:
        args = CustomerFilter().load({k: str(v) for k, v in raw.items()})
    except ma.ValidationError as exc:
        raise ValueError(
            "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.messages.items())
        ) from None
    filters = services.Filters.from_args(args)
    filters.trash = False
    return filters, to == "all"


def _statement(session, user, params):
    filters, to_all = _filters(params)
    ids = services.customer_query(session, user, filters).with_only_columns(Customer.id)
    has_email = and_(
        Contact.customer_id == Customer.id,
        Contact.deleted_at.is_(None),
        Contact.email.is_not(None),
        Contact.email != "",
    )
    stmt = (
        select(
            Customer.id,
            Customer.code,
            Customer.name,
            Customer.email,
            Customer.owner_id,
            Contact.id,
            Contact.name,
            Contact.title,
            Contact.email,
        )
        .select_from(Customer)
        .outerjoin(Contact, has_email)
        .where(Customer.id.in_(ids))
    )
    return stmt, to_all


def recipients(session, user, params):
    """Streams ``{customer_id, contact_id, email, name, fields}``: the primary contact with an
    email (else the first contact with one, else the customer's own address), or with
    ``to=all`` every contact that has an email address."""
    stmt, to_all = _statement(session, user, params)
    stmt = stmt.order_by(Customer.id, Contact.is_primary.desc(), Contact.id)
    owners: dict[int, tuple[str, str]] = {}
    last_customer = None
    for cid, code, cname, cemail, owner_id, ct_id, ct_name, ct_title, ct_email in session.execute(
        stmt.execution_options(yield_per=CHUNK)
    ):
        if cid == last_customer and not to_all:
            continue
        last_customer = cid
        email = ct_email or cemail or ""  # no address: the mailing lists it as invalid
        if owner_id not in owners:
            u = session.get(User, owner_id) if owner_id else None
            owners[owner_id] = (u.name, u.email) if u else ("", "")
        oname, oemail = owners[owner_id]
        yield {
            "customer_id": cid,
            "contact_id": ct_id,
            "email": email.strip(),
            "name": ct_name or cname,
            "fields": {
                "customer_name": cname or "",
                "customer_code": code or "",
                "contact_name": ct_name or "",
                "contact_title": ct_title or "",
                "owner_name": oname,
                "owner_email": oemail,
            },
        }


def count(session, user, params) -> int:
    """As many as ``recipients`` yields: one per customer with ``to=primary``; with
    ``to=all`` one per contact with an email (or one for a customer without any)."""
    stmt, to_all = _statement(session, user, params)
    if not to_all:
        stmt = stmt.with_only_columns(Customer.id).distinct()
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def audiences(user) -> list[dict]:
    return [
        {
            "name": NAME,
            "label": N_("Customers matching a filter"),
            "recipients": recipients,
            "count": count,
            "fields": FIELDS,
            "params": PARAMS,
        }
    ]
