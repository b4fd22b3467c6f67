"""H-11: problem+json, validation, pagination and sort, stale versions, OpenAPI."""

import pytest


@pytest.fixture
def items(api, enable_modules):
    enable_modules("alpha")
    client = api("admin")
    for n in ["delta", "alpha", "charlie", "bravo", "echo"]:
        assert client.post("/api/v1/alpha/items", json={"name": n}).status_code == 201
    return client


def test_pagination_and_sort(items):
    r = items.get("/api/v1/alpha/items?per_page=2&sort=-name").get_json()
    assert [i["name"] for i in r["items"]] == ["echo", "delta"]
    assert r["total"] == 5 and r["total_is_exact"] and r["page"] == 1
    r = items.get("/api/v1/alpha/items?per_page=2&page=3&sort=name").get_json()
    assert [i["name"] for i in r["items"]] == ["echo"]


def test_count_is_capped(items, crm_app):
    crm_app.config["CRM_COUNT_CAP"] = 3
    r = items.get("/api/v1/alpha/items").get_json()
    assert r["total"] == 3 and r["total_is_exact"] is False


@pytest.mark.parametrize(
    "query,field",
    [
        ("per_page=0", "per_page"),
        ("per_page=100000", "per_page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("sort=password", "sort"),
    ],
)
def test_bad_list_arguments(items, query, field):
    r = items.get(f"/api/v1/alpha/items?{query}")
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert field in r.get_json()["errors"]


def test_bad_bodies_change_nothing(items):
    for body, status, field in [
        ({}, 422, "name"),
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 5000}, 422, "name"),
        ({"name": 12}, 422, "name"),
    ]:
        r = items.post("/api/v1/alpha/items", json=body)
        assert r.status_code == status, body
        assert field in r.get_json()["errors"]
    r = items.post(
        "/api/v1/alpha/items", data="{oops", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.get_json()["detail"] == "Invalid JSON body."
    assert items.get("/api/v1/alpha/items").get_json()["total"] == 5


def test_stale_version_is_409_and_changes_nothing(items):
    item = items.get("/api/v1/alpha/items?sort=name").get_json()["items"][0]
    r = items.patch(
        f"/api/v1/alpha/items/{item['id']}", json={"name": "first", "version": item["version"]}
    )
    assert r.status_code == 200 and r.get_json()["version"] == item["version"] + 1
    r = items.patch(
        f"/api/v1/alpha/items/{item['id']}", json={"name": "second", "version": item["version"]}
    )
    assert r.status_code == 409 and "changed by someone else" in r.get_json()["detail"]
    assert items.get(f"/api/v1/alpha/items/{item['id']}").get_json()["name"] == "first"
    r = items.patch(f"/api/v1/alpha/items/{item['id']}", json={"name": "third"})
    assert r.status_code == 422 and "version" in r.get_json()["errors"]
    r = items.patch(f"/api/v1/alpha/items/{item['id']}", json={"version": 2, "owner_id": 1})
    assert r.status_code == 422 and "owner_id" in r.get_json()["errors"]


def test_errors_are_problem_json(items):
    r = items.get("/api/v1/alpha/items/999999")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    assert r.get_json()["status"] == 404 and r.get_json()["title"] == "Not Found"
    r = items.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    r = items.delete("/api/v1/alpha/items")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_openapi_document_and_docs_page(crm_app, enable_modules):
    enable_modules("alpha")
    c = crm_app.test_client()
    spec = c.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/v1/alpha/items" in spec["paths"]
    assert "/api/v1/auth/tokens" in spec["paths"] and "/api/v1/users/{user_id}" in spec["paths"]
    page = c.get("/api/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert c.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_users_api(api):
    admin = api("admin")
    r = admin.post(
        "/api/v1/users",
        json={
            "email": "new@example.com",
            "name": "新同事",
            "password": "longenough",
            "roles": ["sales"],
        },
    )
    assert r.status_code == 201 and r.get_json()["roles"] == ["sales"]
    uid, version = r.get_json()["id"], r.get_json()["version"]
    r = admin.post(
        "/api/v1/users", json={"email": "NEW@example.com", "name": "dup", "password": "longenough"}
    )
    assert r.status_code == 422 and "already exists" in r.get_json()["errors"]["email"][0]
    r = admin.post(
        "/api/v1/users",
        json={"email": "x@example.com", "name": "x", "password": "longenough", "roles": ["wizard"]},
    )
    assert r.status_code == 422 and "Unknown role" in r.get_json()["detail"]
    r = admin.patch(f"/api/v1/users/{uid}", json={"version": version, "roles": ["leader"]})
    assert r.status_code == 200 and r.get_json()["roles"] == ["leader"]
    r = admin.patch(f"/api/v1/users/{uid}", json={"version": version, "name": "late"})
    assert r.status_code == 409
    assert (
        api("sales")
        .post(
            "/api/v1/users", json={"email": "y@example.com", "name": "y", "password": "longenough"}
        )
        .status_code
        == 403
    )
    audit = admin.get(f"/api/v1/audit?entity=host.user&record_id={uid}").get_json()["items"]
    assert [a["action"] for a in audit] == ["update", "create"]
    assert audit[0]["before"]["roles"] == ["sales"] and audit[0]["after"]["roles"] == ["leader"]
    assert "password_hash" not in audit[1]["after"]


def test_departments_and_supervisor_loops(api):
    admin = api("admin")
    a = admin.post("/api/v1/departments", json={"name": "總公司"}).get_json()
    r = admin.post("/api/v1/departments", json={"name": "業務部", "parent_id": a["id"]})
    assert r.status_code == 201
    assert (
        admin.post("/api/v1/departments", json={"name": "x", "parent_id": 9999}).status_code == 422
    )
    assert admin.post("/api/v1/departments", json={"name": ""}).status_code == 422
    boss = admin.post(
        "/api/v1/users",
        json={"email": "boss@example.com", "name": "Boss", "password": "longenough"},
    ).get_json()
    worker = admin.post(
        "/api/v1/users",
        json={
            "email": "w@example.com",
            "name": "W",
            "password": "longenough",
            "supervisor_id": boss["id"],
        },
    ).get_json()
    r = admin.patch(
        f"/api/v1/users/{boss['id']}",
        json={"version": boss["version"], "supervisor_id": worker["id"]},
    )
    assert r.status_code == 422 and "own reports" in r.get_json()["detail"]
