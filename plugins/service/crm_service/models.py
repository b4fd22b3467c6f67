"""Tables of the service module (prefix ``service_``).

One ticket table serves complaints, support requests and after-sales visits (``kind``). The
service-level clock is kept as due dates on the ticket; two derived columns make the job and
the lists cheap at millions of tickets:

* ``watch_at``: the earliest deadline that has not been escalated yet, NULL when nothing is
  pending (closed, waiting for the customer, or every breach escalated). The escalation job
  reads ``WHERE watch_at <= now`` from its index: the work is proportional to the breaches.
* ``open_due_at``: the resolution deadline while the ticket is open and its clock runs, NULL
  otherwise. "Overdue" is ``open_due_at < now``, again one index range.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_host.db import Base, TimestampMixin, VersionedMixin, utcnow

KINDS = ("complaint", "support", "visit")
SEVERITIES = ("low", "normal", "high", "urgent")
RECORD_KINDS = ("onsite", "phone")


class ServiceSetting(Base):
    __tablename__ = "service_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)


class ServiceCategory(VersionedMixin, Base):
    """A ticket category of one kind (admin-configurable); complaints of a category with
    ``needs_approval`` go through the leader's approval step."""

    __tablename__ = "service_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=100)

    __table_args__ = (UniqueConstraint("kind", "code"),)


class SlaTarget(Base):
    """Response and resolution targets (business minutes) for a severity, optionally only
    for one category (a category's own target wins over the severity's default)."""

    __tablename__ = "service_sla_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    severity: Mapped[str] = mapped_column(String(16))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_category.id", ondelete="CASCADE")
    )
    response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("severity", "category_id"),)


class ServiceHoliday(Base):
    __tablename__ = "service_holiday"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), default="")


class Ticket(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "service_ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="received")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    #: what a complaint is about (a product, an order, a person)
    target: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16), default="normal")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("service_category.id"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_customer.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_contact.id", ondelete="SET NULL")
    )
    customer_name: Mapped[str | None] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    #: the assignee (record scopes filter on it) and the responsible department
    owner_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="SET NULL")
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)  # to technical support
    solution: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    # Service levels
    response_due_at: Mapped[datetime | None] = mapped_column()
    resolution_due_at: Mapped[datetime | None] = mapped_column()
    responded_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    waiting_since: Mapped[datetime | None] = mapped_column()
    #: business minutes spent waiting for the customer (added to the deadlines)
    paused_minutes: Mapped[int] = mapped_column(Integer, default=0)
    response_escalated_at: Mapped[datetime | None] = mapped_column()
    resolution_escalated_at: Mapped[datetime | None] = mapped_column()
    watch_at: Mapped[datetime | None] = mapped_column()
    open_due_at: Mapped[datetime | None] = mapped_column()

    category: Mapped[ServiceCategory | None] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_service_ticket_watch", "watch_at"),
        Index("ix_service_ticket_open_due", "open_due_at", "owner_id", "department_id"),
        Index("ix_service_ticket_owner", "owner_id", "status"),
        # by department (open, overdue): GROUP BY department_id from the index alone
        Index("ix_service_ticket_department", "department_id", "status", "open_due_at", "owner_id"),
        Index("ix_service_ticket_customer", "customer_id", "id"),
        # reports: GROUP BY status / category / department / month, read from the index
        Index(
            "ix_service_ticket_report",
            "kind",
            "status",
            "category_id",
            "department_id",
            "owner_id",
            "created_at",
        ),
        Index("ix_service_ticket_closed", "closed_at", "kind", "department_id", "category_id"),
        # resolution time per month of resolution, read from the index alone
        Index(
            "ix_service_ticket_resolved",
            "resolved_at",
            "kind",
            "owner_id",
            "department_id",
            "created_at",
        ),
        # service-level compliance per month of opening, read from the index alone
        Index(
            "ix_service_ticket_sla",
            "created_at",
            "kind",
            "owner_id",
            "department_id",
            "responded_at",
            "response_due_at",
            "resolved_at",
            "resolution_due_at",
            "response_escalated_at",
            "resolution_escalated_at",
        ),
    )


class TicketEvent(Base):
    """The ticket's timeline: creation, every workflow step, replies, escalations; with who,
    when and the comment."""

    __tablename__ = "service_ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_ticket.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_service_ticket_event_ticket", "ticket_id", "at"),)


class ServiceRecord(VersionedMixin, TimestampMixin, Base):
    """An after-sales service (SVC-3): on site or by phone, by an engineer, with the
    customer's sign-off."""

    __tablename__ = "service_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_ticket.id", ondelete="SET NULL")
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers_customer.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    engineer_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    content: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    signed_by: Mapped[str | None] = mapped_column(String(120))
    signed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_service_record_customer", "customer_id", "started_at"),)


class Survey(Base):
    """The satisfaction survey sent when a ticket closes (SVC-5); answered once."""

    __tablename__ = "service_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("service_ticket.id", ondelete="CASCADE"), unique=True
    )
    nonce: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()
    score: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    # copied from the ticket at closing, so CSAT groups without a join
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="SET NULL")
    )
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_category.id", ondelete="SET NULL")
    )

    # CSAT per agent, department, category or month from the index alone
    __table_args__ = (
        Index(
            "ix_service_survey_answered",
            "answered_at",
            "agent_id",
            "department_id",
            "category_id",
            "score",
        ),
    )
