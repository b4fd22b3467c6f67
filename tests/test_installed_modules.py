"""Every module installed in this environment loads cleanly next to the others: no import
error, no clash of blueprint names, URLs, permissions, menu ids or hook names. (The other host
tests use small test plugins; this one is about the modules we ship and the examples.)"""

import pytest

from crm_host import modules


@pytest.fixture
def crm_config():
    return {"CRM_DISCOVER_PLUGINS": True}


def test_installed_modules_load_and_enable_together(crm_app, enable_modules):
    host = crm_app.extensions["crm"].plugins
    errors = {name: lp.error for name, lp in host.plugins.items() if lp.error}
    assert errors == {}
    names = sorted(host.plugins)
    if not names:
        pytest.skip("no module installed")
    enable_modules(*names)
    broken = {
        n: info.error for n in names if (info := modules.info(crm_app, n)).state != "enabled"
    }
    assert broken == {}
