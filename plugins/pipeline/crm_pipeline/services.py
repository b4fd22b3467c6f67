"""Business rules of the pipeline module. Pages, API, CLI, jobs and tests call these;
nothing here knows about HTTP. Functions never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, or_, select, update

from crm_host import audit, numbering
from crm_host.db import check_version, utcnow
from crm_host.models import Department, User
from crm_host.notify import notify
from crm_host.plugins import current_runtime as _runtime
from crm_host.security import has_permission, scope_filter
from crm_host.storage import delete_after_commit, save_in_transaction

from .models import (
    ACTIVITY_KINDS,
    ACTIVITY_STATUSES,
    DOCUMENT_KINDS,
    PERIOD_KINDS,
    STATUSES,
    WON_STATUSES,
    Activity,
    Appointment,
    AppointmentAttendee,
    Competitor,
    Deal,
    DealEvent,
    Delivery,
    Document,
    OrderLine,
    Payment,
    Setting,
    Stage,
    Target,
    Urge,
)

ENTITY = "pipeline.deal"
NUMBER_KIND = "deal"
DEFAULT_NUMBER_PATTERN = "D{yyyy}{seq:05}"
CENT = Decimal("0.01")
# Default stages: data, shown through gettext (these markers put them in the catalog).
_STAGE_NAMES = (
    _l("Initial contact"),
    _l("Needs analysis"),
    _l("Proposal / quote"),
    _l("Negotiation"),
)
DEFAULT_STAGES = [
    ("initial", "Initial contact", 10),
    ("needs", "Needs analysis", 25),
    ("proposal", "Proposal / quote", 50),
    ("negotiation", "Negotiation", 75),
]
DEFAULT_CONTACT_DAYS = {"A": 7, "B": 30, "C": 90}
TRANSITIONS = {
    "tracking": {"won", "lost"},
    "won": {"completed", "tracking"},
    "lost": {"tracking"},
    "completed": set(),
}
DEAL_FIELDS = (
    "name",
    "customer_id",
    "contact_id",
    "amount",
    "expected_close",
    "probability",
    "source",
    "stage_id",
    "status",
    "lost_reason",
    "contract_no",
    "contract_signed_on",
    "contract_start",
    "contract_end",
    "notes",
)


# Timeline texts, translated when written through _t (these markers put them in the catalog).
_TIMELINE_TEXTS = (
    _l("Deal %(code)s opened: %(name)s"),
    _l("Deal %(code)s won: %(name)s"),
    _l("Deal %(code)s lost: %(name)s"),
)


def _t(message: str, **values) -> str:
    """Text stored for people to read (timeline entries), in the acting user's language when
    there is a request, in English otherwise (jobs, scripts)."""
    try:
        from flask_babel import gettext

        return gettext(message, **values)
    except Exception:  # no application or request context
        return message % values


class PipelineError(ValueError):
    """A refused change; ``field`` names the input at fault, ``status`` the HTTP status."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


def _customers():
    from crm_customers import services as customers

    return customers


def today() -> date:
    return utcnow().date()


def money(v) -> Decimal:
    return Decimal(str(v or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


# --- Settings and stages -----------------------------------------------------------------


def get_setting(session, key: str, default):
    row = session.get(Setting, key)
    return row.value if row is not None else default


def set_setting(session, key: str, value) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def contact_days(session) -> dict:
    """How often each customer grade must be contacted, in days (A weekly, B monthly...)."""
    return {**DEFAULT_CONTACT_DAYS, **get_setting(session, "contact_days", {})}


def set_contact_days(session, days: dict) -> dict:
    clean = {}
    for g in ("A", "B", "C"):
        v = days.get(g)
        if not isinstance(v, int) or not 1 <= v <= 366:
            raise PipelineError(_l("Contact frequency is a number of days from 1 to 366."), g)
        clean[g] = v
    set_setting(session, "contact_days", clean)
    return clean


def stages(session, active_only: bool = False) -> list[Stage]:
    stmt = select(Stage).order_by(Stage.position, Stage.id)
    if active_only:
        stmt = stmt.where(Stage.is_active.is_(True))
    return list(session.scalars(stmt))


def save_stage(session, user, data: dict, stage: Stage | None = None) -> Stage:
    if not has_permission(user, "pipeline.admin"):
        raise PipelineError(_l("Configuring stages needs 'pipeline.admin'."), status=403)
    code = (data.get("code") or (stage.code if stage else "")).strip().lower()
    if not code or len(code) > 32 or not code.replace("_", "").isalnum():
        raise PipelineError(_l("A code of letters, digits or _ (at most 32) is required."), "code")
    clash = session.scalar(select(Stage).where(Stage.code == code))
    if clash is not None and clash is not stage:
        raise PipelineError(_l("The stage code “%(code)s” is taken.", code=code), "code")
    before = audit.snapshot(stage) if stage else None
    if stage is None:
        stage = Stage(code=code)
        session.add(stage)
    stage.code = code
    for f in ("name", "position", "probability", "is_active"):
        if f in data:
            setattr(stage, f, data[f])
    session.flush()
    audit.record(session, "pipeline.stage", stage, "update" if before else "create", before=before)
    return stage


# --- Reading deals -----------------------------------------------------------------------


@dataclass
class Filters:
    q: str | None = None
    status: str | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    department_id: int | None = None
    customer_id: int | None = None
    close_from: date | None = None
    close_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None

    @classmethod
    def from_args(cls, args: dict) -> Filters:
        return cls(
            **{k: args.get(k) for k in cls.__dataclass_fields__ if args.get(k) not in (None, "")}
        )

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def scoped(stmt, user):
    cond = scope_filter(user, Deal.owner_id, Deal.department_id)
    return stmt if cond is None else stmt.where(cond)


def deal_query(session, user, filters: Filters, stmt=None):
    """The SELECT for a deal list: the user's scope, then the filters."""
    stmt = scoped(select(Deal) if stmt is None else stmt, user)
    for attr in ("status", "stage_id", "owner_id", "department_id", "customer_id"):
        value = getattr(filters, attr)
        if value not in (None, ""):
            stmt = stmt.where(getattr(Deal, attr) == value)
    if filters.close_from:
        stmt = stmt.where(Deal.expected_close >= filters.close_from)
    if filters.close_to:
        stmt = stmt.where(Deal.expected_close <= filters.close_to)
    if filters.amount_min is not None:
        stmt = stmt.where(Deal.amount >= filters.amount_min)
    if filters.amount_max is not None:
        stmt = stmt.where(Deal.amount <= filters.amount_max)
    if filters.q and filters.q.strip():
        q = filters.q.strip()[:100]
        stmt = stmt.where(
            or_(
                Deal.name.contains(q, autoescape=True),
                Deal.code == q,
                Deal.customer_name.contains(q, autoescape=True),
            )
        )
    return stmt


SORTABLE = {
    "code": Deal.code,
    "name": Deal.name,
    "amount": Deal.amount,
    "expected_close": Deal.expected_close,
    "created_at": Deal.created_at,
    "updated_at": Deal.updated_at,
    "probability": Deal.probability,
    "id": Deal.id,
}


def get_deal(session, user, deal_id: int) -> Deal | None:
    """The deal if it exists and ``user`` may see it; otherwise None (callers answer 404)."""
    d = session.get(Deal, deal_id)
    if d is None:
        return None
    cond = scope_filter(user, Deal.owner_id, Deal.department_id)
    if cond is None:
        return d
    # Checked in the caller's session (not only the request's), so uncommitted deals of the
    # same transaction are found too.
    seen = session.scalar(select(func.count()).select_from(Deal).where(Deal.id == d.id, cond))
    return d if seen else None


def events(session, deal: Deal) -> list[DealEvent]:
    return list(
        session.scalars(
            select(DealEvent)
            .where(DealEvent.deal_id == deal.id)
            .order_by(DealEvent.at.desc(), DealEvent.id.desc())
        )
    )


def _event(session, deal, user, kind, from_value=None, to_value=None, note=None):
    e = DealEvent(
        deal_id=deal.id,
        user_id=getattr(user, "id", None),
        kind=kind,
        from_value=None if from_value is None else str(from_value)[:64],
        to_value=None if to_value is None else str(to_value)[:64],
        note=note,
    )
    session.add(e)
    return e


# --- Writing deals -----------------------------------------------------------------------


def _check_customer(session, user, customer_id, contact_id=None):
    """The customer (within the user's scope, not in the trash) and its contact."""
    customers = _customers()
    customer = customers.get_customer(session, user, customer_id)
    if customer is None:
        raise PipelineError(_l("Unknown customer, or one you may not see."), "customer_id")
    contact = None
    if contact_id is not None:
        contact = customers.get_contact(session, user, contact_id)
        if contact is None or contact.customer_id != customer.id:
            raise PipelineError(_l("That contact does not belong to the customer."), "contact_id")
    return customer, contact


def _fill_customer(deal: Deal, customer, contact) -> None:
    """Choosing the customer fills in its details."""
    deal.customer_name = customer.name if customer else None
    deal.customer_phone = customer.phone if customer else None
    deal.customer_address = (
        " ".join(x for x in (customer.city, customer.address) if x) or None if customer else None
    )
    if contact is None and customer is not None:
        contact = _customers().primary_contact(customer)
        if contact is not None:
            deal.contact_id = contact.id
    deal.contact_name = contact.name if contact else None


def _stage(session, stage_id) -> Stage:
    st = session.get(Stage, stage_id) if stage_id is not None else None
    if st is None or not st.is_active:
        raise PipelineError(_l("Unknown or inactive stage."), "stage_id")
    return st


def create_deal(session, user, data: dict) -> Deal:
    """A new deal in "tracking" (PIP-1), numbered, at the first stage unless one is given."""
    data = dict(data)
    if money(data.get("amount")) < 0:
        raise PipelineError(_l("The amount cannot be negative."), "amount")
    owner = user
    if data.get("owner_id") not in (None, user.id):
        if not has_permission(user, "pipeline.transfer"):
            raise PipelineError(
                _l("Creating a deal for someone else needs 'pipeline.transfer'."), status=403
            )
        owner = session.get(User, data["owner_id"])
        if owner is None or not owner.is_active:
            raise PipelineError(_l("Unknown or inactive owner."), "owner_id")
    customer = contact = None
    if data.get("customer_id") is not None:
        customer, contact = _check_customer(
            session, user, data["customer_id"], data.get("contact_id")
        )
    elif data.get("contact_id") is not None:
        raise PipelineError(_l("Choose the customer before its contact."), "contact_id")
    first = stages(session, active_only=True)
    if data.get("stage_id") is not None:
        stage = _stage(session, data["stage_id"])
    elif first:
        stage = first[0]
    else:
        raise PipelineError(_l("No stage is configured; ask an administrator."), "stage_id")
    deal = Deal(
        name=data["name"].strip(),
        customer_id=customer.id if customer else None,
        contact_id=contact.id if contact else None,
        owner_id=owner.id,
        department_id=owner.department_id,
        amount=money(data.get("amount")),
        expected_close=data.get("expected_close"),
        probability=data["probability"]
        if data.get("probability") is not None
        else stage.probability,
        source=data.get("source"),
        status="tracking",
        stage_id=stage.id,
        notes=data.get("notes"),
    )
    _fill_customer(deal, customer, contact)
    deal.code = numbering.next_code(session, NUMBER_KIND, DEFAULT_NUMBER_PATTERN)
    session.add(deal)
    session.flush()
    _event(session, deal, user, "created", None, stage.code)
    audit.record(session, ENTITY, deal, "create")
    if customer is not None:
        _customers().add_timeline(
            session,
            customer.id,
            "deal",
            _t("Deal %(code)s opened: %(name)s", code=deal.code, name=deal.name),
            user_id=user.id,
            module="pipeline",
            data={"deal_id": deal.id},
        )
    target_status = data.get("status")
    if target_status and target_status != "tracking":
        change_status(session, user, deal, target_status, data.get("lost_reason"))
    return deal


def update_deal(session, user, deal: Deal, data: dict) -> Deal:
    """Change fields (PATCH): ``version`` required (409 when stale); stage and status changes
    are recorded with who and when (PIP-2)."""
    check_version(deal, data.get("version"))
    before = audit.snapshot(deal)
    if "amount" in data and money(data["amount"]) < 0:
        raise PipelineError(_l("The amount cannot be negative."), "amount")
    if "customer_id" in data or "contact_id" in data:
        cid = data.get("customer_id", deal.customer_id)
        if cid is None:
            if deal.status in WON_STATUSES:
                raise PipelineError(_l("A won deal needs a customer."), "customer_id")
            deal.customer_id = deal.contact_id = None
            _fill_customer(deal, None, None)
        else:
            contact_id = data.get("contact_id") if "contact_id" in data else None
            customer, contact = _check_customer(session, user, cid, contact_id)
            deal.customer_id = customer.id
            deal.contact_id = contact.id if contact else None
            _fill_customer(deal, customer, contact)
    for f in (
        "name",
        "expected_close",
        "probability",
        "source",
        "notes",
        "contract_no",
        "contract_signed_on",
        "contract_start",
        "contract_end",
    ):
        if f in data:
            setattr(deal, f, data[f].strip() if f == "name" else data[f])
    if "amount" in data:
        if _has_lines(session, deal):
            raise PipelineError(
                _l("The amount of a deal with order lines is their total; change the lines."),
                "amount",
            )
        deal.amount = money(data["amount"])
    if "stage_id" in data and data["stage_id"] != deal.stage_id:
        if deal.status != "tracking":
            raise PipelineError(_l("Only a deal being tracked changes stage."), "stage_id", 409)
        stage = _stage(session, data["stage_id"])
        old = deal.stage.code if deal.stage else None
        deal.stage_id = stage.id
        deal.stage = stage
        if "probability" not in data:
            deal.probability = stage.probability
        _event(session, deal, user, "stage", old, stage.code)
    if "status" in data and data["status"] != deal.status:
        change_status(session, user, deal, data["status"], data.get("lost_reason"), audit_it=False)
    elif "lost_reason" in data and deal.status == "lost":
        deal.lost_reason = data["lost_reason"]
    if deal.contract_start and deal.contract_end and deal.contract_end < deal.contract_start:
        raise PipelineError(_l("The contract ends before it starts."), "contract_end")
    session.flush()
    audit.record(session, ENTITY, deal, "update", before=before)
    return deal


def change_status(session, user, deal: Deal, status: str, lost_reason=None, audit_it=True):
    """tracking → won → completed, or tracking → lost with a reason (PIP-2)."""
    if status not in STATUSES:
        raise PipelineError(_l("Unknown status."), "status")
    if status not in TRANSITIONS[deal.status]:
        raise PipelineError(
            _l("A deal cannot go from “%(old)s” to “%(new)s”.", old=deal.status, new=status),
            "status",
            status=409,
        )
    before = audit.snapshot(deal) if audit_it else None
    old = deal.status
    if status == "won":
        if deal.customer_id is None:
            raise PipelineError(_l("A won deal needs a customer."), "customer_id")
        deal.won_on = deal.won_on if old == "won" else today()
        deal.probability = 100
    elif status == "lost":
        reason = (lost_reason or "").strip()
        if not reason:
            raise PipelineError(_l("Say why the deal was lost."), "lost_reason")
        deal.lost_reason = reason[:500]
        deal.probability = 0
        deal.closed_on = today()
    elif status == "completed":
        deal.closed_on = today()
    elif status == "tracking":  # reopened
        deal.won_on = None
        deal.closed_on = None
        deal.lost_reason = None
        deal.probability = deal.stage.probability if deal.stage else 10
    deal.status = status
    _event(
        session,
        deal,
        user,
        "status",
        old,
        status,
        note=deal.lost_reason if status == "lost" else None,
    )
    if deal.customer_id is not None and status in ("won", "lost"):
        title = (
            _t("Deal %(code)s won: %(name)s", code=deal.code, name=deal.name)
            if status == "won"
            else _t("Deal %(code)s lost: %(name)s", code=deal.code, name=deal.name)
        )
        _customers().add_timeline(
            session,
            deal.customer_id,
            "deal",
            title,
            body=deal.lost_reason if status == "lost" else None,
            user_id=getattr(user, "id", None),
            module="pipeline",
            data={"deal_id": deal.id},
        )
    if audit_it:
        session.flush()
        audit.record(session, ENTITY, deal, "update", before=before)
    return deal


# --- Handover and urges ------------------------------------------------------------------


def transfer(session, user, deals: Iterable[Deal], to_owner_id: int, note: str = "") -> int:
    """Give deals (already checked to be within the user's scope) to another sales person
    (PIP-7); the history stays with the deal. Needs ``pipeline.transfer``."""
    if not has_permission(user, "pipeline.transfer"):
        raise PipelineError(_l("Handing deals over needs 'pipeline.transfer'."), status=403)
    new_owner = session.get(User, to_owner_id)
    if new_owner is None or not new_owner.is_active:
        raise PipelineError(_l("Unknown or inactive owner."), "owner_id")
    moved = []
    for d in deals:
        if d.owner_id == new_owner.id:
            continue
        _move(session, user, d, new_owner, note)
        moved.append(d)
    if moved:
        notify(
            session,
            "pipeline.assigned",
            _l("%(n)s deal(s) handed over to you", n=len(moved)),  # the recipient's language
            "\n".join(f"{d.code} {d.name}" for d in moved[:50]),
            users=[new_owner],
            data={"deal_ids": [d.id for d in moved]},
        )
    session.flush()
    return len(moved)


def _move(session, user, d: Deal, new_owner: User, note: str = "", kind="transfer"):
    before = {"owner_id": d.owner_id, "department_id": d.department_id}
    old = session.get(User, d.owner_id)
    d.owner_id = new_owner.id
    d.department_id = new_owner.department_id
    _event(
        session,
        d,
        user,
        kind,
        old.name if old else before["owner_id"],
        new_owner.name,
        note or None,
    )
    audit.record(
        session,
        ENTITY,
        d,
        "transfer",
        before=before,
        after={"owner_id": new_owner.id, "department_id": new_owner.department_id},
    )


def urge(session, user, deal: Deal, message: str) -> Urge:
    """A leader urges a deal (PIP-8): logged on the deal, its owner notified."""
    if not has_permission(user, "pipeline.urge"):
        raise PipelineError(_l("Urging a deal needs 'pipeline.urge'."), status=403)
    message = (message or "").strip()
    if not message or len(message) > 2000:
        raise PipelineError(_l("A message of 1 to 2000 characters is required."), "message")
    u = Urge(deal_id=deal.id, user_id=user.id, owner_id=deal.owner_id, message=message)
    session.add(u)
    _event(session, deal, user, "urge", None, None, message)
    owner = session.get(User, deal.owner_id)
    notify(
        session,
        "pipeline.urge",
        _l("%(who)s urges deal %(code)s: %(name)s", who=user.name, code=deal.code, name=deal.name),
        message,
        users=[owner],
        data={"deal_id": deal.id, "urged_by": user.id},
    )
    session.flush()
    return u


def urges(session, deal: Deal) -> list[Urge]:
    return list(
        session.scalars(
            select(Urge).where(Urge.deal_id == deal.id).order_by(Urge.at.desc(), Urge.id.desc())
        )
    )


# --- Customers module hooks --------------------------------------------------------------


def revenue(session, since: date | None, until: date | None) -> dict:
    """Won and completed deal amounts per customer (for ABC grading), one GROUP BY."""
    stmt = (
        select(Deal.customer_id, func.sum(Deal.amount))
        .where(Deal.status.in_(WON_STATUSES), Deal.customer_id.is_not(None))
        .group_by(Deal.customer_id)
    )
    if since is not None:
        stmt = stmt.where(Deal.won_on >= since)
    if until is not None:
        stmt = stmt.where(Deal.won_on < until)
    return {cid: Decimal(str(v or 0)) for cid, v in session.execute(stmt)}


def customers_merged(session, source_id: int, target_id: int) -> None:
    for model in (Deal, Activity, Appointment):
        session.execute(
            update(model).where(model.customer_id == source_id).values(customer_id=target_id)
        )


def customers_handed_over(session, user, customer_ids, from_owner_ids: dict, to_owner_id) -> int:
    """Open deals (and planned activities) follow their customer to the new owner."""
    new_owner = session.get(User, to_owner_id)
    if new_owner is None:
        return 0
    n = 0
    for d in session.scalars(
        select(Deal).where(Deal.customer_id.in_(list(customer_ids)), Deal.status == "tracking")
    ):
        prev = from_owner_ids.get(d.customer_id) if from_owner_ids else None
        prev = from_owner_ids.get(str(d.customer_id), prev) if from_owner_ids else prev
        if prev is not None and d.owner_id != prev:
            continue  # someone else's deal with that customer stays theirs
        if d.owner_id != new_owner.id:
            _move(session, user, d, new_owner, "customer handover")
            n += 1
    session.execute(
        update(Activity)
        .where(Activity.customer_id.in_(list(customer_ids)), Activity.status == "planned")
        .values(owner_id=new_owner.id)
    )
    return n


def customer_deals(session, user, customer_id: int, limit: int = 20) -> list[Deal]:
    stmt = scoped(select(Deal), user).where(Deal.customer_id == customer_id)
    return list(session.scalars(stmt.order_by(Deal.id.desc()).limit(limit)))


def customer_timeline(session, user, customer_id: int, limit: int) -> list[dict]:
    """Done activities of the customer (deal openings/wins are on the customer's own
    timeline already)."""
    from flask import url_for

    rows = session.scalars(
        select(Activity)
        .where(Activity.customer_id == customer_id, Activity.done_at.is_not(None))
        .order_by(Activity.done_at.desc())
        .limit(limit)
    )
    out = []
    for a in rows:
        out.append(
            {
                "at": a.done_at,
                "kind": f"activity.{a.kind}",
                "title": f"{activity_kind_label(a.kind)}: {a.subject}",
                "body": a.result,
                "url": url_for("pipeline.deal", deal_id=a.deal_id) if a.deal_id else None,
                "module": "pipeline",
            }
        )
    return out


def activity_kind_label(kind: str) -> str:
    from flask_babel import gettext as _

    return {
        "call": _("Call"),
        "email": _("Email"),
        "visit": _("Visit"),
        "meeting": _("Meeting"),
    }.get(kind, kind)


# --- Activities (PIP-3) ------------------------------------------------------------------


def create_activity(session, user, data: dict) -> Activity:
    deal = None
    if data.get("deal_id") is not None:
        deal = get_deal(session, user, data["deal_id"])
        if deal is None:
            raise PipelineError(_l("Unknown deal, or one you may not see."), "deal_id")
    customer_id = data.get("customer_id") or (deal.customer_id if deal else None)
    if customer_id is None:
        raise PipelineError(_l("An activity is with a customer."), "customer_id")
    customer, _ = _check_customer(session, user, customer_id)
    if deal is not None and deal.customer_id not in (None, customer.id):
        raise PipelineError(_l("That deal is with another customer."), "deal_id")
    if data["kind"] not in ACTIVITY_KINDS:
        raise PipelineError(_l("Unknown kind of activity."), "kind")
    status = data.get("status") or (
        "done" if data.get("done_at") or data.get("result") else "planned"
    )
    if status not in ACTIVITY_STATUSES:
        raise PipelineError(_l("Unknown activity status."), "status")
    a = Activity(
        customer_id=customer.id,
        deal_id=deal.id if deal else None,
        owner_id=user.id,
        kind=data["kind"],
        status=status,
        subject=data["subject"].strip(),
        planned_at=data.get("planned_at"),
        result=data.get("result"),
    )
    if status == "done":
        a.done_at = data.get("done_at") or utcnow()
        if a.done_at > utcnow() + timedelta(minutes=5):
            raise PipelineError(_l("A done activity cannot be in the future."), "done_at")
    elif a.planned_at is None:
        raise PipelineError(_l("A planned activity needs a date."), "planned_at")
    session.add(a)
    session.flush()
    audit.record(session, "pipeline.activity", a, "create")
    return a


def get_activity(session, user, activity_id: int) -> Activity | None:
    a = session.get(Activity, activity_id)
    if a is None:
        return None
    if a.owner_id == user.id:
        return a
    if a.deal_id is not None and get_deal(session, user, a.deal_id) is not None:
        return a
    if _customers().get_customer(session, user, a.customer_id) is not None:
        return a
    return None


def update_activity(session, user, a: Activity, data: dict) -> Activity:
    check_version(a, data.get("version"))
    before = audit.snapshot(a)
    for f in ("subject", "planned_at", "result", "kind"):
        if f in data:
            setattr(a, f, data[f])
    if data.get("status") and data["status"] != a.status:
        if data["status"] not in ACTIVITY_STATUSES:
            raise PipelineError(_l("Unknown activity status."), "status")
        a.status = data["status"]
        if a.status == "done":
            a.done_at = data.get("done_at") or utcnow()
        else:
            a.done_at = None
    session.flush()
    audit.record(session, "pipeline.activity", a, "update", before=before)
    return a


def activities(
    session, user, deal_id=None, customer_id=None, owner_id=None, status=None, limit=100
):
    stmt = select(Activity)
    if deal_id is not None:
        stmt = stmt.where(Activity.deal_id == deal_id)
    if customer_id is not None:
        stmt = stmt.where(Activity.customer_id == customer_id)
    if owner_id is not None:
        stmt = stmt.where(Activity.owner_id == owner_id)
    if status:
        stmt = stmt.where(Activity.status == status)
    if deal_id is None and customer_id is None:
        cond = scope_filter(user, Activity.owner_id)
        if cond is not None:
            stmt = stmt.where(cond)
    order = func.coalesce(Activity.done_at, Activity.planned_at)
    return list(session.scalars(stmt.order_by(order.desc(), Activity.id.desc()).limit(limit)))


def overdue_for_contact(session, user, owner_id=None, limit=50, offset=0, now=None):
    """Customers overdue for contact (PIP-3): their last done activity is older than the
    frequency of their grade (ungraded customers count as C). ``[(customer, last contact or
    None, days allowed)]``, never-contacted first, then oldest contact; and whether there are
    more. The last contact is one index seek per customer (``MAX(done_at)`` on the
    (customer_id, done_at) index), computed once in a materialized CTE."""
    from crm_customers.models import Customer

    now = now or utcnow()
    days = contact_days(session)
    last = (
        select(func.max(Activity.done_at))
        .where(Activity.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )
    inner = select(
        Customer.id.label("cid"), Customer.grade.label("grade"), last.label("last_contact")
    )
    inner = inner.where(Customer.deleted_at.is_(None))
    cond = scope_filter(user, Customer.owner_id, Customer.department_id)
    if cond is not None:
        inner = inner.where(cond)
    if owner_id is not None:
        inner = inner.where(Customer.owner_id == owner_id)
    c = inner.cte("contact_due").prefix_with("MATERIALIZED")
    cutoff = case(
        (c.c.grade == "A", now - timedelta(days=days["A"])),
        (c.c.grade == "B", now - timedelta(days=days["B"])),
        else_=now - timedelta(days=days["C"]),
    )
    stmt = (
        select(Customer, c.c.last_contact)
        .join(c, Customer.id == c.c.cid)
        .where(or_(c.c.last_contact.is_(None), c.c.last_contact < cutoff))
        .order_by(c.c.last_contact.is_not(None), c.c.last_contact, Customer.id)
        .limit(limit + 1)
        .offset(offset)
    )
    rows = session.execute(stmt).all()
    out = [(cu, lc, days.get(cu.grade or "C", days["C"])) for cu, lc in rows[:limit]]
    return out, len(rows) > limit


# --- Appointments and reminders (PIP-4) --------------------------------------------------


def _users(session, ids) -> list[User]:
    users = []
    for uid in dict.fromkeys(ids or ()):
        u = session.get(User, uid)
        if u is None or not u.is_active:
            raise PipelineError(
                _l("Unknown or inactive user: %(uid)s.", uid=uid), "remind_user_ids"
            )
        users.append(u)
    return users


def create_appointment(session, user, data: dict) -> Appointment:
    deal = None
    if data.get("deal_id") is not None:
        deal = get_deal(session, user, data["deal_id"])
        if deal is None:
            raise PipelineError(_l("Unknown deal, or one you may not see."), "deal_id")
    customer_id = data.get("customer_id") or (deal.customer_id if deal else None)
    if customer_id is not None:
        _check_customer(session, user, customer_id)
    starts = data["starts_at"]
    if data.get("ends_at") is not None and data["ends_at"] < starts:
        raise PipelineError(_l("The appointment ends before it starts."), "ends_at")
    minutes = data.get("remind_minutes", 30)
    remind = _users(session, data.get("remind_user_ids") or [user.id])
    a = Appointment(
        subject=data["subject"].strip(),
        starts_at=starts,
        ends_at=data.get("ends_at"),
        location=data.get("location"),
        notes=data.get("notes"),
        remind_minutes=minutes,
        remind_at=starts - timedelta(minutes=minutes),
        deal_id=deal.id if deal else None,
        customer_id=customer_id,
        owner_id=user.id,
    )
    a.attendees = [AppointmentAttendee(user_id=u.id) for u in remind]
    session.add(a)
    session.flush()
    audit.record(session, "pipeline.appointment", a, "create")
    return a


def get_appointment(session, user, appointment_id: int) -> Appointment | None:
    a = session.get(Appointment, appointment_id)
    if a is None:
        return None
    if a.owner_id == user.id or user.id in a.remind_user_ids:
        return a
    if a.deal_id is not None and get_deal(session, user, a.deal_id) is not None:
        return a
    cond = scope_filter(user, Appointment.owner_id)
    if cond is None:
        return a
    return (
        a
        if session.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.id == a.id, cond)
        )
        else None
    )


def update_appointment(session, user, a: Appointment, data: dict) -> Appointment:
    check_version(a, data.get("version"))
    before = audit.snapshot(a)
    for f in ("subject", "starts_at", "ends_at", "location", "notes", "remind_minutes"):
        if f in data:
            setattr(a, f, data[f])
    if a.ends_at is not None and a.ends_at < a.starts_at:
        raise PipelineError(_l("The appointment ends before it starts."), "ends_at")
    if "remind_user_ids" in data:
        users = _users(session, data["remind_user_ids"])
        a.attendees = [AppointmentAttendee(user_id=u.id) for u in users]
    new_remind = a.starts_at - timedelta(minutes=a.remind_minutes)
    if new_remind != a.remind_at:
        a.remind_at = new_remind
        a.reminded_at = None  # moved: remind again at the new time
    session.flush()
    audit.record(session, "pipeline.appointment", a, "update", before=before)
    return a


def delete_appointment(session, user, a: Appointment) -> None:
    audit.record(session, "pipeline.appointment", a, "delete", before=audit.snapshot(a))
    session.delete(a)
    session.flush()


def appointments(session, user, start=None, end=None, deal_id=None, limit=200):
    stmt = select(Appointment)
    if deal_id is not None:
        stmt = stmt.where(Appointment.deal_id == deal_id)
    else:
        mine = or_(
            Appointment.owner_id == user.id,
            Appointment.id.in_(
                select(AppointmentAttendee.appointment_id).where(
                    AppointmentAttendee.user_id == user.id
                )
            ),
        )
        stmt = stmt.where(mine)
    if start is not None:
        stmt = stmt.where(func.coalesce(Appointment.ends_at, Appointment.starts_at) >= start)
    if end is not None:
        stmt = stmt.where(Appointment.starts_at < end)
    return list(session.scalars(stmt.order_by(Appointment.starts_at, Appointment.id).limit(limit)))


def send_due_reminders(session, now: datetime | None = None) -> int:
    """Deliver each appointment's reminder once, when due (scheduled job)."""
    now = now or utcnow()
    due = session.scalars(
        select(Appointment)
        .where(Appointment.reminded_at.is_(None), Appointment.remind_at <= now)
        .order_by(Appointment.remind_at)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for a in due:
        session.execute(
            update(Appointment)
            .where(Appointment.id == a.id)
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if a.starts_at < now - timedelta(hours=1):
            continue  # long past (created late): nothing useful to remind
        users = [session.get(User, uid) for uid in a.remind_user_ids] or [
            session.get(User, a.owner_id)
        ]
        from crm_host.timezones import to_local, user_zone

        for u in users:  # one message each: the time is written in the recipient's zone
            local = to_local(a.starts_at, u)
            when = f"{local:%Y-%m-%d %H:%M} ({user_zone(u).key})"
            notify(
                session,
                "pipeline.reminder",
                _l("Reminder: %(subject)s at %(when)s", subject=a.subject, when=when),
                "\n".join(x for x in (a.location, a.notes) if x),
                users=[u],
                data={
                    "appointment_id": a.id,
                    "deal_id": a.deal_id,
                    "starts_at": a.starts_at.isoformat(),
                },
            )
        sent += 1
    return sent


def calendar_events(session, user, start, end) -> list[dict]:
    """Appointments and planned activities for the channels calendar."""
    from flask import url_for

    out = []
    for a in appointments(session, user, start, end, limit=1000):
        out.append(
            {
                "uid": f"pipeline-appointment-{a.id}",
                "title": a.subject,
                "start": a.starts_at,
                "end": a.ends_at,
                "all_day": False,
                "url": _safe_url(url_for, "pipeline.deal", deal_id=a.deal_id)
                if a.deal_id
                else None,
                "kind": "appointment",
                "description": "\n".join(x for x in (a.location, a.notes) if x),
            }
        )
    stmt = select(Activity).where(
        Activity.owner_id == user.id,
        Activity.status == "planned",
        Activity.planned_at >= start,
        Activity.planned_at < end,
    )
    for act in session.scalars(stmt.order_by(Activity.planned_at).limit(1000)):
        out.append(
            {
                "uid": f"pipeline-activity-{act.id}",
                "title": f"{activity_kind_label(act.kind)}: {act.subject}",
                "start": act.planned_at,
                "end": None,
                "all_day": False,
                "url": _safe_url(url_for, "pipeline.deal", deal_id=act.deal_id)
                if act.deal_id
                else None,
                "kind": "reminder",
                "description": act.result or "",
            }
        )
    return out


def _safe_url(url_for, endpoint, **kw):
    try:
        return url_for(endpoint, **kw)
    except RuntimeError:  # no request (a worker): no URL
        return None


# --- Competitors (PIP-5) and documents (PIP-6) -------------------------------------------


def competitor_catalog(session, query: str = "", limit: int = 10) -> list[dict]:
    """Competitor profiles other modules keep (``crm_competitor_catalog``), e.g. knowledge's."""
    limit = max(1, min(int(limit), 50))
    found = _runtime().collect(
        "crm_competitor_catalog", session=session, query=(query or "").strip()[:100], limit=limit
    )
    return [c for c in found if isinstance(c, dict) and c.get("key") and c.get("name")][:limit]


def has_competitor_catalog() -> bool:
    caller = getattr(_runtime().pm.hook, "crm_competitor_catalog", None)
    return bool(caller and caller.get_hookimpls())


def add_competitor(session, user, deal: Deal, data: dict) -> Competitor:
    if data.get("price") is not None and money(data["price"]) < 0:
        raise PipelineError(_l("The price cannot be negative."), "price")
    url = None
    if data.get("catalog_key"):
        # The key must name a profile the catalogue knows now; its URL comes from there,
        # never from the client (a stored link must not be attacker-chosen).
        matches = [
            c
            for c in competitor_catalog(session, data["name"], 50)
            if c["key"] == data["catalog_key"]
        ]
        if not matches:
            raise PipelineError(
                _l("This competitor is not in the competitor catalogue."), "catalog_key"
            )
        url = matches[0].get("url")
    c = Competitor(
        deal_id=deal.id,
        catalog_key=data.get("catalog_key") or None,
        catalog_url=url,
        **{k: data.get(k) for k in ("name", "strategy", "strengths", "weaknesses", "price")},
    )
    session.add(c)
    session.flush()
    audit.record(session, "pipeline.competitor", c, "create")
    return c


def competitors(session, deal: Deal) -> list[Competitor]:
    return list(
        session.scalars(
            select(Competitor).where(Competitor.deal_id == deal.id).order_by(Competitor.id)
        )
    )


def delete_competitor(session, user, c: Competitor) -> None:
    audit.record(session, "pipeline.competitor", c, "delete", before=audit.snapshot(c))
    session.delete(c)


def add_document(session, user, deal: Deal, upload, filename: str, kind: str, storage) -> Document:
    """Store an accepted upload (see storage.accept_upload) and record it on the deal."""
    if kind not in DOCUMENT_KINDS:
        raise PipelineError(_l("Unknown kind of document."), "kind")
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[
        -1
    ].strip() or f"document.{upload.extension}"
    name = name[:200]
    key = save_in_transaction(session, storage, upload.file)
    doc = Document(
        deal_id=deal.id,
        kind=kind,
        filename=name,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
        storage_key=key,
        uploaded_by=user.id,
    )
    session.add(doc)
    session.flush()
    _event(session, deal, user, "document", None, kind, name)
    audit.record(session, "pipeline.document", doc, "create")
    return doc


def documents(session, deal: Deal) -> list[Document]:
    return list(
        session.scalars(
            select(Document).where(Document.deal_id == deal.id).order_by(Document.id.desc())
        )
    )


def delete_document(session, user, doc: Document, storage) -> None:
    audit.record(session, "pipeline.document", doc, "delete", before=audit.snapshot(doc))
    session.delete(doc)
    session.flush()
    delete_after_commit(session, storage, doc.storage_key)


# --- Won deals: order lines, deliveries, payments (PIP-9) --------------------------------


def _require_won(deal: Deal):
    if deal.status not in WON_STATUSES:
        raise PipelineError(
            _l("Order lines, deliveries and payments belong to won deals."), "status", 409
        )


def _has_lines(session, deal) -> bool:
    return bool(
        session.scalar(
            select(func.count()).select_from(OrderLine).where(OrderLine.deal_id == deal.id)
        )
    )


def _line_amount(q: Decimal, price: Decimal, discount: Decimal) -> Decimal:
    return money(Decimal(q) * Decimal(price) * (Decimal(100) - Decimal(discount)) / Decimal(100))


def add_line(session, user, deal: Deal, data: dict) -> OrderLine:
    _require_won(deal)
    q, price, disc = (
        Decimal(str(data["quantity"])),
        money(data["unit_price"]),
        Decimal(str(data.get("discount") or 0)),
    )
    if q <= 0:
        raise PipelineError(_l("The quantity must be more than zero."), "quantity")
    if price < 0:
        raise PipelineError(_l("The unit price cannot be negative."), "unit_price")
    if not 0 <= disc <= 100:
        raise PipelineError(_l("The discount is a percentage from 0 to 100."), "discount")
    line = OrderLine(
        deal_id=deal.id,
        product=data["product"].strip(),
        quantity=q,
        unit_price=price,
        discount=disc,
        amount=_line_amount(q, price, disc),
    )
    session.add(line)
    session.flush()
    _retotal(session, user, deal)
    audit.record(session, "pipeline.order_line", line, "create")
    return line


def delete_line(session, user, deal: Deal, line: OrderLine) -> None:
    _require_won(deal)
    audit.record(session, "pipeline.order_line", line, "delete", before=audit.snapshot(line))
    session.delete(line)
    session.flush()
    _retotal(session, user, deal)


def _retotal(session, user, deal: Deal):
    total = session.scalar(
        select(func.coalesce(func.sum(OrderLine.amount), 0)).where(OrderLine.deal_id == deal.id)
    )
    if money(total) != money(deal.amount):
        before = {"amount": str(deal.amount)}
        deal.amount = money(total)
        session.flush()
        audit.record(
            session, ENTITY, deal, "update", before=before, after={"amount": str(deal.amount)}
        )


def lines(session, deal: Deal) -> list[OrderLine]:
    return list(
        session.scalars(
            select(OrderLine).where(OrderLine.deal_id == deal.id).order_by(OrderLine.id)
        )
    )


def add_delivery(session, user, deal: Deal, data: dict) -> Delivery:
    _require_won(deal)
    d = Delivery(
        deal_id=deal.id, delivered_on=data["delivered_on"], description=data["description"].strip()
    )
    session.add(d)
    session.flush()
    audit.record(session, "pipeline.delivery", d, "create")
    return d


def deliveries(session, deal: Deal) -> list[Delivery]:
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.deal_id == deal.id)
            .order_by(Delivery.delivered_on, Delivery.id)
        )
    )


def add_payment(session, user, deal: Deal, data: dict) -> Payment:
    _require_won(deal)
    amount = money(data["amount"])
    if amount <= 0:
        raise PipelineError(_l("A planned payment is more than zero."), "amount")
    p = Payment(deal_id=deal.id, due_on=data["due_on"], amount=amount, note=data.get("note"))
    session.add(p)
    session.flush()
    audit.record(session, "pipeline.payment", p, "create")
    return p


def receive_payment(session, user, p: Payment, data: dict) -> Payment:
    check_version(p, data.get("version"))
    before = audit.snapshot(p)
    amt = data.get("received_amount")
    if amt is not None and money(amt) < 0:
        raise PipelineError(_l("A received amount cannot be negative."), "received_amount")
    if "received_on" in data:
        p.received_on = data["received_on"]
    if "received_amount" in data:
        p.received_amount = None if amt is None else money(amt)
    if p.received_on is not None and p.received_amount is None:
        p.received_amount = p.amount
    if "note" in data:
        p.note = data["note"]
    session.flush()
    audit.record(session, "pipeline.payment", p, "update", before=before)
    return p


def payments(session, deal: Deal) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment).where(Payment.deal_id == deal.id).order_by(Payment.due_on, Payment.id)
        )
    )


def payment_state(p: Payment, on: date | None = None) -> str:
    on = on or today()
    if p.received_on is not None:
        return "received" if money(p.received_amount) >= money(p.amount) else "partial"
    return "overdue" if p.due_on < on else "planned"


def send_overdue_payment_reminders(session, now: datetime | None = None) -> int:
    """Remind each overdue payment's deal owner once (scheduled job)."""
    now = now or utcnow()
    rows = session.execute(
        select(Payment, Deal)
        .join(Deal, Deal.id == Payment.deal_id)
        .where(
            Payment.received_on.is_(None),
            Payment.reminded_at.is_(None),
            Payment.due_on < now.date(),
        )
        .order_by(Payment.due_on)
        .limit(500)
    ).all()
    for p, d in rows:
        # A plain UPDATE: the reminder is bookkeeping, not an edit (the version stays).
        session.execute(
            update(Payment)
            .where(Payment.id == p.id)
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        owner = session.get(User, d.owner_id)
        notify(
            session,
            "pipeline.payment_overdue",
            _l(
                "Payment overdue: %(code)s %(customer)s %(amount)s due %(due)s",
                code=d.code,
                customer=d.customer_name or "",
                amount=p.amount,
                due=p.due_on.isoformat(),
            ),
            _l(
                "Deal %(code)s %(name)s: %(amount)s was due on %(due)s and has not been received.",
                code=d.code,
                name=d.name,
                amount=p.amount,
                due=p.due_on.isoformat(),
            ),
            users=[owner],
            data={"deal_id": d.id, "payment_id": p.id},
        )
    return len(rows)


# --- Targets (PIP-11) --------------------------------------------------------------------


def period_start(kind: str, day: date) -> date:
    if kind == "month":
        return day.replace(day=1)
    if kind == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise PipelineError(_l("The period is a month or a quarter."), "period_kind")


def period_end(kind: str, start: date) -> date:
    months = 1 if kind == "month" else 3
    m = start.month - 1 + months
    return date(start.year + m // 12, m % 12 + 1, 1)


def period_label(kind: str, start: date) -> str:
    if kind == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def set_target(session, user, data: dict) -> Target:
    """Set (or replace) a person's or a department's target for a month or a quarter."""
    if not has_permission(user, "pipeline.targets"):
        raise PipelineError(_l("Setting targets needs 'pipeline.targets'."), status=403)
    kind = data["period_kind"]
    if kind not in PERIOD_KINDS:
        raise PipelineError(_l("The period is a month or a quarter."), "period_kind")
    start = period_start(kind, data["period_start"])
    uid, did = data.get("user_id"), data.get("department_id")
    if (uid is None) == (did is None):
        raise PipelineError(_l("A target is for one person or one department."), "user_id")
    if uid is not None and session.get(User, uid) is None:
        raise PipelineError(_l("Unknown user."), "user_id")
    if did is not None and session.get(Department, did) is None:
        raise PipelineError(_l("Unknown department."), "department_id")
    amount = money(data["amount"])
    if amount < 0:
        raise PipelineError(_l("A target cannot be negative."), "amount")
    t = session.scalar(
        select(Target).where(
            Target.period_kind == kind,
            Target.period_start == start,
            Target.user_id.is_(None) if uid is None else Target.user_id == uid,
            Target.department_id.is_(None) if did is None else Target.department_id == did,
        )
    )
    before = audit.snapshot(t) if t else None
    if t is None:
        t = Target(
            period_kind=kind, period_start=start, user_id=uid, department_id=did, amount=amount
        )
        session.add(t)
    t.amount = amount
    t.set_by = user.id
    session.flush()
    audit.record(session, "pipeline.target", t, "update" if before else "create", before=before)
    return t


def targets(session, kind: str, start: date) -> list[Target]:
    return list(
        session.scalars(
            select(Target).where(Target.period_kind == kind, Target.period_start == start)
        )
    )


# --- Reports (PIP-10, PIP-11, PIP-12) ----------------------------------------------------


def _report_scope(stmt, user, owner_id=None, department_id=None):
    stmt = scoped(stmt, user)
    if owner_id is not None:
        stmt = stmt.where(Deal.owner_id == owner_id)
    if department_id is not None:
        from crm_host.db import session as current_session
        from crm_host.security import department_subtree

        depts = sorted(department_subtree(current_session(), department_id))
        stmt = stmt.where(Deal.department_id.in_(depts))
    return stmt


def funnel(session, user, owner_id=None, department_id=None, since=None, until=None) -> dict:
    """Count and amount per stage and stage-to-stage conversion (PIP-10), from one GROUP BY
    over (status, stage). A deal has *reached* a stage when it is at that stage or a later
    one, or was won; a lost deal counts up to the stage it was lost at."""
    stmt = select(Deal.status, Deal.stage_id, func.count(), func.coalesce(func.sum(Deal.amount), 0))
    stmt = _report_scope(stmt, user, owner_id, department_id)
    if since is not None:
        stmt = stmt.where(Deal.created_at >= _start_of(since))
    if until is not None:
        stmt = stmt.where(Deal.created_at < _start_of(until))
    stmt = stmt.group_by(Deal.status, Deal.stage_id)
    rows = session.execute(stmt).all()
    all_stages = stages(session)
    pos = {s.id: i for i, s in enumerate(all_stages)}
    n = len(all_stages)
    at = [[0, Decimal(0)] for _ in all_stages]  # open deals at each stage
    lost_at = [0] * n
    won = [0, Decimal(0)]
    lost = [0, Decimal(0)]
    for status, stage_id, count, amount in rows:
        i = pos.get(stage_id, 0)
        amount = Decimal(str(amount))
        if status == "tracking" and n:
            at[i][0] += count
            at[i][1] += amount
        elif status in WON_STATUSES:
            won[0] += count
            won[1] += amount
        elif status == "lost":
            lost[0] += count
            lost[1] += amount
            if n:
                lost_at[i] += count
    out = []
    later = won[0]
    reached = [0] * n
    for i in range(n - 1, -1, -1):
        later += at[i][0] + lost_at[i]
        reached[i] = later
    for i, s in enumerate(all_stages):
        nxt = reached[i + 1] if i + 1 < n else won[0]
        out.append(
            {
                "stage_id": s.id,
                "code": s.code,
                "name": s.name,
                "probability": s.probability,
                "count": at[i][0],
                "amount": money(at[i][1]),
                "reached": reached[i],
                "conversion": round(nxt / reached[i], 4) if reached[i] else None,
            }
        )
    total = sum(x[0] for x in at) + won[0] + lost[0]
    return {
        "stages": out,
        "won": {"count": won[0], "amount": money(won[1])},
        "lost": {"count": lost[0], "amount": money(lost[1])},
        "total": total,
        "win_rate": round(won[0] / (won[0] + lost[0]), 4) if won[0] + lost[0] else None,
    }


def _start_of(d):
    if isinstance(d, datetime):
        return d
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def _month_key(session, col):
    if session.bind.dialect.name == "sqlite":
        return func.strftime("%Y-%m", col)
    return func.to_char(col, "YYYY-MM")


def performance(
    session, user, period_kind: str, start: date, owner_id=None, department_id=None
) -> dict:
    """Won amount per person and per department against their targets for one month or
    quarter (PIP-11): one GROUP BY owner over the won deals of the period."""
    start = period_start(period_kind, start)
    end = period_end(period_kind, start)
    stmt = select(Deal.owner_id, func.count(), func.coalesce(func.sum(Deal.amount), 0)).where(
        Deal.won_on >= start, Deal.won_on < end, Deal.status.in_(WON_STATUSES)
    )
    stmt = _report_scope(stmt, user, owner_id, department_id).group_by(Deal.owner_id)
    won = {uid: (n, money(a)) for uid, n, a in session.execute(stmt)}
    tg = targets(session, period_kind, start)
    user_targets = {t.user_id: money(t.amount) for t in tg if t.user_id is not None}
    dept_targets = {t.department_id: money(t.amount) for t in tg if t.department_id is not None}
    # People: those with a won deal (already scoped) or a target, within what the user may
    # see. The scope is worked out from the departments loaded once, not one query each.
    from crm_host.security import grants_for, subordinates

    depts = {d.id: d for d in session.scalars(select(Department))}
    subtree = _subtrees(depts.values())
    scope = grants_for(user).scope
    ids = set(won) | set(user_targets)
    people = []
    if ids:
        # Plain columns: loading User entities would also load every user's roles.
        ustmt = select(User.id, User.name, User.department_id).where(User.id.in_(sorted(ids)))
        if owner_id is not None:
            ustmt = ustmt.where(User.id == owner_id)
        if department_id is not None:
            ustmt = ustmt.where(User.department_id.in_(sorted(subtree(department_id))))
        people = list(session.execute(ustmt.order_by(User.name)))
        if scope != "all":
            if scope == "own" or (user.department_id is None and scope != "own_subordinates"):
                mine = {user.id}
                people = [u for u in people if u.id in mine or u.id in won]
            elif scope == "own_subordinates":
                mine = subordinates(session, user.id)
                people = [u for u in people if u.id in mine or u.id in won]
            else:
                reach = (
                    {user.department_id} if scope == "department" else subtree(user.department_id)
                )
                people = [
                    u for u in people if u.id == user.id or u.id in won or u.department_id in reach
                ]
    rows = []
    by_dept: dict = {}
    for u in people:
        n, amount = won.get(u.id, (0, Decimal(0)))
        target = user_targets.get(u.id)
        rows.append(
            {
                "user_id": u.id,
                "name": u.name,
                "department": depts[u.department_id].name if u.department_id in depts else None,
                "department_id": u.department_id,
                "won_count": n,
                "won_amount": amount,
                "target": target,
                "attainment": round(float(amount / target), 4) if target else None,
            }
        )
        agg = by_dept.setdefault(u.department_id, [0, Decimal(0)])
        agg[0] += n
        agg[1] += amount
    # Departments: a department's figure covers its whole subtree (a sales department's
    # target is met by its teams). Only departments within the viewer's reach are shown.
    visible = None
    if scope != "all":
        visible = subtree(user.department_id) if user.department_id else set()
    dept_rows = []
    for did in sorted({d for d in by_dept if d is not None} | set(dept_targets)):
        if did not in depts or (visible is not None and did not in visible):
            continue
        if department_id is not None and did not in subtree(department_id):
            continue
        sub = subtree(did)
        n = sum(v[0] for k, v in by_dept.items() if k in sub)
        amount = sum((v[1] for k, v in by_dept.items() if k in sub), Decimal(0))
        target = dept_targets.get(did)
        dept_rows.append(
            {
                "department_id": did,
                "name": depts[did].name,
                "won_count": n,
                "won_amount": money(amount),
                "target": target,
                "attainment": round(float(amount / target), 4) if target else None,
            }
        )
    return {
        "period_kind": period_kind,
        "period": period_label(period_kind, start),
        "start": start,
        "end": end,
        "people": rows,
        "departments": dept_rows,
        "won_amount": money(sum((r["won_amount"] for r in rows), Decimal(0))),
        "target": money(sum((r["target"] or 0 for r in rows), Decimal(0))),
    }


def _subtrees(departments):
    """``subtree(id)``: a department and everything under it, from departments already
    loaded (one query for the whole report instead of one per department)."""
    children: dict = {}
    for d in departments:
        children.setdefault(d.parent_id, []).append(d.id)

    def subtree(root):
        out, todo = set(), [root]
        while todo:
            x = todo.pop()
            if x not in out:
                out.add(x)
                todo.extend(children.get(x, []))
        return out

    return subtree


def won_by_month(session, user, year: int, owner_id=None, department_id=None) -> dict:
    """Won amount per month of a year (for the performance chart)."""
    key = _month_key(session, Deal.won_on)
    stmt = select(key, func.coalesce(func.sum(Deal.amount), 0)).where(
        Deal.won_on >= date(year, 1, 1),
        Deal.won_on < date(year + 1, 1, 1),
        Deal.status.in_(WON_STATUSES),
    )
    stmt = _report_scope(stmt, user, owner_id, department_id).group_by(key)
    return {k: money(v) for k, v in session.execute(stmt)}


def forecast(
    session, user, months: int = 6, owner_id=None, department_id=None, start: date | None = None
) -> list[dict]:
    """Open deals by expected close month, with the amount weighted by probability (PIP-12).
    Deals whose expected close has passed show in the current month's "overdue" figures."""
    start = (start or today()).replace(day=1)
    end = start
    for _ in range(months):
        end = period_end("month", end)
    key = _month_key(session, Deal.expected_close)
    weighted = func.sum(Deal.amount * Deal.probability) / 100
    stmt = select(
        key, func.count(), func.coalesce(func.sum(Deal.amount), 0), func.coalesce(weighted, 0)
    ).where(Deal.status == "tracking", Deal.expected_close >= start, Deal.expected_close < end)
    stmt = _report_scope(stmt, user, owner_id, department_id).group_by(key)
    got = {k: (n, money(a), money(w)) for k, n, a, w in session.execute(stmt)}
    ostmt = select(
        func.count(), func.coalesce(func.sum(Deal.amount), 0), func.coalesce(weighted, 0)
    ).where(Deal.status == "tracking", Deal.expected_close < start)
    ostmt = _report_scope(ostmt, user, owner_id, department_id)
    on, oa, ow = session.execute(ostmt).one()
    out = []
    m = start
    for _ in range(months):
        k = f"{m.year}-{m.month:02d}"
        n, a, w = got.get(k, (0, Decimal(0), Decimal(0)))
        out.append({"month": k, "count": n, "amount": a, "weighted": w})
        m = period_end("month", m)
    return [{"month": "overdue", "count": on, "amount": money(oa), "weighted": money(ow)}, *out]


def pipeline_by_owner(session, user, limit=20):
    """Open pipeline per owner (count, amount) for the dashboard."""
    stmt = scoped(
        select(Deal.owner_id, func.count(), func.coalesce(func.sum(Deal.amount), 0)), user
    )
    stmt = stmt.where(Deal.status == "tracking").group_by(Deal.owner_id)
    return session.execute(stmt).all()[:limit]


# --- Demo and misc -----------------------------------------------------------------------


def ensure_default_stages(session) -> None:
    if session.scalar(select(func.count()).select_from(Stage)) == 0:
        for i, (code, name, prob) in enumerate(DEFAULT_STAGES):
            session.add(Stage(code=code, name=name, position=(i + 1) * 10, probability=prob))
        session.flush()


def delete_deal_children(session, deal_id):  # pragma: no cover - purge helper
    for model in (Competitor, Document, Urge, OrderLine, Delivery, Payment, DealEvent):
        session.execute(delete(model).where(model.deal_id == deal_id))
