"""The delivery channels this module registers on the host's notification bus.

Every ``send(message)`` raises to signal failure (the bus records the attempt and retries
with backoff) and is safe to repeat for the same ``message.id`` where the medium allows
(the inbox stores a message once; emails carry a stable ``Message-ID``).

What a caller may put in ``notify(..., data=...)`` for these channels:

* ``attachments``: ``[{"filename": str, "content_type": str, "content_b64": str}]`` (email,
  fax); the fax channel turns the text into a PDF when no PDF is attached.
* ``reply_to``: an address for the email ``Reply-To`` header.
* ``url``: a link the inbox shows with the message.
* ``customer_id`` / ``contact_id``: the message reaches a customer; it is then recorded for the
  customer's timeline (CH-8).
* ``unsubscribe_url``: sets the ``List-Unsubscribe`` header (batch mailings).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import re
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email import encoders
from email import policy as email_policy
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid

import nh3
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm_host.db import utcnow
from crm_host.notify import Undeliverable

from . import settings as cfg
from .models import CustomerMessage, InboxMessage

log = logging.getLogger("crm.channels")

EMAIL_RE = re.compile(
    r"^[^@\s<>,;\"()\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")
MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024


class ChannelError(Exception):
    """A delivery that failed (channel not configured, gateway down): retried by the bus."""


class BadAddress(ChannelError, Undeliverable):
    """A delivery that can never succeed (no address, an invalid one): dead at once."""


class NotSetUp(ChannelError, Undeliverable):
    """The channel is not configured (no SMTP sender): dead at once, not retried."""


def email_ready() -> bool:
    """Email reaches people only once an SMTP server and a sender are configured."""
    return cfg.load().smtp_configured


def sms_ready() -> bool:
    return bool(cfg.load().sms_url)


def _db():
    return current_app.extensions["crm"].db


def valid_email(address: str | None) -> bool:
    return bool(address) and len(address) <= 254 and bool(EMAIL_RE.match(address.strip()))


def clean_phone(number: str | None) -> str:
    digits = re.sub(r"[\s().\-/]", "", number or "")
    if not PHONE_RE.match(digits):
        raise BadAddress(f"'{number}' is not a phone or fax number.")
    return digits


def sanitize_html(html: str | None) -> str | None:
    if not html:
        return None
    return nh3.clean(html, link_rel="noopener noreferrer")


# --- Customer timeline (CH-8) ------------------------------------------------------------


def _store_once(model, row) -> bool:
    """Store ``row`` (which carries the ``outbox_id`` it came from) once. Delivery is
    at-least-once (a worker that lost its lease may send again), and ``outbox_id`` is unique:
    a second copy is refused by the database and is not an error. Returns False for such a
    copy; any other integrity failure is raised."""
    try:
        with _db().session_scope() as s:
            s.add(row)
        return True
    except IntegrityError:
        with _db().session_scope() as s:
            if s.scalar(select(model.id).where(model.outbox_id == row.outbox_id)) is None:
                raise
        return False


def record_for_customer(message, channel: str, address: str | None) -> None:
    """A message that reached a customer's contact is kept for the customer's timeline."""
    data = message.data or {}
    customer_id = data.get("customer_id")
    if not customer_id:
        return
    row = CustomerMessage(
        customer_id=int(customer_id),
        contact_id=data.get("contact_id"),
        kind=message.kind,
        channel=channel,
        address=(address or "")[:255] or None,
        subject=(message.subject or "")[:255],
        body=(message.body or "")[:20000],
        outbox_id=message.id,
        sent_at=utcnow(),
    )
    try:
        _store_once(CustomerMessage, row)
    except IntegrityError:
        # The message itself went out: failing now would make the bus send it again.
        log.exception("message %s sent but not recorded on customer %s", message.id, customer_id)


# --- Inbox (CH-1) ------------------------------------------------------------------------


def send_inbox(message) -> None:
    if message.recipient is None:
        raise BadAddress("The inbox reaches users only (this message has no user).")
    _store_once(
        InboxMessage,
        InboxMessage(
            user_id=message.recipient.id,
            kind=message.kind,
            subject=message.subject or "",
            body=message.body or "",
            html=sanitize_html(message.html),
            url=((message.data or {}).get("url") or None),
            outbox_id=message.id,
        ),
    )


# --- Email (CH-2) ------------------------------------------------------------------------


def _header_text(value: str | None) -> str:
    """One line: no CR/LF can reach a header (no header injection)."""
    return " ".join((value or "").split())


def _addr(value: str, name: str | None = None) -> str:
    value = (value or "").strip()
    if not valid_email(value):
        raise BadAddress(f"'{value}' is not a valid email address.")
    # formataddr RFC 2047-encodes a Chinese display name (charset utf-8), quotes an ASCII one.
    return formataddr((_header_text(name)[:60], value), charset="utf-8")


def _h(value: str) -> str:
    """ASCII as is; anything else as RFC 2047 encoded words of at most 75 characters,
    folded (the message itself is generated without refolding, see ``build_email``)."""
    return value if value.isascii() else Header(value, "utf-8", maxlinelen=76).encode()


def build_email(message, to: str, settings: cfg.Settings, to_name: str | None = None):
    """The MIME message: text and optional HTML alternative, attachments; UTF-8 bodies and
    RFC 2047 / RFC 2231 encoded headers and file names for Chinese. Built with the
    ``compat32`` MIME classes: about twice as fast as ``EmailMessage``'s header registry,
    which matters for a 10,000-recipient mailing (bench/RESULTS.md)."""
    if not settings.smtp_sender:
        # Retrying cannot help until an administrator sets it: dead at once, reason shown.
        raise NotSetUp("No sender address: set CRM_SMTP_SENDER or the channels settings.")
    data = message.data or {}
    text = MIMEText(message.body or "", "plain", "utf-8")
    html = sanitize_html(message.html)
    body = text
    if html:
        body = MIMEMultipart("alternative")
        body.attach(text)
        body.attach(MIMEText(html, "html", "utf-8"))
    atts = attachments_of(message)
    if atts:
        msg = MIMEMultipart("mixed")
        msg.attach(body)
        for att in atts:
            maintype, _, subtype = att["content_type"].partition("/")
            part = MIMEBase(maintype, subtype or "octet-stream")
            part.set_payload(att["content"])
            encoders.encode_base64(part)
            name = att["filename"]
            part.add_header(
                "Content-Disposition",
                "attachment",
                filename=name if name.isascii() else ("utf-8", "", name),
            )
            msg.attach(part)
    else:
        msg = body
    sender_name = current_app.config.get("CRM_SITE_NAME", "CRM") if current_app else "CRM"
    msg["From"] = _addr(settings.smtp_sender, data.get("sender_name") or sender_name)
    msg["To"] = _addr(to, to_name)
    msg["Subject"] = _h(_header_text(message.subject))
    msg["Date"] = format_datetime(utcnow())
    domain = settings.smtp_sender.rpartition("@")[2] or "crm.local"
    msg["Message-ID"] = make_msgid(idstring=f"crm{message.id}", domain=domain)
    reply_to = (data.get("reply_to") or "").strip()
    if reply_to and valid_email(reply_to):
        msg["Reply-To"] = reply_to
    if data.get("unsubscribe_url"):
        msg["List-Unsubscribe"] = f"<{_header_text(data['unsubscribe_url'])}>"
        # RFC 8058: mail clients may unsubscribe with one POST, without opening the page.
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-CRM-Kind"] = _header_text(message.kind)
    # No folding of plain headers (a long List-Unsubscribe URL stays on its line; encoded
    # Chinese headers fold themselves); 998 is SMTP's line limit.
    msg.policy = email_policy.compat32.clone(max_line_length=998)
    return msg


def attachments_of(message) -> list[dict]:
    out = []
    total = 0
    for att in (message.data or {}).get("attachments") or []:
        try:
            content = base64.b64decode(att["content_b64"], validate=True)
        except Exception:
            raise BadAddress(f"Attachment {att.get('filename')!r} is not valid base64.") from None
        total += len(content)
        if total > MAX_ATTACHMENT_BYTES:
            raise BadAddress("Attachments exceed 15 MB.")
        ctype = att.get("content_type") or "application/octet-stream"
        if "/" not in ctype:
            ctype = "application/octet-stream"
        name = (att.get("filename") or "attachment").replace("/", "_").replace("\\", "_")
        out.append({"filename": name[:120], "content_type": ctype, "content": content})
    return out


class _SMTPPool(threading.local):
    """One open SMTP connection per worker thread, reused for consecutive messages (a
    10,000-recipient mailing must not open 10,000 connections)."""

    conn = None
    key = None
    last_used = 0.0


_pool = _SMTPPool()
IDLE_SECONDS = 30


def _connect(settings: cfg.Settings):
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    security = settings.smtp_security if settings.smtp_security in cfg.SECURITY else "starttls"
    if security == "ssl":
        conn = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context())
    else:
        conn = smtplib.SMTP(host, port, timeout=timeout)
        conn.ehlo()
        if security == "starttls":
            conn.starttls(context=_tls_context())
            conn.ehlo()
    if settings.smtp_user:
        conn.login(settings.smtp_user, settings.smtp_password)
    return conn


def _tls_context():
    ctx = ssl.create_default_context()
    cafile = current_app.config.get("CRM_SMTP_CAFILE") if current_app else None
    if cafile:
        ctx.load_verify_locations(cafile)
    return ctx


def close_pool() -> None:
    if _pool.conn is not None:
        try:
            _pool.conn.quit()
        except Exception:
            pass
    _pool.conn = None
    _pool.key = None


def smtp_send(msg, settings: cfg.Settings) -> None:
    if not settings.smtp_host:
        raise ChannelError("SMTP is not configured: set CRM_SMTP_HOST or the channels settings.")
    key = (
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_security,
        settings.smtp_user,
        hashlib.sha256(settings.smtp_password.encode()).hexdigest(),
    )
    if _pool.conn is not None and (
        _pool.key != key or time.monotonic() - _pool.last_used > IDLE_SECONDS
    ):
        close_pool()
    for attempt in (1, 2):
        if _pool.conn is None:
            try:
                _pool.conn = _connect(settings)
            except smtplib.SMTPAuthenticationError as exc:
                # Never echo the password; the server's answer is enough to act on.
                raise ChannelError(
                    f"SMTP login refused for user '{settings.smtp_user}' ({exc.smtp_code})"
                ) from None
            _pool.key = key
        try:
            _pool.conn.send_message(msg)
            _pool.last_used = time.monotonic()
            return
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            close_pool()  # a reused connection the server dropped: reconnect once
            if attempt == 2:
                raise
        except (smtplib.SMTPException, OSError):
            close_pool()
            raise


def send_email(message) -> None:
    settings = cfg.load()
    name = None
    if message.address:
        to = message.address
        name = (message.data or {}).get("name")
    elif message.recipient is not None:
        to, name = message.recipient.email, message.recipient.name
    else:
        raise BadAddress("No email address for this message.")
    msg = build_email(message, to, settings, name)
    smtp_send(msg, settings)
    record_for_customer(message, "email", to)


# --- SMS (CH-3) --------------------------------------------------------------------------


def _http(url: str, method: str, body: bytes | None, headers: dict, timeout: int) -> bytes:
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (admin URL)
            return resp.read(65536)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        raise ChannelError(
            f"HTTP {exc.code} from {urllib.parse.urlsplit(url).netloc}"
            + (f": {detail}" if detail else "")
        ) from None
    except TimeoutError:
        raise ChannelError(
            f"No answer from {urllib.parse.urlsplit(url).netloc} within {timeout} s (timeout)"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ChannelError(
                f"No answer from {urllib.parse.urlsplit(url).netloc} within {timeout} s (timeout)"
            ) from None
        raise ChannelError(f"Cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None


def render_sms_body(template: str, to: str, text: str, content_type: str) -> str:
    """Fill ``{to}`` and ``{text}`` (also ``{id}``) in the gateway's body template. For a JSON
    body the values are inserted as JSON strings (quotes included); otherwise URL-encoded."""
    if "json" in content_type:
        enc = json.dumps
    else:
        enc = urllib.parse.quote_plus
    out = template
    for k, v in (("to", to), ("text", text)):
        out = out.replace("{" + k + "}", enc(v))
    return out


def send_sms(message) -> None:
    settings = cfg.load()
    if not settings.sms_url:
        raise ChannelError("No SMS gateway: set CRM_SMS_URL or the channels settings.")
    raw = message.address or (message.recipient.phone if message.recipient else None)
    if not raw:
        raise BadAddress("No mobile number for this message.")
    to = clean_phone(raw)
    text = message.subject if not message.body else f"{message.subject}\n{message.body}"
    if message.address is not None and message.body:
        text = message.body  # a message to a customer: the body is the text
    method = (settings.sms_method or "POST").upper()
    headers = {"Content-Type": settings.sms_content_type, "Idempotency-Key": f"crm-{message.id}"}
    if settings.sms_auth_header:
        name, _, value = settings.sms_auth_header.partition(":")
        if value:
            headers[name.strip()] = value.strip()
        else:
            headers["Authorization"] = name.strip()
    url = settings.sms_url.replace("{to}", urllib.parse.quote(to))
    url = url.replace("{text}", urllib.parse.quote(text))
    body = None
    if method in ("POST", "PUT"):
        body = render_sms_body(settings.sms_body, to, text, settings.sms_content_type).encode()
    _http(url, method, body, headers, settings.sms_timeout)
    record_for_customer(message, "sms", to)


# --- Fax (CH-4) --------------------------------------------------------------------------


def text_pdf(title: str, text: str) -> bytes:
    """A simple A4 PDF of the message (Chinese drawn with reportlab's CID fonts)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    try:
        pdfmetrics.getFont(font)
    except KeyError:
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(title)
    width, height = A4
    y = height - 60
    c.setFont(font, 14)
    c.drawString(50, y, title[:80])
    y -= 30
    c.setFont(font, 11)
    for para in (text or "").splitlines() or [""]:
        line = ""
        for ch in para:
            if pdfmetrics.stringWidth(line + ch, font, 11) > width - 100:
                c.drawString(50, y, line)
                y -= 16
                line = ""
                if y < 50:
                    c.showPage()
                    c.setFont(font, 11)
                    y = height - 50
            line += ch
        c.drawString(50, y, line)
        y -= 16
        if y < 50:
            c.showPage()
            c.setFont(font, 11)
            y = height - 50
    c.save()
    return buf.getvalue()


def fax_address(pattern: str, number: str) -> str:
    if "{number}" not in pattern:
        raise ChannelError(
            "The fax gateway address must contain {number}, e.g. {number}@fax.example."
        )
    address = pattern.replace("{number}", number.lstrip("+"))
    if not valid_email(address):
        raise ChannelError(f"The fax gateway address '{address}' is not a valid email address.")
    return address


def send_fax(message) -> None:
    settings = cfg.load()
    if not settings.fax_address:
        raise ChannelError("No fax gateway: set CRM_FAX_ADDRESS (e.g. {number}@fax.example).")
    raw = message.address or (message.recipient.phone if message.recipient else None)
    if not raw:
        raise BadAddress("No fax number for this message.")
    number = clean_phone(raw)
    to = fax_address(settings.fax_address, number)
    data = dict(message.data or {})
    atts = list(data.get("attachments") or [])
    if not any((a.get("content_type") or "") == "application/pdf" for a in atts):
        pdf = text_pdf(message.subject or "", message.body or "")
        atts.append(
            {
                "filename": f"fax-{message.id}.pdf",
                "content_type": "application/pdf",
                "content_b64": base64.b64encode(pdf).decode(),
            }
        )
    data["attachments"] = atts
    fax_msg = type(message)(
        id=message.id,
        kind=message.kind,
        subject=message.subject,
        body=message.body or "",
        data=data,
        recipient=None,
        address=to,
        html=None,
    )
    smtp_send(build_email(fax_msg, to, settings), settings)
    record_for_customer(message, "fax", number)


# --- Webhook (CH-5) ----------------------------------------------------------------------

SIGNATURE_HEADER = "X-CRM-Signature"
TIMESTAMP_HEADER = "X-CRM-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}." + body`` with the shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does (documented in the README): recompute and compare in constant
    time, and refuse timestamps older than ``tolerance`` seconds (replays)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now or time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def webhook_payload(message) -> bytes:
    payload = {
        "id": message.id,
        "kind": message.kind,
        "subject": message.subject,
        "body": message.body,
        "data": message.data or {},
        "recipient": (
            {"id": message.recipient.id, "email": message.recipient.email}
            if message.recipient is not None
            else None
        ),
        "sent_at": utcnow().isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def send_webhook(message) -> None:
    settings = cfg.load()
    url = (message.address or "").strip()
    if not url.startswith(("http://", "https://")):
        raise BadAddress("A webhook needs an http(s) URL as its address.")
    if not settings.webhook_secret:
        raise ChannelError("No webhook secret: set CRM_WEBHOOK_SECRET or the channels settings.")
    body = webhook_payload(message)
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(settings.webhook_secret, ts, body),
        "X-CRM-Delivery": str(message.id),
        "User-Agent": "crm-channels/1",
    }
    _http(url, "POST", body, headers, settings.webhook_timeout)


def formatted(name: str, email: str) -> str:
    return formataddr((name, email))
