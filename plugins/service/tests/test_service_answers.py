"""Support answers from another module's Q&A bank through ``crm_service_answers``: a
test-only plugin stands in for the knowledge module, enabled and disabled."""

import service_answers_testplugin as qa
from service_testkit import new_ticket


def test_without_an_answering_module_the_screen_has_no_search(team, api, login):
    alice = api(team["alice"])
    t = new_ticket(alice, kind="support", title="How do I reset the administrator password?")
    r = alice.get("/api/v1/service/answers?q=password")
    assert r.status_code == 200 and r.get_json() == {"available": False, "items": []}
    page = login(team["alice"]).get(f"/service/{t['id']}").get_data(as_text=True)
    assert 'data-testid="reply-card"' in page and 'data-testid="answer-search"' not in page


def test_answers_come_from_the_hook_and_go_into_the_reply(
    team, api, login, enable_modules, crm_app
):
    enable_modules("svcanswers")
    qa.CALLS.clear()
    alice = api(team["alice"])
    t = new_ticket(alice, kind="support", title="How do I reset the administrator password?")
    r = alice.get("/api/v1/service/answers?q=administrator password&limit=3")
    body = r.get_json()
    assert body["available"] is True and [a["id"] for a in body["items"]] == ["qa-1"]
    assert body["items"][0]["answer"].startswith("1. Open **Settings")
    assert qa.CALLS[-1]["user"] == team["alice"].id and qa.CALLS[-1]["limit"] == 3
    assert qa.CALLS[-1]["locale"] in ("en", "zh_Hant", "zh_Hans")
    zh = alice.get("/api/v1/service/answers?q=印表機").get_json()["items"]
    assert [a["id"] for a in zh] == ["qa-2"]
    assert alice.get("/api/v1/service/answers").status_code == 422
    page = login(team["alice"]).get(f"/service/{t['id']}").get_data(as_text=True)
    assert 'data-testid="answer-search"' in page
    # an inserted answer is Markdown: saved as the reply and rendered sanitised
    r = alice.post(
        f"/api/v1/tickets/{t['id']}/replies",
        json={"body": body["items"][0]["answer"] + "\n\n<script>alert(1)</script>"},
    )
    assert r.status_code == 201
    page = login(team["alice"]).get(f"/service/{t['id']}").get_data(as_text=True)
    assert "<strong>Settings → Users</strong>" in page and "<script>alert(1)" not in page
    # switched off again: the search disappears
    from crm_host import modules

    modules.disable(crm_app, "svcanswers")
    assert alice.get("/api/v1/service/answers?q=password").get_json()["available"] is False
    page = login(team["alice"]).get(f"/service/{t['id']}").get_data(as_text=True)
    assert 'data-testid="answer-search"' not in page
