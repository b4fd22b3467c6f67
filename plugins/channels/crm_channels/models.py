"""Tables of the channels module (prefix ``channels_``).

Channels depends on the host only: customer and contact ids are kept as plain integers (no
foreign key into ``customers_*``), so the module works with or without customers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_host.db import Base, TimestampMixin, utcnow


class InboxMessage(Base):
    """One message in a user's in-app mailbox (CH-1), written by the ``inbox`` channel."""

    __tablename__ = "channels_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("host_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)  # sanitised with nh3 before it is stored
    url: Mapped[str | None] = mapped_column(String(500))
    #: The outbox row it came from: a re-sent message (lost lease) is stored once.
    outbox_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()
    archived_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_channels_inbox_user", "user_id", "archived_at", "read_at"),)


class Setting(Base):
    """Administrator overrides of the ``CRM_SMTP_*`` / ``CRM_SMS_*`` ... settings."""

    __tablename__ = "channels_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)


class NotificationDefault(Base):
    """The channels an administrator chose for a kind of notification (users who have not
    chosen their own get these instead of the kind's declared defaults)."""

    __tablename__ = "channels_notification_default"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    channels: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CustomerMessage(Base):
    """A message delivered to a customer or one of its contacts (CH-8 timeline)."""

    __tablename__ = "channels_customer_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    outbox_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mailing(TimestampMixin, Base):
    """A batch mailing (CH-6): a template, an audience and its sending state."""

    __tablename__ = "channels_mailing"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    #: draft → scheduled → sending → sent; or cancelled / failed.
    status: Mapped[str] = mapped_column(String(16), default="draft")
    scheduled_at: Mapped[datetime | None] = mapped_column()
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None] = mapped_column()
    queued_at: Mapped[datetime | None] = mapped_column()
    recipients_total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_channels_mailing_due", "status", "scheduled_at"),)


class MailingRecipient(Base):
    """One recipient of a mailing. ``status`` is ``queued`` (an outbox row carries it: its
    status says sent / failed), ``unsubscribed`` or ``invalid`` (no usable address)."""

    __tablename__ = "channels_mailing_recipient"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailing_id: Mapped[int] = mapped_column(ForeignKey("channels_mailing.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(Integer)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    outbox_id: Mapped[int | None] = mapped_column(Integer, index=True)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_channels_mailing_recipient_m", "mailing_id", "status"),)


class Unsubscribe(Base):
    """An address that asked for no more mailings (through the link in a mailing)."""

    __tablename__ = "channels_unsubscribe"

    email: Mapped[str] = mapped_column(String(255), primary_key=True)  # lower-cased
    mailing_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarEntry(TimestampMixin, Base):
    """A user's own calendar entry (CH-7): a meeting, a reminder, an appointment."""

    __tablename__ = "channels_calendar_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("host_user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="meeting")
    start_at: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime | None] = mapped_column()
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    location: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Minutes before the start to send a reminder through the bus (None: no reminder).
    remind_minutes: Mapped[int | None] = mapped_column(Integer)
    reminded_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_channels_calendar_entry_user", "user_id", "start_at"),)


class CalendarFeed(Base):
    """A user's secret iCalendar feed token (resettable)."""

    __tablename__ = "channels_calendar_feed"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
