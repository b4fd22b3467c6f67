"""The knowledge base in headless Chromium: browse and search, an article, its history, the
editor, products, competitors, documents, the packs screen and the public help center;
desktop and phone, English and Chinese; screenshots in test-artifacts/ to look at."""

from pathlib import Path

import pytest

from crm_host.testing import browser_login

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def _shot(page, name, width):
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    page.screenshot(path=str(ARTIFACTS / f"knowledge-{name}.png"), full_page=True)
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2, name


@pytest.mark.parametrize(
    "width,lang", [(1366, "en"), (390, "en"), (1366, "zh_Hant"), (390, "zh_Hant")]
)
def test_knowledge_in_the_browser(
    live_server, browser, crm_app, enable_modules, make_user, width, lang
):
    from crm_knowledge import demo

    enable_modules("knowledge")
    roles = {
        "admin": "admin",
        "leader": "leader",
        "sales": "sales",
        "sales2": "sales",
        "service": "service",
        "staff": "staff",
    }
    users = {k: make_user(r) for k, r in roles.items()}
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context(), db.session_scope() as s:
        demo.fill(s, {k: s.merge(u) for k, u in users.items()}, lang)

    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, users["leader"].email)
    if lang != "en":
        page.click("[data-testid=language-menu]")
        page.click(f"button[data-lang={lang}]")
    page.goto(f"{live_server}/knowledge/")
    _shot(page, f"index-{lang}-{width}", width)
    q = "保固" if lang != "en" else "warranty"
    page.fill("[data-testid=kb-search]", q)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=kb-results] mark")
    _shot(page, f"search-{lang}-{width}", width)
    page.locator("[data-testid=kb-results] a.kb-title").first.click()
    page.wait_for_selector("[data-testid=kb-body]")
    page.click("[data-testid=vote-yes]")
    page.wait_for_selector("[data-testid=kb-body]")
    _shot(page, f"article-{lang}-{width}", width)

    # Edit it (a script in the text stays inert), then look at the history.
    page.click("[data-testid=edit-article]")
    page.wait_for_selector("[data-testid=article-form]")
    _shot(page, f"form-{lang}-{width}", width)
    page.fill("#body", page.input_value("#body") + "\n\n<script>alert('x')</script>")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.click("[data-testid=article-submit]")
    page.wait_for_selector("[data-testid=kb-body]")
    assert dialogs == []
    page.click("[data-testid=history]")
    page.wait_for_selector("[data-testid=diff]")
    _shot(page, f"history-{lang}-{width}", width)

    for name, url in (
        ("products", "/knowledge/products"),
        ("competitors", "/knowledge/competitors"),
        ("documents", "/knowledge/documents"),
        ("insights", "/knowledge/articles/insights"),
    ):
        page.goto(f"{live_server}{url}")
        _shot(page, f"{name}-{lang}-{width}", width)
    page.goto(f"{live_server}/knowledge/competitors")
    page.locator("[data-testid=competitors] a").first.click()
    page.wait_for_selector("[data-testid=competitor-products]")
    _shot(page, f"competitor-{lang}-{width}", width)

    if width > 1000:
        admin = browser.new_page(viewport={"width": width, "height": 900})
        browser_login(admin, live_server, users["admin"].email)
        if lang != "en":
            admin.click("[data-testid=language-menu]")
            admin.click(f"button[data-lang={lang}]")
        admin.goto(f"{live_server}/admin/knowledge/categories")
        _shot(admin, f"categories-{lang}-{width}", width)
        admin.goto(f"{live_server}/admin/knowledge/packs")
        _shot(admin, f"packs-{lang}-{width}", width)

    # The public help center, signed out.
    public = browser.new_page(viewport={"width": width, "height": 900})
    public.goto(f"{live_server}/kb/?lang={lang}")
    public.wait_for_selector("[data-testid=kb-public-categories]")
    _shot(public, f"public-home-{lang}-{width}", width)
    public.fill("[data-testid=kb-public-search]", "Wi-Fi")
    public.keyboard.press("Enter")
    public.wait_for_selector(".kb-row")
    _shot(public, f"public-search-{lang}-{width}", width)
    public.locator(".kb-row").first.click()
    public.wait_for_selector("[data-testid=kb-public-body]")
    public.click("[data-testid=kb-yes]")
    public.wait_for_selector("[data-testid=kb-thanks]")
    _shot(public, f"public-article-{lang}-{width}", width)
