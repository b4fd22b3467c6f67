"""Business rules of the channels module: the inbox, notification preferences and the
administrator's defaults, the customer timeline. Pages, API, jobs and tests call these;
nothing here knows about HTTP. Mailings live in ``mailings.py``, the calendar in
``agenda.py``, the channels themselves in ``senders.py``."""

from __future__ import annotations

from sqlalchemy import func, select, update

from crm_host.db import utcnow
from crm_host.models import NotificationPreference
from crm_host.notify import default_channels

from .models import CustomerMessage, InboxMessage, NotificationDefault

BOXES = ("inbox", "unread", "archive")
PER_PAGE = 25


class ChannelsError(ValueError):
    """A refused request: ``status`` is the HTTP status, ``field`` the input at fault."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


# --- Inbox (CH-1) ------------------------------------------------------------------------


def inbox_query(user, box: str = "inbox"):
    if box not in BOXES:
        raise ChannelsError(f"Unknown box '{box}'. Choose one of: {', '.join(BOXES)}.", "box")
    stmt = select(InboxMessage).where(InboxMessage.user_id == user.id)
    if box == "archive":
        stmt = stmt.where(InboxMessage.archived_at.is_not(None))
    else:
        stmt = stmt.where(InboxMessage.archived_at.is_(None))
        if box == "unread":
            stmt = stmt.where(InboxMessage.read_at.is_(None))
    return stmt


def unread_count(session, user) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(InboxMessage)
            .where(
                InboxMessage.user_id == user.id,
                InboxMessage.archived_at.is_(None),
                InboxMessage.read_at.is_(None),
            )
        )
        or 0
    )


def box_counts(session, user) -> dict:
    rows = session.execute(
        select(
            InboxMessage.archived_at.is_(None),
            InboxMessage.read_at.is_(None),
            func.count(),
        )
        .where(InboxMessage.user_id == user.id)
        .group_by(InboxMessage.archived_at.is_(None), InboxMessage.read_at.is_(None))
    ).all()
    out = {"inbox": 0, "unread": 0, "archive": 0}
    for live, unread, n in rows:
        if live:
            out["inbox"] += n
            if unread:
                out["unread"] += n
        else:
            out["archive"] += n
    return out


def get_message(session, user, message_id: int) -> InboxMessage:
    """The user's own message; anybody else's answers exactly like a missing one (404)."""
    msg = session.get(InboxMessage, message_id)
    if msg is None or msg.user_id != user.id:
        raise ChannelsError("No such message.", status=404)
    return msg


def set_read(msg: InboxMessage, read: bool = True) -> None:
    msg.read_at = (msg.read_at or utcnow()) if read else None


def set_archived(msg: InboxMessage, archived: bool = True) -> None:
    msg.archived_at = (msg.archived_at or utcnow()) if archived else None
    if archived and msg.read_at is None:
        msg.read_at = utcnow()


def mark_all_read(session, user) -> int:
    res = session.execute(
        update(InboxMessage)
        .where(
            InboxMessage.user_id == user.id,
            InboxMessage.read_at.is_(None),
            InboxMessage.archived_at.is_(None),
        )
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return res.rowcount or 0


# --- Preferences and administrator defaults ----------------------------------------------


def admin_default(session, kind: str) -> list[str] | None:
    row = session.get(NotificationDefault, kind)
    return list(row.channels) if row is not None else None


def _check_channels(runtime, channels, field: str) -> list[str]:
    if not isinstance(channels, (list, tuple)):
        raise ChannelsError("Channels are a list of channel names.", field)
    out = []
    for c in channels:
        if c not in runtime.channels:
            raise ChannelsError(
                f"Unknown channel '{c}'. Available: {', '.join(sorted(runtime.channels))}.", field
            )
        if c not in out:
            out.append(c)
    return out


def _check_kind(runtime, kind: str) -> None:
    if kind not in runtime.notification_kinds:
        raise ChannelsError(f"Unknown notification kind '{kind}'.", "kind", status=404)


def preferences(session, runtime, user) -> list[dict]:
    """Every kind with the channels ``user`` receives it on, and whether that is their own
    choice or the default."""
    own: dict[str, list[str]] = {}
    for p in session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id)
    ):
        own.setdefault(p.kind, [])
        if p.enabled:
            own[p.kind].append(p.channel)
    out = []
    for k in sorted(runtime.notification_kinds.values(), key=lambda k: k.name):
        default = [c for c in default_channels(session, runtime, k.name) if c in runtime.channels]
        out.append(
            {
                "kind": k.name,
                "label": str(k.label),
                "channels": sorted(own[k.name]) if k.name in own else default,
                "custom": k.name in own,
                "default": default,
            }
        )
    return out


def set_preference(session, runtime, user, kind: str, channels: list[str] | None) -> None:
    """Route ``kind`` to exactly ``channels`` for ``user`` (``None``: back to the default)."""
    _check_kind(runtime, kind)
    existing = {
        p.channel: p
        for p in session.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user.id, NotificationPreference.kind == kind
            )
        )
    }
    if channels is None:
        for p in existing.values():
            session.delete(p)
        return
    wanted = _check_channels(runtime, channels, kind)
    for name in runtime.channels:
        row = existing.get(name)
        on = name in wanted
        if row is None:
            session.add(
                NotificationPreference(user_id=user.id, kind=kind, channel=name, enabled=on)
            )
        else:
            row.enabled = on


def defaults(session, runtime) -> list[dict]:
    stored = {r.kind: list(r.channels) for r in session.scalars(select(NotificationDefault))}
    return [
        {
            "kind": k.name,
            "label": str(k.label),
            "declared": list(k.default_channels),
            "channels": stored.get(k.name, list(k.default_channels)),
            "custom": k.name in stored,
        }
        for k in sorted(runtime.notification_kinds.values(), key=lambda k: k.name)
    ]


def set_default(session, runtime, kind: str, channels: list[str] | None) -> None:
    """An administrator's default for ``kind`` (``None``: back to the kind's declaration)."""
    _check_kind(runtime, kind)
    row = session.get(NotificationDefault, kind)
    if channels is None:
        if row is not None:
            session.delete(row)
        return
    wanted = _check_channels(runtime, channels, kind)
    if row is None:
        session.add(NotificationDefault(kind=kind, channels=wanted))
    else:
        row.channels = wanted


# --- Customer timeline (CH-8) ------------------------------------------------------------

#: Kinds whose sender already writes its own timeline entry (customers' batch messages).
SELF_RECORDED_KINDS = {"customers.message"}
CHANNEL_NOUNS = {"email": "Email", "sms": "Text message", "fax": "Fax", "webhook": "Webhook"}


def customer_messages(session, customer_id: int, limit: int = 50) -> list[CustomerMessage]:
    return list(
        session.scalars(
            select(CustomerMessage)
            .where(
                CustomerMessage.customer_id == customer_id,
                CustomerMessage.kind.not_in(SELF_RECORDED_KINDS),
            )
            .order_by(CustomerMessage.sent_at.desc(), CustomerMessage.id.desc())
            .limit(limit)
        )
    )
