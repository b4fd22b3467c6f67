"""PIP-1, PIP-2, PIP-7, PIP-8 through the API: numbering, customer details, stages and
statuses with history, filters, versions, scopes, handover and urges, and the refusals."""

from datetime import date

import pytest
from pipeline_testkit import new_customer, new_deal


def test_create_fills_in_customer_and_numbers(api, team):
    a = api(team["alice"])
    c = new_customer(a, phone="010-62123456", city="北京", address="海淀區中關村大街1號")
    ct = a.post(
        f"/api/v1/customers/{c['id']}/contacts", json={"name": "王小明", "is_primary": True}
    ).get_json()
    d = new_deal(a, customer_id=c["id"], expected_close="2026-12-31")
    assert d["code"].startswith("D") and len(d["code"]) == 10
    assert d["customer_name"] == c["name"] and d["customer_phone"] == "010-62123456"
    assert (
        "中關村" in d["customer_address"]
        and d["contact_id"] == ct["id"]
        and d["contact_name"] == "王小明"
    )
    assert (
        d["status"] == "tracking" and d["probability"] == 10 and d["owner_id"] == team["alice"].id
    )
    stages = a.get("/api/v1/pipeline/stages").get_json()
    assert d["stage_id"] == stages[0]["id"] and len(stages) == 4


def test_stage_and_status_changes_are_recorded(api, team):
    a = api(team["alice"])
    c = new_customer(a)
    d = new_deal(a, customer_id=c["id"])
    stages = a.get("/api/v1/pipeline/stages").get_json()
    r = a.patch(
        f"/api/v1/deals/{d['id']}", json={"version": d["version"], "stage_id": stages[2]["id"]}
    )
    assert r.status_code == 200 and r.get_json()["probability"] == 50
    d = r.get_json()
    r = a.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "status": "won"})
    assert r.status_code == 200, r.get_json()
    d = r.get_json()
    assert (
        d["status"] == "won" and d["won_on"] == date.today().isoformat() and d["probability"] == 100
    )
    r = a.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "status": "completed"})
    assert r.status_code == 200 and r.get_json()["status"] == "completed"
    hist = a.get(f"/api/v1/deals/{d['id']}/history").get_json()
    kinds = [(h["kind"], h["from_value"], h["to_value"]) for h in hist]
    assert kinds[:3] == [
        ("status", "won", "completed"),
        ("status", "tracking", "won"),
        ("stage", "initial", "proposal"),
    ]
    assert all(h["user_id"] == team["alice"].id and h["at"] for h in hist)
    # completed is final
    d = a.get(f"/api/v1/deals/{d['id']}").get_json()
    r = a.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "status": "tracking"})
    assert r.status_code == 409


def test_lost_needs_a_reason(api, team):
    a = api(team["alice"])
    d = new_deal(a)
    r = a.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "status": "lost"})
    assert r.status_code == 422 and "lost_reason" in r.get_json()["errors"]
    r = a.patch(
        f"/api/v1/deals/{d['id']}",
        json={"version": d["version"], "status": "lost", "lost_reason": "價格太高"},
    )
    assert (
        r.status_code == 200
        and r.get_json()["lost_reason"] == "價格太高"
        and r.get_json()["probability"] == 0
    )


def test_stale_update_is_409(api, team):
    a = api(team["alice"])
    d = new_deal(a)
    assert (
        a.patch(
            f"/api/v1/deals/{d['id']}", json={"version": d["version"], "name": "v2"}
        ).status_code
        == 200
    )
    r = a.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "name": "late"})
    assert r.status_code == 409 and r.headers["Content-Type"].startswith("application/problem+json")
    assert a.patch(f"/api/v1/deals/{d['id']}", json={"name": "no version"}).status_code == 422
    assert a.get(f"/api/v1/deals/{d['id']}").get_json()["name"] == "v2"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "x", "amount": "-1.00"}, "amount"),
        ({"name": "x", "amount": "abc"}, "amount"),
        ({"name": ""}, "name"),
        ({"amount": "1"}, "name"),
        ({"name": "x", "probability": 101}, "probability"),
        ({"name": "x", "customer_id": 999999}, "customer_id"),
        ({"name": "x", "stage_id": 999999}, "stage_id"),
        ({"name": "x", "status": "won"}, "customer_id"),
        ({"name": "x", "status": "sold"}, "status"),
        ({"name": "x", "expected_close": "31/12/2026"}, "expected_close"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(api, team, body, field):
    a = api(team["alice"])
    r = a.post("/api/v1/deals", json=body)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"], r.get_json()
    assert a.get("/api/v1/deals").get_json()["total"] == 0


def test_won_deal_without_customer_is_refused(api, team):
    a = api(team["alice"])
    d = new_deal(a)
    r = a.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "status": "won"})
    assert r.status_code == 422 and "customer_id" in r.get_json()["errors"]
    c = new_customer(a)
    d = a.patch(
        f"/api/v1/deals/{d['id']}",
        json={"version": d["version"], "customer_id": c["id"], "status": "won"},
    ).get_json()
    assert d["status"] == "won"
    r = a.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "customer_id": None})
    assert r.status_code == 422
    r = a.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "amount": "-5"})
    assert r.status_code == 422 and "amount" in r.get_json()["errors"]


def test_customer_in_trash_or_out_of_scope_is_refused(api, team):
    b = api(team["bob"])
    a = api(team["alice"])
    bobs = new_customer(b, name="Bob's customer")
    r = a.post("/api/v1/deals", json={"name": "x", "customer_id": bobs["id"]})
    assert r.status_code == 422 and "customer_id" in r.get_json()["errors"]
    mine = new_customer(a, name="trashed")
    assert a.delete(f"/api/v1/customers/{mine['id']}").status_code in (204, 403)
    lead = api(team["leader"])
    assert lead.delete(f"/api/v1/customers/{mine['id']}").status_code == 204
    r = a.post("/api/v1/deals", json={"name": "x", "customer_id": mine["id"]})
    assert r.status_code == 422


def test_filters(api, team):
    a = api(team["alice"])
    c = new_customer(a)
    new_deal(a, name="small", amount="1000", expected_close="2026-01-15")
    new_deal(a, name="big", amount="500000", expected_close="2026-06-15", customer_id=c["id"])
    lost = new_deal(a, name="lost one", amount="2000")
    a.patch(
        f"/api/v1/deals/{lost['id']}",
        json={"version": 1, "status": "lost", "lost_reason": "no budget"},
    )

    def names(**q):
        return sorted(x["name"] for x in a.get("/api/v1/deals", query_string=q).get_json()["items"])

    assert names(status="lost") == ["lost one"]
    assert names(amount_min="1500", amount_max="10000") == ["lost one"]
    assert names(close_from="2026-06-01", close_to="2026-06-30") == ["big"]
    assert names(customer_id=c["id"]) == ["big"]
    assert names(owner_id=team["alice"].id) == ["big", "lost one", "small"]
    assert names(q="sma") == ["small"]
    stage = a.get("/api/v1/pipeline/stages").get_json()[0]["id"]
    assert names(stage_id=stage, status="tracking") == ["big", "small"]
    assert a.get("/api/v1/deals", query_string={"sort": "colour"}).status_code == 422
    r = a.get("/api/v1/deals", query_string={"sort": "-amount"}).get_json()
    assert [x["name"] for x in r["items"]] == ["big", "lost one", "small"]


def test_scopes(api, team):
    a, b = api(team["alice"]), api(team["bob"])
    da = new_deal(a, name="alice's")
    new_deal(b, name="bob's")
    assert [x["name"] for x in a.get("/api/v1/deals").get_json()["items"]] == ["alice's"]
    assert b.get(f"/api/v1/deals/{da['id']}").status_code == 404
    assert b.patch(f"/api/v1/deals/{da['id']}", json={"version": 1, "name": "x"}).status_code == 404
    lead = api(team["leader"])
    assert lead.get("/api/v1/deals").get_json()["total"] == 2


def test_transfer(api, team):
    a, lead, carol = api(team["alice"]), api(team["leader"]), api(team["carol"])
    d = new_deal(a)
    # a sales person cannot hand over (403), not even their own deal
    r = a.post(f"/api/v1/deals/{d['id']}/transfer", json={"owner_id": team["bob"].id})
    assert r.status_code == 403
    # someone else's deal outside your scope: 404, even with the permission
    r = carol.post(f"/api/v1/deals/{d['id']}/transfer", json={"owner_id": team["bob"].id})
    assert r.status_code == 404
    r = lead.post(
        f"/api/v1/deals/{d['id']}/transfer",
        json={"owner_id": team["bob"].id, "note": "Alice leaves"},
    )
    assert r.status_code == 200, r.get_json()
    assert (
        r.get_json()["owner_id"] == team["bob"].id
        and r.get_json()["department_id"] == team["departments"]["south"]
    )
    hist = lead.get(f"/api/v1/deals/{d['id']}/history").get_json()
    assert hist[0]["kind"] == "transfer" and hist[0]["note"] == "Alice leaves"
    assert any(h["kind"] == "created" for h in hist)  # history stays
    assert a.get(f"/api/v1/deals/{d['id']}").status_code == 404
    d2, d3 = new_deal(a, name="two"), new_deal(a, name="three")
    r = lead.post(
        "/api/v1/deals/transfer",
        json={"deal_ids": [d2["id"], d3["id"]], "owner_id": team["carol"].id},
    )
    assert r.status_code == 200 and r.get_json()["moved"] == 2
    r = lead.post(
        "/api/v1/deals/transfer", json={"deal_ids": [999999], "owner_id": team["carol"].id}
    )
    assert r.status_code == 404


def test_urge(api, team, crm_app):
    a, lead = api(team["alice"]), api(team["leader"])
    d = new_deal(a)
    r = a.post(f"/api/v1/deals/{d['id']}/urge", json={"message": "hurry"})
    assert r.status_code == 403
    r = lead.post(f"/api/v1/deals/{d['id']}/urge", json={"message": "請本週內報價"})
    assert r.status_code == 201, r.get_json()
    urges = a.get(f"/api/v1/deals/{d['id']}/urges").get_json()
    assert [u["message"] for u in urges] == ["請本週內報價"] and urges[0]["user_id"] == team[
        "leader"
    ].id
    assert lead.post(f"/api/v1/deals/{d['id']}/urge", json={"message": ""}).status_code == 422
    carol = api(team["carol"])
    assert carol.post(f"/api/v1/deals/{d['id']}/urge", json={"message": "x"}).status_code == 404
    from sqlalchemy import select

    from crm_host.models import OutboxMessage

    with crm_app.extensions["crm"].db.session_scope() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "pipeline.urge")).all()
        assert rows and all(m.recipient_id == team["alice"].id for m in rows)
        assert "請本週內報價" in rows[0].body
