"""H-7: roles, grants (deny wins), record scopes, another user's record."""

import pytest
from sqlalchemy import select

from crm_host import people
from crm_host.models import Role


@pytest.fixture
def org(crm_app, make_user, crm_db, enable_modules):
    """Company → Sales → (North, South); a leader of Sales, sellers in North and South."""
    enable_modules("alpha")
    with crm_app.extensions["crm"].db.session_scope() as s:
        company = people.create_department(s, "Company")
        sales = people.create_department(s, "Sales", company.id)
        north = people.create_department(s, "North", sales.id)
        south = people.create_department(s, "South", sales.id)
        ids = {"company": company.id, "sales": sales.id, "north": north.id, "south": south.id}
    leader = make_user("leader", "sales", department_id=ids["sales"])
    north1 = make_user("sales", department_id=ids["north"], supervisor_id=leader.id)
    north2 = make_user("sales", department_id=ids["north"])
    south1 = make_user("sales", department_id=ids["south"])
    return {"ids": ids, "leader": leader, "north1": north1, "north2": north2, "south1": south1}


def _make_items(api, org):
    clients = {k: api(org[k]) for k in ("leader", "north1", "north2", "south1")}
    for k, c in clients.items():
        assert c.post("/api/v1/alpha/items", json={"name": f"item of {k}"}).status_code == 201
    return clients


def _names(client):
    return sorted(i["name"] for i in client.get("/api/v1/alpha/items").get_json()["items"])


def test_scopes_own_department_tree_all(api, org, crm_db):
    clients = _make_items(api, org)
    assert _names(clients["north1"]) == ["item of north1"]  # sales: own
    # leader: department + sub-departments
    assert _names(clients["leader"]) == [
        "item of leader",
        "item of north1",
        "item of north2",
        "item of south1",
    ]
    assert len(_names(api("admin"))) == 4  # admin: all

    role = crm_db.scalar(select(Role).where(Role.name == "sales"))
    role.scope = "department"
    crm_db.commit()
    assert _names(clients["north1"]) == ["item of north1", "item of north2"]
    role.scope = "own_subordinates"
    crm_db.commit()
    leader_role = crm_db.scalar(select(Role).where(Role.name == "leader"))
    leader_role.scope = "own_subordinates"
    crm_db.commit()
    # the leader supervises north1 only
    assert _names(clients["leader"]) == ["item of leader", "item of north1"]


def test_other_users_record_is_404_in_api_and_search(api, org, login):
    clients = _make_items(api, org)
    theirs = clients["south1"].get("/api/v1/alpha/items").get_json()["items"][0]
    r = clients["north1"].get(f"/api/v1/alpha/items/{theirs['id']}")
    assert r.status_code == 404
    r = clients["north1"].patch(
        f"/api/v1/alpha/items/{theirs['id']}", json={"name": "hijack", "version": theirs["version"]}
    )
    assert r.status_code == 404
    assert (
        clients["south1"].get(f"/api/v1/alpha/items/{theirs['id']}").get_json()["name"]
        == "item of south1"
    )
    page = login(org["north1"]).get("/search?q=item").get_data(as_text=True)
    assert "item of north1" in page and "item of south1" not in page


def test_permission_check_and_deny_wins(api, crm_cli, make_user, enable_modules):
    enable_modules("alpha")
    staff = api("staff")
    r = staff.post("/api/v1/alpha/items", json={"name": "x"})
    assert r.status_code == 403 and "alpha.create" in r.get_json()["detail"]
    assert crm_cli("role", "grant", "staff", "alpha.create").exit_code == 0
    assert staff.post("/api/v1/alpha/items", json={"name": "x"}).status_code == 201
    # A user with two roles: a deny on either wins over the other's allow.
    both = make_user("sales", "staff")
    client = api(both)
    assert client.post("/api/v1/alpha/items", json={"name": "y"}).status_code == 201
    assert crm_cli("role", "grant", "staff", "alpha.create", "--deny").exit_code == 0
    assert client.post("/api/v1/alpha/items", json={"name": "z"}).status_code == 403
    res = crm_cli("role", "grant", "staff", "alpha.nosuch")
    assert res.exit_code == 1 and "Unknown permission" in res.output
    assert crm_cli("role", "revoke", "staff", "alpha.create").exit_code == 0
    assert client.post("/api/v1/alpha/items", json={"name": "z"}).status_code == 201


def test_default_grants_applied_once(crm_app, crm_db, enable_modules, crm_cli):
    enable_modules("alpha")
    out = crm_cli("role", "list").output
    assert "alpha.view" in out.split("sales")[1].splitlines()[0]
    crm_cli("role", "revoke", "sales", "alpha.view")
    crm_app.extensions["crm"].plugins.current(force=True)  # a rebuild must not re-grant
    assert "alpha.view" not in crm_cli("role", "list").output.split("\nsales")[1].splitlines()[0]


def test_roles_screen_grants(login, crm_app, crm_db, enable_modules, api):
    enable_modules("alpha")
    admin = login("admin")
    role = crm_db.scalar(select(Role).where(Role.name == "staff"))
    page = admin.get(f"/admin/roles/{role.id}").get_data(as_text=True)
    assert "alpha.create" in page
    r = admin.post_form(
        f"/admin/roles/{role.id}",
        {"version": role.version, "scope": "own", "label": "Staff", "perm:alpha.create": "allow"},
    )
    assert r.status_code == 303
    assert api("staff").post("/api/v1/alpha/items", json={"name": "ok"}).status_code == 201
    # A stale form (old version) changes nothing.
    r = admin.post_form(
        f"/admin/roles/{role.id}",
        {"version": role.version, "scope": "all", "label": "Staff", "perm:alpha.create": "deny"},
        follow_redirects=True,
    )
    assert "changed by someone else" in r.get_data(as_text=True)
    crm_db.expire_all()
    assert crm_db.get(Role, role.id).scope == "own"
    assert login("sales").get(f"/admin/roles/{role.id}").status_code == 403


def test_menu_filtered_by_permission(login, enable_modules):
    enable_modules("alpha")
    assert 'data-menu-id="alpha"' in login("sales").get("/").get_data(as_text=True)
    staff_html = login("staff").get("/").get_data(as_text=True)
    assert 'data-menu-id="alpha"' not in staff_html
    assert 'data-menu-id="admin.modules"' not in staff_html
    assert login("staff").get("/alpha/").status_code == 403


def test_scope_owners_resolved_and_sqlite_hint_only_for_wide_lists(
    api, org, crm_app, crm_db, monkeypatch
):
    """The scope lists its owners (no sub-select the planner misjudges); the SQLite hint that
    makes the page walk the sort order is used only when the capped count hit the cap, since
    for a small scope the same hint means a full scan."""
    from sqlalchemy import event

    clients = _make_items(api, org)
    engine = crm_app.extensions["crm"].db.engine
    seen: list[str] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "alpha_item" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", grab)
    try:
        assert len(_names(clients["leader"])) == 4  # 4 rows, under the cap of 10,000
        small = list(seen)
        seen.clear()
        monkeypatch.setitem(crm_app.config, "CRM_COUNT_CAP", 2)
        r = clients["leader"].get("/api/v1/alpha/items").get_json()
        assert (r["total"], r["total_is_exact"], len(r["items"])) == (2, False, 4)
        capped = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    assert all("host_user" not in st for st in small + capped)  # owners resolved up front
    sqlite = engine.dialect.name == "sqlite"
    assert not any("+ ?" in st or "+ 0" in st for st in small)
    count, page = capped
    assert "count(" in count.lower() and "+ " not in count
    assert ("+ " in page) == sqlite, page


def test_permission_holders_in_sql_agree_with_has_permission(
    crm_app, crm_db, make_user, enable_modules, crm_cli
):
    """permission_holders() is the has_permission() rule (load_grants) as SQL: superusers,
    allows, and a deny on any of a user's roles winning."""
    from crm_host.models import User
    from crm_host.security import load_grants, permission_holders

    enable_modules("alpha")
    admin, sales, staff = make_user("admin"), make_user("sales"), make_user("staff")
    both = make_user("sales", "staff")
    crm_cli("role", "grant", "staff", "alpha.view", "--deny")
    crm_db.expire_all()
    ids = set(
        crm_db.scalars(select(User.id).where(permission_holders(User.id, "alpha.view"))).all()
    )
    for u in (admin, sales, staff, both):
        user = crm_db.get(User, u.id)
        grants = load_grants(crm_db, user)
        expected = grants.superuser or "alpha.view" in grants.allowed
        assert (u.id in ids) == expected, (user.role_names, expected)
    assert admin.id in ids and sales.id in ids and both.id not in ids and staff.id not in ids
