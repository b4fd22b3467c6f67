"""Tables of the customers module (prefix ``customers_``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_host.db import Base, TimestampMixin, VersionedMixin, utcnow

GRADES = ("A", "B", "C")
LIFECYCLE = ("prospect", "first_purchase", "repeat", "loyal", "at_risk", "lost")


class Category(VersionedMixin, Base):
    """Customer categories (existing, potential, partner, agent ...), admin-configurable."""

    __tablename__ = "customers_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=100)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


customer_tags = Table(
    "customers_customer_tag",
    Base.metadata,
    Column(
        "customer_id", ForeignKey("customers_customer.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("tag", String(40), primary_key=True),
    Index("ix_customers_customer_tag_tag", "tag", "customer_id"),
)


class Customer(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "customers_customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str | None] = mapped_column(String(80))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("customers_category.id"))
    grade: Mapped[str | None] = mapped_column(String(1))
    lifecycle: Mapped[str] = mapped_column(String(16), default="prospect")
    industry: Mapped[str | None] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(80))
    province: Mapped[str | None] = mapped_column(String(80))
    city: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(40))
    fax: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str | None] = mapped_column(String(80))
    owner_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="SET NULL")
    )
    credit_rating: Mapped[str | None] = mapped_column(String(20))
    tax_id: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    graded_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    #: Tokens for full-text search (see search.py); indexed by FTS5 / a GIN tsvector.
    search_text: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[Category | None] = relationship(lazy="joined")
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", order_by="Contact.id", cascade="all, delete-orphan"
    )
    tag_rows = relationship("CustomerTag", cascade="all, delete-orphan", lazy="selectin")

    @property
    def tags(self) -> list[str]:
        return sorted(t.tag for t in self.tag_rows)

    __table_args__ = (
        Index("ix_customers_customer_owner_live", "owner_id", "deleted_at", "id"),
        Index("ix_customers_customer_category_region", "category_id", "region", "id"),
        Index("ix_customers_customer_name", "name"),
        Index("ix_customers_customer_grade", "grade", "id"),
        Index("ix_customers_customer_department", "department_id", "id"),
        Index("ix_customers_customer_email", "email"),
        # The duplicate check and the import look customers up by these expressions
        # (services.find_duplicates, transfer); without them both scan the whole book.
        Index("ix_customers_customer_name_key", text("lower(replace(name, ' ', ''))")),
        Index("ix_customers_customer_email_lower", text("lower(email)")),
    )


class CustomerTag(Base):
    __table__ = customer_tags


def name_key(column=None):
    """``lower(replace(name, ' ', ''))``: a name ignoring case and spaces, as the duplicate
    check compares names. The blanks are SQL literals, not bound parameters: a database uses
    an expression index only for a query whose expression is written exactly as the index's
    (``ix_customers_customer_name_key``)."""
    return func.lower(
        func.replace(column if column is not None else Customer.name, text("' '"), text("''"))
    )


def name_key_of(name: str) -> str:
    """The same key computed in Python."""
    return name.replace(" ", "").lower()


class Contact(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "customers_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers_customer.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    department: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    mobile: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    birthday: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column()

    customer: Mapped[Customer] = relationship(back_populates="contacts")

    __table_args__ = (Index("ix_customers_contact_email_lower", text("lower(email)")),)


class Phone(Base):
    """Every phone of a customer or contact in normalised form, for caller lookup."""

    __tablename__ = "customers_phone"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers_customer.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers_contact.id", ondelete="CASCADE"), index=True
    )
    e164: Mapped[str] = mapped_column(String(20), index=True)
    digits_rev: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # phone, fax, mobile


class SavedFilter(Base):
    __tablename__ = "customers_saved_filter"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("host_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimelineEntry(Base):
    """What happened with a customer: messages sent, handovers, merges, notes, other
    modules' events (they add entries through ``services.add_timeline``)."""

    __tablename__ = "customers_timeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers_customer.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    module: Mapped[str] = mapped_column(String(32), default="customers")
    data: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_customers_timeline_customer_at", "customer_id", "at"),)


class Setting(Base):
    """Module settings an admin edits (grading thresholds ...)."""

    __tablename__ = "customers_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
