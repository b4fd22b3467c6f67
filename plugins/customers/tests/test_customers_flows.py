"""CUS-4 .. CUS-10 flows: 360° page, grading, merge, handover, UI pages and CLI."""

from decimal import Decimal


def _create(client, **fields):
    r = client.post("/api/v1/customers", json={"name": "北京海宇勇創科技有限公司", **fields})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_regrade_by_cumulative_revenue_share(api, customers, crm_cli):
    admin = api("admin")
    ids = [_create(admin, name=f"C{i}")["id"] for i in range(6)]
    # 50 + 20 + 10 + 10 + 5 + 5 = 100: A covers the first 70 %, B the next 20 %.
    for cid, amount in zip(ids, [50, 20, 10, 10, 5, 5], strict=True):
        customers.REVENUE[cid] = Decimal(amount)
    res = crm_cli("customers", "regrade")
    assert res.exit_code == 0 and "A 2, B 2, C 2" in res.output
    grades = {
        c["id"]: c["grade"] for c in admin.get("/api/v1/customers?per_page=50").get_json()["items"]
    }
    assert [grades[i] for i in ids] == ["A", "A", "B", "B", "C", "C"]
    dist = admin.get("/api/v1/customers/grades").get_json()
    assert dist["distribution"]["A"] == 2 and dist["shares"] == {"A": 70, "B": 20, "C": 10}
    r = admin.put("/api/v1/customers/grades/shares", json={"A": 50, "B": 30, "C": 10})
    assert r.status_code == 422  # must add up to 100
    assert (
        admin.put("/api/v1/customers/grades/shares", json={"A": 50, "B": 30, "C": 20}).status_code
        == 200
    )
    assert admin.post("/api/v1/customers/regrade").get_json()["counts"]["A"] == 1
    assert api("sales").post("/api/v1/customers/regrade").status_code == 403


def test_merge_moves_everything_and_tells_other_modules(api, customers):
    lead = api("leader")
    target = _create(lead, name="海宇科技", phone="(010) 62123456")
    source = _create(lead, name="海宇科技股份有限公司", email="info@haiyu.example", tags=["vip"])
    lead.post(
        f"/api/v1/customers/{source['id']}/contacts",
        json={"name": "陳志明", "mobile": "13912345678"},
    )
    r = lead.post(
        f"/api/v1/customers/{target['id']}/merge", json={"source_id": source["id"], "version": 99}
    )
    assert r.status_code == 409
    r = lead.post(
        f"/api/v1/customers/{target['id']}/merge",
        json={"source_id": source["id"], "version": target["version"]},
    )
    assert r.status_code == 200, r.get_json()
    merged = r.get_json()
    assert merged["email"] == "info@haiyu.example" and merged["tags"] == ["vip"]
    assert lead.get(f"/api/v1/customers/{source['id']}").status_code == 404
    assert [
        c["name"] for c in lead.get(f"/api/v1/customers/{target['id']}/contacts").get_json()
    ] == ["陳志明"]
    assert (
        lead.get("/api/v1/lookup/phone/139 1234 5678").get_json()[0]["customer"]["id"]
        == target["id"]
    )
    assert ("merged", source["id"], target["id"]) in customers.EVENTS
    audit = (
        api("admin")
        .get(f"/api/v1/audit?entity=customers.customer&record_id={source['id']}")
        .get_json()
    )
    assert audit["items"][0]["action"] == "merged_away"
    assert api("sales").post(
        f"/api/v1/customers/{target['id']}/merge", json={"source_id": source["id"], "version": 1}
    ).status_code in (403, 404)


def test_handover_moves_owner_and_tells_other_modules(api, customers, make_user):
    alice = make_user("sales")
    bob = make_user("sales")
    a = api(alice)
    c1, c2 = _create(a, name="One"), _create(a, name="Two")
    assert (
        a.post(
            "/api/v1/customers/handover", json={"customer_ids": [c1["id"]], "owner_id": bob.id}
        ).status_code
        == 403
    )
    lead = api("leader")
    admin = api("admin")
    r = admin.post(
        "/api/v1/customers/handover",
        json={
            "customer_ids": [c1["id"], c2["id"]],
            "owner_id": bob.id,
            "note": "Alice moved to Shanghai",
        },
    )
    assert r.status_code == 200 and r.get_json() == {"moved": 2}
    assert a.get("/api/v1/customers").get_json()["total"] == 0
    assert api(bob).get("/api/v1/customers").get_json()["total"] == 2
    assert customers.EVENTS[-1] == ("handover", sorted([c1["id"], c2["id"]]), bob.id)
    r = admin.post(
        "/api/v1/customers/handover", json={"customer_ids": [c1["id"]], "owner_id": 99999}
    )
    assert r.status_code == 422
    r = lead.post("/api/v1/customers/handover", json={"customer_ids": [999999], "owner_id": bob.id})
    assert r.status_code == 404


def test_360_page_shows_contacts_timeline_and_panels(api, customers, login):
    client = login("sales")
    script = api(client.crm_user)
    c = _create(script)
    script.post(
        f"/api/v1/customers/{c['id']}/contacts", json={"name": "陳志明", "title": "採購經理"}
    )
    html = client.get(f"/customers/{c['id']}").get_data(as_text=True)
    assert "北京海宇勇創科技有限公司" in html and "陳志明" in html and "採購經理" in html
    assert f"deals of {c['code']}" in html  # a panel from another module
    assert login("sales").get(f"/customers/{c['id']}").status_code == 404  # not theirs


def test_ui_list_search_form_errors_and_edit(api, customers, login):
    client = login("sales")
    page = client.get("/customers/").get_data(as_text=True)
    assert "No customers match." in page
    r = client.post_form("/customers/new", {"name": "", "email": "bad"})
    assert r.status_code == 400 and "invalid-feedback" in r.get_data(as_text=True)
    r = client.post_form(
        "/customers/new",
        {
            "name": "台北市永豐貿易有限公司",
            "phone": "(02) 2345-6789",
            "tags": "vip，北區",
            "owner_id": str(client.crm_user.id),
        },
    )
    assert r.status_code == 303
    detail = r.headers["Location"]
    html = client.get("/customers/?q=永豐").get_data(as_text=True)
    assert "台北市永豐貿易有限公司" in html
    # htmx asks for the table only
    part = client.get("/customers/?q=永豐", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in part and "台北市永豐貿易有限公司" in part
    # duplicate warning, then save anyway
    r = client.post_form("/customers/new", {"name": "台北市永豐貿易有限公司"})
    assert r.status_code == 409 and 'data-testid="duplicates"' in r.get_data(as_text=True)
    cid = int(detail.rstrip("/").split("/")[-1])
    edit = client.get(f"/customers/{cid}/edit").get_data(as_text=True)
    assert 'name="version"' in edit
    r = client.post_form(f"/customers/{cid}/edit", {"name": "永豐", "version": "99"})
    assert r.status_code == 409
    assert client.get("/customers/lookup?phone=23456789").status_code == 200
    assert "台北市永豐貿易有限公司" in client.get("/customers/lookup?phone=02-2345-6789").get_data(
        as_text=True
    )


def test_settings_page_needs_manage(login, customers):
    assert login("sales").get("/customers/settings").status_code == 403
    admin = login("admin")
    assert admin.get("/customers/settings").status_code == 200
    r = admin.post_form(
        "/customers/settings",
        {"action": "category", "code": "vip", "name": "VIP", "position": "5", "is_active": "on"},
        follow_redirects=True,
    )
    assert "Category saved." in r.get_data(as_text=True)


def test_dashboard_widget_and_global_search(api, customers, login):
    client = login("sales")
    _create(api(client.crm_user))
    html = client.get("/").get_data(as_text=True)
    assert 'data-widget="customers.grades"' in html and "data-chart=" in html
    assert "北京海宇勇創科技有限公司" in client.get("/search?q=海宇").get_data(as_text=True)


def test_demo_data(crm_app, customers, crm_cli, crm_db):
    from crm_customers.models import Contact, Customer
    from sqlalchemy import func, select

    res = crm_cli("demo", "--locale", "zh_Hant")
    assert res.exit_code == 0 and "customers: demo data added" in res.output
    assert crm_db.scalar(select(func.count()).select_from(Customer)) == 300
    assert crm_db.scalar(select(func.count()).select_from(Contact)) >= 300
    names = crm_db.scalars(select(Customer.name)).all()
    assert any("有限公司" in n for n in names) and any(n.isascii() for n in names)


def test_regrade_keeps_manual_grades_without_a_revenue_source(api, enable_modules, crm_cli):
    enable_modules("customers")  # without the revenue probe
    admin = api("admin")
    c = _create(admin, grade="A")
    res = crm_cli("customers", "regrade")
    assert res.exit_code == 0
    assert admin.get(f"/api/v1/customers/{c['id']}").get_json()["grade"] == "A"


def test_migrations_match_models(enable_modules, migration_drift, crm_cli):
    # Expression indexes (the duplicate check's) included: autogenerate must propose nothing.
    enable_modules("customers")
    assert migration_drift("customers") == []
    res = crm_cli("db", "check")
    assert res.exit_code == 0 and "customers: models and migrations agree" in res.output
