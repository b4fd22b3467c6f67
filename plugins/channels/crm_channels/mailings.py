"""Batch mailings (CH-6): a template with merge fields sent by email to an audience.

Audiences come from other modules through the hook ``crm_mailing_audiences(user)`` (the
customers module offers "customers matching a filter"); this module adds "team members".
An audience is a dict or any object with:

* ``name`` (str, unique), ``label`` (str);
* ``recipients(session, user, params)``: an iterable (stream it: a generator over a
  ``yield_per`` query) of dicts ``{"customer_id", "contact_id", "email", "name",
  "fields": {merge field: value}}``;
* optionally ``count(session, user, params)`` → int, ``fields`` → ``{merge field: label}``,
  ``describe(params)`` → str.

Sending is a scheduled job: at the mailing's time it streams the audience, skips
unsubscribed and invalid addresses, and queues one outbox row per recipient through the
host's bus with staggered ``next_attempt_at`` (the throttle: ``rate_per_minute``). The bus's
workers deliver, retry and log; each recipient's status is its outbox row's status.
"""

from __future__ import annotations

import html as htmllib
import logging
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import case, func, select

from crm_host import notify as bus
from crm_host import timezones
from crm_host.db import utcnow
from crm_host.models import OutboxMessage, User
from crm_host.security import has_permission

from . import settings as cfg
from .models import Mailing, MailingRecipient, Unsubscribe
from .senders import sanitize_html, valid_email
from .services import ChannelsError

log = logging.getLogger("crm.channels.mailings")

KIND = "channels.mailing"
PERMISSION = "channels.mailing"
BASE_FIELDS = {
    "name": "Recipient's name",
    "email": "Recipient's email",
    "unsubscribe_url": "Unsubscribe link",
}
MAX_SUBJECT = 200
MAX_BODY = 50_000
PREVIEW_COUNT = 3
CHUNK = 500
MAX_RATE = 100_000
STATUSES = ("draft", "scheduled", "sending", "sent", "cancelled", "failed")


@dataclass
class Audience:
    name: str
    label: str
    recipients: Callable[..., Any]
    count: Callable[..., Any] | None = None
    fields: dict = field(default_factory=dict)
    describe: Callable[..., Any] | None = None
    owner: str = ""
    #: ``{param name: label}`` the page offers as inputs (e.g. the customers list's filters).
    params: dict = field(default_factory=dict)


def _coerce(obj, owner: str) -> Audience | None:
    get = obj.get if isinstance(obj, dict) else (lambda k, d=None: getattr(obj, k, d))
    name, label, recipients = get("name"), get("label"), get("recipients")
    if not name or not callable(recipients):
        log.warning("audience from %s ignored: it needs a name and recipients()", owner)
        return None
    fields_ = get("fields") or {}
    if not isinstance(fields_, dict):
        fields_ = {f: f for f in fields_}
    return Audience(
        str(name),
        str(label or name),
        recipients,
        get("count"),
        dict(fields_),
        get("describe"),
        owner,
        dict(get("params") or {}),
    )


# --- The built-in audience: team members -------------------------------------------------


def _team_recipients(session, user, params):
    stmt = select(User.id, User.name, User.email).where(User.is_active.is_(True))
    stmt = stmt.order_by(User.id).execution_options(yield_per=CHUNK)
    for _id, name, email in session.execute(stmt):
        yield {"customer_id": None, "contact_id": None, "email": email, "name": name, "fields": {}}


def _team_count(session, user, params):
    return session.scalar(select(func.count()).select_from(User).where(User.is_active.is_(True)))


TEAM = Audience(
    "channels.team",
    "Team members (every active user)",
    _team_recipients,
    _team_count,
    {},
    None,
    "channels",
)


def audiences(runtime, user) -> dict[str, Audience]:
    out = {}
    for owner, obj in runtime.collect_with_owner("crm_mailing_audiences", user=user):
        a = _coerce(obj, owner)
        if a is not None and a.name not in out:
            out[a.name] = a
    if TEAM.name not in out:
        out[TEAM.name] = TEAM
    return out


def get_audience(runtime, user, name: str) -> Audience:
    found = audiences(runtime, user).get(name)
    if found is None:
        raise ChannelsError(
            f"Unknown audience '{name}'. Choose one of: {', '.join(audiences(runtime, user))}.",
            "audience",
        )
    return found


# --- Templates ---------------------------------------------------------------------------


def parse_template(template: str, allowed, field_name: str):
    """``[(literal, merge field or None)]``; only plain ``{name}`` fields that ``allowed``
    names (no attribute, index, conversion or format spec). Unknown fields are refused with
    the list of the allowed ones."""
    try:
        parsed = list(string.Formatter().parse(template or ""))
    except ValueError as exc:
        raise ChannelsError(
            f"The {field_name} has a stray brace ({exc}). Merge fields look like {{name}}; "
            "write {{ and }} for a literal brace.",
            field_name,
        ) from None
    parts, unknown = [], []
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None))
            continue
        if name not in allowed or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            if shown not in unknown:
                unknown.append(shown)
        parts.append((literal, name))
    if unknown:
        allowed_text = ", ".join("{" + f + "}" for f in allowed)
        raise ChannelsError(
            f"Unknown merge field{'s' if len(unknown) > 1 else ''} in the {field_name}: "
            f"{', '.join(unknown)}. Allowed: {allowed_text}.",
            field_name,
        )
    return parts


def fill(parts, values: dict, escape: bool = False) -> str:
    def v(name):
        value = str(values.get(name, "") or "")
        return htmllib.escape(value) if escape else value

    return "".join(literal + (v(name) if name else "") for literal, name in parts)


def merge_fields(audience: Audience) -> dict:
    return {**BASE_FIELDS, **audience.fields}


def validate(runtime, user, data: dict) -> dict:
    """Check a mailing's fields once (pages and API both call this) and return them clean."""
    name = (data.get("name") or "").strip()
    subject = (data.get("subject") or "").strip()
    body = (data.get("body") or "").strip()
    html = (data.get("html") or "").strip() or None
    if not name:
        raise ChannelsError("A name is required (only you and your colleagues see it).", "name")
    if len(name) > 200:
        raise ChannelsError("The name is at most 200 characters.", "name")
    if not subject:
        raise ChannelsError("A subject is required.", "subject")
    if len(subject) > MAX_SUBJECT:
        raise ChannelsError(f"The subject is at most {MAX_SUBJECT} characters.", "subject")
    if not body:
        raise ChannelsError("A message is required.", "body")
    if len(body) > MAX_BODY or (html and len(html) > MAX_BODY):
        raise ChannelsError(f"The message is at most {MAX_BODY:,} characters.", "body")
    audience = get_audience(runtime, user, (data.get("audience") or "").strip())
    allowed = merge_fields(audience)
    parse_template(subject, allowed, "subject")
    parse_template(body, allowed, "body")
    if html:
        html = sanitize_html(html)
        parse_template(html, allowed, "html")
    rate = data.get("rate_per_minute")
    if rate in (None, ""):
        rate = cfg.load().mailing_rate
    try:
        rate = int(rate)
    except (TypeError, ValueError):
        raise ChannelsError(
            "The rate is a whole number of messages per minute.", "rate_per_minute"
        ) from None
    if not 1 <= rate <= MAX_RATE:
        raise ChannelsError(
            f"The rate is between 1 and {MAX_RATE:,} messages per minute.", "rate_per_minute"
        )
    send_at = data.get("send_at")
    if isinstance(send_at, str) and send_at.strip():
        try:
            send_at = datetime.fromisoformat(send_at.strip())
        except ValueError:
            raise ChannelsError("The sending time is not a date and time.", "send_at") from None
    if send_at and send_at.tzinfo is None:
        send_at = send_at.replace(tzinfo=timezones.user_zone())  # as typed: the sender's clock
    if send_at:
        send_at = send_at.astimezone(timezone.utc)
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise ChannelsError("The audience parameters are an object.", "params")
    return {
        "name": name,
        "subject": subject,
        "body": body,
        "html": html,
        "audience": audience.name,
        "params": params,
        "rate_per_minute": rate,
        "send_at": send_at or None,
    }


def _check_params(session, user, audience: Audience, params: dict) -> int | None:
    try:
        if audience.count is not None:
            return int(audience.count(session, user, params))
        next(iter(audience.recipients(session, user, params)), None)
        return None
    except ChannelsError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise ChannelsError(f"The audience's filter is not valid: {exc}", "params") from None


def _require(user):
    if not has_permission(user, PERMISSION):
        raise ChannelsError(f"Mailings need the permission '{PERMISSION}'.", status=403)


def create(session, runtime, user, data: dict, send: bool = False) -> Mailing:
    """A new mailing: a draft, or (``send``) scheduled for ``send_at`` (now if empty)."""
    _require(user)
    clean = validate(runtime, user, data)
    audience = get_audience(runtime, user, clean["audience"])
    total = _check_params(session, user, audience, clean["params"])
    if send and total == 0:
        raise ChannelsError("Nobody is in this audience.", "params")
    m = Mailing(
        name=clean["name"],
        audience=clean["audience"],
        params=clean["params"],
        subject=clean["subject"],
        body=clean["body"] + _html_marker(clean["html"]),
        rate_per_minute=clean["rate_per_minute"],
        created_by=user.id,
        status="scheduled" if send else "draft",
        scheduled_at=(clean["send_at"] or utcnow()) if send else clean["send_at"],
    )
    session.add(m)
    session.flush()
    return m


# The optional HTML version is stored after the text, behind a marker line (one column).
HTML_MARKER = "\n\x00html\x00\n"


def _html_marker(html: str | None) -> str:
    return HTML_MARKER + html if html else ""


def split_body(m: Mailing) -> tuple[str, str | None]:
    text, _, html = (m.body or "").partition(HTML_MARKER)
    return text, html or None


def schedule(session, user, m: Mailing, send_at: datetime | None = None) -> Mailing:
    _require(user)
    if m.status not in ("draft", "scheduled"):
        raise ChannelsError("Only a draft or scheduled mailing can be (re)scheduled.", status=409)
    m.status = "scheduled"
    m.scheduled_at = send_at or utcnow()
    return m


def cancel(session, user, m: Mailing) -> Mailing:
    _require(user)
    if m.status not in ("draft", "scheduled"):
        raise ChannelsError("A mailing that started sending cannot be cancelled.", status=409)
    m.status = "cancelled"
    return m


def visible(session, user, mailing_id: int) -> Mailing:
    """Senders see their own mailings; holders of ``channels.manage`` see every mailing."""
    m = session.get(Mailing, mailing_id)
    if m is None or (m.created_by != user.id and not has_permission(user, "channels.manage")):
        raise ChannelsError("No such mailing.", status=404)
    return m


def list_query(user):
    stmt = select(Mailing)
    if not has_permission(user, "channels.manage"):
        stmt = stmt.where(Mailing.created_by == user.id)
    return stmt.order_by(Mailing.id.desc())


# --- Preview -----------------------------------------------------------------------------


def _values(r: dict, unsubscribe_url: str) -> dict:
    return {
        **(r.get("fields") or {}),
        "name": r.get("name") or "",
        "email": r.get("email") or "",
        "unsubscribe_url": unsubscribe_url,
    }


def preview(session, runtime, user, data: dict, count: int = PREVIEW_COUNT) -> dict:
    """The first ``count`` merged messages and the audience size; queues nothing."""
    _require(user)
    clean = validate(runtime, user, data)
    audience = get_audience(runtime, user, clean["audience"])
    total = _check_params(session, user, audience, clean["params"])
    allowed = merge_fields(audience)
    sp = parse_template(clean["subject"], allowed, "subject")
    bp = parse_template(clean["body"], allowed, "body")
    items = []
    for r in audience.recipients(session, user, clean["params"]):
        values = _values(r, unsubscribe_url(0, r.get("email") or ""))
        items.append(
            {
                "email": r.get("email"),
                "name": r.get("name"),
                "customer_id": r.get("customer_id"),
                "subject": " ".join(fill(sp, values).split()),
                "body": fill(bp, values) + footer(values["unsubscribe_url"], clean["body"]),
            }
        )
        if len(items) >= count:
            break
    return {"total": total, "items": items, "fields": allowed}


# --- Unsubscribe -------------------------------------------------------------------------


def _serializer():
    return URLSafeSerializer(current_app.secret_key, salt="crm-channels-unsubscribe")


def unsubscribe_token(mailing_id: int, email: str) -> str:
    return _serializer().dumps([int(mailing_id), email.strip().lower()])


def base_url() -> str:
    url = cfg.load().public_url or current_app.config.get("CRM_PUBLIC_URL") or ""
    if not url:
        from flask import has_request_context, request

        url = request.host_url if has_request_context() else "http://localhost:5000"
    return url.rstrip("/")


def unsubscribe_url(mailing_id: int, email: str) -> str:
    return f"{base_url()}/channels/unsubscribe/{unsubscribe_token(mailing_id, email)}"


def read_token(token: str) -> tuple[int, str]:
    try:
        mailing_id, email = _serializer().loads(token)
        return int(mailing_id), str(email)
    except (BadSignature, ValueError, TypeError):
        raise ChannelsError(
            "This unsubscribe link is not valid (it was changed or cut short). "
            "Open the link from the email again, or reply to the email to unsubscribe.",
            "token",
            status=400,
        ) from None


def unsubscribe(session, token: str) -> str:
    mailing_id, email = read_token(token)
    if session.get(Unsubscribe, email) is None:
        session.add(Unsubscribe(email=email, mailing_id=mailing_id or None))
    return email


def resubscribe(session, email: str) -> None:
    row = session.get(Unsubscribe, email.strip().lower())
    if row is not None:
        session.delete(row)


def footer(unsub: str, body_template: str) -> str:
    if "{unsubscribe_url}" in body_template:
        return ""
    return f"\n\n--\nUnsubscribe: {unsub}"


# --- Sending (the scheduled job) ---------------------------------------------------------


def _queue_chunk(session, runtime, m, chunk, parts, state) -> None:
    sp, bp, hp = parts
    emails = {(r.get("email") or "").strip().lower() for r in chunk}
    gone = set(session.scalars(select(Unsubscribe.email).where(Unsubscribe.email.in_(emails))))
    pending = []
    for r in chunk:
        email = (r.get("email") or "").strip()
        low = email.lower()
        rec = MailingRecipient(
            mailing_id=m.id,
            customer_id=r.get("customer_id"),
            contact_id=r.get("contact_id"),
            email=email[:255],
            name=(r.get("name") or "")[:200],
        )
        if low and low in state["seen"]:
            continue
        state["seen"].add(low)
        if not email:
            rec.status, rec.error = "invalid", "No email address."
        elif not valid_email(email):
            rec.status, rec.error = "invalid", "Not a valid email address."
        elif low in gone:
            rec.status = "unsubscribed"
        else:
            unsub = unsubscribe_url(m.id, email)
            values = _values(r, unsub)
            html = fill(hp, values, escape=True) if hp else None
            if html and "{unsubscribe_url}" not in state["html_template"]:
                html += (
                    f'<p style="color:#888;font-size:12px">'
                    f'<a href="{htmllib.escape(unsub)}">Unsubscribe</a></p>'
                )
            rows = bus.notify(
                session,
                KIND,
                " ".join(fill(sp, values).split()),
                fill(bp, values) + footer(unsub, state["text_template"]),
                addresses=[("email", email)],
                html=html,
                runtime=runtime,
                data={
                    "mailing_id": m.id,
                    "customer_id": r.get("customer_id"),
                    "contact_id": r.get("contact_id"),
                    "name": r.get("name") or "",
                    "unsubscribe_url": unsub,
                    "reply_to": state["reply_to"],
                },
            )
            for row in rows:
                row.next_attempt_at = state["start"] + timedelta(
                    seconds=state["i"] * 60.0 / m.rate_per_minute
                )
                state["i"] += 1
            pending.append((rec, rows[0] if rows else None))
        session.add(rec)
        state["total"] += 1
    session.flush()
    for rec, row in pending:
        rec.outbox_id = row.id if row is not None else None
    session.flush()


def send_mailing(session, runtime, m: Mailing, now: datetime | None = None) -> int:
    """Queue every recipient of ``m`` (streamed, in chunks). Returns the recipients written."""
    now = now or utcnow()
    user = session.get(User, m.created_by) if m.created_by else None
    if user is None or not user.is_active:
        m.status, m.error = "failed", "The sender's account is gone or inactive."
        return 0
    audience = get_audience(runtime, user, m.audience)
    allowed = merge_fields(audience)
    text, html = split_body(m)
    parts = (
        parse_template(m.subject, allowed, "subject"),
        parse_template(text, allowed, "body"),
        parse_template(html, allowed, "html") if html else None,
    )
    m.status, m.started_at = "sending", now
    mailing_id = m.id
    state = {
        "seen": set(),
        "i": 0,
        "total": 0,
        "start": now,
        "text_template": text,
        "html_template": html or "",
        "reply_to": user.email,
    }
    chunk = []
    for r in audience.recipients(session, user, m.params or {}):
        chunk.append(r)
        if len(chunk) >= CHUNK:
            _queue_chunk(session, runtime, m, chunk, parts, state)
            chunk = []
            # Keep memory flat: forget what was written (the mailing row is reloaded).
            for obj in list(session.new) + list(session.identity_map.values()):
                if isinstance(obj, (OutboxMessage, MailingRecipient)):
                    session.expunge(obj)
    if chunk:
        _queue_chunk(session, runtime, m, chunk, parts, state)
    m = session.get(Mailing, mailing_id)
    m.recipients_total = state["total"]
    m.queued_at = utcnow()
    if state["i"] == 0:
        m.status = "sent"
    return state["total"]


def run_due(session, now=None, runtime=None) -> list[int]:
    """The scheduled job: queue due mailings, close finished ones."""
    now = now or utcnow()
    runtime = runtime or bus.current_runtime()
    done = []
    due = session.scalars(
        select(Mailing.id)
        .where(Mailing.status == "scheduled", Mailing.scheduled_at <= now)
        .order_by(Mailing.scheduled_at)
    ).all()
    for mid in due:
        m = session.get(Mailing, mid)
        try:
            with session.begin_nested():
                send_mailing(session, runtime, m, now)
        except Exception as exc:  # a broken audience must not block the other mailings
            log.exception("mailing %s could not be queued", mid)
            m = session.get(Mailing, mid)
            m.status, m.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        session.commit()
        done.append(mid)
    for m in session.scalars(select(Mailing).where(Mailing.status == "sending")):
        if not pending_count(session, m.id):
            m.status = "sent"
    session.commit()
    return done


def pending_count(session, mailing_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(MailingRecipient)
            .join(OutboxMessage, OutboxMessage.id == MailingRecipient.outbox_id)
            .where(MailingRecipient.mailing_id == mailing_id, OutboxMessage.status == "pending")
        )
        or 0
    )


def recipient_status():
    """SQL expression: a recipient's status (queued / sent / failed / unsubscribed / invalid)."""
    return case(
        (MailingRecipient.status != "queued", MailingRecipient.status),
        (OutboxMessage.status == "sent", "sent"),
        (OutboxMessage.status == "dead", "failed"),
        else_="queued",
    )


def totals(session, mailing_id: int) -> dict:
    st = recipient_status()
    rows = session.execute(
        select(st, func.count())
        .select_from(MailingRecipient)
        .outerjoin(OutboxMessage, OutboxMessage.id == MailingRecipient.outbox_id)
        .where(MailingRecipient.mailing_id == mailing_id)
        .group_by(st)
    ).all()
    out = dict.fromkeys(("queued", "sent", "failed", "unsubscribed", "invalid"), 0)
    for status, n in rows:
        out[status] = out.get(status, 0) + n
    out["total"] = sum(out.values())
    return out


def recipients(session, mailing_id: int, status: str | None = None, limit=50, offset=0):
    st = recipient_status()
    stmt = (
        select(
            MailingRecipient,
            st.label("state"),
            OutboxMessage.last_error,
            OutboxMessage.sent_at,
            OutboxMessage.attempts,
        )
        .outerjoin(OutboxMessage, OutboxMessage.id == MailingRecipient.outbox_id)
        .where(MailingRecipient.mailing_id == mailing_id)
    )
    if status:
        stmt = stmt.where(st == status)
    return session.execute(stmt.order_by(MailingRecipient.id).limit(limit).offset(offset)).all()
