"""Tickets through the API: creation, lists and filters, scopes, stale edits, the complaint,
support and visit workflows with their refusals, after-sales records."""

from service_testkit import category, new_customer, new_ticket, step


def test_open_a_complaint_for_a_customer(team, api):
    alice = api(team["alice"])
    c = new_customer(alice)
    cat = category(alice, "complaint", "product")
    t = new_ticket(
        alice, customer_id=c["id"], category_id=cat["id"], target="LP-300", severity="high"
    )
    assert t["code"].startswith("T20") and len(t["code"]) == 11
    assert t["status"] == "received" and t["kind"] == "complaint"
    assert t["customer_name"] == "海宇科技有限公司" and t["contact_name"] == "林小姐"
    assert t["response_due_at"] < t["resolution_due_at"]
    assert t["next_steps"] == ["triage"] and t["overdue"] is False
    got = alice.get(f"/api/v1/tickets/{t['id']}").get_json()
    assert got["target"] == "LP-300" and got["version"] == 1
    page = alice.get("/api/v1/tickets?kind=complaint&q=外殼").get_json()
    assert [x["id"] for x in page["items"]] == [t["id"]] and page["total"] == 1
    assert alice.get("/api/v1/tickets?kind=support").get_json()["total"] == 0
    assert (
        alice.get(f"/api/v1/tickets?customer_id={c['id']}&severity=high").get_json()["total"] == 1
    )
    assert alice.get("/api/v1/tickets?overdue=true").get_json()["total"] == 0
    ev = alice.get(f"/api/v1/tickets/{t['id']}/events").get_json()
    assert ev[0]["kind"] == "created" and ev[0]["user_id"] == team["alice"].id


def test_bad_input_is_refused_and_nothing_is_created(team, api):
    alice = api(team["alice"])
    support_cat = category(alice, "support", "usage")
    r = alice.post(
        "/api/v1/tickets", json={"kind": "complaint", "title": "x", "category_id": 99999}
    )
    assert r.status_code == 422 and "category_id" in r.get_json()["errors"]
    r = alice.post(
        "/api/v1/tickets",
        json={"kind": "complaint", "title": "x", "category_id": support_cat["id"]},
    )
    assert r.status_code == 422 and "category_id" in r.get_json()["errors"]
    r = alice.post("/api/v1/tickets", json={"kind": "gripe", "title": "x"})
    assert r.status_code == 422 and "kind" in r.get_json()["errors"]
    r = alice.post("/api/v1/tickets", json={"kind": "support", "title": "", "severity": "mild"})
    assert r.status_code == 422 and {"title", "severity"} <= set(r.get_json()["errors"])
    r = alice.post("/api/v1/tickets", json={"kind": "support", "title": "x", "colour": "red"})
    assert r.status_code == 422
    assert alice.get("/api/v1/tickets").get_json()["total"] == 0


def test_a_customer_outside_your_scope_is_refused(team, api):
    bob_customer = new_customer(api(team["bob"]), name="北京海宇")
    alice = api(team["alice"])
    r = alice.post(
        "/api/v1/tickets",
        json={"kind": "complaint", "title": "x", "customer_id": bob_customer["id"]},
    )
    assert r.status_code == 422 and "customer_id" in r.get_json()["errors"]
    assert alice.get("/api/v1/tickets").get_json()["total"] == 0


def test_another_departments_ticket_is_404(team, api):
    olga = api(team["olga"])
    t = new_ticket(olga, title="South ticket")
    for who in ("alice", "leader"):
        c = api(team[who])
        assert c.get(f"/api/v1/tickets/{t['id']}").status_code == 404
        assert (
            c.patch(f"/api/v1/tickets/{t['id']}", json={"title": "y", "version": 1}).status_code
            == 404
        )
        assert step(c, t["id"], "triage").status_code == 404
        assert c.get("/api/v1/tickets").get_json()["total"] == 0
    # the leader of the customer-service department sees their agents' tickets
    mine = new_ticket(api(team["alice"]), title="North ticket")
    assert api(team["leader"]).get(f"/api/v1/tickets/{mine['id']}").status_code == 200
    assert api(team["bob"]).get(f"/api/v1/tickets/{mine['id']}").status_code == 404


def test_stale_edit_is_a_conflict(team, api):
    alice = api(team["alice"])
    t = new_ticket(alice)
    r = alice.patch(f"/api/v1/tickets/{t['id']}", json={"title": "新標題", "version": t["version"]})
    assert r.status_code == 200 and r.get_json()["version"] == 2
    r = alice.patch(f"/api/v1/tickets/{t['id']}", json={"title": "舊的", "version": t["version"]})
    assert r.status_code == 409 and r.content_type == "application/problem+json"
    assert alice.patch(f"/api/v1/tickets/{t['id']}", json={"title": "z"}).status_code == 422
    assert alice.get(f"/api/v1/tickets/{t['id']}").get_json()["title"] == "新標題"
    r = alice.patch(f"/api/v1/tickets/{t['id']}", json={"category_id": 4242, "version": 2})
    assert r.status_code == 422 and "category_id" in r.get_json()["errors"]


def test_complaint_workflow_with_leader_approval(team, api, crm_app):
    alice, lena = api(team["alice"]), api(team["leader"])
    c = new_customer(alice)
    billing = category(alice, "complaint", "billing")
    assert billing["needs_approval"] is True
    t = new_ticket(alice, customer_id=c["id"], category_id=billing["id"], title="帳單多收")
    tid = t["id"]
    # skipping a step: 409, with why, and nothing changes
    r = step(alice, tid, "proposed", "退費")
    assert r.status_code == 409
    assert "“New”" in r.get_json()["detail"] and "Triage" in r.get_json()["detail"]
    assert step(alice, tid, "nonsense").status_code == 422
    assert alice.get(f"/api/v1/tickets/{tid}").get_json()["version"] == 1
    assert len(alice.get(f"/api/v1/tickets/{tid}/events").get_json()) == 1
    assert step(alice, tid, "triage", "看起來是重複收費").status_code == 200
    r = step(alice, tid, "assigned", department_id=team["departments"]["cs"])
    assert r.status_code == 200, r.get_json()
    r = step(alice, tid, "proposed")
    assert r.status_code == 422 and "comment" in r.get_json()["errors"]
    assert step(alice, tid, "proposed", "退還 NT$3,000").status_code == 200
    # this category needs the leader: skipping approval is refused
    r = step(alice, tid, "implementation")
    assert r.status_code == 409 and "approval" in r.get_json()["detail"]
    assert step(alice, tid, "approval").status_code == 200
    # approving without service.approve
    r = step(alice, tid, "implementation", "ok")
    assert r.status_code == 403 and "service.approve" in r.get_json()["detail"]
    assert alice.get(f"/api/v1/tickets/{tid}").get_json()["status"] == "approval"
    # the leader sends it back once, then approves
    assert step(lena, tid, "assigned", "金額再確認").status_code == 200
    assert step(alice, tid, "proposed", "退還 NT$3,000 並致歉").status_code == 200
    assert step(alice, tid, "approval").status_code == 200
    assert step(lena, tid, "implementation", "同意").status_code == 200
    assert step(alice, tid, "summary").status_code == 422
    assert step(alice, tid, "summary", "已退款，客戶滿意").status_code == 200
    r = step(alice, tid, "closed")
    assert r.status_code == 200
    done = r.get_json()
    assert done["status"] == "closed" and done["closed_at"] and done["resolved_at"]
    assert done["solution"] == "退還 NT$3,000 並致歉" and done["summary"] == "已退款，客戶滿意"
    ev = alice.get(f"/api/v1/tickets/{tid}/events").get_json()
    steps = [
        (e["from_status"], e["to_status"], e["user_id"]) for e in ev if e["kind"] == "transition"
    ]
    assert steps[0] == ("received", "triage", team["alice"].id)
    assert ("approval", "implementation", team["leader"].id) in steps
    assert all(e["at"] for e in ev)
    assert step(alice, tid, "triage").status_code == 409
    r = alice.patch(f"/api/v1/tickets/{tid}", json={"title": "late", "version": done["version"]})
    assert r.status_code == 409


def test_complaint_without_approval_goes_straight_to_implementation(team, api):
    alice = api(team["alice"])
    cat = category(alice, "complaint", "product")
    t = new_ticket(alice, category_id=cat["id"])
    for to, comment in (("triage", None), ("assigned", None), ("proposed", "換新")):
        assert step(alice, t["id"], to, comment).status_code == 200
    r = step(alice, t["id"], "approval")
    assert r.status_code == 409 and "no approval" in r.get_json()["detail"]
    assert alice.get(f"/api/v1/tickets/{t['id']}").get_json()["next_steps"] == ["implementation"]
    assert step(alice, t["id"], "implementation").status_code == 200


def test_a_sales_person_may_open_but_not_triage(team, api):
    sam = api(team["sales"])
    t = new_ticket(sam, kind="support", title="客戶問報表")
    r = step(sam, t["id"], "assigned")
    assert r.status_code == 403 and "service.assign" in r.get_json()["detail"]


def test_support_escalates_to_technical_support(team, api):
    alice = api(team["alice"])
    t = new_ticket(alice, kind="support", title="VPN 斷線")
    assert step(alice, t["id"], "assigned").status_code == 200
    r = step(alice, t["id"], "escalated", "需要網管")
    assert r.status_code == 422 and "department_id" in r.get_json()["errors"]
    r = step(
        alice,
        t["id"],
        "escalated",
        "需要網管",
        department_id=team["departments"]["tech"],
        owner_id=team["tom"].id,
    )
    assert r.status_code == 200
    got = r.get_json()
    assert got["escalated"] is True and got["department_id"] == team["departments"]["tech"]
    assert got["owner_id"] == team["tom"].id
    tom = api(team["tom"])
    r = tom.post(f"/api/v1/tickets/{t['id']}/replies", json={"body": "請更新 **VPN 用戶端**。"})
    assert r.status_code == 201
    assert step(tom, t["id"], "answered").status_code == 200
    assert step(tom, t["id"], "assigned", "仍然斷線").status_code == 200  # reopened
    assert tom.get(f"/api/v1/tickets/{t['id']}").get_json()["resolved_at"] is None
    assert step(tom, t["id"], "answered").status_code == 200
    assert step(tom, t["id"], "closed").status_code == 200
    kinds = [e["kind"] for e in tom.get(f"/api/v1/tickets/{t['id']}/events").get_json()]
    assert "reply" in kinds


def test_after_sales_visit_and_its_records(team, api):
    alice = api(team["alice"])
    c = new_customer(alice)
    t = new_ticket(alice, kind="visit", title="年度保養", customer_id=c["id"])
    assert step(alice, t["id"], "scheduled").status_code == 200
    body = {
        "ticket_id": t["id"],
        "kind": "onsite",
        "engineer_id": team["bob"].id,
        "started_at": "2026-11-20T09:00:00+08:00",
        "ended_at": "2026-11-20T08:00:00+08:00",
        "content": "更換濾網",
    }
    r = alice.post("/api/v1/service/records", json=body)
    assert r.status_code == 422 and "ended_at" in r.get_json()["errors"]
    assert alice.post("/api/v1/service/records", json={**body, "kind": "fax"}).status_code == 422
    body["ended_at"] = "2026-11-20T11:00:00+08:00"
    r = alice.post(
        "/api/v1/service/records", json={**body, "result": "正常", "signed_by": "林小姐"}
    )
    assert r.status_code == 201, r.get_json()
    rec = r.get_json()
    assert (
        rec["customer_id"] == c["id"] and rec["signed_at"] and rec["engineer_id"] == team["bob"].id
    )
    phone = alice.post(
        "/api/v1/service/records",
        json={
            "customer_id": c["id"],
            "kind": "phone",
            "started_at": "2026-11-21T10:00:00Z",
            "content": "電話指導",
        },
    )
    assert phone.status_code == 201
    page = alice.get(f"/api/v1/service/records?customer_id={c['id']}").get_json()
    assert page["total"] == 2 and page["items"][0]["kind"] == "phone"
    # the engineer sees the record they did
    assert api(team["bob"]).get(f"/api/v1/service/records/{rec['id']}").status_code == 200
    assert api(team["olga"]).get(f"/api/v1/service/records/{rec['id']}").status_code == 404
    r = alice.patch(f"/api/v1/service/records/{rec['id']}", json={"result": "ok", "version": 0})
    assert r.status_code == 409
    assert step(alice, t["id"], "visited").status_code == 200
    assert step(alice, t["id"], "closed").status_code == 200


def test_reports_answer_and_need_their_permission(team, api):
    lena = api(team["leader"])
    new_ticket(lena, kind="support", title="a")
    for name in ("status", "category", "department", "age", "resolution", "sla", "satisfaction"):
        r = lena.get(f"/api/v1/service/reports/{name}")
        assert r.status_code == 200, (name, r.get_json())
    assert lena.get("/api/v1/service/reports/status").get_json()["items"] == [
        {"kind": "support", "status": "received", "count": 1}
    ]
    assert lena.get("/api/v1/service/reports/satisfaction?group=planet").status_code == 422
    assert lena.get("/api/v1/service/reports/nope").status_code == 404
    assert api(team["sales"]).get("/api/v1/service/reports/status").status_code == 403


def test_only_administrators_configure(team, api, make_user):
    lena = api(team["leader"])
    r = lena.post("/api/v1/service/categories", json={"kind": "support", "code": "x", "name": "X"})
    assert r.status_code == 403
    admin = api(make_user("admin"))
    r = admin.post(
        "/api/v1/service/categories", json={"kind": "support", "code": "printer", "name": "印表機"}
    )
    assert r.status_code == 201
    r = admin.post(
        "/api/v1/service/categories", json={"kind": "support", "code": "printer", "name": "dup"}
    )
    assert r.status_code == 422
    r = admin.put(
        "/api/v1/service/sla",
        json={
            "severity": "urgent",
            "category_id": None,
            "response_minutes": 30,
            "resolution_minutes": 10,
        },
    )
    assert r.status_code == 422 and "resolution_minutes" in r.get_json()["errors"]
    r = admin.put(
        "/api/v1/service/sla",
        json={
            "severity": "urgent",
            "category_id": None,
            "response_minutes": 30,
            "resolution_minutes": 240,
        },
    )
    assert r.status_code == 200
    assert admin.get("/api/v1/service/sla").get_json()[0]["response_minutes"] == 30


def test_migrations_match_the_models(team, migration_drift):
    assert migration_drift("service") == []
