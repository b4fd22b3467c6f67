"""The module switched off (menus, panel, API gone; data kept) and its dependency guarded."""

import pytest
from service_testkit import new_customer, new_ticket


def test_disabling_service_removes_menus_panel_and_api_but_keeps_data(crm_app, team, api, login):
    from crm_host import modules

    alice = api(team["alice"])
    c = new_customer(alice)
    t = new_ticket(alice, customer_id=c["id"], title="保留的資料")
    web = login(team["alice"])
    assert 'data-menu-id="service"' in web.get("/").get_data(as_text=True)
    assert 'data-panel="service.tickets"' in web.get(f"/customers/{c['id']}").get_data(as_text=True)
    modules.disable(crm_app, "service")
    assert alice.get(f"/api/v1/tickets/{t['id']}").status_code == 404
    assert alice.get("/api/v1/tickets").status_code == 404
    assert web.get("/service/").status_code == 404
    assert 'data-menu-id="service"' not in web.get("/").get_data(as_text=True)
    assert 'data-panel="service.tickets"' not in web.get(f"/customers/{c['id']}").get_data(
        as_text=True
    )
    modules.enable(crm_app, "service")
    assert alice.get(f"/api/v1/tickets/{t['id']}").get_json()["title"] == "保留的資料"


def test_disabling_customers_while_service_is_on_is_refused(crm_app, team, crm_cli):
    from crm_host import modules

    r = crm_cli("modules", "disable", "customers")
    assert r.exit_code != 0
    assert "service" in r.output
    rt = crm_app.extensions["crm"].runtime()
    assert rt.is_active("customers") and rt.is_active("service")
    with pytest.raises(modules.ModuleError, match="service"):  # the same through Python
        modules.disable(crm_app, "customers")
    assert crm_app.extensions["crm"].runtime().is_active("customers")
