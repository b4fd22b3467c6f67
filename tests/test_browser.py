"""End-to-end in headless Chromium: sign in, navigate by the menu, switch language, disable a
module in the admin area and see its menu go; phone width too. Screenshots land in
test-artifacts/ for a human to look at."""

from pathlib import Path

import pytest

from crm_host.testing import browser_login

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_menu_language_and_module_switch(live_server, browser, make_user, enable_modules, crm_app):
    from flask_babel import force_locale, gettext

    enable_modules("alpha", "beta")
    admin = make_user("admin", name="Ada Admin")
    page = browser.new_page(viewport={"width": 1366, "height": 860})
    page.goto(f"{live_server}/login")
    _shot(page, "login-desktop-en")
    browser_login(page, live_server, admin.email)
    _shot(page, "dashboard-desktop-en")

    # Navigate by the menu.
    page.click("[data-menu-id=alpha]")
    page.wait_for_url(f"{live_server}/alpha/")
    assert page.locator("h1").inner_text() == "Alpha"

    # Switch language: Traditional Chinese, then Simplified.
    for code, lang in (("zh_Hant", "zh-Hant"), ("zh_Hans", "zh-Hans")):
        page.click("[data-testid=language-menu]")
        page.click(f"button[data-lang={code}]")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == lang
        with crm_app.test_request_context(), force_locale(code):
            expected = gettext("Dashboard")
        assert expected != "Dashboard"
        assert page.locator("[data-menu-id=dashboard]").inner_text().strip() == expected
    page.goto(f"{live_server}/")
    _shot(page, "dashboard-desktop-zh_Hans")
    page.goto(f"{live_server}/admin/modules")
    _shot(page, "modules-desktop-zh_Hans")

    # Back to English, disable beta in the admin area: its menu goes.
    page.click("[data-testid=language-menu]")
    page.click("button[data-lang=en]")
    page.goto(f"{live_server}/admin/modules")
    assert page.locator("[data-menu-id=beta]").count() == 1
    page.click("[data-module=beta] [data-action=disable]")
    page.wait_for_load_state()
    assert "Disabled: beta" in page.content()
    assert page.locator("[data-menu-id=beta]").count() == 0
    assert page.locator("[data-module=beta] [data-state=disabled]").count() == 1
    _shot(page, "modules-desktop-en")
    resp = page.goto(f"{live_server}/beta/")
    assert resp.status == 404


def test_phone_width(live_server, browser, make_user, enable_modules):
    enable_modules("alpha")
    user = make_user("sales", name="陳小明")
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(f"{live_server}/login")
    _shot(page, "login-phone")
    browser_login(page, live_server, user.email)
    # The sidebar is folded away; the menu button opens it.
    assert not page.locator("[data-menu-id=alpha]").is_visible()
    page.click("[data-bs-toggle=offcanvas]")
    page.locator("[data-menu-id=alpha]").wait_for(state="visible")
    page.wait_for_timeout(500)  # let the slide-in finish before the picture
    _shot(page, "menu-open-phone")
    page.click("[data-menu-id=alpha]")
    page.wait_for_url(f"{live_server}/alpha/")
    # Nothing overflows sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 392
    page.click("[data-testid=language-menu]")
    page.click("button[data-lang=zh_Hant]")
    page.goto(f"{live_server}/")
    _shot(page, "dashboard-phone-zh_Hant")
