"""Customers tests: the installed module plus a tiny test plugin reporting revenue and
following merges/handovers through the hooks customers publishes."""

import pytest


@pytest.fixture
def crm_config():
    return {
        "CRM_DISCOVER_PLUGINS": True,
        "CRM_EXTRA_PLUGINS": {"revenue_probe": "customers_revenue_probe"},
    }


@pytest.fixture
def customers(enable_modules):
    enable_modules("customers", "revenue_probe")
    import customers_revenue_probe

    customers_revenue_probe.REVENUE.clear()
    customers_revenue_probe.EVENTS.clear()
    return customers_revenue_probe
