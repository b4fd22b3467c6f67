"""Channels in headless Chromium: the inbox with its header badge, the calendar month view
with an entry added through the form, a mailing with its totals, the notification settings;
English and Traditional Chinese, desktop (1366) and phone (390). Screenshots go to
test-artifacts/ for a person to look at."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crm_host.models import User
from crm_host.notify import notify
from crm_host.testing import browser_login

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"channels-{name}.png"), full_page=True)


def _seed(app, user, deliver):
    import channels_probe

    db = app.extensions["crm"].db
    rt = app.extensions["crm"].runtime()
    msgs = [
        ("催辦：宏達公司的報價單正在等您處理", "主管請您跟進上週寄出的報價單，今天下班前回覆。"),
        (
            "Payment reminder: invoice INV-2026-0042 is due tomorrow",
            "Remind the customer and record the payment once it arrives.",
        ),
        ("約會提醒：明天 10:00 拜訪台北市永豐貿易", "帶新型錄與報價單。"),
        (
            "New deal assigned to you: Acme Trading — 120 licences",
            "Stage: proposal. Expected close: next month.",
        ),
    ]
    with db.session_scope() as s:
        with app.app_context():
            u = s.get(User, user.id)
            for subject, body in msgs:
                notify(
                    s,
                    "probe.urge",
                    subject,
                    body,
                    users=[u],
                    channels=["inbox"],
                    runtime=rt,
                    data={"url": "/channels/calendar"},
                )
    deliver()
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    for i, (title, kind, days, hour) in enumerate(
        [
            ("Visit Acme Trading", "appointment", 1, 2),
            ("永豐貿易 簽約", "appointment", 3, 6),
            ("Follow up quotation Q-118", "reminder", 4, 1),
            ("收款：INV-0042", "reminder", 8, 2),
        ]
    ):
        channels_probe.EVENTS.append(
            channels_probe.appointment(
                user.id, today + timedelta(days=days, hours=hour), uid=f"probe-{i}", title=title
            )
            | {"kind": kind}
        )
    client = app.test_client()
    from crm_channels import agenda

    with db.session_scope() as s:
        u = s.get(User, user.id)
        monday = today - timedelta(days=today.weekday())
        for w in range(-1, 5):
            agenda.create_entry(
                s,
                u,
                {
                    "title": "Weekly sales meeting",
                    "kind": "meeting",
                    "start": monday + timedelta(days=7 * w, hours=1, minutes=30),
                    "end": monday + timedelta(days=7 * w, hours=2, minutes=30),
                },
            )
        agenda.create_entry(
            s,
            u,
            {
                "title": "季度檢討 Quarterly review",
                "kind": "meeting",
                "start": today + timedelta(days=10),
                "all_day": True,
            },
        )
    return client


def _mailing(app, api_client, deliver, smtp):
    for i in range(12):
        r = api_client.post(
            "/api/v1/customers", json={"name": f"客戶 {i:02d} 貿易有限公司", "grade": "A"}
        )
        cid = r.get_json()["id"]
        email = f"buyer{i}@example.test" if i != 5 else None
        api_client.post(
            f"/api/v1/customers/{cid}/contacts",
            json={"name": f"王{i:02d}", "email": email, "is_primary": True}
            if email
            else {"name": f"王{i:02d}", "is_primary": True},
        )
    r = api_client.post(
        "/api/v1/mailings",
        json={
            "name": "Spring price list 2026",
            "audience": "customers.filter",
            "params": {"grade": "A"},
            "subject": "{customer_name}: spring prices",
            "body": "Dear {contact_name}, ...",
            "send": True,
            "rate_per_minute": 100000,
        },
    )
    mid = r.get_json()["id"]
    from crm_channels import mailings
    from crm_channels.models import Unsubscribe

    with app.extensions["crm"].db.session_scope() as s:
        s.add(Unsubscribe(email="buyer3@example.test"))
    with app.extensions["crm"].db.session_scope() as s:
        with app.app_context():
            mailings.run_due(s, runtime=app.extensions["crm"].runtime())
    app.config["CRM_SMTP_PORT"] = 1  # the last ones fail: the page shows failures too
    from crm_channels import settings

    deliver_part = __import__("crm_host.notify", fromlist=["deliver"])
    token, ids = deliver_part.claim(app.extensions["crm"].db, "shot", 100)
    rt = app.extensions["crm"].runtime()
    with app.app_context():
        for n, mid_ in enumerate(ids):
            if n == len(ids) - 2:
                app.config["CRM_SMTP_PORT"] = 1
                settings.invalidate()
            elif n == 0:
                app.config["CRM_SMTP_PORT"] = smtp.port
                settings.invalidate()
            deliver_part.deliver(app.extensions["crm"].db, rt, mid_, "shot", token)
    app.config["CRM_SMTP_PORT"] = smtp.port
    settings.invalidate()
    return mid


@pytest.mark.parametrize(
    "width,lang", [(1366, "en"), (390, "zh_Hant"), (1366, "zh_Hant"), (390, "en")]
)
def test_channel_pages(
    live_server,
    browser,
    make_user,
    channels,
    enable_modules,
    smtp_config,
    deliver,
    api,
    width,
    lang,
):
    enable_modules("customers")
    user = make_user("sales", name="陳小明")
    _seed(channels, user, deliver)
    mid = _mailing(channels, api(user), deliver, smtp_config)
    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, user.email)
    if lang != "en":
        page.click("[data-testid=language-menu]")
        page.click(f"button[data-lang={lang}]")
    # header badge with the unread count
    assert page.locator("[data-testid=header-badge]").inner_text() == "4"
    page.goto(f"{live_server}/channels/inbox")
    first = page.locator("[data-testid=inbox-list] a").first
    first.click()
    page.wait_for_selector("[data-testid=message]")
    assert page.locator("[data-testid=header-badge]").inner_text() == "3"
    _shot(page, f"inbox-{lang}-{width}")

    page.goto(f"{live_server}/channels/calendar")
    page.fill("#title", "客戶拜訪 Demo" if lang != "en" else "Demo with Beta Ltd")
    page.fill("#start_time", "03:00")
    page.fill("#end_time", "04:00")
    page.click("#entry-form button[type=submit]")
    page.wait_for_selector("[data-testid=month]")
    assert page.locator(".ch-ev", has_text="Demo").count() >= 1
    _shot(page, f"calendar-month-{lang}-{width}")
    if width > 500:
        page.goto(f"{live_server}/channels/calendar?view=week")
        _shot(page, f"calendar-week-{lang}-{width}")

    page.goto(f"{live_server}/channels/mailings/{mid}")
    page.wait_for_selector("[data-testid=totals]")
    sent = page.locator("[data-total=sent] .v").inner_text()
    assert int(sent) >= 1
    _shot(page, f"mailing-{lang}-{width}")
    page.goto(f"{live_server}/channels/mailings/new?audience=customers.filter&p_grade=A")
    page.fill("#name", "Summer")
    page.fill("#subject", "{customer_name}: summer")
    page.fill("#body", "Dear {contact_name},\n{bogus}")
    page.click("[data-testid=preview-btn]")
    page.wait_for_selector("[data-testid=error-body]")
    page.fill("#body", "Dear {contact_name},\nsummer is here.")
    page.click("[data-testid=preview-btn]")
    page.wait_for_selector("[data-testid=preview]")
    _shot(page, f"mailing-new-{lang}-{width}")

    page.goto(f"{live_server}/profile/notifications")
    _shot(page, f"preferences-{lang}-{width}")
    if width < 500:
        for path in ("/channels/inbox", "/channels/calendar", f"/channels/mailings/{mid}"):
            page.goto(live_server + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 2, path
    page.close()
