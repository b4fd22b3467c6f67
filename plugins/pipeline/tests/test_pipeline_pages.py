"""The HTML pages: every screen renders, the forms go through the same rules as the API."""

import io
import re
from datetime import date

from pipeline_testkit import new_customer, new_deal


def _csrf(client):
    return client.csrf_token()


def post(client, url, data=None, **kw):
    data = dict(data or {})
    data["csrf_token"] = _csrf(client)
    return client.post(url, data=data, **kw)


def test_deal_pages_end_to_end(login, api, team):
    a_api = api(team["alice"])
    c = new_customer(a_api, name="頁面客戶", phone="02-2345-6789")
    web = login(team["alice"])
    r = web.get(f"/pipeline/new?customer_id={c['id']}")
    assert r.status_code == 200 and "頁面客戶" in r.get_data(as_text=True)
    # bad input comes back with the field marked
    r = post(web, "/pipeline/new", {"name": "", "amount": "-3", "customer_id": str(c["id"])})
    assert r.status_code == 400 and "is-invalid" in r.get_data(as_text=True)
    r = post(
        web,
        "/pipeline/new",
        {
            "name": "門市 POS",
            "amount": "88000",
            "customer_id": str(c["id"]),
            "expected_close": "2026-12-20",
            "owner_id": str(team["alice"].id),
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    url = r.headers["Location"]
    deal_id = int(re.search(r"/pipeline/(\d+)", url).group(1))
    page = web.get(url).get_data(as_text=True)
    assert "門市 POS" in page and "02-2345-6789" in page and 'data-testid="stages"' in page
    d = a_api.get(f"/api/v1/deals/{deal_id}").get_json()
    stages = a_api.get("/api/v1/pipeline/stages").get_json()
    r = post(
        web, f"/pipeline/{deal_id}/stage", {"version": d["version"], "stage_id": stages[1]["id"]}
    )
    assert r.status_code == 303
    # a stale form: refused with a message, nothing changed
    r = post(
        web,
        f"/pipeline/{deal_id}/stage",
        {"version": d["version"], "stage_id": stages[3]["id"]},
        follow_redirects=True,
    )
    assert "changed by someone else" in r.get_data(as_text=True)
    d = a_api.get(f"/api/v1/deals/{deal_id}").get_json()
    assert d["stage_id"] == stages[1]["id"]
    r = post(
        web,
        f"/pipeline/{deal_id}/activities",
        {"kind": "call", "status": "done", "subject": "報價追蹤", "result": "OK"},
    )
    assert r.status_code == 303
    r = post(
        web,
        f"/pipeline/{deal_id}/appointments",
        {"subject": "簡報", "starts_at": "2030-01-02T10:00", "remind_minutes": "60"},
    )
    assert r.status_code == 303
    r = post(web, f"/pipeline/{deal_id}/competitors", {"name": "對手", "price": "70000"})
    assert r.status_code == 303
    r = web.post(
        f"/pipeline/{deal_id}/documents",
        data={
            "csrf_token": _csrf(web),
            "kind": "quote",
            "file": (io.BytesIO(b"%PDF-1.4 test"), "q.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 303
    r = web.post(
        f"/pipeline/{deal_id}/documents",
        data={
            "csrf_token": _csrf(web),
            "kind": "quote",
            "file": (io.BytesIO(b"MZ\x90\x00evil"), "evil.pdf"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "not accepted" in r.get_data(as_text=True)
    d = a_api.get(f"/api/v1/deals/{deal_id}").get_json()
    r = post(web, f"/pipeline/{deal_id}/status", {"version": d["version"], "status": "won"})
    assert r.status_code == 303
    r = post(
        web,
        f"/pipeline/{deal_id}/lines",
        {"product": "POS 主機", "quantity": "4", "unit_price": "22000"},
    )
    assert r.status_code == 303
    r = post(web, f"/pipeline/{deal_id}/payments", {"due_on": "2026-12-31", "amount": "44000"})
    assert r.status_code == 303
    r = post(
        web,
        f"/pipeline/{deal_id}/deliveries",
        {"delivered_on": "2026-12-01", "description": "主機四台"},
    )
    assert r.status_code == 303
    page = web.get(f"/pipeline/{deal_id}").get_data(as_text=True)
    for text in (
        "報價追蹤",
        "簡報",
        "對手",
        "q.pdf",
        "POS 主機",
        "88,000",
        "44,000.00",
        "主機四台",
    ):
        assert text in page, text
    pay = a_api.get(f"/api/v1/deals/{deal_id}/payments").get_json()[0]
    r = post(
        web,
        f"/pipeline/payments/{pay['id']}/receive",
        {"version": pay["version"], "received_on": date.today().isoformat()},
    )
    assert r.status_code == 303
    assert a_api.get(f"/api/v1/deals/{deal_id}/payments").get_json()[0]["state"] == "received"
    doc = a_api.get(f"/api/v1/deals/{deal_id}/documents").get_json()[0]
    assert web.get(f"/pipeline/documents/{doc['id']}").status_code == 200
    bob = login(team["bob"])
    assert bob.get(f"/pipeline/{deal_id}").status_code == 404
    assert bob.get(f"/pipeline/documents/{doc['id']}").status_code == 404
    # the customer 360° page shows the deal panel and the activity on its timeline
    page = web.get(f"/customers/{c['id']}").get_data(as_text=True)
    assert 'data-panel="pipeline.deals"' in page and "門市 POS" in page and "報價追蹤" in page


def test_lists_screens_and_widgets(login, api, team):
    a_api = api(team["alice"])
    new_deal(a_api, name="清單商機")
    lead = login(team["leader"])
    for url in (
        "/pipeline/",
        "/pipeline/?status=tracking&amount_min=1",
        "/pipeline/activities",
        "/pipeline/transfer",
        "/pipeline/targets",
        "/pipeline/reports",
        "/pipeline/reports?period_kind=quarter",
        "/",
    ):
        r = lead.get(url)
        assert r.status_code == 200, url
        assert "could not be shown" not in r.get_data(as_text=True), url
        assert "無法顯示" not in r.get_data(as_text=True), url
    assert "清單商機" in lead.get("/pipeline/").get_data(as_text=True)
    for name in ("funnel", "performance", "forecast"):
        assert lead.get(f"/pipeline/reports/{name}.xlsx").data[:2] == b"PK"
        assert lead.get(f"/pipeline/reports/{name}.csv").status_code == 200
    # sales people see no transfer or targets screen
    alice = login(team["alice"])
    assert alice.get("/pipeline/transfer").status_code == 403
    assert alice.get("/pipeline/targets").status_code == 403
    assert alice.get("/pipeline/settings").status_code == 403


def test_bulk_transfer_and_targets_screens(login, api, team):
    a_api = api(team["alice"])
    d1, d2 = new_deal(a_api, name="one"), new_deal(a_api, name="two")
    lead = login(team["leader"])
    page = lead.get(f"/pipeline/transfer?owner_id={team['alice'].id}").get_data(as_text=True)
    assert "one" in page and "two" in page
    r = post(
        lead,
        "/pipeline/transfer",
        {
            "ids": [str(d1["id"]), str(d2["id"])],
            "owner_id": str(team["bob"].id),
            "note": "離職交接",
        },
    )
    assert r.status_code == 303
    assert a_api.get("/api/v1/deals").get_json()["total"] == 0
    month = date.today().replace(day=1).isoformat()
    r = post(
        lead,
        "/pipeline/targets",
        {
            "period_kind": "month",
            "period_start": month,
            f"user-{team['alice'].id}": "300000",
            f"dept-{team['departments']['north']}": "900000",
        },
    )
    assert r.status_code == 303
    targets = (
        api(team["leader"])
        .get("/api/v1/pipeline/targets", query_string={"period_start": month})
        .get_json()
    )
    assert sorted(t["amount"] for t in targets) == ["300000.00", "900000.00"]


def test_settings_page(login, api, pipeline):
    admin = login("admin")
    assert admin.get("/pipeline/settings").status_code == 200
    r = post(admin, "/pipeline/settings", {"form": "days", "A": "10", "B": "40", "C": "120"})
    assert r.status_code == 303
    r = post(
        admin,
        "/pipeline/settings",
        {
            "form": "stage",
            "code": "demo",
            "name": "Demo / POC",
            "position": "35",
            "probability": "60",
            "is_active": "on",
        },
    )
    assert r.status_code == 303
    a = api("admin")
    assert a.get("/api/v1/pipeline/contact-frequency").get_json() == {"A": 10, "B": 40, "C": 120}
    assert [s["code"] for s in a.get("/api/v1/pipeline/stages").get_json()] == [
        "initial",
        "needs",
        "proposal",
        "demo",
        "negotiation",
    ]


def test_demo_data(crm_app, crm_cli, pipeline):
    r = crm_cli("demo")
    assert r.exit_code == 0, r.output
    assert "pipeline: demo data added" in r.output, r.output
    from crm_pipeline.models import Activity, Deal, Payment, Stage, Target
    from sqlalchemy import func, select

    with crm_app.extensions["crm"].db.session_scope() as s:
        statuses = dict(s.execute(select(Deal.status, func.count()).group_by(Deal.status)).all())
        assert set(statuses) == {"tracking", "won", "completed", "lost"}
        stages = {
            sid
            for (sid,) in s.execute(
                select(Deal.stage_id).where(Deal.status == "tracking").distinct()
            )
        }
        assert stages == set(s.scalars(select(Stage.id)))
        assert s.scalar(select(func.count()).select_from(Activity)) > 50
        assert s.scalar(select(func.count()).select_from(Payment)) > 0
        assert s.scalar(select(func.count()).select_from(Target)) > 0
