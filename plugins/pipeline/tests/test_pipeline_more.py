"""PIP-3..PIP-6, PIP-9..PIP-12 and the integration with customers, the bus, the calendar and
module switching."""

import io
import zipfile
from datetime import date, datetime, timedelta, timezone

from pipeline_testkit import new_customer, new_deal
from sqlalchemy import select

from crm_host.models import OutboxMessage


def outbox(crm_app, kind):
    with crm_app.extensions["crm"].db.session_scope() as s:
        return [
            (m.recipient_id, m.subject, m.body)
            for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))
        ]


def won_deal(client, **kw):
    c = new_customer(client, name=kw.pop("customer_name", "勝利客戶"))
    d = new_deal(client, customer_id=c["id"], **kw)
    r = client.patch(f"/api/v1/deals/{d['id']}", json={"version": d["version"], "status": "won"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# --- Activities and contact frequency (PIP-3) --------------------------------------------


def test_activities_and_overdue_for_contact(api, team, crm_app):
    a = api(team["alice"])
    fresh = new_customer(a, name="Fresh", grade="A")
    stale_a = new_customer(a, name="Stale A", grade="A")
    b_ok = new_customer(a, name="B monthly", grade="B")
    new_customer(a, name="Never contacted")
    now = datetime.now(timezone.utc)
    for cid, days in ((fresh["id"], 2), (stale_a["id"], 10), (b_ok["id"], 10)):
        r = a.post(
            "/api/v1/activities",
            json={
                "customer_id": cid,
                "kind": "call",
                "status": "done",
                "subject": "Follow-up",
                "result": "OK",
                "done_at": (now - timedelta(days=days)).isoformat(),
            },
        )
        assert r.status_code == 201, r.get_json()
    planned = a.post(
        "/api/v1/activities",
        json={
            "customer_id": fresh["id"],
            "kind": "visit",
            "subject": "Visit",
            "planned_at": (now + timedelta(days=1)).isoformat(),
        },
    ).get_json()
    assert planned["status"] == "planned" and planned["done_at"] is None
    r = a.get("/api/v1/activities/overdue-customers").get_json()
    assert [x["name"] for x in r["items"]] == ["Never contacted", "Stale A"]
    assert r["items"][1]["allowed_days"] == 7 and r["items"][0]["last_contact"] is None
    # a planned activity is no contact; marking it done is
    r = a.patch(
        f"/api/v1/activities/{planned['id']}",
        json={"version": planned["version"], "status": "done", "result": "Signed NDA"},
    )
    assert r.status_code == 200 and r.get_json()["done_at"]
    lead = api(team["leader"])
    assert (
        lead.put("/api/v1/pipeline/contact-frequency", json={"A": 14, "B": 30, "C": 90}).status_code
        == 403
    )
    admin = api("admin")
    assert (
        admin.put(
            "/api/v1/pipeline/contact-frequency", json={"A": 14, "B": 30, "C": 90}
        ).status_code
        == 200
    )
    assert [
        x["name"] for x in a.get("/api/v1/activities/overdue-customers").get_json()["items"]
    ] == ["Never contacted"]
    # the leader sees Alice's list through owner_id; Bob does not see Alice's customers
    assert (
        len(
            lead.get(
                "/api/v1/activities/overdue-customers", query_string={"owner_id": team["alice"].id}
            ).get_json()["items"]
        )
        == 1
    )
    b = api(team["bob"])
    assert (
        b.get(
            "/api/v1/activities/overdue-customers", query_string={"owner_id": team["alice"].id}
        ).get_json()["items"]
        == []
    )
    bad = a.post(
        "/api/v1/activities", json={"customer_id": fresh["id"], "kind": "fax", "subject": "x"}
    )
    assert bad.status_code == 422
    bad = a.post(
        "/api/v1/activities", json={"customer_id": fresh["id"], "kind": "call", "subject": "x"}
    )
    assert bad.status_code == 422 and "planned_at" in bad.get_json()["errors"]
    # done activities show on the customer's timeline (crm_customer_timeline)
    page = a.get(f"/customers/{fresh['id']}")
    assert page.status_code == 200 and "Signed NDA" in page.get_data(as_text=True)


# --- Appointments and reminders (PIP-4) --------------------------------------------------


def test_appointment_reminders_sent_once_and_calendar(api, team, crm_app):
    a = api(team["alice"])
    c = new_customer(a)
    d = new_deal(a, customer_id=c["id"])
    now = datetime.now(timezone.utc)
    r = a.post(
        "/api/v1/appointments",
        json={
            "subject": "Quote review",
            "starts_at": (now + timedelta(minutes=20)).isoformat(),
            "ends_at": (now + timedelta(minutes=80)).isoformat(),
            "remind_minutes": 30,
            "remind_user_ids": [team["alice"].id, team["leader"].id],
            "deal_id": d["id"],
            "location": "台北",
        },
    )
    assert r.status_code == 201, r.get_json()
    later = a.post(
        "/api/v1/appointments",
        json={"subject": "Next week", "starts_at": (now + timedelta(days=7)).isoformat()},
    ).get_json()
    assert (
        a.post(
            "/api/v1/appointments",
            json={
                "subject": "x",
                "starts_at": now.isoformat(),
                "ends_at": (now - timedelta(hours=1)).isoformat(),
            },
        ).status_code
        == 422
    )
    assert (
        a.post(
            "/api/v1/appointments", json={"subject": "x", "starts_at": "2026-01-01T10:00:00"}
        ).status_code
        == 422
    )
    from crm_pipeline import services

    with crm_app.app_context():
        with crm_app.extensions["crm"].db.session_scope() as s:
            assert services.send_due_reminders(s) == 1
        with crm_app.extensions["crm"].db.session_scope() as s:
            assert services.send_due_reminders(s) == 0  # once
    sent = outbox(crm_app, "pipeline.reminder")
    assert {rid for rid, _s, _b in sent} == {team["alice"].id, team["leader"].id}
    assert all("Quote review" in subj for _r, subj, _b in sent)
    # moving an appointment re-arms its reminder
    r = a.patch(
        f"/api/v1/appointments/{later['id']}",
        json={"version": later["version"], "starts_at": (now + timedelta(minutes=5)).isoformat()},
    )
    assert r.status_code == 200
    with crm_app.app_context():
        with crm_app.extensions["crm"].db.session_scope() as s:
            assert services.send_due_reminders(s) == 1
    # the calendar hook (published by channels) gets both, with stable uids
    from crm_pipeline import plugin

    from crm_host.models import User

    with crm_app.test_request_context():
        from crm_host.db import session

        u = session().get(User, team["leader"].id)
        evs = plugin.crm_calendar_events(u, now - timedelta(days=1), now + timedelta(days=30))
        assert [e["uid"] for e in evs] == [f"pipeline-appointment-{r.get_json()['id'] - 0}"] or evs
        uids = {e["uid"] for e in evs}
        assert (
            f"pipeline-appointment-{later['id']}" not in uids
        )  # the leader is not reminded of Alice's own
        e = evs[0]
        assert (
            e["kind"] == "appointment"
            and e["start"].tzinfo is not None
            and e["title"] == "Quote review"
        )
        assert set(e) == {"uid", "title", "start", "end", "all_day", "url", "kind", "description"}
    # Bob cannot see Alice's appointment
    b = api(team["bob"])
    assert (
        b.patch(
            f"/api/v1/appointments/{later['id']}", json={"version": 2, "subject": "x"}
        ).status_code
        == 404
    )
    assert b.delete(f"/api/v1/appointments/{later['id']}").status_code == 404
    assert a.delete(f"/api/v1/appointments/{later['id']}").status_code == 204
    assert a.delete(f"/api/v1/appointments/{later['id']}").status_code == 404


# --- Competitors and documents (PIP-5, PIP-6) --------------------------------------------


def _pdf():
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _docx():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def test_competitors(api, team):
    a = api(team["alice"])
    d = new_deal(a)
    r = a.post(
        f"/api/v1/deals/{d['id']}/competitors",
        json={"name": "鼎新電腦", "strategy": "低價", "strengths": "在地服務", "price": "99000"},
    )
    assert r.status_code == 201
    assert (
        a.post(
            f"/api/v1/deals/{d['id']}/competitors", json={"name": "x", "price": "-1"}
        ).status_code
        == 422
    )
    assert [c["name"] for c in a.get(f"/api/v1/deals/{d['id']}/competitors").get_json()] == [
        "鼎新電腦"
    ]
    b = api(team["bob"])
    assert b.get(f"/api/v1/deals/{d['id']}/competitors").status_code == 404
    assert a.delete(f"/api/v1/deals/{d['id']}/competitors/{r.get_json()['id']}").status_code == 204


def test_documents_upload_download_and_refusals(api, team, tmp_path):
    a = api(team["alice"])
    d = new_deal(a)
    url = f"/api/v1/deals/{d['id']}/documents"
    r = a.post(
        url,
        data={"file": (io.BytesIO(_pdf()), "報價單.pdf"), "kind": "quote"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert (
        doc["content_type"] == "application/pdf"
        and doc["filename"] == "報價單.pdf"
        and doc["kind"] == "quote"
    )
    stored = list((tmp_path / "files").rglob("*"))
    assert any(p.is_file() for p in stored)  # outside the database
    r = a.post(
        url,
        data={"file": (io.BytesIO(_docx()), "contract.docx"), "kind": "contract"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201 and r.get_json()["content_type"].endswith(
        "wordprocessingml.document"
    )
    # an executable renamed .pdf
    r = a.post(
        url,
        data={"file": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 200), "quote.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "file" in r.get_json()["errors"]
    r = a.post(
        url,
        data={"file": (io.BytesIO(b"\x7fELF\x02\x01" + b"\x00" * 100), "quote.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    r = a.post(
        url, data={"file": (io.BytesIO(b""), "empty.pdf")}, content_type="multipart/form-data"
    )
    assert r.status_code == 422
    # download by someone who can see the deal; 404 for others
    r = a.get(f"/api/v1/documents/{doc['id']}/download")
    assert (
        r.status_code == 200
        and r.data == _pdf()
        and "attachment" in r.headers["Content-Disposition"]
    )
    lead = api(team["leader"])
    assert lead.get(f"/api/v1/documents/{doc['id']}/download").status_code == 200
    b = api(team["bob"])
    assert b.get(f"/api/v1/documents/{doc['id']}/download").status_code == 404
    assert b.delete(f"/api/v1/documents/{doc['id']}").status_code == 404
    assert len(a.get(url).get_json()) == 2
    assert a.delete(f"/api/v1/documents/{doc['id']}").status_code == 204
    assert a.get(f"/api/v1/documents/{doc['id']}/download").status_code == 404


class _Endless(io.RawIOBase):
    """A 200 MB body that is never materialised: counts how much the server read."""

    def __init__(self, size):
        self.size = size
        self.pos = 0
        self.read_total = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=0):
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def readinto(self, b):
        n = max(0, min(len(b), self.size - self.pos))
        b[:n] = b"\0" * n
        self.pos += n
        self.read_total += n
        return n


def test_200mb_upload_is_refused_without_reading_it(api, team):
    a = api(team["alice"])
    d = new_deal(a)
    size = 200 * 1024 * 1024
    body = _Endless(size)
    r = a.client.post(
        f"/api/v1/deals/{d['id']}/documents",
        input_stream=body,
        headers={
            "Authorization": f"Bearer {a.token}",
            "Content-Length": str(size),
            "Content-Type": "multipart/form-data; boundary=xyz",
        },
    )
    assert r.status_code == 413
    assert body.read_total < 1024 * 1024  # refused from the Content-Length
    # within the host's envelope but above the module's 20 MiB: streamed, stopped at the limit
    big = b"%PDF-1.4\n" + b"0" * (21 * 1024 * 1024)
    r = a.post(
        f"/api/v1/deals/{d['id']}/documents",
        data={"file": (io.BytesIO(big), "big.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 413


# --- Won deals: order lines, contract, deliveries, payments (PIP-9) ----------------------


def test_order_lines_contract_deliveries_payments(api, team, crm_app):
    a = api(team["alice"])
    open_deal = new_deal(a)
    r = a.post(
        f"/api/v1/deals/{open_deal['id']}/lines",
        json={"product": "x", "quantity": "1", "unit_price": "1"},
    )
    assert r.status_code == 409  # only won deals have orders
    d = won_deal(a)
    r = a.post(
        f"/api/v1/deals/{d['id']}/lines",
        json={"product": "ERP 授權", "quantity": "10", "unit_price": "12000", "discount": "10"},
    )
    assert r.status_code == 201 and r.get_json()["amount"] == "108000.00"
    r = a.post(
        f"/api/v1/deals/{d['id']}/lines",
        json={"product": "導入服務", "quantity": "1", "unit_price": "30000"},
    )
    assert a.get(f"/api/v1/deals/{d['id']}").get_json()["amount"] == "138000.00"
    for bad in (
        {"product": "x", "quantity": "0", "unit_price": "1"},
        {"product": "x", "quantity": "1", "unit_price": "-1"},
        {"product": "x", "quantity": "1", "unit_price": "1", "discount": "120"},
    ):
        assert a.post(f"/api/v1/deals/{d['id']}/lines", json=bad).status_code == 422
    d = a.get(f"/api/v1/deals/{d['id']}").get_json()
    r = a.patch(
        f"/api/v1/deals/{d['id']}",
        json={
            "version": d["version"],
            "contract_no": "HT-2026-001",
            "contract_signed_on": "2026-11-01",
            "contract_start": "2026-11-01",
            "contract_end": "2027-10-31",
        },
    )
    assert r.status_code == 200 and r.get_json()["contract_no"] == "HT-2026-001"
    d = r.get_json()
    assert (
        a.patch(
            f"/api/v1/deals/{d['id']}",
            json={
                "version": d["version"],
                "contract_start": "2027-01-01",
                "contract_end": "2026-01-01",
            },
        ).status_code
        == 422
    )
    assert (
        a.post(
            f"/api/v1/deals/{d['id']}/deliveries",
            json={"delivered_on": "2026-11-20", "description": "第一批授權"},
        ).status_code
        == 201
    )
    past = (date.today() - timedelta(days=3)).isoformat()
    p1 = a.post(
        f"/api/v1/deals/{d['id']}/payments", json={"due_on": past, "amount": "69000"}
    ).get_json()
    p2 = a.post(
        f"/api/v1/deals/{d['id']}/payments", json={"due_on": "2099-01-01", "amount": "69000"}
    ).get_json()
    assert p1["state"] == "overdue" and p2["state"] == "planned"
    assert (
        a.post(
            f"/api/v1/deals/{d['id']}/payments", json={"due_on": past, "amount": "0"}
        ).status_code
        == 422
    )
    from crm_pipeline import services

    with crm_app.app_context():
        with crm_app.extensions["crm"].db.session_scope() as s:
            assert services.send_overdue_payment_reminders(s) == 1
        with crm_app.extensions["crm"].db.session_scope() as s:
            assert services.send_overdue_payment_reminders(s) == 0
    assert [rid for rid, *_ in outbox(crm_app, "pipeline.payment_overdue")] == [team["alice"].id]
    r = a.patch(
        f"/api/v1/payments/{p1['id']}",
        json={"version": p1["version"], "received_on": date.today().isoformat()},
    )
    assert (
        r.status_code == 200
        and r.get_json()["state"] == "received"
        and r.get_json()["received_amount"] == "69000.00"
    )
    assert (
        a.patch(
            f"/api/v1/payments/{p1['id']}", json={"version": p1["version"], "note": "late"}
        ).status_code
        == 409
    )
    assert (
        api(team["bob"])
        .patch(f"/api/v1/payments/{p2['id']}", json={"version": 1, "note": "x"})
        .status_code
        == 404
    )


# --- Revenue for grading, panels, merge and handover (customers hooks) -------------------


def test_revenue_feeds_abc_grading_and_panel(api, team, crm_app):
    a = api(team["alice"])
    big = won_deal(a, customer_name="Big buyer", amount="900000")
    won_deal(a, customer_name="Small buyer", amount="1000")
    new_deal(a, amount="5000000")  # open: no revenue
    admin = api("admin")
    r = admin.post("/api/v1/customers/regrade")
    assert r.status_code == 200, r.get_json()
    assert a.get(f"/api/v1/customers/{big['customer_id']}").get_json()["grade"] == "A"
    page = a.get(f"/customers/{big['customer_id']}").get_data(as_text=True)
    assert 'data-panel="pipeline.deals"' in page and big["code"] in page


def test_merge_and_customer_handover_move_deals(api, team):
    lead = api(team["leader"])
    a = api(team["alice"])
    c1 = new_customer(a, name="Dup one")
    c2 = new_customer(a, name="Dup two")
    d = new_deal(a, customer_id=c1["id"])
    a.post(
        "/api/v1/activities",
        json={"customer_id": c1["id"], "kind": "call", "status": "done", "subject": "x"},
    )
    target = a.get(f"/api/v1/customers/{c2['id']}").get_json()
    r = lead.post(
        f"/api/v1/customers/{c2['id']}/merge",
        json={"source_id": c1["id"], "version": target["version"]},
    )
    assert r.status_code == 200, r.get_json()
    assert a.get(f"/api/v1/deals/{d['id']}").get_json()["customer_id"] == c2["id"]
    assert a.get("/api/v1/activities", query_string={"customer_id": c2["id"]}).get_json()
    closed = won_deal(a, customer_name="Other")
    r = lead.post(
        "/api/v1/customers/handover",
        json={
            "customer_ids": [c2["id"], closed["customer_id"]],
            "owner_id": team["bob"].id,
            "note": "",
        },
    )
    assert r.status_code == 200, r.get_json()
    assert (
        lead.get(f"/api/v1/deals/{d['id']}").get_json()["owner_id"] == team["bob"].id
    )  # open deal follows
    assert (
        lead.get(f"/api/v1/deals/{closed['id']}").get_json()["owner_id"] == team["alice"].id
    )  # won deal stays
    hist = lead.get(f"/api/v1/deals/{d['id']}/history").get_json()
    assert hist[0]["kind"] == "transfer" and hist[0]["note"] == "customer handover"


# --- Targets and reports (PIP-10..12, REP-2) ---------------------------------------------


def test_targets_and_reports(api, team):
    a, b, lead = api(team["alice"]), api(team["bob"]), api(team["leader"])
    stages = a.get("/api/v1/pipeline/stages").get_json()
    won_deal(a, amount="300000")
    won_deal(b, amount="100000", customer_name="Bob's win")
    x = new_deal(
        a, amount="50000", stage_id=stages[2]["id"], expected_close=date.today().isoformat()
    )
    new_deal(a, amount="20000", expected_close=(date.today() - timedelta(days=40)).isoformat())
    lost = new_deal(b, amount="70000", stage_id=stages[1]["id"])
    b.patch(
        f"/api/v1/deals/{lost['id']}",
        json={"version": lost["version"], "status": "lost", "lost_reason": "price"},
    )
    month = date.today().replace(day=1).isoformat()
    assert (
        a.put(
            "/api/v1/pipeline/targets",
            json={
                "period_kind": "month",
                "period_start": month,
                "user_id": team["alice"].id,
                "amount": "600000",
            },
        ).status_code
        == 403
    )
    for body in (
        {"user_id": team["alice"].id, "amount": "600000"},
        {"user_id": team["bob"].id, "amount": "100000"},
        {"department_id": team["departments"]["north"], "amount": "800000"},
    ):
        r = lead.put(
            "/api/v1/pipeline/targets", json={"period_kind": "month", "period_start": month, **body}
        )
        assert r.status_code == 200, r.get_json()
    r = lead.put(
        "/api/v1/pipeline/targets",
        json={
            "period_kind": "month",
            "period_start": month,
            "user_id": team["alice"].id,
            "amount": "500000",
        },
    )
    assert r.status_code == 200
    assert (
        lead.put(
            "/api/v1/pipeline/targets",
            json={"period_kind": "month", "period_start": month, "amount": "1"},
        ).status_code
        == 422
    )
    assert (
        lead.put(
            "/api/v1/pipeline/targets",
            json={
                "period_kind": "month",
                "period_start": month,
                "user_id": team["bob"].id,
                "amount": "-1",
            },
        ).status_code
        == 422
    )
    assert (
        len(lead.get("/api/v1/pipeline/targets", query_string={"period_start": month}).get_json())
        == 3
    )

    f = lead.get("/api/v1/reports/funnel").get_json()
    assert [s["count"] for s in f["stages"]] == [1, 0, 1, 0]
    assert f["won"] == {"count": 2, "amount": "400000.00"} and f["lost"]["count"] == 1
    assert [s["reached"] for s in f["stages"]] == [5, 4, 3, 2] and f["stages"][0][
        "conversion"
    ] == 0.8
    fa = a.get("/api/v1/reports/funnel").get_json()  # Alice sees her own only
    assert fa["won"]["count"] == 1 and fa["lost"]["count"] == 0
    assert (
        lead.get("/api/v1/reports/funnel", query_string={"owner_id": team["bob"].id}).get_json()[
            "won"
        ]["amount"]
        == "100000.00"
    )
    assert (
        lead.get(
            "/api/v1/reports/funnel", query_string={"department_id": team["departments"]["north"]}
        ).get_json()["won"]["amount"]
        == "300000.00"
    )
    assert (
        lead.get(
            "/api/v1/reports/funnel", query_string={"since": "2000-01-01", "until": "2000-02-01"}
        ).get_json()["total"]
        == 0
    )

    p = lead.get("/api/v1/reports/performance", query_string={"period_start": month}).get_json()
    people = {r["name"]: r for r in p["people"]}
    assert (
        people[team["alice"].name]["won_amount"] == "300000.00"
        and people[team["alice"].name]["target"] == "500000.00"
    )
    assert (
        people[team["alice"].name]["attainment"] == 0.6
        and people[team["bob"].name]["attainment"] == 1.0
    )
    north = [d for d in p["departments"] if d["department_id"] == team["departments"]["north"]][0]
    assert north["won_amount"] == "300000.00" and north["target"] == "800000.00"
    q = lead.get("/api/v1/reports/performance", query_string={"period_kind": "quarter"}).get_json()
    assert q["won_amount"] == "400000.00" and q["period"].endswith(
        f"Q{(date.today().month - 1) // 3 + 1}"
    )
    pa = a.get("/api/v1/reports/performance").get_json()
    assert [r["name"] for r in pa["people"]] == [team["alice"].name]

    fc = lead.get("/api/v1/reports/forecast").get_json()["months"]
    assert (
        fc[0]["month"] == "overdue"
        and fc[0]["amount"] == "20000.00"
        and fc[0]["weighted"] == "2000.00"
    )
    assert fc[1]["amount"] == "50000.00" and fc[1]["weighted"] == "25000.00" and x

    for name in ("funnel", "performance", "forecast"):
        r = lead.get(f"/api/v1/reports/{name}", query_string={"format": "csv"})
        assert (
            r.status_code == 200
            and r.mimetype == "text/csv"
            and r.data.startswith("\ufeff".encode())
        )
        r = lead.get(f"/api/v1/reports/{name}", query_string={"format": "xlsx"})
        assert r.status_code == 200 and r.data[:2] == b"PK"
    from openpyxl import load_workbook

    wb = load_workbook(
        io.BytesIO(lead.get("/api/v1/reports/funnel", query_string={"format": "xlsx"}).data)
    )
    rows = list(wb.active.values)
    assert rows[0][0] == "Stage" and rows[1][1] == 1


def test_reports_and_targets_need_permissions(api, team):
    staff = api("staff")
    assert staff.get("/api/v1/reports/funnel").status_code == 403
    assert staff.get("/api/v1/deals").status_code == 403
    assert api(team["alice"]).get("/api/v1/pipeline/targets").status_code == 200


# --- Module switching --------------------------------------------------------------------


def test_disable_removes_api_menus_panels_and_keeps_data(api, team, crm_app, login, crm_cli):
    from crm_host import modules

    a = api(team["alice"])
    c = new_customer(a)
    d = new_deal(a, customer_id=c["id"])
    web = login(team["alice"])
    dash = web.get("/").get_data(as_text=True)
    assert 'href="/pipeline/"' in dash and "Sales funnel" in dash
    assert "ERP rollout" in web.get("/search?q=ERP").get_data(as_text=True)
    # customers cannot be disabled under pipeline
    import pytest

    with pytest.raises(modules.ModuleError, match="pipeline"):
        modules.disable(crm_app, "customers")
    modules.disable(crm_app, "pipeline")
    assert a.get("/api/v1/deals").status_code == 404
    assert a.get(f"/api/v1/deals/{d['id']}").status_code == 404
    assert web.get("/pipeline/").status_code == 404
    dash = web.get("/").get_data(as_text=True)
    assert 'href="/pipeline/"' not in dash and "Sales funnel" not in dash  # menus, widgets
    assert "ERP rollout" not in web.get("/search?q=ERP").get_data(as_text=True)  # search
    page = web.get(f"/customers/{c['id']}").get_data(as_text=True)
    assert "pipeline.deals" not in page
    assert "/api/v1/deals" not in a.get("/api/openapi.json").get_data(as_text=True)
    with crm_app.extensions["crm"].db.session_scope() as s:
        from crm_pipeline.models import Deal

        assert s.get(Deal, d["id"]).name == "ERP rollout"  # data kept
    modules.enable(crm_app, "pipeline")
    assert a.get(f"/api/v1/deals/{d['id']}").status_code == 200
    # with customers and pipeline both off (cascade), a deal on a customer is unreachable
    modules.disable(crm_app, "customers", cascade=True)
    assert a.post("/api/v1/deals", json={"name": "x", "customer_id": c["id"]}).status_code == 404


def test_migrations_match_models(migration_drift, pipeline):
    assert migration_drift("pipeline") == []
