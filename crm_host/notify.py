"""Notification bus (H-10) and the worker loop that also runs scheduled jobs.

``notify()`` only writes outbox rows, in the caller's session: if the caller's transaction
rolls back, nothing is sent; once it commits, the message cannot be lost. ``crm worker``
claims due rows with a lease (and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so many workers
on many machines share the work), sends each one through its channel outside any
transaction, and records every attempt. A failed send is retried with exponential backoff
until the channel's ``max_attempts``; then the row is *dead* and stays visible to admins.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .contract import Message
from .db import utcnow
from .models import DeliveryAttempt, JobState, NotificationPreference, OutboxMessage, User

log = logging.getLogger("crm.notify")

LEASE_SECONDS = 120
MAX_BACKOFF_SECONDS = 3600


class Undeliverable(Exception):
    """Raised by a channel's ``send`` when retrying cannot help (no address, an address the
    gateway refuses for good): the message is marked dead at once, with this reason."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def current_runtime():
    from .plugins import current_runtime as rt

    return rt()


def default_channels(session, runtime, kind: str) -> list[str]:
    """The channels ``kind`` goes to for users without their own choice: an administrator's
    default (hook ``crm_notification_defaults``), else the kind's declared defaults."""
    for chosen in runtime.collect("crm_notification_defaults", session=session, kind=kind):
        if chosen is not None:
            return sorted({chosen} if isinstance(chosen, str) else set(chosen))
    k = runtime.notification_kinds.get(kind)
    return list(k.default_channels) if k else ["inbox", "log"]


def channels_for(session, runtime, user: User, kind: str, _prefs=None, _defaults=None):
    """The channels ``user`` receives ``kind`` on: their choice, else the kind's default.
    (``notify`` hands in the preferences and defaults it loaded once for all recipients.)"""
    available = runtime.channels
    if _prefs is None:
        prefs = session.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user.id, NotificationPreference.kind == kind
            )
        ).all()
    else:
        prefs = _prefs.get(user.id, [])
    if prefs:
        chosen = [p.channel for p in prefs if p.enabled]
    else:
        chosen = _defaults if _defaults is not None else default_channels(session, runtime, kind)
    names = [c for c in chosen if c in available]
    if not names and not prefs:
        # Nothing the defaults name is installed: fall back so nothing is silently dropped.
        names = ["log"] if "log" in available else list(available)[:1]
    return names


def notify(
    session,
    kind: str,
    subject: str,
    body: str = "",
    *,
    users: Iterable[User] = (),
    addresses: Iterable[tuple[str, str]] = (),
    data: dict | None = None,
    html: str | None = None,
    channels: Iterable[str] | None = None,
    runtime=None,
) -> list[OutboxMessage]:
    """Queue a notification in the caller's transaction.

    :param users: users to notify on the channels they chose for ``kind``
        (or exactly ``channels`` when given).
    :param addresses: ``(channel, address)`` pairs for people who are not users
        (a customer's contact by email, a fax number, a webhook URL).
    :returns: the outbox rows added (one per recipient and channel).

    ``subject``, ``body`` and ``html`` may be lazy strings (``flask_babel.lazy_gettext``):
    each user then reads them in their own language, whoever or whatever (a scheduled job)
    raised the notification. Plain strings are sent as they are.
    """
    runtime = runtime or current_runtime()
    data = dict(data or {})
    rows: list[OutboxMessage] = []
    seen: set[tuple] = set()
    rendered: dict[str | None, tuple] = {}
    users = [u for u in users if u is not None and u.is_active]
    prefs: dict[int, list] = {}
    defaults = None
    if channels is None and users:
        # One query for everyone's choices and one look-up of the defaults, not one per
        # recipient: a forum topic may reach thousands of interested people.
        ids = sorted({u.id for u in users})
        for i in range(0, len(ids), 500):
            for p in session.scalars(
                select(NotificationPreference).where(
                    NotificationPreference.kind == kind,
                    NotificationPreference.user_id.in_(ids[i : i + 500]),
                )
            ):
                prefs.setdefault(p.user_id, []).append(p)
        defaults = default_channels(session, runtime, kind)

    def text_for(locale: str | None) -> tuple:
        """subject, body, html in ``locale`` (computed once per language)."""
        if locale not in rendered:
            rendered[locale] = _render((subject, body, html), locale)
        return rendered[locale]

    ready: dict[str, bool] = {}

    def is_ready(name: str) -> bool:
        """A channel that is not set up (no SMTP server yet) is skipped for people: the
        message reaches them on their other channels instead of failing in the outbox."""
        if name not in ready:
            channel = runtime.channels.get(name)
            check = getattr(channel, "ready", None)
            try:
                ready[name] = check is None or bool(check())
            except Exception:  # a broken check must not stop the notification
                log.warning("channel %s: readiness check failed", name, exc_info=True)
                ready[name] = True
        return ready[name]

    for user in users:
        names = (
            list(channels)
            if channels is not None
            else channels_for(session, runtime, user, kind, prefs, defaults)
        )
        for ch in names:
            if (user.id, ch) in seen or not is_ready(ch):
                continue
            seen.add((user.id, ch))
            u_subject, u_body, u_html = text_for(user.locale)
            rows.append(
                OutboxMessage(
                    kind=kind,
                    channel=ch,
                    recipient_id=user.id,
                    subject=u_subject,
                    body=u_body,
                    html=u_html,
                    data=data,
                )
            )
    for ch, address in addresses:
        if (ch, address) in seen:
            continue
        seen.add((ch, address))
        a_subject, a_body, a_html = text_for(None)  # not a user: the organisation's language
        rows.append(
            OutboxMessage(
                kind=kind,
                channel=ch,
                address=address,
                subject=a_subject,
                body=a_body,
                html=a_html,
                data=data,
            )
        )
    session.add_all(rows)
    return rows


def _render(texts: tuple, locale: str | None) -> tuple:
    """Plain text of each (possibly lazy) string, in ``locale`` (None: the default one)."""
    from flask import has_app_context

    def plain(value):
        return None if value is None else str(value)

    from flask_babel.speaklater import LazyString

    if not has_app_context() or not any(isinstance(t, LazyString) for t in texts):
        out = tuple(plain(t) for t in texts)
    else:
        from flask import current_app
        from flask_babel import force_locale

        with force_locale(locale or current_app.config.get("CRM_DEFAULT_LOCALE", "en")):
            out = tuple(plain(t) for t in texts)
    subject, body, html = out
    return (subject or "")[:255], body or "", html


# --- Delivery ----------------------------------------------------------------------------


def claim(db, worker: str, batch: int = 50) -> tuple[str, list[int]]:
    """Lease up to ``batch`` due messages; returns the lease token and the ids it holds."""
    now = utcnow()
    token = f"{worker}:{uuid.uuid4().hex[:8]}"
    with db.session_scope() as s:
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch)
        )
        if s.bind.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(s.scalars(due))
        if not ids:
            return token, []
        # The lease condition is repeated in the UPDATE: on SQLite (no SKIP LOCKED) two
        # workers may select the same ids, but only one UPDATE can take each row.
        s.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .values(lease_until=now + timedelta(seconds=LEASE_SECONDS), claimed_by=token)
            .execution_options(synchronize_session=False)
        )
    with db.Session() as s:
        return token, list(
            s.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == token)
                .order_by(OutboxMessage.id)
            )
        )


def deliver(db, runtime, msg_id: int, worker: str, token: str | None = None) -> bool:
    """Send one leased message and record the attempt. With ``token``, a message whose
    lease was lost (this worker stalled past ``LEASE_SECONDS`` and another took it) is left
    to its new holder. Delivery is therefore exactly once unless a single send outlasts the
    lease, in which case it is at least once: channels should make re-sends harmless."""
    with db.Session() as s:
        row = s.get(OutboxMessage, msg_id)
        if row is None or row.status != "pending":
            return False
        if token is not None and row.claimed_by != token:
            return False
        recipient = s.get(User, row.recipient_id) if row.recipient_id else None
        message = Message(
            id=row.id,
            kind=row.kind,
            subject=row.subject,
            body=row.body,
            data=dict(row.data or {}),
            recipient=recipient,
            address=row.address,
            html=row.html,
        )
        channel_name = row.channel
    channel = runtime.channels.get(channel_name)
    started = time.monotonic()
    error = None
    final = False
    if channel is None:
        error = f"channel '{channel_name}' is not available (its module is disabled or missing)"
    else:
        try:
            channel.send(message)
        except Undeliverable as exc:
            error, final = f"Undeliverable: {exc}"[:2000], True
            log.warning("message %s cannot be delivered via %s: %s", msg_id, channel_name, exc)
        except Exception as exc:  # a channel failure must never stop the worker
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("delivery of %s via %s failed: %s", msg_id, channel_name, error)
    ms = int((time.monotonic() - started) * 1000)
    max_attempts = channel.max_attempts if channel else 6
    with db.session_scope() as s:
        row = s.get(OutboxMessage, msg_id)
        if token is not None and row.claimed_by != token:
            log.warning("lease on message %s was lost during the send; recording anyway", msg_id)
        row.attempts += 1
        row.lease_until = None
        s.add(
            DeliveryAttempt(
                outbox_id=row.id, worker=worker, ok=error is None, error=error, duration_ms=ms
            )
        )
        if error is None:
            row.status = "sent"
            row.sent_at = utcnow()
            row.last_error = None
        else:
            row.last_error = error
            if final or row.attempts >= max_attempts:
                row.status = "dead"
            else:
                row.next_attempt_at = utcnow() + backoff(row.attempts)
    return error is None


# --- Scheduled jobs ----------------------------------------------------------------------


def _claim_job(db, name: str, every: int) -> bool:
    now = utcnow()
    with db.session_scope() as s:
        if s.get(JobState, name) is None:
            try:
                with s.begin_nested():
                    s.add(JobState(name=name, next_run_at=now))
            except IntegrityError:
                pass
        res = s.execute(
            update(JobState)
            .where(
                JobState.name == name,
                JobState.next_run_at <= now,
                or_(JobState.lease_until.is_(None), JobState.lease_until < now),
            )
            .values(lease_until=now + timedelta(seconds=max(LEASE_SECONDS, every)))
            .execution_options(synchronize_session=False)
        )
        return res.rowcount == 1


def run_due_jobs(db, runtime, app=None) -> list[str]:
    ran = []
    for job in runtime.jobs.values():
        if not _claim_job(db, job.name, job.every_seconds):
            continue
        now = utcnow()
        status, error = "ok", None
        try:
            with db.session_scope() as s:
                if app is not None:
                    with app.app_context():
                        job.run(s, now)
                else:
                    job.run(s, now)
        except Exception:
            status, error = "error", traceback.format_exc(limit=6)
            log.error("job %s failed", job.name, exc_info=True)
        with db.session_scope() as s:
            st = s.get(JobState, job.name)
            st.last_run_at = now
            st.next_run_at = now + timedelta(seconds=job.every_seconds)
            st.lease_until = None
            st.last_status = status
            st.last_error = error
            st.runs += 1
        ran.append(job.name)
    return ran


# --- The loop ----------------------------------------------------------------------------


def run_once(app, batch: int = 50, worker: str | None = None) -> dict:
    """One pass: deliver every due message (in batches) and run due jobs."""
    worker = worker or worker_name()
    crm = app.extensions["crm"]
    sent = failed = 0
    with app.app_context():
        runtime = crm.runtime()
        while True:
            token, ids = claim(crm.db, worker, batch)
            if not ids:
                break
            for mid in ids:
                if deliver(crm.db, runtime, mid, worker, token):
                    sent += 1
                else:
                    failed += 1
        jobs = run_due_jobs(crm.db, runtime, app)
    return {"sent": sent, "failed": failed, "jobs": jobs}


def run_forever(app, interval: float = 2.0, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    worker = worker_name()
    log.info("worker %s started", worker)
    while not stop.is_set():
        try:
            run_once(app, worker=worker)
        except Exception:
            log.exception("worker pass failed; retrying")
        stop.wait(interval)


def start_background_worker(app, interval: float = 2.0) -> threading.Event:
    """Run the loop in a daemon thread (``crm serve`` on a laptop: one command, no services)."""
    stop = threading.Event()
    t = threading.Thread(
        target=run_forever, args=(app, interval, stop), daemon=True, name="crm-worker"
    )
    t.start()
    return stop
