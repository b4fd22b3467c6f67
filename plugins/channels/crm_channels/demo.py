"""Demo data (``crm demo``): inbox messages, calendar entries and a mailing draft."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from .models import CalendarEntry, InboxMessage, Mailing

TEXT = {
    "en": {
        "welcome": (
            "Welcome to your inbox",
            "Notifications for you arrive here: urges, "
            "appointment reminders, payment reminders. Choose where each kind reaches "
            "you under Notification settings.",
        ),
        "urge": (
            "Urge: the Acme quotation is waiting for you",
            "Your manager asks you to follow up the quotation sent last week.",
        ),
        "payment": (
            "Payment reminder: invoice INV-2026-0042 is due tomorrow",
            "Remind the customer and record the payment once it arrives.",
        ),
        "weekly": "Weekly sales meeting",
        "visit": "Visit the customer with the new catalogue",
        "call": "Call back about the order",
        "review": "Quarterly review",
        "room": "Meeting room 3",
        "mailing": (
            "Spring price list",
            "Our spring price list for {customer_name}",
            "Dear {contact_name},\n\nPlease find our new spring prices on our website. "
            "{owner_name} is glad to answer your questions.\n\nBest regards,\n{owner_name}",
        ),
    },
    "zh_Hant": {
        "welcome": (
            "歡迎使用收件匣",
            "催辦、約會提醒、收款提醒等通知都會送到這裡。"
            "可在「通知設定」中選擇每種通知的接收方式。",
        ),
        "urge": ("催辦：宏達公司的報價單正在等您處理", "主管請您跟進上週寄出的報價單。"),
        "payment": ("收款提醒：發票 INV-2026-0042 明天到期", "請提醒客戶，收到款項後記錄收款。"),
        "weekly": "每週業務會議",
        "visit": "帶新型錄拜訪客戶",
        "call": "回電確認訂單",
        "review": "季度檢討",
        "room": "第三會議室",
        "mailing": (
            "春季價目表",
            "{customer_name}：春季價目表",
            "{contact_name} 您好：\n\n我們的春季新價目已上線，歡迎參閱。"
            "如有任何問題，{owner_name} 很樂意為您解答。\n\n敬祝 商祺\n{owner_name}",
        ),
    },
    "zh_Hans": {
        "welcome": (
            "欢迎使用收件箱",
            "催办、约会提醒、收款提醒等通知都会送到这里。可在“通知设置”中选择每种通知的接收方式。",
        ),
        "urge": ("催办：宏达公司的报价单正在等您处理", "主管请您跟进上周发出的报价单。"),
        "payment": ("收款提醒：发票 INV-2026-0042 明天到期", "请提醒客户，收到款项后记录收款。"),
        "weekly": "每周销售会议",
        "visit": "带新产品目录拜访客户",
        "call": "回电确认订单",
        "review": "季度回顾",
        "room": "第三会议室",
        "mailing": (
            "春季价目表",
            "{customer_name}：春季价目表",
            "{contact_name} 您好：\n\n我们的春季新价目已上线，欢迎查阅。"
            "如有任何问题，{owner_name} 很乐意为您解答。\n\n顺祝商祺\n{owner_name}",
        ),
    },
}


def fill(session, users, locale: str = "en") -> None:
    t = TEXT.get(locale, TEXT["en"])
    now = datetime.now(timezone.utc)
    today = now.date()
    for role in ("admin", "leader", "sales", "sales2", "service", "staff"):
        u = users.get(role)
        if u is None:
            continue
        session.add(
            InboxMessage(
                user_id=u.id,
                kind="channels.welcome",
                subject=t["welcome"][0],
                body=t["welcome"][1],
                created_at=now - timedelta(days=2),
                read_at=now - timedelta(days=1),
            )
        )
    for role, key, hours in (
        ("sales", "urge", 3),
        ("sales", "payment", 20),
        ("leader", "payment", 5),
    ):
        u = users.get(role)
        if u is not None:
            session.add(
                InboxMessage(
                    user_id=u.id,
                    kind=f"demo.{key}",
                    subject=t[key][0],
                    body=t[key][1],
                    created_at=now - timedelta(hours=hours),
                )
            )

    def at(days, hour, minute=0):
        return datetime.combine(
            today + timedelta(days=days), time(hour, minute), tzinfo=timezone.utc
        )

    for role in ("sales", "sales2", "leader"):
        u = users.get(role)
        if u is None:
            continue
        monday = -today.weekday()
        for w in range(-2, 4):
            session.add(
                CalendarEntry(
                    user_id=u.id,
                    title=t["weekly"],
                    kind="meeting",
                    start_at=at(monday + 7 * w, 1, 30),
                    end_at=at(monday + 7 * w, 2, 30),
                    location=t["room"],
                )
            )
        session.add(
            CalendarEntry(
                user_id=u.id,
                title=t["visit"],
                kind="appointment",
                start_at=at(1, 6),
                end_at=at(1, 8),
                remind_minutes=60,
            )
        )
        session.add(
            CalendarEntry(
                user_id=u.id, title=t["call"], kind="reminder", start_at=at(2, 3), remind_minutes=15
            )
        )
        session.add(
            CalendarEntry(
                user_id=u.id, title=t["review"], kind="meeting", start_at=at(9, 0), all_day=True
            )
        )
    sender = users.get("sales")
    if sender is not None:
        name, subject, body = t["mailing"]
        session.add(
            Mailing(
                name=name,
                audience="customers.filter",
                params={"grade": "A"},
                subject=subject,
                body=body,
                status="draft",
                rate_per_minute=300,
                created_by=sender.id,
            )
        )
    session.flush()
