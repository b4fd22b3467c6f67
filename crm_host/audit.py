"""Audit trail (H-13): who changed what, when, with the values before and after.

Call :func:`record` in the same transaction as the change, so the trail and the change are
committed (or rolled back) together::

    before = audit.snapshot(customer)
    customer.name = new_name
    audit.record(session, "customers.customer", customer, "update", before=before)
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import has_request_context
from sqlalchemy import inspect

from .models import AuditEntry

SKIP = {"password_hash", "token_hash"}


def _jsonable(v):
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def snapshot(record) -> dict:
    """Column values of a record, JSON-ready (secrets left out)."""
    mapper = inspect(record).mapper
    return {
        c.key: _jsonable(getattr(record, c.key)) for c in mapper.column_attrs if c.key not in SKIP
    }


def _actor():
    if has_request_context():
        from flask_login import current_user

        if getattr(current_user, "is_authenticated", False):
            return current_user.id, current_user.email
    return None, None


def record(
    session,
    entity: str,
    rec,
    action: str,
    before: dict | None = None,
    after: dict | None = None,
    actor: str | None = None,
    user_id: int | None = None,
):
    """Add an audit entry. ``after`` defaults to the record's current values; for updates
    only the fields that changed are kept on both sides."""
    if after is None and action != "delete":
        session.flush()
        after = snapshot(rec)
    if before is not None and after is not None and action == "update":
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: before.get(k) for k in changed}
        after = {k: after[k] for k in changed}
    uid, email = _actor()
    pk = inspect(rec).identity
    entry = AuditEntry(
        user_id=user_id if user_id is not None else uid,
        actor=actor or email or "system",
        entity=entity,
        record_id=str(pk[0] if pk and len(pk) == 1 else pk),
        action=action,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def history(session, entity: str, record_id) -> list[AuditEntry]:
    from sqlalchemy import select

    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.record_id == str(record_id))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        )
    )
