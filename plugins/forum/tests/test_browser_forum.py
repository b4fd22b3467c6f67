"""The forum in headless Chromium: browse, open a topic, quote a reply, post a topic,
follow, the interests page and a customer's page with its discussions; desktop and phone,
English and Chinese; screenshots in test-artifacts/ for a person to look at."""

from pathlib import Path

import pytest

from crm_host.testing import browser_login

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"forum-{name}.png"), full_page=True)


@pytest.mark.parametrize(
    "width,lang", [(1366, "en"), (390, "en"), (1366, "zh_Hant"), (390, "zh_Hant")]
)
def test_forum_in_the_browser(
    live_server, browser, crm_app, enable_modules, make_user, width, lang
):
    from crm_forum import demo

    enable_modules("forum", "customers")
    names = (
        {
            "admin": "管理員 Admin",
            "leader": "林經理",
            "sales": "陳小明",
            "sales2": "王大同",
            "service": "李客服",
            "staff": "張助理",
        }
        if lang != "en"
        else {
            "admin": "Ada Admin",
            "leader": "Lee Leader",
            "sales": "Sam Sales",
            "sales2": "Sue Seller",
            "service": "Sid Service",
            "staff": "Stu Staff",
        }
    )
    roles = {
        "admin": "admin",
        "leader": "leader",
        "sales": "sales",
        "sales2": "sales",
        "service": "service",
        "staff": "staff",
    }
    users = {k: make_user(roles[k], name=names[k]) for k in roles}
    db = crm_app.extensions["crm"].db
    with crm_app.test_request_context(), db.session_scope() as s:
        from crm_customers import services as customers

        customers.create_customer(
            s,
            s.merge(users["sales2"]),
            {"name": "北京海宇科技有限公司" if lang != "en" else "Beijing Haiyu Tech"},
        )
    with crm_app.test_request_context(), db.session_scope() as s:
        demo.fill(s, {k: s.merge(u) for k, u in users.items()}, lang)

    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, users["sales2"].email)
    if lang != "en":
        page.click("[data-testid=language-menu]")
        page.click(f"button[data-lang={lang}]")
    page.goto(f"{live_server}/forum/")
    rows = page.locator("[data-topic-id]")
    assert rows.count() == 5
    assert "is-unread" in (rows.nth(1).get_attribute("class") or "")
    _shot(page, f"list-{lang}-{width}")
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2

    # A topic with replies: quote one and answer.
    page.locator("[data-topic-id] a.forum-topic-title").nth(1).click()
    page.wait_for_selector("[data-testid=topic-body]")
    page.locator("[data-testid=quote-link]").first.click()
    page.wait_for_selector("[data-testid=quoting]")
    page.fill(
        "#reply-body",
        "我同意，**加值服務**比較好談。" if lang != "en" else "Agreed, **added services** it is.",
    )
    page.click("[data-testid=reply-submit]")
    page.wait_for_selector("[data-testid=quote]")
    _shot(page, f"topic-{lang}-{width}")
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2

    # A new topic, with the case link to a customer.
    page.goto(f"{live_server}/forum/new")
    page.select_option("#category_id", index=2)
    page.fill("#title", "海宇的合約審查進度" if lang != "en" else "Haiyu contract review")
    page.fill("#body", "- 法務已回覆\n- 下週簽約\n\n<script>alert('x')</script>")
    page.select_option("#link_entity", "customers.customer")
    page.fill("#link_search", "海宇" if lang != "en" else "Haiyu")
    page.locator("#link_results button").first.click()
    _shot(page, f"new-{lang}-{width}")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.click("[data-testid=topic-submit]")
    page.wait_for_selector("[data-testid=linked-record]")
    assert dialogs == []  # the script in the post stayed inert
    assert "<script>" in page.locator("[data-testid=topic-body]").inner_text()

    # Its customer's page shows the discussion.
    page.locator("[data-testid=linked-record] a").click()
    page.wait_for_selector("[data-testid=forum-panel]")
    page.locator("[data-panel='forum.discussions']").scroll_into_view_if_needed()
    _shot(page, f"customer-panel-{lang}-{width}")

    page.goto(f"{live_server}/forum/profile")
    _shot(page, f"interests-{lang}-{width}")

    if width > 1000:
        # A moderator's view of a topic, and the category administration.
        page2 = browser.new_page(viewport={"width": width, "height": 900})
        browser_login(page2, live_server, users["admin"].email)
        if lang != "en":
            page2.click("[data-testid=language-menu]")
            page2.click(f"button[data-lang={lang}]")
        page2.goto(f"{live_server}/forum/")
        page2.locator("[data-topic-id] a.forum-topic-title").nth(2).click()
        page2.click("[data-testid=moderate]")
        _shot(page2, f"moderate-{lang}-{width}")
        page2.goto(f"{live_server}/admin/forum/categories")
        _shot(page2, f"categories-{lang}-{width}")
        page2.goto(f"{live_server}/")
        _shot(page2, f"dashboard-{lang}-{width}")
