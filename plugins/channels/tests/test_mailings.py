"""CH-6 batch mailings to a customers filter (the customers module's audience hook), merge
fields, preview, throttle, unsubscribe, totals; CH-8 messages on the customer's timeline."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_host.models import OutboxMessage


@pytest.fixture
def mailing_env(channels, enable_modules, smtp_config):
    enable_modules("customers")
    return smtp_config


def _customer(client, name, contacts=(), **fields):
    r = client.post("/api/v1/customers", json={"name": name, **fields})
    assert r.status_code == 201, r.get_json()
    c = r.get_json()
    for ct in contacts:
        r2 = client.post(f"/api/v1/customers/{c['id']}/contacts", json=ct)
        assert r2.status_code == 201, r2.get_json()
    return c


def _three(client):
    a = _customer(
        client,
        "台北市永豐貿易有限公司",
        grade="A",
        contacts=[
            {"name": "王大明", "email": "wang@yongfeng.test", "title": "經理", "is_primary": True},
            {"name": "李小華", "email": "li@yongfeng.test"},
        ],
    )
    b = _customer(
        client,
        "Acme Trading",
        grade="A",
        contacts=[{"name": "Jane Doe", "email": "jane@acme.test", "is_primary": True}],
    )
    c = _customer(
        client,
        "Beta Ltd",
        grade="B",
        contacts=[{"name": "Bob", "email": "bob@beta.test", "is_primary": True}],
    )
    return a, b, c


MAIL = {
    "name": "Spring prices",
    "audience": "customers.filter",
    "params": {"grade": "A"},
    "subject": "{customer_name}: spring prices",
    "body": "Dear {contact_name},\nyour account manager {owner_name} has news.",
}


def _run(app, deliver):
    from crm_channels import mailings

    with app.extensions["crm"].db.session_scope() as s:
        with app.app_context():
            mailings.run_due(s, runtime=app.extensions["crm"].runtime())
    return deliver()


def test_audiences_list_and_preview(mailing_env, api):
    sales = api("sales")
    _three(sales)
    auds = {a["name"]: a for a in sales.get("/api/v1/mailings/audiences").get_json()}
    assert "customers.filter" in auds and "channels.team" in auds
    assert "contact_name" in auds["customers.filter"]["fields"]
    r = sales.post("/api/v1/mailings/preview", json=MAIL)
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["total"] == 2
    first = out["items"][0]
    assert first["subject"] == "台北市永豐貿易有限公司: spring prices"
    assert first["body"].startswith("Dear 王大明,\nyour account manager")
    assert "Unsubscribe: http://crm.test/channels/unsubscribe/" in first["body"]
    all_contacts = sales.post(
        "/api/v1/mailings/preview", json={**MAIL, "params": {"grade": "A", "to": "all"}}
    ).get_json()
    assert all_contacts["total"] == 3


def test_unknown_merge_field_and_bad_input_are_clear_errors(mailing_env, api, crm_db):
    from crm_channels.models import Mailing

    sales = api("sales")
    r = sales.post("/api/v1/mailings", json={**MAIL, "body": "Hi {contact_nmae} {x.__class__}"})
    assert r.status_code == 422
    body = r.get_json()
    assert "Unknown merge fields in the body: {contact_nmae}, {x.__class__}" in body["detail"]
    assert "{contact_name}" in body["detail"] and body["errors"]["body"]
    assert sales.post("/api/v1/mailings", json={**MAIL, "subject": "Hi {"}).status_code == 422
    assert sales.post("/api/v1/mailings", json={**MAIL, "audience": "nobody"}).status_code == 422
    r = sales.post("/api/v1/mailings", json={**MAIL, "params": {"grade": "Z"}})
    assert r.status_code == 422 and "grade" in r.get_json()["detail"]
    r = sales.post("/api/v1/mailings", json={**MAIL, "params": {"colour": "red"}})
    assert r.status_code == 422
    assert sales.post("/api/v1/mailings", json={**MAIL, "rate_per_minute": 0}).status_code == 422
    assert crm_db.scalars(select(Mailing)).all() == []  # nothing was stored


def test_send_throttle_totals_unsubscribe_and_timeline(
    mailing_env, api, login, deliver, crm_app, crm_db, anonymous_api
):
    sales = api("sales")
    a, b, _c = _three(sales)
    r = sales.post("/api/v1/mailings", json={**MAIL, "send": True, "rate_per_minute": 60})
    assert r.status_code == 201, r.get_json()
    mid = r.get_json()["id"]
    assert r.get_json()["status"] == "scheduled"

    res = _run(crm_app, deliver)
    # throttled: 60 a minute, so only the first one was due at once
    rows = crm_db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "channels.mailing")
        .order_by(OutboxMessage.id)
    ).all()
    assert len(rows) == 2
    gap = rows[1].next_attempt_at - rows[0].next_attempt_at
    assert timedelta(seconds=0.9) <= gap <= timedelta(seconds=1.1)
    assert res["sent"] >= 1
    for row in rows:
        row.next_attempt_at = row.created_at
    crm_db.commit()
    deliver()
    msgs = mailing_env.wait(2)
    assert sorted(m["to"][0] for m in msgs) == ["jane@acme.test", "wang@yongfeng.test"]
    wang = next(m["msg"] for m in msgs if m["to"] == ["wang@yongfeng.test"])
    assert str(wang["Subject"]) == "台北市永豐貿易有限公司: spring prices"
    assert wang["List-Unsubscribe"].startswith("<http://crm.test/channels/unsubscribe/")
    detail = sales.get(f"/api/v1/mailings/{mid}").get_json()
    assert detail["totals"] == {
        "queued": 0,
        "sent": 2,
        "failed": 0,
        "unsubscribed": 0,
        "invalid": 0,
        "total": 2,
    }
    recips = sales.get(f"/api/v1/mailings/{mid}/recipients").get_json()["items"]
    assert {r["status"] for r in recips} == {"sent"}

    # CH-8: the message shows on the customer's 360° page / timeline
    page = login(sales.user).get(f"/customers/{a['id']}").get_data(as_text=True)
    assert "台北市永豐貿易有限公司: spring prices" in page

    # unsubscribe without login; a tampered token is refused clearly and changes nothing
    text = wang.get_body(("plain",)).get_content()
    url = re.search(r"http://crm.test(/channels/unsubscribe/\S+)", text).group(1)
    web = crm_app.test_client()
    assert "Unsubscribe from our mailings?" in web.get(url).get_data(as_text=True)
    bad = web.get(url[:-3] + "xyz")
    assert bad.status_code == 400 and "not valid" in bad.get_data(as_text=True)
    from crm_channels.models import Unsubscribe

    assert crm_db.scalars(select(Unsubscribe)).all() == []
    assert wang["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # RFC 8058: the mail client posts once, with no page, no cookie and no CSRF token
    assert web.post(url[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert crm_db.scalars(select(Unsubscribe)).all() == []
    done = crm_app.test_client().post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)

    # a later mailing skips the unsubscribed address
    r = sales.post(
        "/api/v1/mailings", json={**MAIL, "name": "Summer", "send": True, "rate_per_minute": 100000}
    )
    mid2 = r.get_json()["id"]
    _run(crm_app, deliver)
    t = sales.get(f"/api/v1/mailings/{mid2}").get_json()["totals"]
    assert t["unsubscribed"] == 1 and t["sent"] == 1
    assert len(mailing_env.wait(3)) == 3
    # someone else cannot see the mailing
    assert api("sales").get(f"/api/v1/mailings/{mid2}").status_code == 404


def test_invalid_address_and_scope(mailing_env, api, deliver, crm_app, make_user):
    owner = api("sales")
    _customer(
        owner,
        "Gamma",
        grade="A",
        contacts=[{"name": "G", "email": "g@gamma.test", "is_primary": True}],
    )
    other = api("sales")
    assert other.post("/api/v1/mailings/preview", json=MAIL).get_json()["total"] == 0
    r = other.post("/api/v1/mailings", json={**MAIL, "send": True})
    assert r.status_code == 422 and "Nobody" in r.get_json()["detail"]
    # customers without a usable email: the customer's own address counts, bad ones are invalid
    _customer(owner, "Delta", grade="A", email="info@delta.test")
    from crm_channels import mailings

    r = owner.post("/api/v1/mailings", json={**MAIL, "send": True, "rate_per_minute": 100000})
    mid = r.get_json()["id"]
    _run(crm_app, deliver)
    t = owner.get(f"/api/v1/mailings/{mid}").get_json()["totals"]
    assert t["sent"] == 2
    # a customer with no address at all is listed as invalid, not silently dropped
    _customer(owner, "Epsilon", grade="A")
    r = owner.post("/api/v1/mailings", json={**MAIL, "send": True, "rate_per_minute": 100000})
    mid = r.get_json()["id"]
    _run(crm_app, deliver)
    t = owner.get(f"/api/v1/mailings/{mid}").get_json()["totals"]
    assert (t["sent"], t["invalid"], t["total"]) == (2, 1, 3)
    bad = owner.get(f"/api/v1/mailings/{mid}/recipients?status=invalid").get_json()["items"]
    assert bad[0]["name"] == "Epsilon" and bad[0]["error"] == "No email address."
    assert mailings.valid_email("x@y.test") and not mailings.valid_email("x@@y")


def test_team_audience_without_customers(channels, smtp_config, api, deliver, crm_app, make_user):
    leader = api("leader")
    make_user("staff", email="staff.member@example.test")
    r = leader.post(
        "/api/v1/mailings",
        json={
            "name": "Team news",
            "audience": "channels.team",
            "subject": "News for {name}",
            "body": "Hello {name} <{email}>",
            "send": True,
            "rate_per_minute": 100000,
        },
    )
    assert r.status_code == 201, r.get_json()
    _run(crm_app, deliver)
    t = leader.get(f"/api/v1/mailings/{r.get_json()['id']}").get_json()["totals"]
    assert t["sent"] == t["total"] >= 2
    subjects = {str(m["msg"]["Subject"]) for m in smtp_config.messages}
    assert any(s.startswith("News for ") for s in subjects)


def test_mailing_pages(mailing_env, login, make_user, deliver, crm_app):
    user = make_user("sales")
    web = login(user)
    assert web.get("/channels/mailings").status_code == 200
    page = web.get("/channels/mailings/new?audience=customers.filter&p_grade=A")
    assert page.status_code == 200 and 'value="A"' in page.get_data(as_text=True)
    r = web.post_form(
        "/channels/mailings/new",
        {
            **{k: v for k, v in MAIL.items() if k != "params"},
            "p_grade": "A",
            "body": "Hi {nope}",
            "action": "preview",
        },
    )
    assert r.status_code == 422 and "Unknown merge field in the body: {nope}" in r.get_data(
        as_text=True
    )
    r = web.post_form(
        "/channels/mailings/new",
        {**{k: v for k, v in MAIL.items() if k != "params"}, "p_grade": "A", "action": "draft"},
    )
    assert r.status_code == 303
    detail = web.get(r.headers["Location"]).get_data(as_text=True)
    assert "Spring prices" in detail and 'data-testid="totals"' in detail
    mid = int(r.headers["Location"].rstrip("/").split("/")[-1])
    assert web.post_form(f"/channels/mailings/{mid}/cancel").status_code == 303
    assert login(make_user("sales")).get(f"/channels/mailings/{mid}").status_code == 404


def test_invalid_and_duplicate_addresses_are_reported_not_sent(
    channels, smtp_config, api, deliver, crm_app
):
    import channels_probe

    channels_probe.RECIPIENTS[:] = [
        {
            "customer_id": None,
            "contact_id": None,
            "email": "ok@example.test",
            "name": "Ok",
            "fields": {"company": "Ok Co"},
        },
        {
            "customer_id": None,
            "contact_id": None,
            "email": "broken@@example",
            "name": "Bad",
            "fields": {"company": "Bad Co"},
        },
        {
            "customer_id": None,
            "contact_id": None,
            "email": "OK@example.test",
            "name": "Dup",
            "fields": {"company": "Ok Co"},
        },
    ]
    leader = api("leader")
    r = leader.post(
        "/api/v1/mailings",
        json={
            "name": "Probe",
            "audience": "probe.list",
            "subject": "For {company}",
            "body": "Hi {name}",
            "send": True,
            "rate_per_minute": 100000,
        },
    )
    assert r.status_code == 201, r.get_json()
    mid = r.get_json()["id"]
    _run(crm_app, deliver)
    t = leader.get(f"/api/v1/mailings/{mid}").get_json()["totals"]
    assert t == {"queued": 0, "sent": 1, "failed": 0, "unsubscribed": 0, "invalid": 1, "total": 2}
    bad = leader.get(f"/api/v1/mailings/{mid}/recipients?status=invalid").get_json()["items"]
    assert bad[0]["email"] == "broken@@example" and "valid email" in bad[0]["error"]
    assert [m["to"] for m in smtp_config.messages] == [["ok@example.test"]]
    channels_probe.RECIPIENTS.clear()


def test_customers_batch_messages_go_out_through_these_channels(
    mailing_env, api, deliver, crm_app, login
):
    """The customers module's batch message (outreach) by email and fax, delivered by this
    module's channels; its own timeline entry is not repeated by ours."""
    from crm_channels import settings

    crm_app.config["CRM_FAX_ADDRESS"] = "{number}@fax.example"
    settings.invalidate()
    sales = api("sales")
    a, _b, _c = _three(sales)
    sales.patch(
        f"/api/v1/customers/{a['id']}", json={"fax": "02-2345-6789", "version": a["version"]}
    )
    r = sales.post(
        "/api/v1/customers/messages",
        json={
            "ids": [a["id"]],
            "subject": "Hello {contact_name}",
            "body": "Dear {contact_name}",
            "channel": "email",
        },
    )
    assert r.status_code in (200, 201), r.get_json()
    r = sales.post(
        "/api/v1/customers/messages",
        json={"ids": [a["id"]], "subject": "Order form", "body": "See attached", "channel": "fax"},
    )
    assert r.status_code in (200, 201), r.get_json()
    assert deliver()["sent"] == 2
    got = {m["to"][0]: m["msg"] for m in mailing_env.wait(2)}
    assert str(got["wang@yongfeng.test"]["Subject"]) == "Hello 王大明"
    assert got["wang@yongfeng.test"]["Reply-To"] == sales.user.email
    fax = got["0223456789@fax.example"]
    assert next(fax.iter_attachments()).get_content_type() == "application/pdf"
    timeline = login(sales.user).get(f"/customers/{a['id']}").get_data(as_text=True)
    assert timeline.count("Hello 王大明") == 1


def test_mailing_scheduled_for_later_waits(channels, smtp_config, api, deliver, crm_app):
    from datetime import datetime, timezone

    from crm_channels import mailings

    leader = api("leader")
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    r = leader.post(
        "/api/v1/mailings",
        json={
            "name": "Later",
            "audience": "channels.team",
            "subject": "Hi {name}",
            "body": "x",
            "send": True,
            "send_at": later.isoformat(),
            "rate_per_minute": 100000,
        },
    )
    assert r.status_code == 201 and r.get_json()["status"] == "scheduled"
    mid = r.get_json()["id"]
    _run(crm_app, deliver)
    assert leader.get(f"/api/v1/mailings/{mid}").get_json()["totals"]["total"] == 0
    assert smtp_config.messages == []
    with crm_app.extensions["crm"].db.session_scope() as s:
        with crm_app.app_context():
            mailings.run_due(
                s, now=later + timedelta(seconds=1), runtime=crm_app.extensions["crm"].runtime()
            )
    detail = leader.get(f"/api/v1/mailings/{mid}").get_json()
    assert (
        detail["status"] == "sending"
        and detail["totals"]["queued"] == detail["totals"]["total"] >= 1
    )
    # a mailing that started cannot be cancelled; a draft can
    assert leader.post(f"/api/v1/mailings/{mid}/cancel").status_code == 409
