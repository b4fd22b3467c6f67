"""Forum tests: the installed module on a fresh database."""

import pytest


@pytest.fixture
def crm_config(tmp_path):
    return {"CRM_FORUM_STORAGE_DIR": str(tmp_path / "forum-files")}


@pytest.fixture
def forum(enable_modules, crm_app):
    enable_modules("forum")
    return crm_app


@pytest.fixture
def category(forum, api):
    """``category("Name", read_roles=[...], ...)`` → the category's JSON (made by an admin)."""
    admin = api("admin")

    def make(name="General", **rules):
        r = admin.post("/api/v1/forum/categories", json={"name": name, **rules})
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    return make


@pytest.fixture
def outbox(crm_db):
    """The notification rows written so far: [(kind, recipient email, subject, body)]."""
    from sqlalchemy import select

    from crm_host.models import OutboxMessage, User

    def rows(kind=None):
        crm_db.expire_all()
        stmt = select(
            OutboxMessage.kind,
            User.email,
            OutboxMessage.subject,
            OutboxMessage.body,
            OutboxMessage.channel,
            OutboxMessage.data,
        ).join(User, User.id == OutboxMessage.recipient_id)
        if kind:
            stmt = stmt.where(OutboxMessage.kind == kind)
        return crm_db.execute(stmt.order_by(OutboxMessage.id)).all()

    return rows


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium (Playwright)")
