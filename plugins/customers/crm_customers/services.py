"""Business rules of the customers module. Pages, API, CLI, importers and tests call these;
nothing here knows about HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from flask import current_app, g
from sqlalchemy import column, delete, func, or_, select, table, text, union, update

from crm_host import audit, numbering, textsearch
from crm_host.api import page_of
from crm_host.db import check_version, utcnow  # noqa: F401  (services.check_version)
from crm_host.models import User
from crm_host.security import has_permission, in_scope, scope_filter

from . import phones
from .i18n import _, _l
from .models import (
    GRADES,
    LIFECYCLE,
    Category,
    Contact,
    Customer,
    CustomerTag,
    Phone,
    SavedFilter,
    Setting,
    TimelineEntry,
    name_key,
    name_key_of,
)

ENTITY = "customers.customer"
CONTACT_ENTITY = "customers.contact"
NUMBER_KIND = "customer"
DEFAULT_NUMBER_PATTERN = "C{yyyy}{seq:05}"
DEFAULT_GRADE_SHARES = {"A": 70, "B": 20, "C": 10}
# The default categories' names are data, shown through gettext so each language reads them;
# these markers put them in the catalog.
_CATEGORY_NAMES = (_l("Existing customer"), _l("Potential customer"), _l("Partner"), _l("Agent"))
DEFAULT_CATEGORIES = [
    ("existing", "Existing customer"),
    ("potential", "Potential customer"),
    ("partner", "Partner"),
    ("agent", "Agent"),
]
CUSTOMER_FIELDS = (
    "name",
    "short_name",
    "category_id",
    "grade",
    "lifecycle",
    "industry",
    "region",
    "province",
    "city",
    "address",
    "postal_code",
    "phone",
    "fax",
    "email",
    "website",
    "source",
    "owner_id",
    "credit_rating",
    "tax_id",
    "notes",
)
CONTACT_FIELDS = (
    "code",
    "name",
    "department",
    "title",
    "phone",
    "mobile",
    "email",
    "birthday",
    "notes",
    "is_primary",
)


class CustomerError(ValueError):
    """A refused change; ``field`` names the input at fault. The message is a lazy string
    (``i18n._l``): ``str(exc)`` reads it in the user's language."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


# --- Settings and categories -------------------------------------------------------------


def get_setting(session, key: str, default):
    row = session.get(Setting, key)
    return row.value if row is not None else default


def set_setting(session, key: str, value) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def grade_shares(session) -> dict:
    return dict(get_setting(session, "grade_shares", DEFAULT_GRADE_SHARES))


def set_grade_shares(session, a: int, b: int, c: int) -> dict:
    if any(not isinstance(x, int) or x < 0 or x > 100 for x in (a, b, c)) or a + b + c != 100:
        raise CustomerError(
            _l("The A, B and C shares are whole percentages adding up to 100."), "grade_shares"
        )
    value = {"A": a, "B": b, "C": c}
    set_setting(session, "grade_shares", value)
    return value


def ensure_default_categories(session) -> None:
    if session.scalar(select(func.count()).select_from(Category)) == 0:
        for i, (code, name) in enumerate(DEFAULT_CATEGORIES):
            session.add(Category(code=code, name=name, position=(i + 1) * 10))
        session.flush()


def categories(session, active_only: bool = False) -> list[Category]:
    stmt = select(Category).order_by(Category.position, Category.id)
    if active_only:
        stmt = stmt.where(Category.is_active.is_(True))
    return list(session.scalars(stmt))


def save_category(
    session,
    code: str,
    name: str,
    position: int = 100,
    is_active: bool = True,
    category: Category | None = None,
) -> Category:
    code = (code or "").strip().lower()
    name = (name or "").strip()
    if not code or len(code) > 32 or not code.replace("_", "").isalnum():
        raise CustomerError(_l("A code of letters, digits or _ (at most 32) is required."), "code")
    if not name or len(name) > 64:
        raise CustomerError(_l("A name of 1 to 64 characters is required."), "name")
    clash = session.scalar(select(Category).where(Category.code == code))
    if clash is not None and clash is not category:
        raise CustomerError(_l("The category code '%(code)s' is taken.", code=code), "code")
    before = audit.snapshot(category) if category else None
    if category is None:
        category = Category(code=code, name=name, position=position, is_active=is_active)
        session.add(category)
    else:
        category.code, category.name = code, name
        category.position, category.is_active = position, is_active
    session.flush()
    audit.record(
        session, "customers.category", category, "update" if before else "create", before=before
    )
    return category


# --- Reading -----------------------------------------------------------------------------


@dataclass
class Filters:
    q: str | None = None
    category_id: int | None = None
    region: str | None = None
    province: str | None = None
    city: str | None = None
    industry: str | None = None
    grade: str | None = None
    lifecycle: str | None = None
    owner_id: int | None = None
    tag: str | None = None
    trash: bool = False

    @classmethod
    def from_args(cls, args: dict) -> Filters:
        return cls(
            **{k: args.get(k) for k in cls.__dataclass_fields__ if args.get(k) not in (None, "")}
        )

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "", False)}


def _looks_like_phone(q: str) -> bool:
    digits = "".join(ch for ch in q if ch.isdigit())
    return len(digits) >= 6 and len(digits) >= len(q.replace(" ", "")) - 4


def _search_condition(session, q: str):
    """A condition the database answers from its own full-text index."""
    q = q.strip()[:100]
    conds = []
    # Something that looks like a phone number: also match by number, in any written form.
    if _looks_like_phone(q):
        ids = phone_match_ids(session, q)
        if ids is not None:
            conds.append(Customer.id.in_(ids))
    words = textsearch.match(session, "customers_customer", Customer.id, q)
    if words is not None:
        conds.append(words)
    if not conds:
        return Customer.id.is_(None)
    return or_(*conds)


def customer_query(session, user, filters: Filters, wide: bool = False):
    """The SELECT for a customer list: the user's scope, then the filters. ``wide``: the list
    matches many rows (see ``crm_host.api.page_of``)."""
    stmt = select(Customer)
    cond = scope_filter(user, Customer.owner_id, Customer.department_id, wide=wide)
    if cond is not None:
        stmt = stmt.where(cond)
    stmt = stmt.where(
        Customer.deleted_at.is_not(None) if filters.trash else Customer.deleted_at.is_(None)
    )
    for attr in (
        "category_id",
        "region",
        "province",
        "city",
        "industry",
        "grade",
        "lifecycle",
        "owner_id",
    ):
        value = getattr(filters, attr)
        if value not in (None, ""):
            stmt = stmt.where(getattr(Customer, attr) == value)
    if filters.tag:
        stmt = stmt.where(
            Customer.id.in_(
                select(CustomerTag.customer_id).where(
                    CustomerTag.tag == filters.tag.strip().lower()
                )
            )
        )
    if filters.q and filters.q.strip():
        stmt = stmt.where(_search_condition(session, filters.q))
    return stmt


def customer_page(session, user, filters: Filters, order: list, page: int, per_page: int):
    """One page of the customer list and its total (capped): ``(customers, total, exact)``.
    ``order``: ORDER BY clauses of the user's sort, or ``[]`` for newest first."""
    match = None
    if not order and filters.q and session.bind.dialect.name == "sqlite":
        q = filters.q.strip()[:100]
        match = None if _looks_like_phone(q) else textsearch.fts5_match(q)
    if match:
        # Newest first while searching on SQLite: start from the FTS5 index, walking its
        # rowids backwards, and stop after one page. ``id IN (SELECT rowid ... MATCH)``
        # would first collect every match (166,000 for 科技 at a million customers).
        fts = table("customers_customer_fts", column("rowid"))
        rest = replace(filters, q=None)

        def build(wide):
            return (
                customer_query(session, user, rest, wide=wide)
                .join(fts, fts.c.rowid == Customer.id)
                .where(text("customers_customer_fts MATCH :m").bindparams(m=match))
            )

        return page_of(session, build, [fts.c.rowid.desc()], page, per_page)
    if order:
        clauses = [*order, Customer.id]
    else:
        # Newest first. When the capped count was exact, at most CRM_COUNT_CAP rows match:
        # sorting them is cheap, whereas walking the primary key backwards (what a planner
        # picks when it overestimates the matches) can read most of the table first; the
        # leader's q=pac on PostgreSQL read 215,000 rows for 128 (bench/RESULTS.md).
        def clauses(wide):
            return [Customer.id.desc()] if wide else [(Customer.id + 0).desc()]

    return page_of(
        session,
        lambda wide: customer_query(session, user, filters, wide=wide),
        clauses,
        page,
        per_page,
    )


SORTABLE = {
    "name": Customer.name,
    "code": Customer.code,
    "created_at": Customer.created_at,
    "updated_at": Customer.updated_at,
    "grade": Customer.grade,
    "revenue": Customer.revenue,
    "id": Customer.id,
}


def get_customer(session, user, customer_id: int, include_deleted: bool = False) -> Customer | None:
    """The customer if it exists and ``user`` may see it; otherwise None (callers answer 404)."""
    c = session.get(Customer, customer_id)
    if c is None or (c.deleted_at is not None and not include_deleted):
        return None
    if not in_scope(user, c, "owner_id", "department_id"):
        return None
    return c


def get_contact(session, user, contact_id: int) -> Contact | None:
    ct = session.get(Contact, contact_id)
    if ct is None or ct.deleted_at is not None:
        return None
    if get_customer(session, user, ct.customer_id) is None:
        return None
    return ct


# --- Writing -----------------------------------------------------------------------------


def _clean(data: dict, fields: Iterable[str]) -> dict:
    out = {}
    for k in fields:
        if k in data:
            v = data[k]
            if isinstance(v, str):
                v = v.strip() or None
            out[k] = v
    return out


def _check_refs(session, user, data: dict, customer: Customer | None) -> None:
    if data.get("category_id") is not None and session.get(Category, data["category_id"]) is None:
        raise CustomerError(_l("Unknown category."), "category_id")
    if data.get("grade") not in (None, *GRADES):
        raise CustomerError(_l("Grade is A, B or C."), "grade")
    if "lifecycle" in data and data["lifecycle"] not in LIFECYCLE:
        raise CustomerError(
            _l("Lifecycle is one of %(choices)s.", choices=", ".join(LIFECYCLE)), "lifecycle"
        )
    if "owner_id" in data and data["owner_id"] is not None:
        owner = session.get(User, data["owner_id"])
        if owner is None or not owner.is_active:
            raise CustomerError(_l("Unknown or inactive owner."), "owner_id")
        current = customer.owner_id if customer else user.id
        if data["owner_id"] != current and not has_permission(user, "customers.transfer"):
            raise CustomerError(
                _l(
                    "Giving a customer to someone else needs '%(permission)s'.",
                    permission="customers.transfer",
                ),
                "owner_id",
                status=403,
            )
    for key in ("phone", "fax"):
        if data.get(key) and phones.normalise(data[key]) is None:
            raise CustomerError(_l("Not a phone number."), key)


def _reindex(session, customer: Customer) -> None:
    main = phones.parse(customer.phone)
    customer.search_text = textsearch.index_text(
        customer.name,
        customer.short_name,
        customer.code,
        customer.email,
        *((main[1],) if main else ()),
    )
    session.execute(
        delete(Phone).where(Phone.customer_id == customer.id, Phone.contact_id.is_(None))
    )
    for kind in ("phone", "fax"):
        parsed = phones.parse(getattr(customer, kind))
        if parsed:
            session.add(
                Phone(
                    customer_id=customer.id, e164=parsed[0], digits_rev=parsed[1][::-1], kind=kind
                )
            )


def _reindex_contact(session, contact: Contact) -> None:
    session.execute(delete(Phone).where(Phone.contact_id == contact.id))
    if contact.deleted_at is not None:
        return
    for kind in ("phone", "mobile"):
        parsed = phones.parse(getattr(contact, kind))
        if parsed:
            session.add(
                Phone(
                    customer_id=contact.customer_id,
                    contact_id=contact.id,
                    e164=parsed[0],
                    digits_rev=parsed[1][::-1],
                    kind=kind,
                )
            )


def set_tags(customer: Customer, tags: Iterable[str]) -> None:
    clean = sorted({t.strip().lower()[:40] for t in tags if t and t.strip()})
    if len(clean) > 30:
        raise CustomerError(_l("At most %(n)s tags.", n=30), "tags")
    customer.tag_rows = [CustomerTag(customer_id=customer.id, tag=t) for t in clean]


def create_customer(session, user, data: dict, code: str | None = None) -> Customer:
    fields = _clean(data, CUSTOMER_FIELDS)
    if not fields.get("name"):
        raise CustomerError(_l("A name is required."), "name")
    _check_refs(session, user, fields, None)
    owner_id = fields.pop("owner_id", None) or user.id
    owner = session.get(User, owner_id)
    c = Customer(
        **fields,
        owner_id=owner_id,
        department_id=owner.department_id if owner else None,
        code=code or numbering.next_code(session, NUMBER_KIND, DEFAULT_NUMBER_PATTERN),
    )
    c.lifecycle = c.lifecycle or "prospect"
    session.add(c)
    session.flush()
    if "tags" in data:
        set_tags(c, data.get("tags") or [])
    _reindex(session, c)
    audit.record(session, ENTITY, c, "create")
    return c


def update_customer(session, user, customer: Customer, data: dict) -> Customer:
    check_version(customer, data.get("version"))
    fields = _clean(data, CUSTOMER_FIELDS)
    if "name" in fields and not fields["name"]:
        raise CustomerError(_l("A name is required."), "name")
    _check_refs(session, user, fields, customer)
    before = audit.snapshot(customer)
    before["tags"] = customer.tags
    for k, v in fields.items():
        setattr(customer, k, v)
    if "owner_id" in fields and fields["owner_id"] != before["owner_id"]:
        owner = session.get(User, fields["owner_id"])
        customer.department_id = owner.department_id
    if "tags" in data:
        set_tags(customer, data.get("tags") or [])
    customer.updated_at = utcnow()
    _reindex(session, customer)
    entry = audit.record(session, ENTITY, customer, "update", before=before)
    if before["tags"] != customer.tags:
        entry.before = {**(entry.before or {}), "tags": before["tags"]}
        entry.after = {**(entry.after or {}), "tags": customer.tags}
    return customer


def trash_customer(session, user, customer: Customer) -> None:
    customer.deleted_at = utcnow()
    audit.record(
        session,
        ENTITY,
        customer,
        "delete",
        before={"deleted_at": None},
        after={"deleted_at": customer.deleted_at.isoformat()},
    )


def restore_customer(session, user, customer: Customer) -> None:
    customer.deleted_at = None
    audit.record(session, ENTITY, customer, "restore", before={}, after={"deleted_at": None})


# --- Contacts ----------------------------------------------------------------------------


def create_contact(session, user, customer: Customer, data: dict) -> Contact:
    fields = _clean(data, CONTACT_FIELDS)
    if not fields.get("name"):
        raise CustomerError(_l("A name is required."), "name")
    for key in ("phone", "mobile"):
        if fields.get(key) and phones.normalise(fields[key]) is None:
            raise CustomerError(_l("Not a phone number."), key)
    live = [c for c in customer.contacts if c.deleted_at is None]
    ct = Contact(customer_id=customer.id, **fields)
    if not live:
        ct.is_primary = True  # the first contact is the primary one
    session.add(ct)
    session.flush()
    if ct.is_primary:
        _only_primary(session, ct)
    _reindex_contact(session, ct)
    audit.record(session, CONTACT_ENTITY, ct, "create")
    return ct


def _only_primary(session, contact: Contact) -> None:
    session.execute(
        update(Contact)
        .where(
            Contact.customer_id == contact.customer_id,
            Contact.id != contact.id,
            Contact.is_primary.is_(True),
        )
        .values(is_primary=False, version=Contact.version + 1)
    )


def update_contact(session, user, contact: Contact, data: dict) -> Contact:
    check_version(contact, data.get("version"))
    fields = _clean(data, CONTACT_FIELDS)
    if "name" in fields and not fields["name"]:
        raise CustomerError(_l("A name is required."), "name")
    for key in ("phone", "mobile"):
        if fields.get(key) and phones.normalise(fields[key]) is None:
            raise CustomerError(_l("Not a phone number."), key)
    if fields.get("is_primary") is False and contact.is_primary:
        raise CustomerError(_l("Make another contact primary instead."), "is_primary")
    before = audit.snapshot(contact)
    for k, v in fields.items():
        setattr(contact, k, v)
    session.flush()
    if contact.is_primary:
        _only_primary(session, contact)
    _reindex_contact(session, contact)
    audit.record(session, CONTACT_ENTITY, contact, "update", before=before)
    return contact


def trash_contact(session, user, contact: Contact) -> None:
    contact.deleted_at = utcnow()
    was_primary = contact.is_primary
    contact.is_primary = False
    session.flush()
    _reindex_contact(session, contact)
    if was_primary:  # promote the oldest remaining contact
        nxt = session.scalar(
            select(Contact)
            .where(Contact.customer_id == contact.customer_id, Contact.deleted_at.is_(None))
            .order_by(Contact.id)
            .limit(1)
        )
        if nxt is not None:
            nxt.is_primary = True
    audit.record(
        session,
        CONTACT_ENTITY,
        contact,
        "delete",
        before={"deleted_at": None},
        after={"deleted_at": contact.deleted_at.isoformat()},
    )


def primary_contact(customer: Customer) -> Contact | None:
    live = [c for c in customer.contacts if c.deleted_at is None]
    return next((c for c in live if c.is_primary), live[0] if live else None)


# --- Caller lookup and duplicates --------------------------------------------------------


def _starts_with(column, prefix: str):
    """``column LIKE 'prefix%'`` as a range, so the B-tree index serves it everywhere
    (SQLite's LIKE is case-insensitive and cannot use a plain index)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return (column >= prefix) & (column < upper)


def phone_match_ids(session, raw: str):
    """A sub-select of customer ids whose phones match ``raw`` in any written form, or None."""
    e = phones.normalise(raw, current_app.config.get("CRM_PHONE_REGION", phones.DEFAULT_REGION))
    if e is None:
        return None
    rev = phones.reversed_digits(e)
    conds = [Phone.e164 == e]
    if len(rev) >= 7:  # a local number without area code: match the end of stored numbers
        conds.append(_starts_with(Phone.digits_rev, rev))
    return select(Phone.customer_id).where(or_(*conds))


def lookup_phone(session, user, raw: str, limit: int = 20) -> list[dict]:
    """Customers and contacts (within the user's scope) with a phone matching ``raw``."""
    e = phones.normalise(raw, current_app.config.get("CRM_PHONE_REGION", phones.DEFAULT_REGION))
    if e is None:
        raise CustomerError(_l("Not a phone number."), "number")
    rev = phones.reversed_digits(e)
    conds = [Phone.e164 == e]
    if len(rev) >= 7:
        conds.append(_starts_with(Phone.digits_rev, rev))
    # The phone rows first (a few, through their indexes), then their customers by id within
    # the scope: one joined query let the planner start from the scope's owner indexes.
    matches = session.scalars(select(Phone).where(or_(*conds)).limit(limit * 25)).all()
    if not matches:
        return []
    stmt = select(Customer).where(
        Customer.id.in_(sorted({p.customer_id for p in matches})), Customer.deleted_at.is_(None)
    )
    cond = scope_filter(user, Customer.owner_id, Customer.department_id)
    if cond is not None:
        stmt = stmt.where(cond)
    visible = {c.id: c for c in session.scalars(stmt)}
    out, seen = [], set()
    for ph in matches:
        cust = visible.get(ph.customer_id)
        key = (ph.customer_id, ph.contact_id)
        if cust is None or key in seen:
            continue
        seen.add(key)
        contact = session.get(Contact, ph.contact_id) if ph.contact_id else None
        out.append({"customer": cust, "contact": contact, "phone": ph.e164, "exact": ph.e164 == e})
    out.sort(key=lambda r: (not r["exact"], r["customer"].name))
    return out[:limit]


def find_duplicates(session, name=None, phone=None, email=None, exclude_id=None, limit=10):
    """Customers that look like the same company: same name (ignoring case and spaces),
    same phone in any form, or same email. Searches every customer, not only the caller's,
    because a duplicate owned by a colleague is exactly what must be caught."""
    # One indexed look-up per rule, joined by UNION: an OR over these expressions would scan
    # the whole book (1.3 s at a million customers; see bench/RESULTS.md). The expression
    # indexes come from migration customers_0002.
    parts = []
    if name and name.strip():
        parts.append(select(Customer.id).where(name_key() == name_key_of(name)))
    if email and email.strip():
        key = email.strip().lower()
        parts.append(select(Customer.id).where(func.lower(Customer.email) == key))
        parts.append(select(Contact.customer_id).where(func.lower(Contact.email) == key))
    e164 = phones.normalise(phone) if phone else None
    if e164:
        parts.append(select(Phone.customer_id).where(Phone.e164 == e164))
    if not parts:
        return []
    ids = union(*parts).subquery()
    stmt = select(Customer).where(Customer.id.in_(select(ids.c[0])), Customer.deleted_at.is_(None))
    if exclude_id:
        stmt = stmt.where(Customer.id != exclude_id)
    return list(session.scalars(stmt.order_by(Customer.id).limit(limit)))


# --- Merge and handover ------------------------------------------------------------------


def _runtime():
    return g.get("crm_runtime") or current_app.extensions["crm"].runtime()


def merge(session, user, target: Customer, source: Customer) -> Customer:
    """Merge ``source`` into ``target`` (CUS-9): contacts, phones, tags and timeline move;
    empty fields of the target are filled from the source; other modules repoint their
    records through ``crm_customers_merged``; the source is deleted. Audited."""
    if target.id == source.id:
        raise CustomerError(_l("Choose two different customers."), "source_id")
    before_source = audit.snapshot(source)
    before_target = audit.snapshot(target)
    for f in CUSTOMER_FIELDS:
        if getattr(target, f) in (None, "") and getattr(source, f) not in (None, ""):
            setattr(target, f, getattr(source, f))
    had_primary = primary_contact(target) is not None
    session.execute(
        update(Contact)
        .where(Contact.customer_id == source.id)
        .values(
            customer_id=target.id,
            is_primary=False if had_primary else Contact.is_primary,
            version=Contact.version + 1,
        )
    )
    session.execute(
        update(Phone).where(Phone.customer_id == source.id).values(customer_id=target.id)
    )
    session.execute(
        update(TimelineEntry)
        .where(TimelineEntry.customer_id == source.id)
        .values(customer_id=target.id)
    )
    set_tags(target, set(target.tags) | set(source.tags))
    _runtime().collect(
        "crm_customers_merged", session=session, source_id=source.id, target_id=target.id, user=user
    )
    add_timeline(
        session,
        target.id,
        "merge",
        f"Merged {source.code} {source.name} into this customer",  # English in the database
        user_id=user.id,
        data={"source": before_source},
    )
    session.flush()
    session.expire(target, ["contacts"])
    _reindex(session, target)
    audit.record(
        session,
        ENTITY,
        target,
        "merge",
        before=before_target,
        after={**audit.snapshot(target), "merged_from": source.id},
    )
    audit.record(
        session,
        ENTITY,
        source,
        "merged_away",
        before=before_source,
        after={"merged_into": target.id},
    )
    session.delete(source)
    session.flush()
    return target


def handover(session, user, customers: list[Customer], to_owner_id: int, note: str = "") -> int:
    """Give customers to another owner (CUS-10); other modules follow through a hook."""
    if not has_permission(user, "customers.transfer"):
        raise CustomerError(
            _l("Handing customers over needs '%(permission)s'.", permission="customers.transfer"),
            status=403,
        )
    new_owner = session.get(User, to_owner_id)
    if new_owner is None or not new_owner.is_active:
        raise CustomerError(_l("Unknown or inactive owner."), "owner_id")
    previous = {}
    for c in customers:
        if c.owner_id == to_owner_id:
            continue
        previous[c.id] = c.owner_id
        before = {"owner_id": c.owner_id, "department_id": c.department_id}
        c.owner_id = to_owner_id
        c.department_id = new_owner.department_id
        audit.record(
            session,
            ENTITY,
            c,
            "handover",
            before=before,
            after={"owner_id": to_owner_id, "department_id": new_owner.department_id},
        )
        add_timeline(
            session,
            c.id,
            "handover",
            f"Handed over to {new_owner.name}",
            body=note or None,
            user_id=user.id,
            data={"from": before["owner_id"]},
        )
    if previous:
        _runtime().collect(
            "crm_customers_handed_over",
            session=session,
            customer_ids=list(previous),
            from_owner_ids=previous,
            to_owner_id=to_owner_id,
            user=user,
        )
    session.flush()
    return len(previous)


# --- Timeline ----------------------------------------------------------------------------


def add_timeline(
    session,
    customer_id: int,
    kind: str,
    title: str,
    body: str | None = None,
    user_id: int | None = None,
    module: str = "customers",
    data: dict | None = None,
):
    """Add an entry to a customer's timeline (other modules call this too)."""
    entry = TimelineEntry(
        customer_id=customer_id,
        kind=kind,
        title=title[:255],
        body=body,
        user_id=user_id,
        module=module,
        data=data,
    )
    session.add(entry)
    return entry


def _timeline_title(entry: TimelineEntry) -> str:
    """The title of one of this module's own entries (merge, handover, message) in the
    reader's language. The database keeps the English title, as written; the translation is
    rebuilt from it and the entry's data, else the title is shown as stored."""
    title, data = entry.title, entry.data or {}
    if entry.module != "customers" or not isinstance(data, dict):
        return title
    if entry.kind == "merge" and isinstance(data.get("source"), dict):
        code, name = data["source"].get("code"), data["source"].get("name")
        if title == f"Merged {code} {name} into this customer"[:255]:
            return _("Merged %(code)s %(name)s into this customer", code=code, name=name)
    elif entry.kind == "handover" and title.startswith("Handed over to "):
        return _("Handed over to %(name)s", name=title.removeprefix("Handed over to "))
    elif entry.kind == "message":
        from .outreach import CUSTOMER_CHANNELS

        noun = CUSTOMER_CHANNELS.get(data.get("channel"))
        head, tail = f"{noun} sent to ", f" <{data.get('address')}>: {data.get('subject')}"
        fits = len(title) > len(head) + len(tail)
        if noun and fits and title.startswith(head) and title.endswith(tail):
            return _(
                "%(channel)s sent to %(who)s <%(address)s>: %(subject)s",
                channel=_(noun),
                who=title[len(head) : -len(tail)],
                address=data.get("address"),
                subject=data.get("subject"),
            )
    return title


def timeline(session, customer: Customer, user, limit: int = 50) -> list[dict]:
    rows = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.customer_id == customer.id)
        .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
        .limit(limit)
    )
    users = {}
    out = []
    for r in rows:
        if r.user_id and r.user_id not in users:
            users[r.user_id] = session.get(User, r.user_id)
        out.append(
            {
                "at": r.at,
                "kind": r.kind,
                "title": _timeline_title(r),
                "body": r.body,
                "url": None,
                "module": r.module,
                "user": users.get(r.user_id),
            }
        )
    for extra in _runtime().collect(
        "crm_customer_timeline", customer=customer, user=user, limit=limit
    ):
        out.append({"module": "", "user": None, "url": None, "body": None, **extra})
    out.sort(key=lambda e: e["at"], reverse=True)
    return out[:limit]


# --- Grading -----------------------------------------------------------------------------


def regrade(session, since: date | None = None, until: date | None = None) -> dict:
    """ABC grading by cumulative revenue share (CUS-5). Revenue comes from other modules
    through ``crm_customer_revenue``; the A customers make the first ``A``% of revenue, B the
    next ``B``%, C the rest. Customers without revenue are graded C."""
    shares = grade_shares(session)
    totals: dict[int, Decimal] = {}
    answers = _runtime().collect("crm_customer_revenue", session=session, since=since, until=until)
    if not answers:
        # No module records sales (pipeline is off): keep the grades people set by hand.
        return {
            "counts": grade_counts(session),
            "revenue": "0",
            "shares": shares,
            "skipped": "no module reports revenue",
        }
    for answer in answers:
        for cid, amount in (answer or {}).items():
            totals[cid] = totals.get(cid, Decimal(0)) + Decimal(str(amount or 0))
    grand = sum(v for v in totals.values() if v > 0) or Decimal(0)
    a_limit = Decimal(shares["A"]) / 100
    b_limit = Decimal(shares["A"] + shares["B"]) / 100
    grades: dict[int, str] = {}
    running = Decimal(0)
    for cid, amount in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
        if amount <= 0 or grand == 0:
            continue
        share_before = running / grand
        grades[cid] = "A" if share_before < a_limit else "B" if share_before < b_limit else "C"
        running += amount
    now = utcnow()
    session.execute(
        update(Customer)
        .where(Customer.deleted_at.is_(None))
        .values(grade="C", revenue=0, graded_at=now)
    )
    counts = {"A": 0, "B": 0, "C": 0}
    for cid, grade in grades.items():
        session.execute(
            update(Customer)
            .where(Customer.id == cid)
            .values(grade=grade, revenue=totals[cid], graded_at=now)
        )
        session.execute(
            update(Customer)
            .where(Customer.id == cid, Customer.lifecycle == "prospect")
            .values(lifecycle="first_purchase")
        )
        counts[grade] += 1
    counts["C"] = session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(Customer.deleted_at.is_(None), Customer.grade == "C")
    )
    return {"counts": counts, "revenue": str(grand), "shares": shares}


def grade_counts(session) -> dict:
    rows = dict(
        session.execute(
            select(Customer.grade, func.count())
            .where(Customer.deleted_at.is_(None))
            .group_by(Customer.grade)
        ).all()
    )
    return {g: rows.get(g, 0) for g in GRADES}


def grade_distribution(session, user) -> dict:
    stmt = select(Customer.grade, func.count()).where(Customer.deleted_at.is_(None))
    cond = scope_filter(user, Customer.owner_id, Customer.department_id)
    if cond is not None:
        stmt = stmt.where(cond)
    rows = dict(session.execute(stmt.group_by(Customer.grade)).all())
    return {g: rows.get(g, 0) for g in (*GRADES, None)}


# --- Saved filters -----------------------------------------------------------------------


def save_filter(session, user, name: str, query: dict) -> SavedFilter:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise CustomerError(_l("A name of 1 to 80 characters is required."), "name")
    allowed = set(Filters.__dataclass_fields__) - {"trash"}
    clean = {k: v for k, v in (query or {}).items() if k in allowed and v not in (None, "")}
    count = session.scalar(
        select(func.count()).select_from(SavedFilter).where(SavedFilter.user_id == user.id)
    )
    if count >= 50:
        raise CustomerError(_l("At most %(n)s saved filters per person.", n=50), "name")
    f = SavedFilter(user_id=user.id, name=name, query=clean)
    session.add(f)
    session.flush()
    return f


def saved_filters(session, user) -> list[SavedFilter]:
    return list(
        session.scalars(
            select(SavedFilter).where(SavedFilter.user_id == user.id).order_by(SavedFilter.name)
        )
    )
