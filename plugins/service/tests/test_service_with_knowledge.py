"""Support answers from the real knowledge module (SVC-2 with KB-2): the service module asks
through its hook, the knowledge module answers from its Q&A bank within the agent's view."""

import pytest
from service_testkit import new_ticket

from crm_host import modules

pytest.importorskip("crm_knowledge")


def test_agents_search_the_knowledge_bank_and_insert_an_answer(
    team, api, login, enable_modules, crm_app
):
    alice = api(team["alice"])
    assert alice.get("/api/v1/service/answers?q=印表機").get_json()["available"] is False

    enable_modules("knowledge")
    lena = api(team["leader"])  # a service leader writes the bank (knowledge.edit)
    qa = {
        "kind": "qa",
        "locale": "zh_Hant",
        "status": "published",
        "title": "印表機卡紙怎麼辦？",
        "body": "1. 關閉電源\n\n2. 打開**後蓋**取出紙張",
        "translations": {"en": {"title": "The printer jams", "body": "Open the **rear cover**."}},
    }
    shown = lena.post("/api/v1/articles", json={**qa, "visibility": "internal"})
    assert shown.status_code == 201, shown.get_json()
    draft = lena.post("/api/v1/articles", json={**qa, "status": "draft", "title": "印表機草稿"})
    hidden = lena.post(
        "/api/v1/articles",
        json={
            **qa,
            "title": "印表機維修內規",
            "visibility": "restricted",
            "departments": [team["departments"]["tech"]],
        },
    )
    assert draft.status_code == 201 and hidden.status_code == 201

    body = alice.get("/api/v1/service/answers?q=印表機&limit=5").get_json()
    assert body["available"] is True
    ids = [a["id"] for a in body["items"]]
    # Published and readable by Alice only: not the draft, not technical support's own rules.
    assert str(shown.get_json()["id"]) in ids
    assert str(draft.get_json()["id"]) not in ids and str(hidden.get_json()["id"]) not in ids
    hit = body["items"][ids.index(str(shown.get_json()["id"]))]
    # in the agent's language when the article has that translation (Alice reads English)
    assert "rear cover" in hit["answer"] and hit["url"]
    # Tom (technical support) may read the restricted one.
    tom_ids = [
        a["id"]
        for a in api(team["tom"]).get("/api/v1/service/answers?q=印表機").get_json()["items"]
    ]
    assert str(hidden.get_json()["id"]) in tom_ids

    t = new_ticket(alice, kind="support", title="印表機卡紙")
    page = login(team["alice"]).get(f"/service/{t['id']}").get_data(as_text=True)
    assert 'data-testid="answer-search"' in page

    modules.disable(crm_app, "knowledge")
    assert alice.get("/api/v1/service/answers?q=印表機").get_json() == {
        "available": False,
        "items": [],
    }
    page = login(team["alice"]).get(f"/service/{t['id']}").get_data(as_text=True)
    assert 'data-testid="answer-search"' not in page
