"""Host tests run against small test plugins from tests/crm_test_plugins (not product
modules). Installed product plugins are ignored here so the host is tested alone."""

import pytest
from crm_test_plugins import plugins


@pytest.fixture
def crm_config(request):
    marker = request.node.get_closest_marker("plugins")
    names = marker.args if marker else ("alpha", "beta")
    return {"CRM_DISCOVER_PLUGINS": False, "CRM_EXTRA_PLUGINS": plugins(*names)}


def pytest_configure(config):
    config.addinivalue_line("markers", "plugins(*names): test plugins loaded for this test")
