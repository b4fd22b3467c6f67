"""Tables of the pipeline module (prefix ``pipeline_``).

Indexes are chosen for the reports (funnel, performance, forecast) and the "overdue for
contact" list, so each of them is a GROUP BY the database answers from an index."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_host.db import Base, TimestampMixin, VersionedMixin, utcnow

STATUSES = ("tracking", "won", "completed", "lost")
OPEN_STATUSES = ("tracking",)
WON_STATUSES = ("won", "completed")
ACTIVITY_KINDS = ("call", "email", "visit", "meeting")
ACTIVITY_STATUSES = ("planned", "done", "cancelled")
PERIOD_KINDS = ("month", "quarter")
DOCUMENT_KINDS = ("quote", "contract", "other")

Money = Numeric(16, 2)


class Stage(VersionedMixin, Base):
    """A stage inside "tracking" (admin-configurable), with its default probability."""

    __tablename__ = "pipeline_stage"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=100)
    probability: Mapped[int] = mapped_column(Integer, default=10)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Deal(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "pipeline_deal"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_customer.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_contact.id", ondelete="SET NULL")
    )
    # The customer's details as they were when chosen (filled in from the customer).
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    customer_address: Mapped[str | None] = mapped_column(String(300))
    contact_name: Mapped[str | None] = mapped_column(String(120))
    owner_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="SET NULL")
    )
    amount: Mapped[Decimal] = mapped_column(Money, default=0)
    expected_close: Mapped[date | None] = mapped_column(Date)
    probability: Mapped[int] = mapped_column(Integer, default=10)
    source: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="tracking")
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_stage.id"))
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    #: The day the deal was won (counts toward performance and revenue from then on).
    won_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    contract_no: Mapped[str | None] = mapped_column(String(60))
    contract_signed_on: Mapped[date | None] = mapped_column(Date)
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)

    stage: Mapped[Stage | None] = relationship(lazy="joined")

    __table_args__ = (
        # The reports read only these indexes (covering: every column they filter, group or
        # sum is in the index), whatever the viewer's scope (owner or department filter).
        # Funnel: GROUP BY status, stage (period = created_at).
        Index(
            "ix_pipeline_deal_status_stage",
            "status",
            "stage_id",
            "owner_id",
            "department_id",
            "amount",
            "created_at",
        ),
        Index("ix_pipeline_deal_owner_status", "owner_id", "status", "stage_id", "amount"),
        Index("ix_pipeline_deal_department", "department_id", "status", "stage_id", "amount"),
        Index("ix_pipeline_deal_created", "created_at"),
        # Performance: won amount per owner in a month or quarter.
        Index("ix_pipeline_deal_won", "won_on", "status", "owner_id", "department_id", "amount"),
        # Forecast: open deals by expected close month, weighted by probability.
        Index(
            "ix_pipeline_deal_forecast",
            "status",
            "expected_close",
            "owner_id",
            "department_id",
            "probability",
            "amount",
        ),
        Index("ix_pipeline_deal_customer", "customer_id", "status"),
        Index("ix_pipeline_deal_name", "name"),
    )


class DealEvent(Base):
    """Every change of stage, status, owner; urges and notes: the deal's history."""

    __tablename__ = "pipeline_deal_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("pipeline_deal.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))  # created, stage, status, transfer, urge
    from_value: Mapped[str | None] = mapped_column(String(64))
    to_value: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_pipeline_deal_event_deal", "deal_id", "at"),)


class Activity(VersionedMixin, TimestampMixin, Base):
    """A call, email, visit or meeting with a customer, planned or done, with its result."""

    __tablename__ = "pipeline_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers_customer.id", ondelete="CASCADE")
    )
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_deal.id", ondelete="SET NULL"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="planned")
    subject: Mapped[str] = mapped_column(String(200))
    planned_at: Mapped[datetime | None] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column()
    result: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # Last contact per customer (MAX(done_at)) for the overdue-for-contact list.
        Index("ix_pipeline_activity_customer_done", "customer_id", "done_at"),
        Index("ix_pipeline_activity_deal", "deal_id", "id"),
        Index("ix_pipeline_activity_owner_planned", "owner_id", "status", "planned_at"),
    )


class Appointment(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "pipeline_appointment"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    location: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    remind_minutes: Mapped[int] = mapped_column(Integer, default=30)
    remind_at: Mapped[datetime] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_deal.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_customer.id", ondelete="SET NULL")
    )
    owner_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))

    attendees = relationship("AppointmentAttendee", cascade="all, delete-orphan", lazy="selectin")

    @property
    def remind_user_ids(self) -> list[int]:
        return sorted(a.user_id for a in self.attendees)

    __table_args__ = (
        Index("ix_pipeline_appointment_due", "reminded_at", "remind_at"),
        Index("ix_pipeline_appointment_owner", "owner_id", "starts_at"),
        Index("ix_pipeline_appointment_deal", "deal_id"),
    )


class AppointmentAttendee(Base):
    """The people to remind of an appointment (and who see it on their calendar)."""

    __tablename__ = "pipeline_appointment_attendee"

    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_appointment.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_pipeline_appointment_attendee_user", "user_id"),)


class Competitor(Base):
    __tablename__ = "pipeline_competitor"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_deal.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # The profile this entry refers to in another module's catalogue (crm_competitor_catalog),
    # e.g. "knowledge:12"; the URL is kept so the deal page links without asking that module.
    catalog_key: Mapped[str | None] = mapped_column(String(80))
    catalog_url: Mapped[str | None] = mapped_column(String(500))
    strategy: Mapped[str | None] = mapped_column(Text)
    strengths: Mapped[str | None] = mapped_column(Text)
    weaknesses: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A file on a deal; the bytes live in the storage (see storage.py), not in the database."""

    __tablename__ = "pipeline_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_deal.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="other")
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Urge(Base):
    __tablename__ = "pipeline_urge"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("pipeline_deal.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_pipeline_urge_deal", "deal_id", "at"),)


class OrderLine(Base):
    __tablename__ = "pipeline_order_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_deal.id", ondelete="CASCADE"), index=True
    )
    product: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=0)  # percent
    amount: Mapped[Decimal] = mapped_column(Money)


class Delivery(Base):
    __tablename__ = "pipeline_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_deal.id", ondelete="CASCADE"), index=True
    )
    delivered_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payment(VersionedMixin, Base):
    """A planned payment (instalment) and, once it comes, what was received."""

    __tablename__ = "pipeline_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("pipeline_deal.id", ondelete="CASCADE"))
    due_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    received_on: Mapped[date | None] = mapped_column(Date)
    received_amount: Mapped[Decimal | None] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(String(300))
    reminded_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_pipeline_payment_deal", "deal_id", "due_on"),
        Index("ix_pipeline_payment_overdue", "received_on", "reminded_at", "due_on"),
    )


class Target(Base):
    """A sales target for one person or one department for a month or a quarter."""

    __tablename__ = "pipeline_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_kind: Mapped[str] = mapped_column(String(8))  # month, quarter
    period_start: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="CASCADE")
    )
    amount: Mapped[Decimal] = mapped_column(Money)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("period_kind", "period_start", "user_id", "department_id"),
        Index("ix_pipeline_target_period", "period_start", "period_kind"),
    )


class Setting(Base):
    """Module settings an admin edits (contact frequency per grade ...)."""

    __tablename__ = "pipeline_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
