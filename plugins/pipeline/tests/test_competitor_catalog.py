"""Competitors on a deal picked from another module's catalogue (crm_competitor_catalog)."""

import pytest
from pipeline_testkit import new_deal


@pytest.fixture
def crm_config(tmp_path):
    return {
        "CRM_DISCOVER_PLUGINS": True,
        "CRM_EXTRA_PLUGINS": {"pipeline_probe": "pipeline_probe"},
        "CRM_PIPELINE_STORAGE_DIR": str(tmp_path / "files"),
    }


def test_catalogue_is_empty_without_a_module_keeping_one(api, team):
    a = api(team["alice"])
    assert a.get("/api/v1/competitor-catalog?q=").get_json() == {"items": []}
    d = new_deal(a)
    r = a.post(
        f"/api/v1/deals/{d['id']}/competitors", json={"name": "Acme", "catalog_key": "probe:2"}
    )
    assert r.status_code == 422 and "catalog_key" in r.get_json()["errors"]


def test_pick_a_catalogued_competitor(api, team, enable_modules, login, crm_app):
    enable_modules("pipeline", "pipeline_probe")
    a = api(team["alice"])
    assert [c["key"] for c in a.get("/api/v1/competitor-catalog?q=acme").get_json()["items"]] == [
        "probe:2"
    ]
    assert a.get("/api/v1/competitor-catalog?limit=x").status_code == 422
    d = new_deal(a)
    url = f"/api/v1/deals/{d['id']}/competitors"
    r = a.post(url, json={"name": "Acme Systems", "catalog_key": "probe:2"})
    assert r.status_code == 201
    # The link comes from the catalogue, never from the client.
    assert r.get_json()["catalog_url"] == "/kb/competitors/2"
    forged = a.post(url, json={"name": "Acme Systems", "catalog_key": "probe:99"})
    assert forged.status_code == 422 and "catalog_key" in forged.get_json()["errors"]
    assert [c["name"] for c in a.get(url).get_json()] == ["Acme Systems"]
    # Someone outside the deal's scope sees neither the deal nor its competitors.
    assert api(team["bob"]).get(url).status_code == 404

    client = login(team["alice"])
    page = client.get(f"/pipeline/{d['id']}").get_data(as_text=True)
    assert 'data-competitor-catalog' in page and 'href="/kb/competitors/2"' in page
