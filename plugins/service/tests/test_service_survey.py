"""Satisfaction survey: the signed link sent on closing, the public page (one answer, forged
and expired links refused with a clear page), CSAT statistics."""

import re
import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from service_testkit import category, new_customer, new_ticket, step
from sqlalchemy import select

from crm_host.models import OutboxMessage


def _close_support(client, **fields):
    t = new_ticket(client, kind="support", **fields)
    for to in ("assigned", "answered", "closed"):
        assert step(client, t["id"], to).status_code == 200
    return t


def _survey_url(crm_app, ticket_id):
    with crm_app.extensions["crm"].db.session_scope() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "service.survey")).all()
        row = next(r for r in rows if r.data["ticket_id"] == ticket_id)
        return row, row.data["survey_url"]


def test_closing_sends_the_contact_a_signed_link(crm_app, team, api, anonymous_api):
    alice = api(team["alice"])
    c = new_customer(alice, email="lin@haiyu.example")
    t = _close_support(alice, title="密碼重設", customer_id=c["id"])
    row, url = _survey_url(crm_app, t["id"])
    # without the channels module the contact's address goes to the development log
    assert row.address == "lin@haiyu.example" and row.channel in ("email", "log")
    assert url in row.body and "/service/survey/" in url
    path = url.split("localhost", 1)[-1]
    web = crm_app.test_client()  # no login
    page = web.get(path)
    assert page.status_code == 200 and "密碼重設" in page.get_data(as_text=True)
    r = web.post(path, data={"score": "6"})
    assert r.status_code == 400
    r = web.post(path, data={"score": "5", "comment": "很快，謝謝"})
    assert r.status_code == 200 and "survey-thanks" in r.get_data(as_text=True)
    again = web.post(path, data={"score": "1", "comment": "changed my mind"})
    assert again.status_code == 409 and "survey-answered" in again.get_data(as_text=True)
    assert web.get(path).status_code == 409
    lena = api(team["leader"])
    rows = lena.get("/api/v1/service/reports/satisfaction?group=agent").get_json()["items"]
    assert rows == [
        {"key": team["alice"].id, "name": "Alice Agent", "answers": 1, "average": 5.0, "csat": 1.0}
    ]


def test_forged_and_expired_links_are_refused(crm_app, team, api):
    alice = api(team["alice"])
    c = new_customer(alice)
    t = _close_support(alice, title="x", customer_id=c["id"])
    _, url = _survey_url(crm_app, t["id"])
    path = url.split("localhost", 1)[-1]
    web = crm_app.test_client()
    token = path.rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = web.get(f"/service/survey/{forged}")
    assert r.status_code == 400 and "survey-error" in r.get_data(as_text=True)
    assert web.post(f"/service/survey/{forged}", data={"score": "5"}).status_code == 400
    # a link signed with another key
    other = URLSafeTimedSerializer("not-the-key", salt="crm-service-survey").dumps(
        {"s": 1, "n": "x"}
    )
    assert web.get(f"/service/survey/{other}").status_code == 400

    class Old(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 90 * 86400

    payload = URLSafeTimedSerializer(crm_app.secret_key, salt="crm-service-survey").loads(token)
    old = URLSafeTimedSerializer(crm_app.secret_key, salt="crm-service-survey", signer=Old).dumps(
        payload
    )
    r = web.get(f"/service/survey/{old}")
    assert r.status_code == 410 and "survey-error" in r.get_data(as_text=True)
    assert web.post(f"/service/survey/{old}", data={"score": "5"}).status_code == 410
    # nothing was recorded
    assert web.post(path, data={"score": "4"}).status_code == 200


def test_csat_per_agent_department_category_and_month(crm_app, team, api):
    alice, bob = api(team["alice"]), api(team["bob"])
    usage = category(alice, "support", "usage")
    scores = []
    for client, score in ((alice, 5), (alice, 3), (bob, 4)):
        c = new_customer(
            client, name=f"客戶{score}{len(scores)}", email=f"c{len(scores)}@x.example"
        )
        t = _close_support(client, title="q", customer_id=c["id"], category_id=usage["id"])
        _, url = _survey_url(crm_app, t["id"])
        assert (
            crm_app.test_client()
            .post(url.split("localhost", 1)[-1], data={"score": str(score)})
            .status_code
            == 200
        )
        scores.append(score)
    lena = api(team["leader"])

    def rep(group):
        return lena.get(f"/api/v1/service/reports/satisfaction?group={group}").get_json()["items"]

    agents = {r["name"]: r for r in rep("agent")}
    assert agents["Alice Agent"]["average"] == 4.0 and agents["Alice Agent"]["csat"] == 0.5
    assert agents["Bob Agent"]["answers"] == 1
    dept = rep("department")
    assert dept[0]["name"] == "Customer service" and dept[0]["answers"] == 3
    assert rep("category")[0]["name"] == "How to use"
    months = rep("month")
    assert len(months) == 1 and re.match(r"\d{4}-\d{2}", months[0]["name"])
    # an agent sees only their own figures
    mine = (
        api(team["alice"])
        .get("/api/v1/service/reports/satisfaction?group=agent")
        .get_json()["items"]
    )
    assert [r["name"] for r in mine] == ["Alice Agent"]


def test_without_contact_email_the_agent_gets_the_link(crm_app, team, api, login):
    alice = api(team["alice"])
    t = _close_support(alice, title="無聯絡人")
    page = login(team["alice"]).get(f"/service/{t['id']}").get_data(as_text=True)
    assert 'data-testid="survey-link"' in page and "/service/survey/" in page


def test_with_the_channels_module_the_survey_goes_by_email(crm_app, team, api, enable_modules):
    enable_modules("channels")
    alice = api(team["alice"])
    c = new_customer(alice, email="wang@example.cn")
    t = _close_support(alice, title="郵件問卷", customer_id=c["id"])
    row, url = _survey_url(crm_app, t["id"])
    assert row.channel == "email" and row.address == "wang@example.cn"
    r = alice.post(f"/api/v1/tickets/{t['id']}/replies", json={"body": "x"})
    assert r.status_code == 409  # closed: no more answers
