"""Channels tests: a real SMTP server (aiosmtpd) and a small HTTP server on 127.0.0.1, a
probe plugin declaring notification kinds and calendar events."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from channels_testkit import Inbox, free_port  # noqa: F401  (fixtures below use them)

from crm_host.notify import run_once


@pytest.fixture
def crm_config():
    return {
        "CRM_DISCOVER_PLUGINS": True,
        "CRM_EXTRA_PLUGINS": {"channels_probe": "channels_probe"},
        "CRM_PUBLIC_URL": "http://crm.test",
    }


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == b"crm" and auth_data.password == b"s3cret-pw"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (plain, AUTH allowed without TLS for the test)."""
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller

    handler = Inbox()
    port = free_port()
    ctl = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    ctl.start()
    handler.port = port
    yield handler
    ctl.stop()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def smtp_starttls(tls_cert):
    """A real SMTP server that requires STARTTLS before AUTH."""
    pytest.importorskip("aiosmtpd")
    import ssl

    from aiosmtpd.controller import Controller

    cert, key = tls_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    handler = Inbox()
    port = free_port()
    ctl = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        tls_context=ctx,
        require_starttls=True,
        auth_require_tls=True,
    )
    ctl.start()
    handler.port = port
    handler.cafile = cert
    yield handler
    ctl.stop()


class Gateway:
    """A tiny HTTP server standing in for an SMS gateway or a webhook receiver."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.delay = 0.0


@pytest.fixture
def gateway():
    gw = Gateway()

    class H(BaseHTTPRequestHandler):
        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            gw.requests.append(
                {"method": self.command, "path": self.path, "headers": self.headers, "body": body}
            )
            if gw.delay:
                time.sleep(gw.delay)
            self.send_response(gw.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                self.wfile.write(json.dumps({"ok": gw.status < 400}).encode())
            except OSError:
                pass

        do_POST = do_GET = do_PUT = _handle

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    gw.url = f"http://127.0.0.1:{srv.server_port}"
    yield gw
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def channels(enable_modules, crm_app):
    enable_modules("channels", "channels_probe")
    import channels_probe

    channels_probe.EVENTS.clear()
    from crm_channels import senders, settings

    settings.invalidate()
    senders.close_pool()
    yield crm_app
    senders.close_pool()
    settings.invalidate()


@pytest.fixture
def smtp_config(crm_app, smtp_server):
    from crm_channels import settings

    crm_app.config.update(
        {
            "CRM_SMTP_HOST": "127.0.0.1",
            "CRM_SMTP_PORT": smtp_server.port,
            "CRM_SMTP_SECURITY": "none",
            "CRM_SMTP_SENDER": "crm@example.test",
        }
    )
    settings.invalidate()
    return smtp_server


@pytest.fixture
def deliver(crm_app):
    """Run the worker once (every due message, then the due jobs)."""

    def run():
        from crm_channels import senders

        res = run_once(crm_app)
        senders.close_pool()
        return res

    return run
