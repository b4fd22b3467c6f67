"""The pipeline in headless Chromium: open a deal from a customer (its details filled in),
move it through the stages, log an activity, win it, add an order line and a payment, urge
and hand over as a leader, set targets, read the reports; desktop and phone, English and
Chinese; screenshots in test-artifacts/ for a person to look at."""

from pathlib import Path

import pytest

from crm_host.testing import browser_login

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / f"pipeline-{name}.png"), full_page=True)


def _lang(page, lang):
    if lang != "en":
        page.click("[data-testid=language-menu]")
        page.click(f"button[data-lang={lang}]")


@pytest.mark.parametrize(
    "width,lang", [(1366, "en"), (390, "zh_Hant"), (1366, "zh_Hant"), (390, "en")]
)
def test_deal_flow(live_server, browser, crm_app, make_user, team, width, lang):
    from crm_host.testing import APIClient  # noqa: F401

    alice, leader = team["alice"], team["leader"]
    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, alice.email)
    _lang(page, lang)
    # a customer with a contact, through the customers module's own page
    page.goto(f"{live_server}/customers/new")
    page.fill("#f-name", "台北市海宇科技股份有限公司")
    page.fill("#f-phone", "02-2345-6789")
    page.fill("#f-city", "台北市")
    page.click("form button[type=submit].btn-primary")
    page.wait_for_url(f"{live_server}/customers/*")
    customer_url = page.url
    # the 360° page offers "New deal" in the deals panel
    page.click("[data-panel='pipeline.deals'] a[href*='/pipeline/new']")
    page.wait_for_selector("[data-testid=customer-details] >> text=02-2345-6789")
    # the customer can also be found by typing (a big book does not fit in the list)
    page.fill("[data-testid=customer-search]", "海宇")
    page.wait_for_function(
        "document.querySelector('[data-customer-select]').selectedOptions[0]"
        " && document.querySelector('[data-customer-select]').selectedOptions[0]"
        ".textContent.includes('台北市海宇科技股份有限公司')"
    )
    page.fill("#f-name", "門市 POS 汰換")
    page.fill("#f-amount", "480000")
    page.fill("#f-expected_close", "2026-12-20")
    _shot(page, f"form-{lang}-{width}")
    page.click("[data-testid=save-deal]")
    page.wait_for_selector("[data-testid=stages]")
    assert "02-2345-6789" in page.content()
    # move two stages on
    page.locator("[data-testid=stages] button").nth(2).click()
    page.wait_for_selector("[data-testid=stages] button.btn-primary >> text=3.")
    # log a call
    page.fill("[data-testid=add-activity] input[name=subject]", "電話確認報價")
    page.fill("[data-testid=add-activity] input[name=result]", "客戶同意下週簽約")
    page.click("[data-testid=add-activity] button.btn-primary")
    page.wait_for_selector("[data-testid=activities] >> text=客戶同意下週簽約")
    deal_url = page.url.split("#")[0]
    # an appointment with a reminder, and a quote uploaded
    page.click("button[data-bs-target='#tab-appt']")
    page.fill("[data-testid=add-appointment] input[name=subject]", "報價說明會")
    page.fill("[data-testid=add-appointment] input[name=location]", "客戶會議室")
    page.click("[data-testid=add-appointment] button.btn-primary")
    page.wait_for_selector("[data-testid=activities] >> text=報價說明會")
    page.set_input_files(
        "[data-testid=upload] input[type=file]",
        files=[{"name": "報價單.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 quote"}],
    )
    page.click("[data-testid=upload] button")
    page.wait_for_selector("[data-testid=documents] >> text=報價單.pdf")
    _shot(page, f"deal-tracking-{lang}-{width}")
    # won → order line, payment
    page.click("[data-testid=mark-won]")
    page.wait_for_selector("[data-testid=order-lines]")
    page.fill("[data-testid=add-line] input[name=product]", "POS 主機")
    page.fill("[data-testid=add-line] input[name=quantity]", "12")
    page.fill("[data-testid=add-line] input[name=unit_price]", "40000")
    page.click("[data-testid=add-line] button")
    page.wait_for_selector("[data-testid=order-lines] >> text=POS 主機")
    page.fill("[data-testid=add-payment] input[name=due_on]", "2026-12-31")
    page.fill("[data-testid=add-payment] input[name=amount]", "240000")
    page.click("[data-testid=add-payment] button")
    page.wait_for_selector("[data-testid=payments] >> text=240,000.00")
    _shot(page, f"deal-won-{lang}-{width}")
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2
    page.goto(customer_url)
    page.wait_for_selector("[data-testid=customer-deals] >> text=門市 POS 汰換")
    page.goto(f"{live_server}/pipeline/")
    page.wait_for_selector("[data-testid=deal-table] >> text=門市 POS 汰換")
    _shot(page, f"list-{lang}-{width}")
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2
    page.goto(f"{live_server}/pipeline/activities")
    _shot(page, f"activities-{lang}-{width}")
    page.close()

    # the leader: urge, hand over, targets, reports, dashboard
    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, leader.email)
    _lang(page, lang)
    page.goto(deal_url)
    page.click("[data-testid=deal-more]")
    page.click("[data-testid=urge]")
    page.fill("#urge-modal textarea[name=message]", "請本週內安排交貨")
    page.click("[data-testid=send-urge]")
    page.wait_for_selector("[data-testid=urges] >> text=請本週內安排交貨")
    page.goto(f"{live_server}/pipeline/transfer")
    _shot(page, f"transfer-{lang}-{width}")
    page.goto(f"{live_server}/pipeline/targets")
    page.fill(f"input[name=user-{alice.id}]", "600000")
    page.click("[data-testid=save-targets]")
    page.wait_for_selector(f"input[name=user-{alice.id}][value='600000']")
    _shot(page, f"targets-{lang}-{width}")
    page.goto(f"{live_server}/pipeline/reports")
    page.wait_for_selector("[data-testid=funnel-report] .crm-chart svg")
    _shot(page, f"reports-{lang}-{width}")
    with page.expect_download() as dl:
        page.click("[data-testid=export-funnel-xlsx]")
    assert dl.value.suggested_filename.endswith(".xlsx")
    page.goto(f"{live_server}/")
    page.wait_for_selector("[data-testid=overdue-widget]", timeout=5000)
    _shot(page, f"dashboard-{lang}-{width}")
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2
    page.close()
