"""Batch messages to customers (CUS-7) and the customer selection that labels share.

A message is a subject and a body with merge fields (``{customer_name}``, ``{contact_name}``
...). ``send_batch`` queues one message per recipient through the host's notification bus
(``crm_host.notify.notify``, in the caller's transaction: a rolled-back request sends nothing)
and writes what went to whom on each customer's timeline. Nothing here knows about HTTP.
"""

from __future__ import annotations

import string
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm_host import notify as bus
from crm_host.models import User
from crm_host.security import has_permission, in_scope, scope_filter

from . import services
from .i18n import N_, _l
from .models import Contact, Customer
from .services import CustomerError

PERMISSION = "customers.message"
KIND = "customers.message"
MERGE_FIELDS = (
    "customer_name",
    "customer_code",
    "contact_name",
    "contact_title",
    "owner_name",
    "owner_email",
)
MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_CUSTOMERS = 5000
PREVIEW_COUNT = 3
#: Channels that can reach a customer, and what the timeline calls a message sent on them.
#: ``email`` and ``sms`` go to contacts (their email / mobile); ``fax`` to the customer's fax
#: (contacts have no fax number).
CUSTOMER_CHANNELS = {"email": N_("Email"), "fax": N_("Fax"), "sms": N_("Text message")}
#: The template fields, as messages name them ("The subject is ...", "in the body").
_FIELD_NOUNS = {"subject": N_("subject"), "body": N_("body")}


def _field_noun(field_name: str):
    return _l(field_name) if field_name in _FIELD_NOUNS else field_name


# --- Selection ---------------------------------------------------------------------------


def select_customers(
    session, user, ids=None, filters: services.Filters | None = None, limit: int = MAX_CUSTOMERS
) -> list[Customer]:
    """The customers chosen by ``ids`` (in that order) or matching ``filters``, all within
    the user's scope. An id that is missing, trashed or outside the scope is a 404: a
    stranger's customer answers exactly like a missing one."""
    cond = scope_filter(user, Customer.owner_id, Customer.department_id)
    if ids:
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if len(wanted) > limit:
            raise CustomerError(_l("At most %(n)s customers at a time.", n=limit), "ids")
        stmt = select(Customer).where(Customer.id.in_(wanted), Customer.deleted_at.is_(None))
        if cond is not None:
            stmt = stmt.where(cond)
        found = {c.id: c for c in session.scalars(stmt.options(selectinload(Customer.contacts)))}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise CustomerError(
                _l("No such customer: %(ids)s.", ids=", ".join(str(i) for i in missing[:20])),
                "ids",
                status=404,
            )
        return [found[i] for i in wanted]
    if filters is not None:
        filters.trash = False
        stmt = services.customer_query(session, user, filters)
        rows = list(
            session.scalars(
                stmt.options(selectinload(Customer.contacts)).order_by(Customer.id).limit(limit + 1)
            )
        )
        if len(rows) > limit:
            raise CustomerError(
                _l("More than %(n)s customers match; narrow the filter.", n=limit), "filter"
            )
        if not rows:
            raise CustomerError(_l("No customers match the filter."), "filter")
        return rows
    raise CustomerError(_l("Choose customers first."), "ids")


# --- Merge fields ------------------------------------------------------------------------


def allowed_fields_text() -> str:
    return ", ".join("{" + f + "}" for f in MERGE_FIELDS)


def parse_template(template: str, field_name: str = "body") -> list[tuple[str, str | None]]:
    """Split a template into ``(literal, merge field or None)`` pairs, refusing anything but
    the plain merge fields: no attribute or index access (``{customer.__class__}``,
    ``{x[0]}``), no conversions or format specs, no positional ``{}``."""
    try:
        parsed = list(string.Formatter().parse(template or ""))
    except ValueError as exc:
        raise CustomerError(
            _l(
                "The %(field)s has a stray brace (%(error)s). Merge fields look like "
                "{contact_name}; write {{ and }} for a literal brace.",
                field=_field_noun(field_name),
                error=str(exc),
            ),
            field_name,
        ) from None
    parts: list[tuple[str, str | None]] = []
    unknown: list[str] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None))
            continue
        if name not in MERGE_FIELDS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            if shown not in unknown:
                unknown.append(shown)
        parts.append((literal, name))
    if unknown:
        values = {
            "field": _field_noun(field_name),
            "fields": ", ".join(unknown),
            "allowed": allowed_fields_text(),
        }
        if len(unknown) > 1:
            msg = _l(
                "Unknown merge fields in the %(field)s: %(fields)s. Allowed: %(allowed)s.", **values
            )
        else:
            msg = _l(
                "Unknown merge field in the %(field)s: %(fields)s. Allowed: %(allowed)s.", **values
            )
        raise CustomerError(msg, field_name)
    return parts


def merge_values(customer: Customer, contact: Contact | None, owner: User | None) -> dict:
    return {
        "customer_name": customer.name or "",
        "customer_code": customer.code or "",
        "contact_name": (contact.name if contact else "") or "",
        "contact_title": (contact.title if contact else "") or "",
        "owner_name": (owner.name if owner else "") or "",
        "owner_email": (owner.email if owner else "") or "",
    }


def _fill(parts, values: dict) -> str:
    return "".join(literal + (values[name] if name else "") for literal, name in parts)


def render_message(template: str, customer, contact, owner, field_name: str = "body") -> str:
    """``template`` with its merge fields filled in for one recipient.

    Raises :class:`CustomerError` (422) naming the allowed fields for anything else."""
    return _fill(parse_template(template, field_name), merge_values(customer, contact, owner))


def validate_message(subject: str, body: str) -> tuple[str, str]:
    subject = (subject or "").strip()
    body = (body or "").strip()
    if not subject:
        raise CustomerError(_l("A subject is required."), "subject")
    if len(subject) > MAX_SUBJECT:
        raise CustomerError(
            _l("The subject is at most %(n)s characters.", n=MAX_SUBJECT), "subject"
        )
    if not body:
        raise CustomerError(_l("A message is required."), "body")
    if len(body) > MAX_BODY:
        raise CustomerError(
            _l("The message is at most %(n)s characters.", n=f"{MAX_BODY:,}"), "body"
        )
    parse_template(subject, "subject")
    parse_template(body, "body")
    return subject, body


# --- Channels and recipients -------------------------------------------------------------


def available_channels(runtime=None) -> dict:
    """The channels that can reach customers in this runtime: ``{name: Channel}``."""
    runtime = runtime or bus.current_runtime()
    return {n: ch for n, ch in runtime.channels.items() if n in CUSTOMER_CHANNELS}


def check_channel(channel: str, runtime=None) -> None:
    channel = (channel or "").strip()
    if channel not in CUSTOMER_CHANNELS:
        raise CustomerError(
            _l(
                "'%(channel)s' is not a channel for customer messages. Choose one of: %(choices)s.",
                channel=channel,
                choices=", ".join(CUSTOMER_CHANNELS),
            ),
            "channel",
        )
    if channel not in available_channels(runtime):
        raise CustomerError(
            _l(
                "The channel '%(channel)s' is not available: enable the channels module (or "
                "the module that sends this kind of message) first.",
                channel=channel,
            ),
            "channel",
            status=409,
        )


@dataclass
class Planned:
    customer: Customer
    contact: Contact | None
    owner: User | None
    address: str
    subject: str = ""
    body: str = ""


@dataclass
class Plan:
    messages: list[Planned] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _contact_address(contact: Contact, channel: str) -> str:
    value = {"email": contact.email, "sms": contact.mobile}.get(channel)
    return (value or "").strip()


def _skip(customer: Customer, reason: str, detail) -> dict:
    return {
        "customer_id": customer.id,
        "code": customer.code,
        "name": customer.name,
        "reason": reason,
        "detail": str(detail),  # text in the reader's language, for JSON and pages
    }


def recipients(customer: Customer, channel: str, to_all: bool = False):
    """``([(contact, address)], skip_or_None)``: who gets the message for this customer."""
    live = [c for c in customer.contacts if c.deleted_at is None]
    primary = services.primary_contact(customer)
    if channel == "fax":
        fax = (customer.fax or "").strip()
        if not fax:
            return [], _skip(customer, "no_address", _l("The customer has no fax number."))
        return [(primary, fax)], None
    if not live:
        return [], _skip(customer, "no_contact", _l("The customer has no contact."))
    if not to_all:
        address = _contact_address(primary, channel)
        if not address:
            if channel == "email":
                detail = _l("The primary contact %(name)s has no email address.", name=primary.name)
            else:
                detail = _l("The primary contact %(name)s has no mobile number.", name=primary.name)
            return [], _skip(customer, "no_address", detail)
        return [(primary, address)], None
    ordered = [primary] + [c for c in live if c is not primary]
    out, seen = [], set()
    for ct in ordered:
        address = _contact_address(ct, channel)
        if address and address.lower() not in seen:
            seen.add(address.lower())
            out.append((ct, address))
    if not out:
        if channel == "email":
            detail = _l("No contact has an email address.")
        else:
            detail = _l("No contact has a mobile number.")
        return [], _skip(customer, "no_address", detail)
    return out, None


def plan_batch(session, customers, subject: str, body: str, channel: str, to_all=False) -> Plan:
    """Every message the batch would queue, merged, and every customer it would skip."""
    subject_parts = parse_template(subject, "subject")
    body_parts = parse_template(body, "body")
    owner_ids = {c.owner_id for c in customers}
    owners = (
        {u.id: u for u in session.scalars(select(User).where(User.id.in_(owner_ids)))}
        if owner_ids
        else {}
    )
    plan = Plan()
    for customer in customers:
        targets, skipped = recipients(customer, channel, to_all)
        if skipped:
            plan.skipped.append(skipped)
            continue
        owner = owners.get(customer.owner_id)
        for contact, address in targets:
            values = merge_values(customer, contact, owner)
            # A subject is one line: merged values must not smuggle in header breaks.
            subj = " ".join(_fill(subject_parts, values).split())
            plan.messages.append(
                Planned(customer, contact, owner, address, subj, _fill(body_parts, values))
            )
    return plan


def preview(session, user, customers, subject, body, channel, to_all=False, count=PREVIEW_COUNT):
    """The first ``count`` merged messages and the skip list, without queueing anything."""
    subject, body = validate_message(subject, body)
    channel = (channel or "").strip()
    check_channel(channel)
    plan = plan_batch(session, customers, subject, body, channel, to_all)
    return plan.messages[:count], plan


def dry_run(session, user, customers, subject, body, channel, to_all=False) -> dict:
    """What ``send_batch`` would do, with the first merged messages; queues nothing."""
    first, plan = preview(session, user, customers, subject, body, channel, to_all)
    summary = summarize(plan, channel, None, queued=False)
    summary["preview"] = [
        {
            "customer_id": m.customer.id,
            "contact_id": m.contact.id if m.contact else None,
            "address": m.address,
            "subject": m.subject,
            "body": m.body,
        }
        for m in first
    ]
    return summary


def summarize(plan: Plan, channel: str, batch: str | None, queued: bool) -> dict:
    return {
        "batch": batch,
        "channel": channel,
        "queued": len(plan.messages) if queued else 0,
        "customers": len({m.customer.id for m in plan.messages}),
        "recipients": [
            {
                "customer_id": m.customer.id,
                "contact_id": m.contact.id if m.contact else None,
                "name": m.contact.name if m.contact else m.customer.name,
                "address": m.address,
            }
            for m in plan.messages
        ],
        "skipped": plan.skipped,
    }


def send_batch(
    session,
    user,
    customers,
    subject: str,
    body: str,
    channel: str,
    to_all: bool = False,
    runtime=None,
) -> dict:
    """Queue a message to each chosen customer's primary contact (or every contact with an
    address when ``to_all``) on ``channel``, and note it on each customer's timeline.

    Customers without a usable address are skipped and reported, the rest still go out.
    Refused (``CustomerError``) without the permission, for a customer outside the user's
    scope (404), for a channel this installation does not offer (409: enable the channels
    module), and for an empty or too long subject or body or an unknown merge field (422).
    Never commits: the caller's transaction owns the outbox rows and the timeline entries.
    """
    if not has_permission(user, PERMISSION):
        raise CustomerError(
            _l("Sending messages needs '%(permission)s'.", permission=PERMISSION), status=403
        )
    subject, body = validate_message(subject, body)
    runtime = runtime or bus.current_runtime()
    channel = (channel or "").strip()
    check_channel(channel, runtime)
    customers = list(customers)
    if not customers:
        raise CustomerError(_l("Choose customers first."), "ids")
    if len(customers) > MAX_CUSTOMERS:
        raise CustomerError(_l("At most %(n)s customers at a time.", n=MAX_CUSTOMERS), "ids")
    for c in customers:
        if c.deleted_at is not None or not in_scope(user, c, "owner_id", "department_id"):
            raise CustomerError(_l("No such customer: %(ids)s.", ids=c.id), "ids", status=404)
    plan = plan_batch(session, customers, subject, body, channel, to_all)
    batch = uuid.uuid4().hex[:12]
    noun = CUSTOMER_CHANNELS[channel]
    for m in plan.messages:
        data = {
            "customer_id": m.customer.id,
            "contact_id": m.contact.id if m.contact else None,
            "batch": batch,
            "sender_id": user.id,
            "reply_to": m.owner.email if m.owner else user.email,
        }
        bus.notify(
            session,
            KIND,
            m.subject,
            m.body,
            addresses=[(channel, m.address)],
            data=data,
            runtime=runtime,
        )
        who = m.contact.name if m.contact else m.customer.name
        services.add_timeline(
            session,
            m.customer.id,
            "message",
            f"{noun} sent to {who} <{m.address}>: {m.subject}",
            body=m.body,
            user_id=user.id,
            data={
                "channel": channel,
                "address": m.address,
                "contact_id": data["contact_id"],
                "subject": m.subject,
                "batch": batch,
            },
        )
    session.flush()
    return summarize(plan, channel, batch, queued=True)
