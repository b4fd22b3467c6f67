"""Business rules of the service module. Pages, API, CLI, jobs and tests call these; nothing
here knows about HTTP. Functions never commit: the caller owns the transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.orm import lazyload

from crm_host import audit, numbering
from crm_host.db import check_version, utcnow
from crm_host.models import Department, User
from crm_host.notify import notify
from crm_host.security import has_permission, permission_holders, scope_filter

from .models import (
    KINDS,
    RECORD_KINDS,
    SEVERITIES,
    ServiceCategory,
    ServiceHoliday,
    ServiceRecord,
    ServiceSetting,
    SlaTarget,
    Survey,
    Ticket,
    TicketEvent,
)

ENTITY = "service.ticket"
NUMBER_KIND = "ticket"
DEFAULT_NUMBER_PATTERN = "T{yyyy}{seq:06}"
CLOSED = "closed"

# --- The workflows (SVC-1, SVC-2, SVC-3) -------------------------------------------------

WORKFLOWS = {
    "complaint": (
        "received",
        "triage",
        "assigned",
        "proposed",
        "approval",
        "implementation",
        "summary",
        "closed",
    ),
    "support": ("received", "assigned", "escalated", "answered", "closed"),
    "visit": ("received", "scheduled", "visited", "closed"),
}
#: (kind, from, to) -> the permission the step needs. Anything else is refused (409).
TRANSITIONS = {
    ("complaint", "received", "triage"): "service.triage",
    ("complaint", "triage", "assigned"): "service.assign",
    ("complaint", "assigned", "proposed"): "service.work",
    ("complaint", "proposed", "approval"): "service.work",  # only if the category needs it
    ("complaint", "proposed", "implementation"): "service.work",  # only if it does not
    ("complaint", "approval", "implementation"): "service.approve",
    ("complaint", "approval", "assigned"): "service.approve",  # refused: rework the solution
    ("complaint", "implementation", "summary"): "service.work",
    ("complaint", "summary", "closed"): "service.close",
    ("support", "received", "assigned"): "service.assign",
    ("support", "assigned", "escalated"): "service.escalate",
    ("support", "assigned", "answered"): "service.work",
    ("support", "escalated", "answered"): "service.work",
    ("support", "answered", "closed"): "service.close",
    ("support", "answered", "assigned"): "service.work",  # the answer did not help
    ("visit", "received", "scheduled"): "service.assign",
    ("visit", "scheduled", "visited"): "service.work",
    ("visit", "visited", "closed"): "service.close",
}
#: the step that counts as "resolved" for the resolution target
RESOLVED_AT = {"complaint": "summary", "support": "answered", "visit": "visited"}
#: steps whose comment is required (and kept on the ticket)
COMMENT_REQUIRED = {"proposed": "solution", "summary": "summary"}

STATUS_LABELS = {
    "received": _l("New"),
    "triage": _l("Triage"),
    "assigned": _l("Assigned"),
    "proposed": _l("Solution proposed"),
    "approval": _l("Leader approval"),
    "implementation": _l("Implementation"),
    "summary": _l("Summary"),
    "closed": _l("Closed"),
    "escalated": _l("Technical support"),
    "answered": _l("Answered"),
    "scheduled": _l("Scheduled"),
    "visited": _l("Serviced"),
}
KIND_LABELS = {
    "complaint": _l("Complaint"),
    "support": _l("Support request"),
    "visit": _l("After-sales visit"),
}
SEVERITY_LABELS = {
    "low": _l("Low"),
    "normal": _l("Normal"),
    "high": _l("High"),
    "urgent": _l("Urgent"),
}
RECORD_KIND_LABELS = {"onsite": _l("On site"), "phone": _l("By phone")}

#: business minutes (response, resolution) until an administrator sets targets
DEFAULT_TARGETS = {
    "urgent": (60, 8 * 60),
    "high": (4 * 60, 2 * 9 * 60),
    "normal": (8 * 60, 5 * 9 * 60),
    "low": (2 * 9 * 60, 10 * 9 * 60),
}
DEFAULT_HOURS = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}
DEFAULT_CATEGORIES = [  # (kind, code, name, needs approval)
    ("complaint", "product", "Product quality", False),
    ("complaint", "delivery", "Delivery and logistics", False),
    ("complaint", "billing", "Billing and refunds", True),
    ("complaint", "staff", "Staff attitude", True),
    ("support", "usage", "How to use", False),
    ("support", "fault", "Fault report", False),
    ("support", "account", "Account and access", False),
    ("visit", "install", "Installation service", False),
    ("visit", "repair", "Repair", False),
    ("visit", "maintenance", "Maintenance", False),
]
_CATEGORY_NAMES = (  # catalog markers: default category names are shown through gettext
    _l("Product quality"),
    _l("Delivery and logistics"),
    _l("Billing and refunds"),
    _l("Staff attitude"),
    _l("How to use"),
    _l("Fault report"),
    _l("Account and access"),
    _l("Installation service"),
    _l("Repair"),
    _l("Maintenance"),
)
_TIMELINE_TEXTS = (
    _l("Ticket %(code)s opened: %(title)s"),
    _l("Ticket %(code)s closed: %(title)s"),
    _l("After-sales service: %(content)s"),
)


def _t(message: str, **values) -> str:
    """Text stored for people to read (timeline entries), in the acting user's language when
    there is a request, in English otherwise."""
    try:
        from flask_babel import gettext

        return gettext(message, **values)
    except Exception:  # no request context
        return message % values


class ServiceError(ValueError):
    """A refused change; ``field`` names the input at fault, ``status`` the HTTP status."""

    def __init__(self, message, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


def _customers():
    from crm_customers import services as customers

    return customers


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


# --- Settings, categories, service levels ------------------------------------------------


def get_setting(session, key: str, default):
    row = session.get(ServiceSetting, key)
    return row.value if row is not None else default


def set_setting(session, key: str, value) -> None:
    row = session.get(ServiceSetting, key)
    if row is None:
        session.add(ServiceSetting(key=key, value=value))
    else:
        row.value = value


def ensure_defaults(session) -> bool:
    """Default categories (idempotent): called on first use and by the demo. True when it
    added them."""
    if session.scalar(select(ServiceCategory.id).limit(1)) is not None:
        return False
    for i, (kind, code, name, approval) in enumerate(DEFAULT_CATEGORIES):
        session.add(
            ServiceCategory(
                kind=kind, code=code, name=name, needs_approval=approval, position=10 * (i + 1)
            )
        )
    session.flush()
    return True


def categories(session, kind: str | None = None, active_only: bool = False):
    stmt = select(ServiceCategory).order_by(
        ServiceCategory.kind, ServiceCategory.position, ServiceCategory.id
    )
    if kind:
        stmt = stmt.where(ServiceCategory.kind == kind)
    if active_only:
        stmt = stmt.where(ServiceCategory.is_active.is_(True))
    return list(session.scalars(stmt))


def save_category(session, user, data: dict, cat: ServiceCategory | None = None):
    if not has_permission(user, "service.admin"):
        raise ServiceError(_l("Configuring the service module needs 'service.admin'."), status=403)
    kind = data.get("kind", cat.kind if cat else None)
    if kind not in KINDS:
        raise ServiceError(_l("Unknown ticket kind."), "kind")
    code = (data.get("code") or (cat.code if cat else "")).strip().lower()
    if not code or len(code) > 32 or not code.replace("_", "").isalnum():
        raise ServiceError(_l("A code of letters, digits or _ (at most 32) is required."), "code")
    clash = session.scalar(
        select(ServiceCategory).where(ServiceCategory.kind == kind, ServiceCategory.code == code)
    )
    if clash is not None and clash is not cat:
        raise ServiceError(_l("The category code “%(code)s” is taken.", code=code), "code")
    before = audit.snapshot(cat) if cat else None
    if cat is None:
        cat = ServiceCategory(kind=kind, code=code, name=code)
        session.add(cat)
    cat.kind, cat.code = kind, code
    for f in ("name", "needs_approval", "is_active", "position"):
        if f in data and data[f] is not None:
            setattr(cat, f, data[f].strip() if isinstance(data[f], str) else data[f])
    session.flush()
    audit.record(session, "service.category", cat, "update" if before else "create", before=before)
    return cat


def sla_targets(session) -> list[SlaTarget]:
    return list(session.scalars(select(SlaTarget).order_by(SlaTarget.category_id, SlaTarget.id)))


def target_for(session, severity: str, category_id: int | None) -> tuple[int, int]:
    """(response, resolution) business minutes: the category's own target for the severity,
    else the severity's, else the built-in default."""
    rows = session.scalars(
        select(SlaTarget).where(
            SlaTarget.severity == severity,
            or_(SlaTarget.category_id == category_id, SlaTarget.category_id.is_(None)),
        )
    ).all()
    own = [r for r in rows if r.category_id is not None and r.category_id == category_id]
    generic = [r for r in rows if r.category_id is None]
    for r in own + generic:
        return r.response_minutes, r.resolution_minutes
    return DEFAULT_TARGETS.get(severity, DEFAULT_TARGETS["normal"])


def set_sla_target(session, user, severity, category_id, response, resolution) -> SlaTarget:
    if not has_permission(user, "service.admin"):
        raise ServiceError(_l("Configuring the service module needs 'service.admin'."), status=403)
    if severity not in SEVERITIES:
        raise ServiceError(_l("Unknown severity."), "severity")
    if category_id is not None and session.get(ServiceCategory, category_id) is None:
        raise ServiceError(_l("Unknown category."), "category_id")
    for field, v in (("response_minutes", response), ("resolution_minutes", resolution)):
        if not isinstance(v, int) or not 1 <= v <= 365 * 24 * 60:
            raise ServiceError(_l("A target is a number of minutes from 1 to 525600."), field)
    if resolution < response:
        raise ServiceError(
            _l("The resolution target cannot be shorter than the response target."),
            "resolution_minutes",
        )
    row = session.scalar(
        select(SlaTarget).where(
            SlaTarget.severity == severity,
            SlaTarget.category_id.is_(None)
            if category_id is None
            else SlaTarget.category_id == category_id,
        )
    )
    if row is None:
        row = SlaTarget(severity=severity, category_id=category_id)
        session.add(row)
    row.response_minutes, row.resolution_minutes = response, resolution
    session.flush()
    audit.record(session, "service.sla", row, "update")
    return row


def delete_sla_target(session, user, row: SlaTarget) -> None:
    if not has_permission(user, "service.admin"):
        raise ServiceError(_l("Configuring the service module needs 'service.admin'."), status=403)
    audit.record(session, "service.sla", row, "delete", before=audit.snapshot(row))
    session.delete(row)


def business_hours(session) -> dict:
    return {**DEFAULT_HOURS, **get_setting(session, "hours", {})}


def _parse_hm(v: str) -> time:
    try:
        h, m = str(v).split(":")
        return time(int(h), int(m))
    except (ValueError, TypeError):
        raise ServiceError(_l("Write times as HH:MM."), "start") from None


def set_business_hours(session, user, days, start: str, end: str) -> dict:
    if not has_permission(user, "service.admin"):
        raise ServiceError(_l("Configuring the service module needs 'service.admin'."), status=403)
    days = sorted({int(d) for d in days or []})
    if not days or any(d < 0 or d > 6 for d in days):
        raise ServiceError(_l("Choose at least one working day."), "days")
    s, e = _parse_hm(start), _parse_hm(end)
    if e <= s:
        raise ServiceError(_l("The working day must end after it starts."), "end")
    value = {"days": days, "start": s.strftime("%H:%M"), "end": e.strftime("%H:%M")}
    set_setting(session, "hours", value)
    return value


def holidays(session, since: date | None = None) -> list[ServiceHoliday]:
    stmt = select(ServiceHoliday).order_by(ServiceHoliday.day)
    if since:
        stmt = stmt.where(ServiceHoliday.day >= since)
    return list(session.scalars(stmt))


def add_holiday(session, user, day: date, name: str) -> ServiceHoliday:
    if not has_permission(user, "service.admin"):
        raise ServiceError(_l("Configuring the service module needs 'service.admin'."), status=403)
    if not isinstance(day, date):
        raise ServiceError(_l("Choose a day."), "day")
    row = session.get(ServiceHoliday, day)
    if row is None:
        row = ServiceHoliday(day=day)
        session.add(row)
    row.name = (name or "").strip()[:80]
    return row


def delete_holiday(session, user, day: date) -> None:
    if not has_permission(user, "service.admin"):
        raise ServiceError(_l("Configuring the service module needs 'service.admin'."), status=403)
    row = session.get(ServiceHoliday, day)
    if row is not None:
        session.delete(row)


# --- The business-hours clock (SVC-4) -----------------------------------------------------


@dataclass
class Calendar:
    zone: object
    days: frozenset
    start: time
    end: time
    holidays: frozenset

    @classmethod
    def load(cls, session) -> Calendar:
        from crm_host.timezones import zone as tz

        h = business_hours(session)
        name = current_app.config.get("CRM_TIMEZONE", "UTC")
        days = frozenset(h["days"])
        today = utcnow().date()
        hol = frozenset(
            session.scalars(
                select(ServiceHoliday.day).where(
                    ServiceHoliday.day >= today - timedelta(days=400),
                    ServiceHoliday.day <= today + timedelta(days=800),
                )
            )
        )
        return cls(tz(name) or timezone.utc, days, _parse_hm(h["start"]), _parse_hm(h["end"]), hol)

    def _window(self, day: date):
        if day.weekday() not in self.days or day in self.holidays:
            return None
        return (
            datetime.combine(day, self.start, self.zone),
            datetime.combine(day, self.end, self.zone),
        )

    def add(self, start: datetime, minutes: int) -> datetime:
        """``start`` plus ``minutes`` of business time (UTC in, UTC out)."""
        cur = start.astimezone(self.zone)
        left = timedelta(minutes=minutes)
        for _ in range(3700):
            w = self._window(cur.date())
            if w is not None:
                s = max(cur, w[0])
                if s < w[1]:
                    avail = w[1] - s
                    if left <= avail:
                        return (s + left).astimezone(timezone.utc)
                    left -= avail
            nxt = cur.date() + timedelta(days=1)
            cur = datetime.combine(nxt, time(0), self.zone)
        return (start + timedelta(minutes=minutes)).astimezone(timezone.utc)  # no working day

    def minutes_between(self, a: datetime, b: datetime) -> int:
        """Business minutes from ``a`` to ``b``."""
        if b <= a:
            return 0
        cur, end = a.astimezone(self.zone), b.astimezone(self.zone)
        total = timedelta(0)
        for _ in range(3700):
            if cur >= end:
                break
            w = self._window(cur.date())
            if w is not None:
                s, e = max(cur, w[0]), min(end, w[1])
                if e > s:
                    total += e - s
            cur = datetime.combine(cur.date() + timedelta(days=1), time(0), self.zone)
        return int(total.total_seconds() // 60)


def _set_due(session, t: Ticket, cal: Calendar | None = None) -> None:
    cal = cal or Calendar.load(session)
    response, resolution = target_for(session, t.severity, t.category_id)
    paused = t.paused_minutes or 0
    t.response_due_at = cal.add(t.created_at, response + paused)
    t.resolution_due_at = cal.add(t.created_at, resolution + paused)


def watch_values(t) -> dict:
    """The derived columns (see models): the next deadline to escalate, and the open
    resolution deadline while the clock runs."""
    running = t.status != CLOSED and t.waiting_since is None
    pending = []
    if running and t.responded_at is None and t.response_escalated_at is None:
        pending.append(t.response_due_at)
    if running and t.resolved_at is None and t.resolution_escalated_at is None:
        pending.append(t.resolution_due_at)
    pending = [p for p in pending if p is not None]
    return {
        "watch_at": min(pending) if pending else None,
        "open_due_at": t.resolution_due_at if running and t.resolved_at is None else None,
    }


def _rewatch(t: Ticket) -> None:
    for k, v in watch_values(t).items():
        setattr(t, k, v)


def is_overdue(t: Ticket, now: datetime | None = None) -> bool:
    return t.open_due_at is not None and t.open_due_at < (now or utcnow())


def _leaders_for(session, t_department_id, owner_id) -> list[User]:
    """Whom a breach escalates to: the leader of the ticket's department (or the nearest
    department above with one), else the assignee's supervisor, else the people who may
    approve service decisions."""
    seen = set()
    dep_id = t_department_id
    while dep_id is not None and dep_id not in seen:
        seen.add(dep_id)
        dep = session.get(Department, dep_id)
        if dep is None:
            break
        if dep.leader_id:
            leader = session.get(User, dep.leader_id)
            if leader is not None and leader.is_active:
                return [leader]
        dep_id = dep.parent_id
    owner = session.get(User, owner_id) if owner_id else None
    if owner is not None and owner.supervisor_id:
        sup = session.get(User, owner.supervisor_id)
        if sup is not None and sup.is_active:
            return [sup]
    return list(
        session.scalars(
            select(User)
            .where(User.is_active.is_(True), permission_holders(User.id, "service.approve"))
            .order_by(User.id)
            .limit(5)
        )
    )


def escalate_breaches(session, now: datetime | None = None, batch: int = 500) -> int:
    """The service-level job (SVC-4): every ticket whose response or resolution deadline
    passed while its clock ran is escalated once to its department's leader. Reads only the
    breaches (``watch_at <= now`` from its index), marks each breach escalated and moves
    ``watch_at`` on, so the next run never sees it again."""
    now = now or utcnow()
    n = 0
    leaders: dict = {}
    while True:
        rows = session.scalars(
            select(Ticket)
            .options(lazyload(Ticket.category))  # no outer join: FOR UPDATE needs none
            .where(Ticket.watch_at <= now)
            .order_by(Ticket.watch_at, Ticket.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return n
        updates = []
        with session.no_autoflush:  # events and outbox rows go in one batch at the end
            _escalate_batch(session, rows, now, leaders, updates)
        n += sum(1 for u in updates if u.pop("_breach"))
        # bookkeeping, not an edit: one executemany UPDATE for the batch (the version stays)
        tbl = Ticket.__table__
        session.execute(
            tbl.update()
            .where(tbl.c.id == bindparam("b_id"))
            .values(
                {
                    c: bindparam(c)
                    for c in (
                        "response_escalated_at",
                        "resolution_escalated_at",
                        "watch_at",
                        "open_due_at",
                    )
                }
            ),
            updates,
        )
        for t in rows:
            session.expire(t)


def _escalate_batch(session, rows, now, leaders, updates) -> None:
    for t in rows:
        which = []
        values = {
            "response_escalated_at": t.response_escalated_at,
            "resolution_escalated_at": t.resolution_escalated_at,
        }
        if t.responded_at is None and t.response_escalated_at is None:
            if t.response_due_at is not None and t.response_due_at <= now:
                which.append("response")
                values["response_escalated_at"] = now
        if t.resolved_at is None and t.resolution_escalated_at is None:
            if t.resolution_due_at is not None and t.resolution_due_at <= now:
                which.append("resolution")
                values["resolution_escalated_at"] = now
        values.update(watch_values(_Snap(t, values)))
        updates.append({"b_id": t.id, "_breach": bool(which), **values})
        if not which:
            continue
        key = (t.department_id, t.owner_id)
        if key not in leaders:
            leaders[key] = _leaders_for(session, t.department_id, t.owner_id)
        which_text = (
            _l("response and resolution targets")
            if len(which) == 2
            else _l("response target")
            if which == ["response"]
            else _l("resolution target")
        )
        session.add(
            TicketEvent(
                ticket_id=t.id,
                at=now,
                kind="sla",
                comment=",".join(which),
                data={"escalated_to": [u.id for u in leaders[key]]},
            )
        )
        notify(
            session,
            "service.sla_breach",
            _l("Overdue ticket %(code)s: %(title)s", code=t.code, title=t.title),
            _l(
                "Ticket %(code)s (%(customer)s) missed its %(which)s and is escalated to you.",
                code=t.code,
                customer=t.customer_name or "—",
                which=which_text,
            ),
            users=leaders[key],
            data={"ticket_id": t.id, "breach": which},
        )


class _Snap:
    """A ticket's columns with some values replaced (to compute the derived columns of an
    UPDATE without touching the loaded object)."""

    def __init__(self, t, values):
        self._t, self._v = t, values

    def __getattr__(self, name):
        return self._v[name] if name in self._v else getattr(self._t, name)


# --- Reading tickets ---------------------------------------------------------------------


@dataclass
class Filters:
    q: str | None = None
    kind: str | None = None
    status: str | None = None
    severity: str | None = None
    customer_id: int | None = None
    department_id: int | None = None
    owner_id: int | None = None
    category_id: int | None = None
    overdue: bool | None = None

    @classmethod
    def from_args(cls, args: dict) -> Filters:
        return cls(
            **{k: args.get(k) for k in cls.__dataclass_fields__ if args.get(k) not in (None, "")}
        )

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def scoped(stmt, user, wide: bool = False):
    cond = scope_filter(user, Ticket.owner_id, Ticket.department_id, wide=wide)
    return stmt if cond is None else stmt.where(cond)


def ticket_query(session, user, filters: Filters, stmt=None, now=None, wide: bool = False):
    stmt = scoped(select(Ticket) if stmt is None else stmt, user, wide)
    for attr in (
        "kind",
        "status",
        "severity",
        "customer_id",
        "department_id",
        "owner_id",
        "category_id",
    ):
        value = getattr(filters, attr)
        if value not in (None, ""):
            stmt = stmt.where(getattr(Ticket, attr) == value)
    if filters.overdue is True:
        stmt = stmt.where(Ticket.open_due_at < (now or utcnow()))
    elif filters.overdue is False:
        stmt = stmt.where(
            or_(Ticket.open_due_at.is_(None), Ticket.open_due_at >= (now or utcnow()))
        )
    if filters.q and filters.q.strip():
        q = filters.q.strip()[:100]
        stmt = stmt.where(
            or_(
                Ticket.code == q,
                Ticket.title.contains(q, autoescape=True),
                Ticket.customer_name.contains(q, autoescape=True),
            )
        )
    return stmt


SORTABLE = {
    "code": Ticket.code,
    "title": Ticket.title,
    "created_at": Ticket.created_at,
    "updated_at": Ticket.updated_at,
    "due": Ticket.open_due_at,
    "severity": Ticket.severity,
    "id": Ticket.id,
}


def get_ticket(session, user, ticket_id: int) -> Ticket | None:
    """The ticket if it exists and ``user`` may see it; otherwise None (callers answer 404)."""
    t = session.get(Ticket, ticket_id)
    if t is None:
        return None
    cond = scope_filter(user, Ticket.owner_id, Ticket.department_id)
    if cond is None:
        return t
    seen = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.id == t.id, cond))
    return t if seen else None


def events(session, t: Ticket) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == t.id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
    )


def _event(
    session, t, user, kind, from_status=None, to_status=None, comment=None, data=None, at=None
):
    e = TicketEvent(
        ticket_id=t.id,
        at=at or utcnow(),
        user_id=getattr(user, "id", None),
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        comment=comment,
        data=data,
    )
    session.add(e)
    return e


def next_steps(t: Ticket) -> list[str]:
    """The statuses the ticket may move to now (whoever asks), in workflow order."""
    flow = WORKFLOWS[t.kind]
    out = [to for (k, frm, to) in TRANSITIONS if k == t.kind and frm == t.status]
    if t.kind == "complaint" and t.status == "proposed":
        needs = bool(t.category and t.category.needs_approval)
        out = [x for x in out if x == ("approval" if needs else "implementation")]
    return sorted(out, key=lambda s: (flow.index(s) < flow.index(t.status), flow.index(s)))


# --- Writing tickets ---------------------------------------------------------------------


def _check_customer(session, user, customer_id, contact_id=None):
    customers = _customers()
    customer = customers.get_customer(session, user, customer_id)
    if customer is None:
        raise ServiceError(_l("Unknown customer, or one you may not see."), "customer_id")
    contact = None
    if contact_id is not None:
        contact = customers.get_contact(session, user, contact_id)
        if contact is None or contact.customer_id != customer.id:
            raise ServiceError(_l("That contact does not belong to the customer."), "contact_id")
    return customer, contact


def _fill_customer(t: Ticket, customer, contact) -> None:
    if contact is None and customer is not None:
        contact = _customers().primary_contact(customer)
    t.customer_id = customer.id if customer else None
    t.customer_name = customer.name if customer else None
    t.contact_id = contact.id if contact else None
    t.contact_name = contact.name if contact else None
    t.contact_email = (contact.email if contact else None) or (
        getattr(customer, "email", None) if customer else None
    )


def _category(session, kind, category_id):
    if category_id is None:
        return None
    cat = session.get(ServiceCategory, category_id)
    if cat is None or not cat.is_active or cat.kind != kind:
        raise ServiceError(_l("Unknown category for this kind of ticket."), "category_id")
    return cat


def _user(session, user_id, field="owner_id") -> User:
    u = session.get(User, user_id)
    if u is None or not u.is_active:
        raise ServiceError(_l("Unknown or inactive user."), field)
    return u


def _department(session, department_id, field="department_id") -> Department:
    d = session.get(Department, department_id)
    if d is None:
        raise ServiceError(_l("Unknown department."), field)
    return d


def create_ticket(session, user, data: dict, now: datetime | None = None) -> Ticket:
    """A new ticket at "received", numbered, its service-level deadlines set."""
    kind = data.get("kind")
    if kind not in KINDS:
        raise ServiceError(_l("Unknown ticket kind."), "kind")
    severity = data.get("severity") or "normal"
    if severity not in SEVERITIES:
        raise ServiceError(_l("Unknown severity."), "severity")
    ensure_defaults(session)
    cat = _category(session, kind, data.get("category_id"))
    owner = user
    if data.get("owner_id") not in (None, user.id):
        if not has_permission(user, "service.assign"):
            raise ServiceError(
                _l("Assigning a ticket to someone else needs 'service.assign'."), status=403
            )
        owner = _user(session, data["owner_id"])
    dep_id = data.get("department_id") or owner.department_id
    if data.get("department_id") is not None:
        _department(session, data["department_id"])
    customer = contact = None
    if data.get("customer_id") is not None:
        customer, contact = _check_customer(
            session, user, data["customer_id"], data.get("contact_id")
        )
    elif data.get("contact_id") is not None:
        raise ServiceError(_l("Choose the customer before its contact."), "contact_id")
    title = (data.get("title") or "").strip()
    if not title:
        raise ServiceError(_l("A title is required."), "title")
    t = Ticket(
        kind=kind,
        status="received",
        title=title[:200],
        description=data.get("description"),
        target=data.get("target"),
        severity=severity,
        category_id=cat.id if cat else None,
        owner_id=owner.id,
        department_id=dep_id,
        created_by=user.id,
        created_at=now or utcnow(),
        paused_minutes=0,
    )
    t.category = cat
    _fill_customer(t, customer, contact)
    if contact is None and customer is None:
        t.contact_email = None
    _set_due(session, t)
    _rewatch(t)
    t.code = numbering.next_code(session, NUMBER_KIND, DEFAULT_NUMBER_PATTERN)
    session.add(t)
    session.flush()
    _event(session, t, user, "created", None, "received", data.get("description"), at=t.created_at)
    audit.record(session, ENTITY, t, "create")
    if customer is not None:
        _customers().add_timeline(
            session,
            customer.id,
            "ticket",
            _t("Ticket %(code)s opened: %(title)s", code=t.code, title=t.title),
            user_id=user.id,
            module="service",
            data={"ticket_id": t.id},
        )
    return t


def update_ticket(session, user, t: Ticket, data: dict) -> Ticket:
    """PATCH: ``version`` required (409 when stale). Changing severity or category moves
    the deadlines; ``waiting`` pauses and resumes the service-level clock."""
    check_version(t, data.get("version"))
    if t.status == CLOSED and set(data) - {"version"}:
        raise ServiceError(_l("A closed ticket cannot be changed."), status=409)
    before = audit.snapshot(t)
    for f in ("title", "description", "target"):
        if f in data:
            v = data[f]
            if f == "title":
                v = (v or "").strip()
                if not v:
                    raise ServiceError(_l("A title is required."), "title")
            setattr(t, f, v)
    redo_due = False
    if "severity" in data and data["severity"] != t.severity:
        if data["severity"] not in SEVERITIES:
            raise ServiceError(_l("Unknown severity."), "severity")
        t.severity = data["severity"]
        redo_due = True
    if "category_id" in data and data["category_id"] != t.category_id:
        cat = _category(session, t.kind, data["category_id"])
        t.category_id = cat.id if cat else None
        t.category = cat
        redo_due = True
    if "customer_id" in data or "contact_id" in data:
        cid = data.get("customer_id", t.customer_id)
        if cid is None:
            _fill_customer(t, None, None)
        else:
            customer, contact = _check_customer(session, user, cid, data.get("contact_id"))
            _fill_customer(t, customer, contact)
    if "owner_id" in data and data["owner_id"] != t.owner_id:
        if not has_permission(user, "service.assign"):
            raise ServiceError(
                _l("Assigning a ticket to someone else needs 'service.assign'."), status=403
            )
        new = _user(session, data["owner_id"])
        _event(session, t, user, "assign", data={"from": t.owner_id, "to": new.id})
        t.owner_id = new.id
    if "department_id" in data and data["department_id"] != t.department_id:
        if not has_permission(user, "service.assign"):
            raise ServiceError(
                _l("Moving a ticket to another department needs 'service.assign'."), status=403
            )
        t.department_id = _department(session, data["department_id"]).id
    if "waiting" in data:
        set_waiting(session, user, t, bool(data["waiting"]), data.get("comment"))
    if redo_due:
        _set_due(session, t)
    _rewatch(t)
    session.flush()
    audit.record(session, ENTITY, t, "update", before=before)
    return t


def set_waiting(session, user, t: Ticket, waiting: bool, comment=None, now=None) -> None:
    """Waiting for the customer pauses the clock; resuming adds the paused business time
    to the deadlines."""
    now = now or utcnow()
    if waiting and t.waiting_since is None:
        if t.status == CLOSED:
            raise ServiceError(_l("A closed ticket cannot be changed."), status=409)
        t.waiting_since = now
        _event(session, t, user, "waiting", comment=comment, at=now)
    elif not waiting and t.waiting_since is not None:
        cal = Calendar.load(session)
        paused = cal.minutes_between(t.waiting_since, now)
        t.paused_minutes = (t.paused_minutes or 0) + paused
        t.waiting_since = None
        _set_due(session, t, cal)
        _event(
            session, t, user, "resumed", comment=comment, data={"paused_minutes": paused}, at=now
        )
    _rewatch(t)


def transition(session, user, t: Ticket, to: str, comment: str | None = None, data=None, now=None):
    """Move the ticket one step (SVC-1/2/3). Refused with 409 from the wrong step and 403
    without the step's permission; nothing changes then."""
    data = dict(data or {})
    now = now or utcnow()
    if data.get("version") is not None:
        check_version(t, data["version"])
    flow = WORKFLOWS[t.kind]
    if to not in flow:
        raise ServiceError(
            _l(
                "“%(to)s” is not a step of a %(kind)s.",
                to=to,
                kind=KIND_LABELS.get(t.kind, t.kind),
            ),
            "to",
        )
    perm = TRANSITIONS.get((t.kind, t.status, to))
    allowed = next_steps(t)
    if perm is None or to not in allowed:
        if (
            t.kind == "complaint"
            and t.status == "proposed"
            and to in ("approval", "implementation")
        ):
            msg = (
                _l(
                    "The category “%(cat)s” needs the leader's approval before implementation.",
                    cat=t.category.name if t.category else "",
                )
                if to == "implementation"
                else _l(
                    "The category of this complaint needs no approval; go on to implementation."
                )
            )
        else:
            msg = _l(
                "A ticket at “%(now)s” cannot go to “%(to)s”; the next step is %(next)s.",
                now=STATUS_LABELS.get(t.status, t.status),
                to=STATUS_LABELS.get(to, to),
                next=" / ".join(status_label(s) for s in allowed) or "—",
            )
        raise ServiceError(msg, "to", status=409)
    if not has_permission(user, perm):
        raise ServiceError(
            _l(
                "Moving a ticket to “%(to)s” needs the permission '%(perm)s'.",
                to=STATUS_LABELS.get(to, to),
                perm=perm,
            ),
            status=403,
        )
    comment = (comment or "").strip() or None
    if to in COMMENT_REQUIRED and not comment:
        raise ServiceError(
            _l("Describe the solution.") if to == "proposed" else _l("Write the summary."),
            "comment",
        )
    before = audit.snapshot(t)
    old = t.status
    extra = {}
    if to in ("assigned", "escalated", "scheduled"):
        if data.get("owner_id") is not None and data["owner_id"] != t.owner_id:
            t.owner_id = _user(session, data["owner_id"]).id
            extra["owner_id"] = t.owner_id
        dep = data.get("department_id")
        if to == "escalated" and dep is None:
            dep = get_setting(session, "tech_department_id", None)
            if dep is None:
                raise ServiceError(
                    _l("Choose the technical support department to escalate to."),
                    "department_id",
                )
        if dep is not None and dep != t.department_id:
            t.department_id = _department(session, dep).id
            extra["department_id"] = t.department_id
        if to == "escalated":
            t.escalated = True
    if to == "proposed":
        t.solution = comment
    if to == "summary":
        t.summary = comment
    if t.responded_at is None:
        t.responded_at = now
    if to == RESOLVED_AT[t.kind] or (to == CLOSED and t.resolved_at is None):
        t.resolved_at = t.resolved_at or now
    if t.kind == "support" and old == "answered" and to == "assigned":
        t.resolved_at = None  # reopened
    t.status = to
    if to == CLOSED:
        t.closed_at = now
        if t.waiting_since is not None:
            t.waiting_since = None
    _rewatch(t)
    session.flush()
    _event(session, t, user, "transition", old, to, comment, extra or None, at=now)
    audit.record(session, ENTITY, t, "update", before=before)
    if to == CLOSED:
        _closed(session, user, t)
    return t


def reply(session, user, t: Ticket, body: str, to_customer: bool = True, now=None) -> TicketEvent:
    """An answer to the customer (Markdown), counted as the first response."""
    body = (body or "").strip()
    if not body:
        raise ServiceError(_l("Write the answer."), "body")
    if len(body) > 20000:
        raise ServiceError(_l("The answer is too long (at most 20,000 characters)."), "body")
    if t.status == CLOSED:
        raise ServiceError(_l("A closed ticket cannot be changed."), status=409)
    now = now or utcnow()
    sent = bool(to_customer and t.contact_email)
    e = _event(
        session,
        t,
        user,
        "reply",
        comment=body,
        data={"sent_to": t.contact_email if sent else None},
        at=now,
    )
    if t.responded_at is None:
        session.execute(
            update(Ticket)
            .where(Ticket.id == t.id)
            .values(responded_at=now, **watch_values(_Snap(t, {"responded_at": now})))
            .execution_options(synchronize_session=False)
        )
        session.expire(t)
    if sent:
        notify(
            session,
            "service.reply",
            _l("Re: %(code)s %(title)s", code=t.code, title=t.title),
            body,
            addresses=[(_contact_channel(), t.contact_email)],
            data={"ticket_id": t.id},
        )
    return e


def _contact_channel() -> str:
    """Email when the channels module provides it, else the development log."""
    from crm_host.notify import current_runtime

    return "email" if "email" in current_runtime().channels else "log"


def _closed(session, user, t: Ticket) -> None:
    if t.customer_id is not None:
        _customers().add_timeline(
            session,
            t.customer_id,
            "ticket",
            _t("Ticket %(code)s closed: %(title)s", code=t.code, title=t.title),
            body=t.summary,
            user_id=getattr(user, "id", None),
            module="service",
            data={"ticket_id": t.id},
        )
    send_survey(session, t)


# --- Satisfaction (SVC-5) ----------------------------------------------------------------


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="crm-service-survey")


def survey_max_age() -> int:
    return int(current_app.config.get("CRM_SERVICE_SURVEY_DAYS", 30)) * 86400


def survey_token(s: Survey) -> str:
    return _signer().dumps({"s": s.id, "n": s.nonce})


def survey_url(s: Survey) -> str:
    from flask import url_for

    return url_for("service.survey", token=survey_token(s), _external=True)


def send_survey(session, t: Ticket) -> Survey:
    """The survey of a closed ticket, and its link to the contact (once per ticket)."""
    s = session.scalar(select(Survey).where(Survey.ticket_id == t.id))
    if s is not None:
        return s
    s = Survey(
        ticket_id=t.id,
        nonce=secrets.token_hex(8),
        email=t.contact_email,
        agent_id=t.owner_id,
        department_id=t.department_id,
        category_id=t.category_id,
    )
    session.add(s)
    session.flush()
    if t.contact_email:
        url = survey_url(s)
        notify(
            session,
            "service.survey",
            _l("How did we do? Ticket %(code)s", code=t.code),
            _l(
                "Dear %(name)s,\n\nyour request “%(title)s” (%(code)s) is closed. Please tell "
                "us in one click how satisfied you are:\n\n%(url)s\n\nThank you.",
                name=t.contact_name or t.customer_name or "",
                title=t.title,
                code=t.code,
                url=url,
            ),
            addresses=[(_contact_channel(), t.contact_email)],
            data={"ticket_id": t.id, "survey_url": url},
        )
    return s


class SurveyLinkError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "invalid", "expired"


def survey_for_token(session, token: str) -> Survey:
    try:
        data = _signer().loads(token, max_age=survey_max_age())
    except SignatureExpired:
        raise SurveyLinkError("expired") from None
    except BadSignature:
        raise SurveyLinkError("invalid") from None
    s = session.get(Survey, data.get("s")) if isinstance(data, dict) else None
    if s is None or s.nonce != data.get("n"):
        raise SurveyLinkError("invalid")
    return s


def answer_survey(session, s: Survey, score, comment: str | None) -> bool:
    """Record the answer; False when the survey was answered already (the first wins,
    even between two simultaneous posts)."""
    try:
        score = int(score)
    except (TypeError, ValueError):
        raise ServiceError(_l("Choose a score from 1 to 5."), "score") from None
    if not 1 <= score <= 5:
        raise ServiceError(_l("Choose a score from 1 to 5."), "score")
    res = session.execute(
        update(Survey)
        .where(Survey.id == s.id, Survey.answered_at.is_(None))
        .values(score=score, comment=(comment or "").strip()[:2000] or None, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.expire(s)
    return res.rowcount == 1


def survey_of(session, t: Ticket) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.ticket_id == t.id))


# --- After-sales records (SVC-3) ---------------------------------------------------------


def records_query(session, user, customer_id=None, ticket_id=None):
    stmt = select(ServiceRecord)
    cond = scope_filter(user, ServiceRecord.owner_id, ServiceRecord.department_id)
    if cond is not None:
        # the engineer sees the records they did, too
        stmt = stmt.where(or_(cond, ServiceRecord.engineer_id == user.id))
    if customer_id is not None:
        stmt = stmt.where(ServiceRecord.customer_id == customer_id)
    if ticket_id is not None:
        stmt = stmt.where(ServiceRecord.ticket_id == ticket_id)
    return stmt


def get_record(session, user, record_id) -> ServiceRecord | None:
    r = session.get(ServiceRecord, record_id)
    if r is None:
        return None
    seen = session.scalar(
        select(func.count()).select_from(
            records_query(session, user).where(ServiceRecord.id == r.id).subquery()
        )
    )
    return r if seen else None


def add_record(session, user, data: dict) -> ServiceRecord:
    t = None
    if data.get("ticket_id") is not None:
        t = get_ticket(session, user, data["ticket_id"])
        if t is None:
            raise ServiceError(_l("Unknown ticket."), "ticket_id")
    cid = data.get("customer_id") or (t.customer_id if t else None)
    if cid is None:
        raise ServiceError(_l("Choose the customer."), "customer_id")
    customer, _ = _check_customer(session, user, cid)
    if data.get("kind") not in RECORD_KINDS:
        raise ServiceError(_l("Choose on site or by phone."), "kind")
    engineer = _user(session, data.get("engineer_id") or user.id, "engineer_id")
    start, end = data.get("started_at"), data.get("ended_at")
    if start is None:
        raise ServiceError(_l("When did the service start?"), "started_at")
    if end is not None and end < start:
        raise ServiceError(_l("The service ends before it starts."), "ended_at")
    content = (data.get("content") or "").strip()
    if not content:
        raise ServiceError(_l("Describe what was done."), "content")
    r = ServiceRecord(
        ticket_id=t.id if t else None,
        customer_id=customer.id,
        kind=data["kind"],
        engineer_id=engineer.id,
        owner_id=user.id,
        department_id=t.department_id if t else user.department_id,
        started_at=start,
        ended_at=end,
        content=content,
        result=data.get("result"),
        signed_by=(data.get("signed_by") or "").strip() or None,
    )
    if r.signed_by:
        r.signed_at = utcnow()
    session.add(r)
    session.flush()
    audit.record(session, "service.record", r, "create")
    if t is not None:
        _event(session, t, user, "record", comment=content, data={"record_id": r.id})
    _customers().add_timeline(
        session,
        customer.id,
        "service",
        _t("After-sales service: %(content)s", content=content[:120]),
        body=r.result,
        user_id=user.id,
        module="service",
        data={"record_id": r.id, "ticket_id": r.ticket_id},
    )
    return r


def update_record(session, user, r: ServiceRecord, data: dict) -> ServiceRecord:
    check_version(r, data.get("version"))
    before = audit.snapshot(r)
    for f in ("ended_at", "content", "result"):
        if f in data:
            setattr(r, f, data[f])
    if r.ended_at is not None and r.ended_at < r.started_at:
        raise ServiceError(_l("The service ends before it starts."), "ended_at")
    if data.get("signed_by"):
        r.signed_by = data["signed_by"].strip()[:120]
        r.signed_at = utcnow()
    session.flush()
    audit.record(session, "service.record", r, "update", before=before)
    return r


# --- The customer 360° (CUS-4) -----------------------------------------------------------


def customer_tickets(session, user, customer_id: int, limit: int = 10) -> list[Ticket]:
    stmt = scoped(select(Ticket), user).where(Ticket.customer_id == customer_id)
    return list(session.scalars(stmt.order_by(Ticket.id.desc()).limit(limit)))


def customer_records(session, user, customer_id: int, limit: int = 10) -> list[ServiceRecord]:
    stmt = records_query(session, user, customer_id=customer_id)
    return list(session.scalars(stmt.order_by(ServiceRecord.started_at.desc()).limit(limit)))


def customers_merged(session, source_id: int, target_id: int) -> None:
    session.execute(
        update(Ticket).where(Ticket.customer_id == source_id).values(customer_id=target_id)
    )
    session.execute(
        update(ServiceRecord)
        .where(ServiceRecord.customer_id == source_id)
        .values(customer_id=target_id)
    )


# --- Support answers from another module (SVC-2) -----------------------------------------


def answers_available() -> bool:
    """Whether an active module answers ``crm_service_answers`` (the knowledge module)."""
    from crm_host.notify import current_runtime

    rt = current_runtime()
    caller = getattr(rt.pm.hook, "crm_service_answers", None)
    if caller is None:
        return False
    return any(i.plugin_name in rt.active for i in caller.get_hookimpls())


def search_answers(user, query: str, limit: int = 5, locale: str | None = None) -> list[dict]:
    from crm_host.notify import current_runtime

    query = (query or "").strip()[:200]
    if not query:
        return []
    limit = max(1, min(int(limit or 5), 20))
    out = []
    for r in current_runtime().collect(
        "crm_service_answers", query=query, user=user, limit=limit, locale=locale
    ):
        if isinstance(r, dict) and r.get("answer") is not None:
            out.append(
                {
                    "id": str(r.get("id", "")),
                    "title": str(r.get("title", "")),
                    "answer": str(r.get("answer", "")),
                    "url": str(r.get("url") or ""),
                    "snippet": str(r.get("snippet") or ""),
                }
            )
    return out


# --- Reports (SVC-6, REP-1) --------------------------------------------------------------


def _month(session, col):
    """The month of ``col`` as a group key (``_ym`` turns it into "YYYY-MM"); PostgreSQL's
    date_trunc is several times cheaper per row than to_char."""
    if session.bind.dialect.name == "sqlite":
        return func.strftime("%Y-%m", col)
    return func.date_trunc("month", col)


def _ym(v):
    return v if v is None or isinstance(v, str) else v.strftime("%Y-%m")


def _hours(session, a, b):
    """(b - a) in hours, in SQL."""
    if session.bind.dialect.name == "sqlite":
        return (func.julianday(b) - func.julianday(a)) * 24.0
    return func.extract("epoch", b - a) / 3600.0


def _start(d):
    if d is None or isinstance(d, datetime):
        return d
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def _report_filters(stmt, user, kind=None, since=None, until=None, col=None):
    stmt = scoped(stmt, user)
    col = Ticket.created_at if col is None else col
    if kind:
        stmt = stmt.where(Ticket.kind == kind)
    if since:
        stmt = stmt.where(col >= _start(since))
    if until:
        stmt = stmt.where(col < _start(until))
    return stmt


def by_status(session, user, kind=None, since=None, until=None) -> list[dict]:
    stmt = select(Ticket.kind, Ticket.status, func.count()).group_by(Ticket.kind, Ticket.status)
    rows = session.execute(_report_filters(stmt, user, kind, since, until)).all()
    order = {(k, s): i for k in KINDS for i, s in enumerate(WORKFLOWS[k])}
    rows = sorted(
        rows, key=lambda r: (KINDS.index(r[0]) if r[0] in KINDS else 9, order.get((r[0], r[1]), 99))
    )
    return [{"kind": k, "status": s, "count": n} for k, s, n in rows]


def by_category(session, user, kind=None, since=None, until=None) -> list[dict]:
    stmt = select(
        Ticket.category_id, func.count(), func.sum(case((Ticket.status == CLOSED, 1), else_=0))
    )
    stmt = _report_filters(stmt, user, kind, since, until).group_by(Ticket.category_id)
    rows = session.execute(stmt).all()
    cats = {c.id: c for c in categories(session)}
    out = [
        {
            "category_id": cid,
            "category": cats[cid].name if cid in cats else None,
            "kind": cats[cid].kind if cid in cats else None,
            "count": n,
            "closed": int(c or 0),
        }
        for cid, n, c in rows
    ]
    return sorted(out, key=lambda r: -r["count"])


def by_department(session, user, kind=None, since=None, until=None, now=None) -> list[dict]:
    now = now or utcnow()
    stmt = select(
        Ticket.department_id,
        func.count(),
        func.sum(case((Ticket.status != CLOSED, 1), else_=0)),
        func.sum(case((Ticket.open_due_at < now, 1), else_=0)),
    )
    stmt = _report_filters(stmt, user, kind, since, until).group_by(Ticket.department_id)
    rows = session.execute(stmt).all()
    names = dict(session.execute(select(Department.id, Department.name)).all())
    out = [
        {
            "department_id": d,
            "department": names.get(d),
            "count": n,
            "open": int(o or 0),
            "overdue": int(x or 0),
        }
        for d, n, o, x in rows
    ]
    return sorted(out, key=lambda r: -r["count"])


AGE_BUCKETS = (  # (key, upper bound in days)
    ("lt1", 1),
    ("1to3", 3),
    ("3to7", 7),
    ("7to30", 30),
    ("gt30", None),
)


def age_buckets(session, user, kind=None, now=None) -> list[dict]:
    """Open tickets by age (one GROUP BY over a CASE on created_at)."""
    now = now or utcnow()
    whens = [
        (Ticket.created_at > now - timedelta(days=days), key) for key, days in AGE_BUCKETS if days
    ]
    bucket = case(*whens, else_="gt30")
    stmt = select(bucket.label("b"), func.count()).where(Ticket.status != CLOSED)
    stmt = _report_filters(stmt, user, kind).group_by("b")
    got = dict(session.execute(stmt).all())
    return [{"bucket": key, "count": got.get(key, 0)} for key, _ in AGE_BUCKETS]


def resolution_time(session, user, kind=None, since=None, until=None) -> list[dict]:
    """Resolved tickets per month of resolution: count, average and longest hours."""
    hours = _hours(session, Ticket.created_at, Ticket.resolved_at)
    month = _month(session, Ticket.resolved_at)
    stmt = select(month.label("m"), func.count(), func.avg(hours), func.max(hours)).where(
        Ticket.resolved_at.is_not(None)
    )
    stmt = _report_filters(stmt, user, kind, since, until, col=Ticket.resolved_at)
    rows = session.execute(stmt.group_by("m").order_by("m")).all()
    return [
        {
            "month": _ym(m),
            "count": n,
            "avg_hours": round(float(a or 0), 1),
            "max_hours": round(float(x or 0), 1),
        }
        for m, n, a, x in rows
    ]


def sla_compliance(session, user, kind=None, since=None, until=None) -> list[dict]:
    """Per month of creation: tickets responded to and resolved within their targets."""
    month = _month(session, Ticket.created_at)
    resp_met = func.sum(case((Ticket.responded_at <= Ticket.response_due_at, 1), else_=0))
    resp_n = func.sum(case((Ticket.responded_at.is_not(None), 1), else_=0))
    res_met = func.sum(case((Ticket.resolved_at <= Ticket.resolution_due_at, 1), else_=0))
    res_n = func.sum(case((Ticket.resolved_at.is_not(None), 1), else_=0))
    breached = func.sum(
        case(
            (
                or_(
                    Ticket.response_escalated_at.is_not(None),
                    Ticket.resolution_escalated_at.is_not(None),
                ),
                1,
            ),
            else_=0,
        )
    )
    stmt = select(month.label("m"), func.count(), resp_n, resp_met, res_n, res_met, breached)
    stmt = _report_filters(stmt, user, kind, since, until)
    rows = session.execute(stmt.group_by("m").order_by("m")).all()
    out = []
    for m, n, rn, rm, sn, sm, b in rows:
        rn, rm, sn, sm = int(rn or 0), int(rm or 0), int(sn or 0), int(sm or 0)
        out.append(
            {
                "month": _ym(m),
                "count": n,
                "responded": rn,
                "response_met": rm,
                "response_rate": round(rm / rn, 4) if rn else None,
                "resolved": sn,
                "resolution_met": sm,
                "resolution_rate": round(sm / sn, 4) if sn else None,
                "escalated": int(b or 0),
            }
        )
    return out


CSAT_GROUPS = ("agent", "department", "category", "month")


def satisfaction(session, user, group: str = "agent", since=None, until=None) -> list[dict]:
    """CSAT per agent, department, category or month of answer: answers, average score and
    share of satisfied (4 or 5)."""
    if group not in CSAT_GROUPS:
        raise ServiceError(_l("Group by agent, department, category or month."), "group")
    col = {
        "agent": Survey.agent_id,
        "department": Survey.department_id,
        "category": Survey.category_id,
        "month": _month(session, Survey.answered_at),
    }[group]
    stmt = select(
        col.label("g"),
        func.count(),
        func.avg(Survey.score),
        func.sum(case((Survey.score >= 4, 1), else_=0)),
    ).where(Survey.answered_at.is_not(None))
    cond = scope_filter(user, Survey.agent_id, Survey.department_id)
    if cond is not None:
        stmt = stmt.where(cond)
    if since:
        stmt = stmt.where(Survey.answered_at >= _start(since))
    if until:
        stmt = stmt.where(Survey.answered_at < _start(until))
    rows = session.execute(stmt.group_by("g")).all()
    if group == "agent":
        names = dict(
            session.execute(
                select(User.id, User.name).where(User.id.in_([r[0] for r in rows]))
            ).all()
        )
    elif group == "department":
        names = dict(session.execute(select(Department.id, Department.name)).all())
    elif group == "category":
        names = {c.id: c.name for c in categories(session)}
    else:
        names = {}
    out = [
        {
            "key": _ym(g) if group == "month" else g,
            "name": names.get(g, g) if group != "month" else _ym(g),
            "answers": n,
            "average": round(float(a or 0), 2),
            "csat": round(int(s or 0) / n, 4) if n else None,
        }
        for g, n, a, s in rows
    ]
    return sorted(out, key=lambda r: str(r["key"]) if group == "month" else -r["answers"])


def survey_totals(session, user) -> dict:
    stmt = select(
        func.count(Survey.id),
        func.count(Survey.answered_at),
        func.avg(Survey.score),
        func.sum(case((Survey.score >= 4, 1), else_=0)),
    )
    cond = scope_filter(user, Survey.agent_id, Survey.department_id)
    if cond is not None:
        stmt = stmt.where(cond)
    sent, answered, avg, happy = session.execute(stmt).one()
    return {
        "sent": sent,
        "answered": answered,
        "average": round(float(avg), 2) if avg is not None else None,
        "csat": round(int(happy or 0) / answered, 4) if answered else None,
    }


def overdue_count(session, user, now=None, cap: int = 1000) -> int:
    """Overdue tickets within the user's scope, counted up to ``cap`` (the menu badge runs
    this on every page: a book with a hundred thousand overdue tickets must not count them
    all each time)."""
    ids = scoped(select(Ticket.id), user).where(Ticket.open_due_at < (now or utcnow()))
    return session.scalar(select(func.count()).select_from(ids.limit(cap).subquery())) or 0


def overdue_tickets(session, user, limit=8, now=None) -> list[Ticket]:
    stmt = scoped(select(Ticket), user).where(Ticket.open_due_at < (now or utcnow()))
    return list(session.scalars(stmt.order_by(Ticket.open_due_at).limit(limit)))
