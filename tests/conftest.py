"""Host tests run against small test plugins from tests/crm_test_plugins (not product
modules). Installed product plugins are ignored here so the host is tested alone."""

import pytest

GOOD = {"alpha": "crm_test_plugins.alpha.plugin", "beta": "crm_test_plugins.beta"}


def plugins(*names, **extra):
    """CRM_EXTRA_PLUGINS for a test: named test plugins (module crm_test_plugins.<name>)."""
    out = {}
    for n in names:
        out[n] = GOOD.get(n, f"crm_test_plugins.{n}")
    out.update(extra)
    return out


@pytest.fixture
def crm_config(request):
    marker = request.node.get_closest_marker("plugins")
    names = marker.args if marker else ("alpha", "beta")
    return {"CRM_DISCOVER_PLUGINS": False, "CRM_EXTRA_PLUGINS": plugins(*names)}


def pytest_configure(config):
    config.addinivalue_line("markers", "plugins(*names): test plugins loaded for this test")
