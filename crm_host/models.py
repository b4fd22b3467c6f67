"""The host's own tables (prefix ``host_``): modules, people, permissions, audit,
numbering, notifications and jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, TimestampMixin, VersionedMixin, utcnow

# --- Modules -----------------------------------------------------------------------------


class Module(Base):
    """The stored state of one installed plugin.

    ``state`` is what the administrator asked for (available, enabled, disabled); ``error``
    is set when the plugin could not be loaded or one of its hooks raised, which makes its
    effective state *broken* until the error is cleared (re-enable, or a clean restart).
    """

    __tablename__ = "host_module"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="available")
    version: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    #: ``load`` (found at start-up, re-checked by every process start) or ``runtime`` (a hook
    #: raised; stays until an administrator enables the module again).
    error_kind: Mapped[str | None] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(255))


class HostState(Base):
    """One row; ``generation`` grows with every module-state change so each process knows
    (with one indexed read) when to rebuild its plugin manager."""

    __tablename__ = "host_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


# --- People ------------------------------------------------------------------------------

user_roles = Table(
    "host_user_role",
    Base.metadata,
    Column("user_id", ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("host_role.id", ondelete="CASCADE"), primary_key=True),
)


class Department(VersionedMixin, Base):
    __tablename__ = "host_department"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("host_department.id"))
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_user.id", use_alter=True, ondelete="SET NULL")
    )

    parent: Mapped[Department | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Department]] = relationship(back_populates="parent")

    __table_args__ = (UniqueConstraint("parent_id", "name"),)


class Role(VersionedMixin, Base):
    __tablename__ = "host_role"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    #: Record scope granted by this role; a user's widest role scope applies.
    scope: Mapped[str] = mapped_column(String(32), default="own")
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)

    grants: Mapped[list[RolePermission]] = relationship(
        back_populates="role", cascade="all, delete-orphan"
    )


class RolePermission(Base):
    __tablename__ = "host_role_permission"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("host_role.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: ``allow`` or ``deny``; a deny on any role wins over every allow.
    effect: Mapped[str] = mapped_column(String(8), default="allow")

    role: Mapped[Role] = relationship(back_populates="grants")


class KnownPermission(Base):
    """Permissions the host has seen; default grants are applied only on first sight."""

    __tablename__ = "host_known_permission"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    module: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)


class User(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "host_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    #: IANA time zone name (``Asia/Taipei``); None: the organisation's CRM_TIMEZONE.
    timezone: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="SET NULL"), index=True
    )
    supervisor_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_user.id", ondelete="SET NULL"), index=True
    )
    #: Bumped on password change / deactivation so existing sessions stop working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column()

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")
    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    supervisor: Mapped[User | None] = relationship(remote_side=[id], foreign_keys=[supervisor_id])

    # Flask-Login protocol -------------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def role_names(self) -> list[str]:
        return sorted(r.name for r in self.roles)

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class ApiToken(Base):
    """A personal API token. Only a SHA-256 of the secret is stored."""

    __tablename__ = "host_api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("host_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """Failed and successful logins, counted in the database so every worker sees them."""

    __tablename__ = "host_login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_host_login_attempt_email_at", "email", "at"),
        Index("ix_host_login_attempt_ip_at", "ip", "at"),
    )


# --- Audit -------------------------------------------------------------------------------


class AuditEntry(Base):
    __tablename__ = "host_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    actor: Mapped[str | None] = mapped_column(String(255))  # email, "cli" or "system"
    entity: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_host_audit_entity_record", "entity", "record_id", "at"),)


# --- Numbering ---------------------------------------------------------------------------


class NumberingRule(VersionedMixin, Base):
    __tablename__ = "host_numbering_rule"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    pattern: Mapped[str] = mapped_column(String(120))
    label: Mapped[str | None] = mapped_column(String(120))


class NumberSequence(Base):
    __tablename__ = "host_number_sequence"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


# --- Notifications and jobs -------------------------------------------------------------


class OutboxMessage(Base):
    """One notification for one recipient on one channel, written in the caller's
    transaction and delivered by ``crm worker``."""

    __tablename__ = "host_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_user.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    #: pending → sent, or → dead after max attempts.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_host_outbox_due", "status", "next_attempt_at"),)


class DeliveryAttempt(Base):
    __tablename__ = "host_delivery_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("host_outbox.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    worker: Mapped[str | None] = mapped_column(String(120))
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class NotificationPreference(Base):
    __tablename__ = "host_notification_pref"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class JobState(Base):
    __tablename__ = "host_job"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, default=0)
