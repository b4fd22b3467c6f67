"""Customers in headless Chromium: create through the form, add a contact, find it by a
Chinese substring with the live search, open the 360° page; desktop and phone; screenshots
in test-artifacts/ for a person to look at."""

from pathlib import Path

import pytest

from crm_host.testing import browser_login

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(350)
    page.screenshot(path=str(ARTIFACTS / f"customers-{name}.png"), full_page=True)


@pytest.mark.parametrize("width,lang", [(1366, "en"), (390, "zh_Hant")])
def test_create_search_and_360(live_server, browser, make_user, customers, width, lang):
    user = make_user("sales", name="陳小明")
    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, user.email)
    if lang != "en":
        page.click("[data-testid=language-menu]")
        page.click(f"button[data-lang={lang}]")
    page.goto(f"{live_server}/customers/new")
    page.fill("#f-name", "北京海宇勇創科技有限公司")
    page.fill("#f-phone", "(010) 62123456")
    page.fill("#f-email", "info@haiyu.example.cn")
    page.fill("#f-tags", "vip, 北區")
    _shot(page, f"form-{lang}-{width}")
    page.click("form button[type=submit].btn-primary")
    page.wait_for_url(f"{live_server}/customers/*")
    assert "北京海宇勇創科技有限公司" in page.locator("h1").inner_text()

    page.click("[data-testid=contacts] >> xpath=.. >> a.btn-outline-primary")
    page.fill("#f-name", "王小明")
    page.fill("#f-mobile", "+86 139 1234 5678")
    page.click("form button[type=submit].btn-primary")
    page.wait_for_selector("[data-testid=contacts] >> text=王小明")
    _shot(page, f"360-{lang}-{width}")

    page.goto(f"{live_server}/customers/")
    page.fill("#q", "海宇")
    page.wait_for_selector("[data-testid=customer-table] >> text=北京海宇勇創科技有限公司")
    page.fill("#q", "no such company")
    page.wait_for_selector(
        "[data-testid=customer-table] >> text=No customers match."
        if lang == "en"
        else "[data-testid=customer-table] tbody tr >> nth=0"
    )
    page.fill("#q", "")
    _shot(page, f"list-{lang}-{width}")
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2

    page.goto(f"{live_server}/customers/lookup?phone=62123456&go=1")
    assert "北京海宇勇創科技有限公司" in page.locator("h1").inner_text()
