"""The pack as an administrator and a customer see it, in headless Chromium: Administration →
Knowledge packs lists it, Install imports it, and the public help center shows its articles in
the visitor's language (an internal one is never found). Desktop and phone, English and
Traditional Chinese; screenshots in test-artifacts/ for a person to look at."""

from pathlib import Path

import pytest
from insurance_faq_testkit import articles

from crm_host.testing import browser_login

pytest.importorskip("crm_knowledge.packs", reason="the knowledge module is not installed")
pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
ARTICLES = articles()


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    page.screenshot(path=str(ARTIFACTS / f"insurance-faq-{name}.png"), full_page=True)


@pytest.mark.parametrize(
    "width,lang", [(1366, "en"), (390, "en"), (1366, "zh_Hant"), (390, "zh_Hant")]
)
def test_install_from_the_admin_screen_then_read_it_in_the_help_center(
    live_server, browser, enable_modules, make_user, width, lang
):
    enable_modules("insurance_faq")
    admin = make_user("admin", name="管理員 Admin" if lang != "en" else "Ada Admin")

    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, admin.email)
    if lang != "en":
        page.click("[data-testid=language-menu]")
        page.click(f"button[data-lang={lang}]")
    page.goto(f"{live_server}/admin/knowledge/packs")
    title = "Insurance FAQ" if lang == "en" else "保險常見問題"
    assert title in page.inner_text("[data-testid=packs]")
    _shot(page, f"packs-{lang}-{width}")
    page.click("[data-testid=install-insurance-faq]")
    page.wait_for_selector("[data-testid=pack-report]")
    assert "33" in page.inner_text("[data-testid=pack-report]")
    _shot(page, f"installed-{lang}-{width}")

    # The public help center: a visitor without an account, in their language.
    visitor = browser.new_page(viewport={"width": width, "height": 900})
    visitor.goto(f"{live_server}/kb/?lang={lang}")
    _shot(visitor, f"kb-home-{lang}-{width}")
    query = "deductible" if lang == "en" else "自負額"
    visitor.goto(f"{live_server}/kb/search?q={query}&lang={lang}")
    wanted = ARTICLES["deductible"][lang][0]["title"]
    visitor.get_by_text(wanted, exact=True).first.click()
    visitor.wait_for_load_state()
    assert visitor.locator("h1").first.inner_text().strip() == wanted
    assert visitor.locator("table").count() >= 1  # the Markdown table of deductible forms
    _shot(visitor, f"kb-article-{lang}-{width}")
    internal = ARTICLES["claim-triage-guidelines"][lang][0]["title"]
    visitor.goto(f"{live_server}/kb/search?q={'triage' if lang == 'en' else '分流'}&lang={lang}")
    assert internal not in visitor.content()
