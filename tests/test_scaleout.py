"""H-16 scale-out: two web processes and two workers against one PostgreSQL.

Sessions and tokens made on one web process work on the other; a module disabled from the
command line disappears from both within seconds; two `crm worker` processes deliver every
message exactly once."""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("CRM_TEST_DATABASE_URL"),
        reason="needs CRM_TEST_DATABASE_URL (PostgreSQL)",
    ),
]

TESTS = Path(__file__).resolve().parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


def _status(opener, url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def cluster(crm_app, crm_database_url, enable_modules, tmp_path):
    enable_modules("alpha")
    env = {
        **os.environ,
        "CRM_DATABASE_URL": crm_database_url,
        "CRM_SECRET_KEY": crm_app.config["SECRET_KEY"],
        "CRM_EXTRA_PLUGINS": "alpha=crm_test_plugins.alpha.plugin",
        "CRM_DISCOVER_PLUGINS": "0",
        "CRM_MODULE_POLL_SECONDS": "1",
        "CRM_INSTANCE_PATH": str(tmp_path / "inst"),
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    procs, ports = [], []
    cmd = [sys.executable, "-m", "crm_host.cli"]
    for _ in range(2):
        port = _free_port()
        ports.append(port)
        procs.append(
            subprocess.Popen(
                [*cmd, "serve", "--no-worker", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        for p in ports:
            _wait(f"http://127.0.0.1:{p}/healthz")
        yield {
            "env": env,
            "cmd": cmd,
            "bases": [f"http://127.0.0.1:{p}" for p in ports],
            "procs": procs,
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


def test_two_web_processes_share_sessions_tokens_and_module_state(cluster, make_user):
    a, b = cluster["bases"]
    user = make_user("sales")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{a}/login").read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    data = urllib.parse.urlencode(
        {"email": user.email, "password": "password123", "csrf_token": token}
    ).encode()
    opener.open(urllib.request.Request(f"{a}/login", data=data))
    # Cookies ignore ports: the session cookie set by A goes to B, which must honour it
    # (a signed cookie with the shared key; nothing lives in A's memory).
    status, body = _status(opener, f"{b}/alpha/")
    assert status == 200 and "id='items'" in body  # the page itself, not the sign-in form

    req = urllib.request.Request(
        f"{a}/api/v1/auth/tokens",
        method="POST",
        data=json.dumps({"email": user.email, "password": "password123"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    secret = json.loads(urllib.request.urlopen(req).read())["token"]
    bearer = {"Authorization": f"Bearer {secret}"}
    plain = urllib.request.build_opener()
    assert _status(plain, f"{b}/api/v1/alpha/items", bearer)[0] == 200

    subprocess.run(
        [*cluster["cmd"], "modules", "disable", "alpha"],
        env=cluster["env"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        codes = [_status(plain, f"{base}/api/v1/alpha/items", bearer)[0] for base in (a, b)]
        if codes == [404, 404]:
            break
        time.sleep(0.3)
    assert codes == [404, 404]


def test_two_worker_processes_deliver_each_message_once(cluster, crm_app, make_user):
    from crm_host import notify
    from crm_host.models import DeliveryAttempt, OutboxMessage, User

    user = make_user("sales")
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context():
        with db.session_scope() as s:
            u = s.get(User, user.id)
            for i in range(80):
                notify.notify(s, "alpha.ping", f"message {i}", users=[u])
    workers = [
        subprocess.Popen(
            [*cluster["cmd"], "worker", "--interval", "0.2"],
            env=cluster["env"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with db.Session() as s:
                left = s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status != "sent")
                )
            if left == 0:
                break
            time.sleep(0.3)
        assert left == 0
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=20)
    with db.Session() as s:
        per_message = s.execute(
            select(DeliveryAttempt.outbox_id, func.count()).group_by(DeliveryAttempt.outbox_id)
        ).all()
    assert len(per_message) == 80 and all(n == 1 for _, n in per_message)
