"""Knowledge tests: the installed module on a fresh database."""

import pytest


@pytest.fixture
def crm_config(tmp_path):
    return {"CRM_KNOWLEDGE_STORAGE_DIR": str(tmp_path / "knowledge-files")}


@pytest.fixture
def knowledge(enable_modules, crm_app):
    enable_modules("knowledge")
    return crm_app


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium (Playwright)")
