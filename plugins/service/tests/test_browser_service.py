"""The service module in headless Chromium: open a complaint for a customer found by typing,
walk it through triage, assignment, a proposed solution and the leader's approval; answer a
support request from the Q&A bank (the test plugin standing in for knowledge); the public
survey page; reports and settings. Desktop and phone, English and Chinese; screenshots in
test-artifacts/ for a person to look at."""

from pathlib import Path

import pytest
from service_testkit import category, new_customer, new_ticket, step

from crm_host.testing import browser_login

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / f"service-{name}.png"), full_page=True)


def _lang(page, lang):
    if lang != "en":
        page.locator("[data-testid=language-menu]:visible").first.click()
        page.locator(f"button[data-lang={lang}]:visible").first.click()
        page.wait_for_load_state()


@pytest.mark.parametrize(
    "width,lang", [(1366, "en"), (390, "zh_Hant"), (1366, "zh_Hant"), (390, "en")]
)
def test_complaint_support_and_survey(
    live_server, browser, crm_app, team, api, enable_modules, width, lang
):
    enable_modules("svcanswers")
    alice_api = api(team["alice"])
    c = new_customer(alice_api, name="台北市海宇科技股份有限公司", email="lin@haiyu.example")
    billing = category(alice_api, "complaint", "billing")
    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, team["alice"].email)
    _lang(page, lang)
    # a complaint; the customer is found by typing
    page.goto(f"{live_server}/service/new")
    page.click("label[for=kind-complaint]")
    page.fill("#f-title", "帳單多收安裝費")
    page.fill("[data-testid=customer-search]", "海宇")
    page.wait_for_function(
        "document.querySelector('[data-customer-select]').selectedOptions[0]"
        " && document.querySelector('[data-customer-select]').selectedOptions[0].value !== ''"
    )
    page.wait_for_selector("[data-contact-select] option:nth-child(2)", state="attached")
    page.select_option("#f-category_id", str(billing["id"]))
    page.select_option("#f-severity", "high")
    page.fill("#f-target", "三月份帳單")
    _shot(page, f"form-{lang}-{width}")
    page.click("[data-testid=save-ticket]")
    page.wait_for_selector("[data-testid=workflow]")
    ticket_url = page.url
    # triage, assign, propose
    page.click("[data-testid=step-triage]")
    page.wait_for_selector("[data-testid=step-assigned]")
    page.click("[data-testid=step-assigned]")
    page.wait_for_selector("[data-testid=step-proposed]")
    page.fill("[data-testid=step-comment]", "退還安裝費 NT$3,000 並致歉")
    page.click("[data-testid=step-proposed]")
    page.wait_for_selector("[data-testid=step-approval]")
    page.click("[data-testid=step-approval]")
    # the agent may not approve: the button says why
    page.wait_for_selector("[data-testid=step-implementation][disabled]")
    _shot(page, f"ticket-approval-{lang}-{width}")
    # the leader approves
    leader_page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(leader_page, live_server, team["leader"].email)
    _lang(leader_page, lang)
    leader_page.goto(ticket_url)
    leader_page.click("[data-testid=step-implementation]")
    leader_page.wait_for_selector("[data-testid=step-summary]")
    assert leader_page.locator("[data-testid=timeline] li").count() >= 6
    # a support request answered from the Q&A bank
    t = new_ticket(
        alice_api,
        kind="support",
        title="How do I reset the administrator password?",
        customer_id=c["id"],
    )
    page.goto(f"{live_server}/service/{t['id']}")
    page.click("#answer-go")
    page.wait_for_selector("[data-testid=answer]")
    page.click("[data-testid=insert-answer]")
    assert "Settings → Users" in page.input_value("#reply-body")
    _shot(page, f"support-answer-{lang}-{width}")
    page.click("[data-testid=send-reply]")
    page.wait_for_selector("[data-event=reply] strong")
    # close it: the contact's survey link, answered without login, once
    for to in ("assigned", "answered", "closed"):
        assert step(alice_api, t["id"], to).status_code == 200
    from sqlalchemy import select

    from crm_host.models import OutboxMessage

    with crm_app.extensions["crm"].db.session_scope() as s:
        url = next(
            m.data["survey_url"]
            for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "service.survey"))
            if m.data["ticket_id"] == t["id"]
        )
    path = "/service/survey/" + url.rsplit("/", 1)[1]
    anon = browser.new_context(
        viewport={"width": width, "height": 900}, locale="zh-TW" if lang != "en" else "en-US"
    )
    sp = anon.new_page()
    sp.goto(live_server + path)
    sp.click("label[for=score-4]")
    sp.fill("#comment", "處理得很快")
    _shot(sp, f"survey-{lang}-{width}")
    sp.click("[data-testid=send-survey]")
    sp.wait_for_selector("[data-testid=survey-thanks]")
    sp.goto(live_server + path)
    sp.wait_for_selector("[data-testid=survey-answered]")
    _shot(sp, f"survey-again-{lang}-{width}")
    sp.goto(live_server + path[:-4] + "xxxx")
    sp.wait_for_selector("[data-testid=survey-error]")
    _shot(sp, f"survey-forged-{lang}-{width}")
    anon.close()
    # reports, dashboard, the customer's 360° panel
    leader_page.goto(f"{live_server}/service/reports")
    leader_page.wait_for_selector(
        "[data-testid=report-satisfaction] .crm-chart canvas, [data-testid=report-satisfaction] .crm-chart svg"
    )
    _shot(leader_page, f"reports-{lang}-{width}")
    page.goto(f"{live_server}/customers/{c['id']}")
    page.wait_for_selector("[data-panel='service.tickets'] [data-testid=customer-tickets]")
    _shot(page, f"customer-panel-{lang}-{width}")
    page.goto(f"{live_server}/service/")
    _shot(page, f"list-{lang}-{width}")


def test_settings_page(live_server, browser, make_user, service):
    admin = make_user("admin")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    browser_login(page, live_server, admin.email)
    page.goto(f"{live_server}/service/settings")
    page.fill("#holiday input[name=day]", "2026-12-25")
    page.fill("#holiday input[name=name]", "Christmas")
    page.click("[data-testid=add-holiday]")
    page.wait_for_selector("#holiday >> text=Christmas")
    _shot(page, "settings-en-1366")
