"""Engine, sessions and the declarative base every plugin's models share.

One ``Base`` (and so one ``MetaData``) for the host and all plugins, so foreign keys along a
declared dependency just work; each plugin owns the tables with its own prefix.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone

from flask import current_app, g, has_app_context
from sqlalchemy import DateTime, Integer, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator
from werkzeug.exceptions import Conflict

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VersionedMixin:
    """Optimistic concurrency: ``version`` grows on every update.

    SQLAlchemy adds ``AND version = :old`` to each UPDATE, so two writers racing in the
    database cannot both win; :func:`check_version` turns a client's stale copy into a 409
    before anything is written.
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}


def check_version(record, supplied) -> None:
    """Refuse an edit made on a stale copy (HTTP 409)."""
    from .i18n import gettext as _

    try:
        supplied = int(supplied)
    except (TypeError, ValueError):
        raise Conflict(
            _("The record's current 'version' must be sent with every change.")
        ) from None
    if supplied != record.version:
        raise Conflict(
            _(
                "This record was changed by someone else (your version %(yours)s, current "
                "version %(current)s). Reload it and apply your change again.",
                yours=supplied,
                current=record.version,
            )
        )


def make_engine(url: str, **kw) -> Engine:
    if url.startswith("sqlite"):
        kw.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        kw.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kw)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets the worker and the web server read while one of them writes;
            # foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


class Database:
    """Per-application engine and session factory."""

    def __init__(self, url: str, **engine_kw):
        self.url = url
        self.engine = make_engine(url, **engine_kw)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session_scope(self):
        """A session that commits on success and rolls back on error (CLI, worker)."""
        s = self.Session()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self):
        self.engine.dispose()


def database() -> Database:
    return current_app.extensions["crm"].db


def session() -> Session:
    """The session of the current request / app context, created on first use."""
    if not has_app_context():
        raise RuntimeError("crm_host.db.session() needs an application context")
    s = g.get("_crm_session")
    if s is None:
        s = g._crm_session = database().Session()
    return s


def close_session(_exc=None):
    s = g.pop("_crm_session", None)
    if s is not None:
        s.close()


def get_or_404(model, ident):
    from werkzeug.exceptions import NotFound

    obj = session().get(model, ident)
    if obj is None:
        raise NotFound()
    return obj
