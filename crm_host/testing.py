"""pytest fixtures for the host and for plugin authors (a ``pytest11`` plugin).

Installed with crm-host, so a plugin's tests can simply ask for them::

    def test_my_page(crm_app, enable_modules, login):
        enable_modules("mymodule")
        client = login("sales")
        assert client.get("/mymodule/").status_code == 200

Every test gets a fresh database: a SQLite file copied from a migrated template (fast), or,
when ``CRM_TEST_DATABASE_URL`` points at PostgreSQL, a schema of its own in that database.
Override the ``crm_config`` fixture to add settings, e.g. ``CRM_EXTRA_PLUGINS``.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from itertools import count

import pytest
from flask.testing import FlaskClient

PASSWORD = "password123"
_seq = count(1)


class CRMClient(FlaskClient):
    """A test client that knows how to send the CSRF token, like a browser form would."""

    def csrf_token(self) -> str:
        html = self.get("/login", follow_redirects=True).get_data(as_text=True)
        m = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert m, "no CSRF token found in the page"
        return m.group(1)

    def post_form(self, url, data=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kw)


class APIClient:
    """Sends ``Authorization: Bearer`` and JSON, like a script would."""

    def __init__(self, client: FlaskClient, token: str | None):
        self.client = client
        self.token = token

    def _headers(self, headers):
        h = dict(headers or {})
        if self.token:
            h.setdefault("Authorization", f"Bearer {self.token}")
        return h

    def open(self, method, url, json=None, headers=None, **kw):
        return self.client.open(url, method=method, json=json, headers=self._headers(headers), **kw)

    def get(self, url, **kw):
        return self.open("GET", url, **kw)

    def post(self, url, json=None, **kw):
        return self.open("POST", url, json=json, **kw)

    def patch(self, url, json=None, **kw):
        return self.open("PATCH", url, json=json, **kw)

    def put(self, url, json=None, **kw):
        return self.open("PUT", url, json=json, **kw)

    def delete(self, url, **kw):
        return self.open("DELETE", url, **kw)


def _database_url() -> str | None:
    return os.environ.get("CRM_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def _crm_sqlite_template(tmp_path_factory):
    """A SQLite file with the host schema, migrated once per test session."""
    from . import migrate
    from .db import make_engine

    path = tmp_path_factory.mktemp("crm-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade_host(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def crm_config():
    """Settings for the app under test; override in a conftest.py to add your own."""
    return {}


@pytest.fixture
def crm_database_url(request, tmp_path):
    """A fresh, empty-but-migrated database for one test."""
    url = _database_url()
    if url is None:
        template = request.getfixturevalue("_crm_sqlite_template")
        path = tmp_path / "crm.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    from sqlalchemy import create_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture
def crm_app(crm_config, crm_database_url, tmp_path):
    """The CRM application on a fresh database, host schema migrated, default roles present."""
    from .app import create_app

    overrides = {
        "CRM_DATABASE_URL": crm_database_url,
        "CRM_SECRET_KEY": "test-secret-key-" + "x" * 32,
        "CRM_AUTO_MIGRATE": True,
        "CRM_MODULE_POLL_SECONDS": 0.0,  # follow module-state changes at once in tests
        "CRM_DISCOVER_PLUGINS": True,
        "TESTING": True,
    }
    overrides.update(crm_config)
    app = create_app(overrides, instance_path=str(tmp_path / "instance"))
    app.test_client_class = CRMClient
    with app.app_context():
        app.extensions["crm"].ensure_ready()
    yield app
    app.extensions["crm"].db.dispose()


@pytest.fixture
def crm_db(crm_app):
    """A SQLAlchemy session on the test database (commit what you want others to see)."""
    s = crm_app.extensions["crm"].db.Session()
    yield s
    s.close()


@pytest.fixture
def enable_modules(crm_app):
    """``enable_modules("customers", ...)``: migrate and enable modules (with their deps)."""
    from . import modules

    def enable(*names):
        done = []
        for n in names:
            done += modules.enable(crm_app, n, with_deps=True, actor="test")
        return done

    return enable


@pytest.fixture
def make_user(crm_app):
    """``make_user("sales", department_id=..., supervisor_id=...)`` → a committed User.
    Every user's password is ``crm_host.testing.PASSWORD``."""
    from . import people

    def make(*roles, email=None, name=None, password=PASSWORD, **kw):
        roles = roles or ("staff",)
        n = next(_seq)
        with crm_app.extensions["crm"].db.session_scope() as s:
            u = people.create_user(
                s,
                email or f"{roles[0]}{n}@example.test",
                name or f"{roles[0].title()} {n}",
                password,
                roles=roles,
                **kw,
            )
        return u

    return make


@pytest.fixture
def login(crm_app, make_user):
    """``login("sales")`` or ``login(user)`` → a test client with a signed-in session."""

    def do(who="admin", password=PASSWORD):
        user = make_user(who) if isinstance(who, str) else who
        client = crm_app.test_client()
        token = client.csrf_token()
        resp = client.post(
            "/login", data={"email": user.email, "password": password, "csrf_token": token}
        )
        assert resp.status_code == 302, f"login failed for {user.email}: {resp.status_code}"
        client.crm_user = user
        return client

    return do


@pytest.fixture
def api(crm_app, make_user):
    """``api("sales")`` or ``api(user)`` → an API client with a personal token."""
    from .security import create_token

    def do(who="admin"):
        user = make_user(who) if isinstance(who, str) else who
        with crm_app.extensions["crm"].db.session_scope() as s:
            from .models import User

            _tok, secret = create_token(s, s.get(User, user.id), "test")
        c = APIClient(crm_app.test_client(), secret)
        c.user = user
        return c

    return do


@pytest.fixture
def anonymous_api(crm_app):
    """An API client without credentials."""
    return APIClient(crm_app.test_client(), None)


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (CRM_TEST_DATABASE_URL)")


@pytest.fixture
def crm_cli(crm_app, monkeypatch):
    """``crm_cli("modules", "list")`` → click Result of the ``crm`` command on the test app."""
    from click.testing import CliRunner

    from . import cli

    monkeypatch.setattr(cli, "_app", crm_app)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli.main, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


# --- Browser tests (Playwright driving Debian's chromium) --------------------------------

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    import shutil

    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@pytest.fixture
def migration_drift(crm_app):
    """``migration_drift("customers")`` (or ``"host"``): the changes autogenerate would still
    write for that plugin after its migrations ran; ``[]`` when models and migrations agree.
    Enable the plugin first (``enable_modules``)."""
    from . import migrate

    crm = crm_app.extensions["crm"]
    return lambda name: migrate.drift_of(crm.db.engine, crm.plugins, name)


@pytest.fixture
def live_server(crm_app):
    """The app served on a free local port in a thread; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, crm_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def browser():
    """A headless Chromium (skips the test when chromium or Playwright is missing)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    path = chromium_path()
    if path is None:
        pytest.skip("chromium is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def browser_login(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real form."""
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"{base}/")
