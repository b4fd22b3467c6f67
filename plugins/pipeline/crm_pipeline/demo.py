"""Sample deals for `crm demo`: deals in every stage and status for the demo sales people's
customers, activities over the last months, appointments, competitors, urges, won deals with
order lines and payments (one overdue), and this month's and quarter's targets."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select

from crm_host.db import utcnow

from . import services

PRODUCTS = {
    "zh_Hant": [
        ("ERP 授權", 12000),
        ("CRM 雲端訂閱（年）", 36000),
        ("導入顧問服務（人天）", 8000),
        ("POS 收銀機", 15800),
        ("年度維護合約", 60000),
    ],
    "zh_Hans": [
        ("ERP 授权", 12000),
        ("CRM 云端订阅（年）", 36000),
        ("实施顾问服务（人天）", 8000),
        ("POS 收银机", 15800),
        ("年度维护合同", 60000),
    ],
    "en": [
        ("ERP licence", 12000),
        ("CRM cloud subscription (year)", 36000),
        ("Implementation consulting (day)", 8000),
        ("POS terminal", 15800),
        ("Annual maintenance", 60000),
    ],
}
DEAL_NAMES = {
    "zh_Hant": [
        "ERP 系統導入",
        "門市 POS 汰換",
        "CRM 雲端升級",
        "年度維護續約",
        "倉儲系統擴充",
        "總部網路建置",
    ],
    "zh_Hans": [
        "ERP 系统实施",
        "门店 POS 更换",
        "CRM 云端升级",
        "年度维护续约",
        "仓储系统扩容",
        "总部网络建设",
    ],
    "en": [
        "ERP rollout",
        "Store POS refresh",
        "CRM cloud upgrade",
        "Maintenance renewal",
        "Warehouse system expansion",
        "Head office network",
    ],
}
TEXT = {
    "zh_Hant": {
        "call": "電話追蹤報價",
        "visit": "拜訪採購經理",
        "meeting": "需求訪談會議",
        "email": "寄送產品型錄",
        "ok": "客戶有興趣，下週回覆",
        "lost": ["價格太高", "選擇了競爭對手", "預算凍結"],
        "comp": ("鼎新電腦", "低價搶單", "在地服務據點多"),
        "urge": "這張單本月要結，請本週內安排報價會議。",
        "appt": "報價說明會",
        "where": "客戶會議室",
        "src": ["官網", "轉介紹", "展覽", "電話開發"],
        "delivery": "第一批授權與安裝",
    },
    "zh_Hans": {
        "call": "电话跟进报价",
        "visit": "拜访采购经理",
        "meeting": "需求访谈会议",
        "email": "发送产品目录",
        "ok": "客户有兴趣，下周回复",
        "lost": ["价格太高", "选择了竞争对手", "预算冻结"],
        "comp": ("用友软件", "低价抢单", "本地服务网点多"),
        "urge": "这张单本月要结，请本周内安排报价会议。",
        "appt": "报价说明会",
        "where": "客户会议室",
        "src": ["官网", "转介绍", "展会", "电话开发"],
        "delivery": "第一批授权与安装",
    },
    "en": {
        "call": "Call about the quote",
        "visit": "Visit the purchasing manager",
        "meeting": "Requirements workshop",
        "email": "Send the product catalogue",
        "ok": "Interested; will answer next week",
        "lost": ["Price too high", "Chose a competitor", "Budget frozen"],
        "comp": ("Acme Software", "Undercuts on price", "Local support offices"),
        "urge": "This one must close this month: set up the quote meeting this week.",
        "appt": "Quote presentation",
        "where": "Customer's meeting room",
        "src": ["Website", "Referral", "Trade show", "Cold call"],
        "delivery": "First licences and installation",
    },
}


def fill(session, users, locale: str = "zh_Hant", per_owner: int = 24) -> None:
    from crm_customers.models import Customer

    rng = random.Random(20261125)
    loc = locale if locale in TEXT else "en"
    t = TEXT[loc]
    stages = services.stages(session, active_only=True)
    today = date.today()
    now = utcnow()
    owners = [users["sales"], users["sales2"], users["leader"]]
    all_deals = []
    for owner in owners:
        customers = list(
            session.scalars(
                select(Customer)
                .where(Customer.owner_id == owner.id, Customer.deleted_at.is_(None))
                .order_by(Customer.id)
                .limit(60)
            )
        )
        if not customers:
            continue
        for i in range(per_owner):
            c = customers[i % len(customers)]
            products = PRODUCTS[loc]
            amount = rng.choice(products)[1] * rng.randint(2, 30)
            close = today + timedelta(days=rng.randint(-20, 150))
            d = services.create_deal(
                session,
                owner,
                {
                    "name": f"{c.short_name or c.name} · {rng.choice(DEAL_NAMES[loc])}",
                    "customer_id": c.id,
                    "amount": amount,
                    "expected_close": close,
                    "source": rng.choice(t["src"]),
                    "stage_id": stages[i % len(stages)].id,
                },
            )
            created = now - timedelta(days=rng.randint(5, 200))
            d.created_at = created
            roll = i % 8
            if roll in (5, 6):  # won, spread over the year for the performance chart
                services.change_status(session, owner, d, "won")
                d.won_on = max(today - timedelta(days=rng.randint(0, 150)), created.date())
                if roll == 6 and d.won_on < today - timedelta(days=60):
                    services.change_status(session, owner, d, "completed")
            elif roll == 7:
                services.change_status(session, owner, d, "lost", rng.choice(t["lost"]))
            all_deals.append((owner, c, d))
            # activities: a few done over the last months, one planned
            for _k in range(rng.randint(1, 4)):
                kind = rng.choice(["call", "visit", "meeting", "email"])
                services.create_activity(
                    session,
                    owner,
                    {
                        "customer_id": c.id,
                        "deal_id": d.id,
                        "kind": kind,
                        "status": "done",
                        "subject": t[kind],
                        "result": t["ok"],
                        "done_at": now
                        - timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 8)),
                    },
                )
            if d.status == "tracking" and rng.random() < 0.5:
                services.create_activity(
                    session,
                    owner,
                    {
                        "customer_id": c.id,
                        "deal_id": d.id,
                        "kind": "call",
                        "status": "planned",
                        "subject": t["call"],
                        "planned_at": now + timedelta(days=rng.randint(-2, 10), hours=2),
                    },
                )
    session.flush()
    # Won deals: order lines, contract, a delivery, payments (one overdue).
    for n, (owner, _c, d) in enumerate(x for x in all_deals if x[2].status in ("won", "completed")):
        for product, price in rng.sample(PRODUCTS[loc], k=2):
            services.add_line(
                session,
                owner,
                d,
                {
                    "product": product,
                    "quantity": rng.randint(1, 10),
                    "unit_price": price,
                    "discount": rng.choice([0, 0, 5, 10]),
                },
            )
        d.contract_no = f"HT-{d.won_on.year}-{n + 1:03d}"
        d.contract_signed_on = d.won_on
        d.contract_start = d.won_on
        d.contract_end = d.won_on.replace(year=d.won_on.year + 1) - timedelta(days=1)
        services.add_delivery(
            session,
            owner,
            d,
            {"delivered_on": d.won_on + timedelta(days=7), "description": t["delivery"]},
        )
        half = services.money(d.amount / 2)
        p1 = services.add_payment(
            session, owner, d, {"due_on": d.won_on + timedelta(days=30), "amount": half}
        )
        services.add_payment(
            session,
            owner,
            d,
            {"due_on": d.won_on + timedelta(days=90), "amount": services.money(d.amount - half)},
        )
        if n % 3 != 0 and p1.due_on <= today:
            p1.received_on = p1.due_on
            p1.received_amount = p1.amount
    # Competitors, urges, appointments on a few open deals.
    open_deals = [x for x in all_deals if x[2].status == "tracking"]
    for owner, _c, d in open_deals[:6]:
        name, strategy, strengths = t["comp"]
        services.add_competitor(
            session,
            owner,
            d,
            {
                "name": name,
                "strategy": strategy,
                "strengths": strengths,
                "price": services.money(d.amount * 9 / 10),
            },
        )
    for _owner, _c, d in open_deals[:3]:
        services.urge(session, users["leader"], d, t["urge"])
    for k, (owner, _c, d) in enumerate(open_deals[:8]):
        start = (now + timedelta(days=k, hours=1)).replace(minute=0, second=0, microsecond=0)
        services.create_appointment(
            session,
            owner,
            {
                "subject": t["appt"],
                "starts_at": start,
                "ends_at": start + timedelta(hours=1),
                "location": t["where"],
                "deal_id": d.id,
                "remind_minutes": 30,
                "remind_user_ids": [owner.id],
            },
        )
    # Targets: this month and this quarter, per sales person and per department.
    for kind in ("month", "quarter"):
        start = services.period_start(kind, today)
        factor = 1 if kind == "month" else 3
        for owner in owners:
            services.set_target(
                session,
                users["leader"],
                {
                    "period_kind": kind,
                    "period_start": start,
                    "user_id": owner.id,
                    "amount": rng.choice([300000, 400000, 500000]) * factor,
                },
            )
        for dept_id in {o.department_id for o in owners if o.department_id}:
            services.set_target(
                session,
                users["leader"],
                {
                    "period_kind": kind,
                    "period_start": start,
                    "department_id": dept_id,
                    "amount": 1200000 * factor,
                },
            )
    session.flush()
