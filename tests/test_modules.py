"""H-3, H-6: module states from the CLI, the admin area and the API; live switching."""

import pytest
from sqlalchemy import inspect, text

from crm_host import modules


def test_cli_list_and_info(crm_cli):
    res = crm_cli("modules", "list")
    assert res.exit_code == 0
    assert "alpha" in res.output and "available" in res.output
    res = crm_cli("modules", "info", "beta")
    assert "depends on:   alpha" in res.output
    res = crm_cli("modules", "info", "nosuch")
    assert res.exit_code == 1 and "Unknown module 'nosuch'" in res.output


def test_enable_refuses_without_deps_then_with_deps(crm_cli, crm_app):
    res = crm_cli("modules", "enable", "beta")
    assert res.exit_code == 1
    assert "needs 'alpha' enabled first" in res.output and "--with-deps" in res.output
    assert modules.info(crm_app, "beta").state == "available"  # nothing changed
    res = crm_cli("modules", "enable", "beta", "--with-deps")
    assert res.exit_code == 0 and "Enabled: alpha, beta" in res.output
    assert inspect(crm_app.extensions["crm"].db.engine).has_table("alpha_item")  # migrated


def test_disable_refuses_while_dependent_enabled(crm_cli, crm_app, enable_modules):
    enable_modules("beta")
    res = crm_cli("modules", "disable", "alpha")
    assert res.exit_code == 1 and "'beta' depends on it" in res.output
    assert modules.info(crm_app, "alpha").state == "enabled"
    res = crm_cli("modules", "disable", "alpha", "--cascade")
    assert res.exit_code == 0 and "Disabled: beta, alpha" in res.output
    res = crm_cli("modules", "disable", "alpha")
    assert res.exit_code == 1 and "not enabled" in res.output


def test_unknown_module_name_everywhere(crm_cli):
    for cmd in (("enable", "zzz"), ("disable", "zzz"), ("purge", "zzz", "--yes"), ("info", "zzz")):
        res = crm_cli("modules", *cmd)
        assert res.exit_code == 1, cmd
        assert "zzz" in res.output


def test_purge_needs_confirmation_and_disabled_state(crm_cli, crm_app, enable_modules, api):
    enable_modules("alpha")
    client = api("sales")
    assert client.post("/api/v1/alpha/items", json={"name": "keep me"}).status_code == 201
    engine = crm_app.extensions["crm"].db.engine
    res = crm_cli("modules", "purge", "alpha", "--yes")
    assert res.exit_code == 1 and "disable it before purging" in res.output
    crm_cli("modules", "disable", "alpha")
    # Disabling keeps the data.
    with engine.connect() as c:
        assert c.execute(text("select count(*) from alpha_item")).scalar() == 1
    res = crm_cli("modules", "purge", "alpha", input="wrong\n")
    assert res.exit_code == 1 and "nothing was dropped" in res.output
    assert inspect(engine).has_table("alpha_item")
    res = crm_cli("modules", "purge", "alpha", input="alpha\n")
    assert res.exit_code == 0 and "alpha_item" in res.output
    assert not inspect(engine).has_table("alpha_item")
    assert modules.info(crm_app, "alpha").state == "available"
    # Enabling again recreates the schema from its migrations.
    crm_cli("modules", "enable", "alpha")
    assert inspect(engine).has_table("alpha_item")


def test_running_app_follows_disable_and_enable(crm_app, enable_modules, login, api):
    enable_modules("alpha", "beta")
    browser = login("admin")
    script = api("sales")
    assert script.post("/api/v1/alpha/items", json={"name": "x"}).status_code == 201
    assert 'data-menu-id="alpha"' in browser.get("/").get_data(as_text=True)
    assert browser.get("/alpha/").status_code == 200

    modules.disable(crm_app, "alpha", cascade=True, actor="test")
    assert browser.get("/alpha/").status_code == 404
    assert browser.get("/beta/").status_code == 404
    r = script.get("/api/v1/alpha/items")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    html = browser.get("/").get_data(as_text=True)
    assert 'data-menu-id="alpha"' not in html and 'data-menu-id="beta"' not in html
    spec = browser.get("/api/openapi.json").get_json()
    assert not any(p.startswith("/api/v1/alpha") for p in spec["paths"])
    assert "alpha.view" not in crm_app.extensions["crm"].plugins.current().permissions

    modules.enable(crm_app, "alpha", actor="test")
    items = script.get("/api/v1/alpha/items").get_json()
    assert items["total"] == 1  # the data survived
    assert any(
        p.startswith("/api/v1/alpha") for p in browser.get("/api/openapi.json").get_json()["paths"]
    )


def test_other_process_change_is_seen_after_poll(crm_app, enable_modules, login):
    """A state change written by another process (here: straight into the database)
    is picked up through the generation counter."""
    enable_modules("alpha")
    browser = login("admin")
    assert browser.get("/alpha/").status_code == 200
    with crm_app.extensions["crm"].db.engine.begin() as c:
        c.execute(text("update host_module set state='disabled' where name='alpha'"))
        c.execute(text("update host_state set generation = generation + 1"))
    assert browser.get("/alpha/").status_code == 404


def test_admin_modules_page_and_actions(crm_app, login):
    client = login("admin")
    page = client.get("/admin/modules")
    assert page.status_code == 200 and 'data-module="alpha"' in page.get_data(as_text=True)
    r = client.post_form("/admin/modules/beta/enable", {})
    assert r.status_code == 303
    assert modules.info(crm_app, "beta").state == "available"  # refused: alpha not enabled
    r = client.post_form("/admin/modules/beta/enable", {"with_deps": "1"}, follow_redirects=True)
    assert "Enabled: alpha, beta" in r.get_data(as_text=True)
    assert modules.info(crm_app, "beta").state == "enabled"
    # Without a CSRF token nothing happens.
    r = client.post("/admin/modules/beta/disable", data={})
    assert r.status_code == 400
    assert modules.info(crm_app, "beta").state == "enabled"


def test_module_admin_needs_permission(login, api):
    assert login("sales").get("/admin/modules").status_code == 403
    r = api("sales").post("/api/v1/modules/alpha/enable", json={})
    assert r.status_code == 403


def test_module_api(api, crm_app):
    client = api("admin")
    r = client.post("/api/v1/modules/beta/enable", json={})
    assert r.status_code == 409 and "--with-deps" in r.get_json()["detail"]
    r = client.post("/api/v1/modules/beta/enable", json={"with_deps": True})
    assert r.status_code == 200 and [m["name"] for m in r.get_json()] == ["alpha", "beta"]
    r = client.post("/api/v1/modules/alpha/disable", json={})
    assert r.status_code == 409
    assert client.get("/api/v1/modules/nosuch").status_code == 404
    assert client.post("/api/v1/modules/nosuch/enable", json={}).status_code == 404
    names = {m["name"]: m["state"] for m in client.get("/api/v1/modules").get_json()}
    assert names == {"alpha": "enabled", "beta": "enabled"}


@pytest.mark.plugins("alpha", "raises_on_import")
def test_info_shows_traceback_of_broken(crm_cli):
    res = crm_cli("modules", "list")
    assert "broken" in res.output and "import failed" in res.output
    res = crm_cli("modules", "info", "raises_on_import")
    assert "RuntimeError: boom at import" in res.output


def test_state_changes_are_audited(crm_cli, api):
    crm_cli("modules", "enable", "alpha")
    crm_cli("modules", "disable", "alpha")
    rows = api("admin").get("/api/v1/audit?entity=host.module&record_id=alpha").get_json()["items"]
    assert [(r["action"], r["actor"], r["after"]["state"]) for r in rows] == [
        ("disable", "cli", "disabled"),
        ("enable", "cli", "enabled"),
    ]


def test_table_ownership_respects_longer_prefixes():
    from crm_host.migrate import owns

    others = ["sales_report_", "customers_"]
    assert owns("sales_deal", "sales_", others)
    assert not owns("sales_report_row", "sales_", others)
    assert owns("sales_report_row", "sales_report_", ["sales_"])
    assert not owns("customers_customer", "sales_", others)
