"""CH-2 email (a real SMTP server: plain + AUTH, STARTTLS + AUTH), CH-3 SMS through an HTTP
gateway, CH-4 fax through an email-to-fax gateway, CH-5 signed webhooks. Failures are
recorded attempts with a clear error and a retry, never a lost message."""

from __future__ import annotations

import base64
import json
import time

import pytest
from sqlalchemy import select

from crm_host.models import DeliveryAttempt, OutboxMessage, User
from crm_host.notify import notify


def _send(app, kind="host.test", subject="Hello", body="Body", users=(), addresses=(), **kw):
    with app.extensions["crm"].db.session_scope() as s:
        with app.app_context():
            rows = notify(
                s,
                kind,
                subject,
                body,
                users=[s.get(User, u.id) for u in users],
                addresses=addresses,
                runtime=app.extensions["crm"].runtime(),
                **kw,
            )
            s.flush()
            return [r.id for r in rows]


def _row(db, rid):
    db.expire_all()
    return db.get(OutboxMessage, rid)


def test_email_with_chinese_headers_html_and_attachment(channels, smtp_config, deliver, crm_db):
    pdf = b"%PDF-1.4 tiny"
    [rid] = _send(
        channels,
        subject="報價單：台北市永豐貿易 Q3",
        body="王經理您好：\n附件是報價單。",
        html='<p>王經理您好：<a href="https://x.test" onclick="evil()">報價</a></p><script>x</script>',
        addresses=[("email", "wang@example.test")],
        data={
            "name": "王大明",
            "reply_to": "sales@example.test",
            "attachments": [
                {
                    "filename": "報價單.pdf",
                    "content_type": "application/pdf",
                    "content_b64": base64.b64encode(pdf).decode(),
                }
            ],
        },
    )
    assert deliver()["sent"] == 1
    got = smtp_config.wait(1)[0]
    msg = got["msg"]
    assert got["to"] == ["wang@example.test"] and got["from"] == "crm@example.test"
    assert str(msg["Subject"]) == "報價單：台北市永豐貿易 Q3"
    assert msg["To"].addresses[0].display_name == "王大明"
    assert msg["Reply-To"] == "sales@example.test"
    assert msg["Message-ID"] and f"crm{rid}" in msg["Message-ID"]
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw.lower() or b"=?UTF-8?" in raw  # encoded-word headers
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "王經理您好" in text
    assert "<script>" not in html and "onclick" not in html and "報價" in html
    atts = list(msg.iter_attachments())
    assert len(atts) == 1 and atts[0].get_filename() == "報價單.pdf"
    assert atts[0].get_content() == pdf
    assert _row(crm_db, rid).status == "sent"


def test_email_login_over_starttls(channels, smtp_starttls, crm_app, deliver, crm_db):
    from crm_channels import settings

    crm_app.config.update(
        {
            "CRM_SMTP_HOST": "127.0.0.1",
            "CRM_SMTP_PORT": smtp_starttls.port,
            "CRM_SMTP_SECURITY": "starttls",
            "CRM_SMTP_SENDER": "crm@example.test",
            "CRM_SMTP_USER": "crm",
            "CRM_SMTP_PASSWORD": "s3cret-pw",
            "CRM_SMTP_CAFILE": smtp_starttls.cafile,
        }
    )
    settings.invalidate()
    [rid] = _send(channels, addresses=[("email", "a@example.test")])
    assert deliver()["sent"] == 1
    assert smtp_starttls.wait(1)[0]["to"] == ["a@example.test"]
    # a wrong password: a clear failure that never shows the password
    crm_app.config["CRM_SMTP_PASSWORD"] = "wrong-pw-123"
    settings.invalidate()
    [rid] = _send(channels, addresses=[("email", "b@example.test")])
    assert deliver()["failed"] == 1
    row = _row(crm_db, rid)
    assert "login refused" in row.last_error and "wrong-pw-123" not in row.last_error
    assert row.status == "pending"  # retried later


def test_smtp_settings_screen_overrides_configuration(
    channels, smtp_server, login, deliver, crm_db
):
    from crm_channels.models import Setting

    web = login("admin")
    assert "not configured" in web.get("/channels/admin/settings").get_data(as_text=True)
    r = web.post_form(
        "/channels/admin/settings",
        {
            "action": "save",
            "smtp_host": "127.0.0.1",
            "smtp_port": str(smtp_server.port),
            "smtp_security": "none",
            "smtp_sender": "no-reply@example.test",
            "smtp_password": "top-secret-value",
        },
    )
    assert r.status_code == 303
    page = web.get("/channels/admin/settings").get_data(as_text=True)
    assert "top-secret-value" not in page and "Email is configured" in page
    assert crm_db.get(Setting, "smtp_password") is not None
    bad = web.post_form(
        "/channels/admin/settings", {"action": "save", "smtp_sender": "nope", "smtp_port": "x"}
    )
    assert bad.status_code == 422
    r = web.post_form("/channels/admin/settings", {"action": "test", "test_to": "ops@example.test"})
    assert r.status_code == 303
    assert deliver()["sent"] == 1
    assert smtp_server.wait(1)[0]["to"] == ["ops@example.test"]


def test_invalid_email_address_is_a_recorded_failure_and_others_still_go(
    channels, smtp_config, deliver, crm_db
):
    bad, good = _send(
        channels, addresses=[("email", "not-an-address"), ("email", "ok@example.test")]
    )
    res = deliver()
    assert res == {"sent": 1, "failed": 1, "jobs": res["jobs"]}
    row = _row(crm_db, bad)
    assert "not a valid email address" in row.last_error
    # retrying cannot fix the address: dead after one attempt, not retried for hours
    assert row.status == "dead" and row.attempts == 1
    assert _row(crm_db, good).status == "sent"
    assert [m["to"] for m in smtp_config.messages] == [["ok@example.test"]]


# --- SMS ---------------------------------------------------------------------------------


@pytest.fixture
def sms(crm_app, gateway):
    from crm_channels import settings

    crm_app.config.update(
        {
            "CRM_SMS_URL": gateway.url + "/send",
            "CRM_SMS_AUTH_HEADER": "X-Api-Key: k-123",
            "CRM_SMS_TIMEOUT": 1,
        }
    )
    settings.invalidate()
    return gateway


def test_sms_through_http_gateway(channels, sms, deliver, make_user, crm_db):
    user = make_user("sales", phone="+886 912-345-678")
    _send(channels, subject="會議提醒", body="", users=[user], channels=["sms"])
    _send(
        channels,
        subject="ignored",
        body="您好，您的訂單已出貨。",
        addresses=[("sms", "13800138000")],
        data={"customer_id": 7, "contact_id": 9},
    )
    assert deliver()["sent"] == 2
    first, second = sms.requests
    assert first["method"] == "POST" and first["path"] == "/send"
    assert first["headers"]["X-Api-Key"] == "k-123"
    assert json.loads(first["body"]) == {"to": "+886912345678", "text": "會議提醒"}
    assert json.loads(second["body"]) == {"to": "13800138000", "text": "您好，您的訂單已出貨。"}
    from crm_channels.models import CustomerMessage

    cm = crm_db.scalars(select(CustomerMessage)).one()
    assert (cm.customer_id, cm.channel, cm.address) == (7, "sms", "13800138000")


def test_sms_gateway_500_and_timeout_are_recorded_and_retried(channels, sms, deliver, crm_db):
    sms.status = 500
    [rid] = _send(channels, body="x", addresses=[("sms", "13800138000")])
    assert deliver()["failed"] == 1
    row = _row(crm_db, rid)
    assert row.status == "pending" and row.attempts == 1 and "HTTP 500" in row.last_error
    sms.status, sms.delay = 200, 2.5
    [rid2] = _send(channels, body="y", addresses=[("sms", "13800138001")])
    started = time.monotonic()
    deliver()
    assert time.monotonic() - started < 8
    row2 = _row(crm_db, rid2)
    assert row2.status == "pending" and "timeout" in row2.last_error
    attempts = crm_db.scalars(
        select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == rid2)
    ).all()
    assert len(attempts) == 1 and attempts[0].ok is False
    # once due again, the retry goes through
    sms.delay = 0
    crm_db.expire_all()
    for rid_ in (rid, rid2):
        r = crm_db.get(OutboxMessage, rid_)
        r.next_attempt_at = r.created_at
    crm_db.commit()
    assert deliver()["sent"] == 2


def test_sms_bad_number_is_refused_clearly(channels, sms, deliver, crm_db):
    [rid] = _send(channels, body="x", addresses=[("sms", "call me maybe")])
    deliver()
    assert "not a phone or fax number" in _row(crm_db, rid).last_error
    assert sms.requests == []


# --- Fax ---------------------------------------------------------------------------------


def test_fax_goes_to_the_email_gateway_with_a_pdf(channels, smtp_config, crm_app, deliver):
    from crm_channels import settings

    crm_app.config["CRM_FAX_ADDRESS"] = "{number}@fax.example"
    settings.invalidate()
    _send(
        channels,
        subject="訂購單",
        body="請於週五前出貨。\nShip by Friday.",
        addresses=[("fax", "+886 2-2345-6789")],
        data={"customer_id": 3},
    )
    assert deliver()["sent"] == 1
    got = smtp_config.wait(1)[0]
    assert got["to"] == ["88622345678 9".replace(" ", "") + "@fax.example"]
    atts = list(got["msg"].iter_attachments())
    assert atts and atts[0].get_content_type() == "application/pdf"
    assert atts[0].get_content().startswith(b"%PDF")


def test_fax_without_gateway_is_a_clear_failure(channels, smtp_config, deliver, crm_db):
    [rid] = _send(channels, body="x", addresses=[("fax", "0223456789")])
    deliver()
    assert "No fax gateway" in _row(crm_db, rid).last_error


# --- Webhook -----------------------------------------------------------------------------


def test_webhook_is_signed_and_verifiable(channels, gateway, crm_app, deliver):
    from crm_channels import senders, settings

    crm_app.config["CRM_WEBHOOK_SECRET"] = "whsec-test"
    settings.invalidate()
    [rid] = _send(
        channels,
        kind="host.test",
        subject="Deal won",
        body="Acme signed",
        addresses=[("webhook", gateway.url + "/hook")],
        data={"deal_id": 42},
    )
    assert deliver()["sent"] == 1
    req = gateway.requests[0]
    ts, sig = req["headers"]["X-CRM-Timestamp"], req["headers"]["X-CRM-Signature"]
    assert sig.startswith("sha256=")
    # what a receiver does (README): HMAC-SHA256 over "<timestamp>.<raw body>"
    import hashlib
    import hmac

    expected = (
        "sha256="
        + hmac.new(b"whsec-test", ts.encode() + b"." + req["body"], hashlib.sha256).hexdigest()
    )
    assert hmac.compare_digest(expected, sig)
    assert senders.verify("whsec-test", ts, req["body"], sig)
    assert not senders.verify("whsec-test", ts, req["body"] + b" ", sig)
    assert not senders.verify("whsec-test", str(int(ts) - 3600), req["body"], sig)
    payload = json.loads(req["body"])
    assert payload["id"] == rid and payload["data"] == {"deal_id": 42}
    assert payload["kind"] == "host.test"


def test_webhook_500_is_retried_with_backoff(channels, gateway, crm_app, deliver, crm_db):
    from crm_channels import settings

    crm_app.config["CRM_WEBHOOK_SECRET"] = "whsec-test"
    settings.invalidate()
    gateway.status = 500
    [rid] = _send(channels, addresses=[("webhook", gateway.url + "/hook")])
    deliver()
    row = _row(crm_db, rid)
    assert row.status == "pending" and "HTTP 500" in row.last_error
    first_retry = row.next_attempt_at
    row.next_attempt_at = row.created_at
    crm_db.commit()
    deliver()
    row = _row(crm_db, rid)
    assert row.attempts == 2 and row.next_attempt_at - row.created_at > first_retry - row.created_at
    assert len(gateway.requests) == 2


def test_email_over_implicit_tls(channels, tls_cert, crm_app, deliver):
    import ssl

    from aiosmtpd.controller import Controller
    from channels_testkit import Inbox, free_port
    from crm_channels import settings

    cert, key = tls_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    handler, port = Inbox(), free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=ctx)
    ctl.start()
    try:
        crm_app.config.update(
            {
                "CRM_SMTP_HOST": "127.0.0.1",
                "CRM_SMTP_PORT": port,
                "CRM_SMTP_SECURITY": "ssl",
                "CRM_SMTP_SENDER": "crm@example.test",
                "CRM_SMTP_CAFILE": cert,
            }
        )
        settings.invalidate()
        _send(channels, subject="TLS", addresses=[("email", "tls@example.test")])
        assert deliver()["sent"] == 1
        assert handler.wait(1)[0]["to"] == ["tls@example.test"]
    finally:
        ctl.stop()
