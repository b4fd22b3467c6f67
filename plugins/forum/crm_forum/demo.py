"""``crm demo``: categories, topics and replies in Chinese and English, created through the
services (so rendering, search tokens, follows and notifications apply)."""

from __future__ import annotations

from sqlalchemy import select

from crm_host.models import Role

from . import services

CATEGORIES = {
    "zh_Hant": [
        ("公告", "公司與部門的公告", True),
        ("銷售策略", "市場與銷售策略的討論", False),
        ("案例討論", "針對具體客戶與商機的案例", False),
        ("經驗分享", "把業務經驗發佈出來，與大家一起分享", False),
    ],
    "zh_Hans": [
        ("公告", "公司与部门的公告", True),
        ("销售策略", "市场与销售策略的讨论", False),
        ("案例讨论", "针对具体客户与商机的案例", False),
        ("经验分享", "把业务经验发布出来，与大家一起分享", False),
    ],
    "en": [
        ("Announcements", "News from the company and the departments", True),
        ("Sales strategy", "Markets, pricing and how we sell", False),
        ("Case discussions", "Specific customers and deals", False),
        ("Experience sharing", "What worked, what did not", False),
    ],
}

TOPICS = {
    "zh_Hant": [
        (
            0,
            "leader",
            "第四季銷售會議改到週五下午",
            "各位同仁：\n\n第四季**銷售會議**改到週五 14:00，地點三樓大會議室。\n\n- 請帶本季的客戶拜訪紀錄\n- 每人準備 3 分鐘的重點案例",
            [],
            True,
        ),
        (
            1,
            "sales",
            "大客戶續約時的報價策略",
            "最近幾個 **A 級客戶**續約，對方都要求降價 10%。\n\n大家通常怎麼處理？我的做法是：\n\n1. 先確認對方的使用量\n2. 用加值服務代替直接折扣\n\n> 價格不是唯一的談判籌碼。",
            [
                ("sales2", "同意，加值服務（例如教育訓練）比直接折扣好談。"),
                ("leader", "折扣超過 5% 請先跟我討論，我們要一致。"),
                ("sales", "Thanks, I'll offer a training package first."),
            ],
            False,
        ),
        (
            2,
            "sales2",
            "北京海宇科技：採購流程卡在法務",
            "海宇的合約已經在法務三週了，客戶說是**保密條款**的問題。\n\n有人處理過類似的情況嗎？",
            [
                ("service", "上次華東那家也是，我們提供了標準 NDA 範本，很快就過了。"),
            ],
            False,
        ),
        (
            3,
            "service",
            "客訴處理的五個經驗",
            "分享一下這一年處理客訴的心得：\n\n1. 先傾聽，不要急著解釋\n2. 24 小時內回覆\n3. 記錄在客戶檔案裡\n4. 結案後回訪\n5. 每月檢討一次",
            [
                ("sales", "第 4 點很重要，回訪之後常常還有新的商機。"),
            ],
            False,
        ),
        (
            1,
            "sales",
            "Trade fair in Shanghai: who is going?",
            "The **Shanghai trade fair** is in March. We have a booth for two days.\n\n| Day | Who |\n|---|---|\n| 1 | ? |\n| 2 | ? |",
            [
                ("sales2", "我可以第一天去。"),
            ],
            False,
        ),
    ],
    "en": [
        (
            0,
            "leader",
            "Q4 sales meeting moved to Friday afternoon",
            "Hi all,\n\nThe Q4 **sales meeting** moves to Friday 14:00, big meeting room on the 3rd floor.\n\n- Bring this quarter's visit reports\n- Prepare one 3-minute case each",
            [],
            True,
        ),
        (
            1,
            "sales",
            "Pricing strategy for key account renewals",
            "Several **A-grade customers** are asking for 10% off at renewal.\n\nHow do you handle it? What I do:\n\n1. Check their actual usage first\n2. Offer added services instead of a plain discount\n\n> Price is not the only lever.",
            [
                ("sales2", "Agreed, a training package is easier to negotiate than a discount."),
                ("leader", "Anything above 5% comes to me first, so we stay consistent."),
                ("sales", "好的，我先提供教育訓練方案。"),
            ],
            False,
        ),
        (
            2,
            "sales2",
            "Beijing Haiyu: purchase stuck in legal",
            "Haiyu's contract has been with their legal team for three weeks; the **confidentiality clause** is the problem.\n\nHas anyone dealt with this before?",
            [
                (
                    "service",
                    "Same with a customer in the east last year: our standard NDA template got it through quickly.",
                ),
            ],
            False,
        ),
        (
            3,
            "service",
            "Five lessons from handling complaints",
            "What a year of complaints taught me:\n\n1. Listen first, explain later\n2. Answer within 24 hours\n3. Record it on the customer's file\n4. Call back after closing\n5. Review once a month",
            [
                ("sales", "Point 4 matters: the call back often opens a new deal."),
            ],
            False,
        ),
        (
            1,
            "sales",
            "上海展會：誰要去？",
            "三月的**上海展會**我們有兩天的攤位。\n\n| 日 | 人 |\n|---|---|\n| 1 | ? |\n| 2 | ? |",
            [
                ("sales2", "I can do day one."),
            ],
            False,
        ),
    ],
}
TOPICS["zh_Hans"] = TOPICS["zh_Hant"]


def fill(session, users: dict, locale: str = "zh_Hant") -> None:
    if session.scalar(select(services.Category.id).limit(1)) is not None:
        return
    admin = users["admin"]
    leader_role = session.scalar(select(Role.id).where(Role.name == "leader"))
    admin_role = session.scalar(select(Role.id).where(Role.name == "admin"))
    cats = []
    for pos, (name, desc, announce) in enumerate(CATEGORIES.get(locale, CATEGORIES["en"])):
        data = {"name": name, "description": desc, "position": (pos + 1) * 10}
        if announce:  # everyone reads, leaders post
            data["post_roles"] = [r for r in (leader_role, admin_role) if r]
        cats.append(services.save_category(session, admin, data))
    session.flush()
    # Interest profiles, so new topics have someone to tell.
    services.save_profile(
        session,
        users["sales"],
        {
            "mode": "instant",
            "category_ids": [cats[2].id],
            "keywords": ["報價", "报价", "renewal", "海宇"],
        },
    )
    services.save_profile(
        session,
        users["sales2"],
        {"mode": "digest", "category_ids": [cats[1].id], "keywords": ["客訴", "complaint"]},
    )
    link = _a_customer(session, users["sales2"])
    for cat_i, who, title, body, replies, pinned in TOPICS.get(locale, TOPICS["en"]):
        data = {"category_id": cats[cat_i].id, "title": title, "body": body}
        if cat_i == 2 and link:
            data.update(link_entity=link[0], link_id=link[1])
        t = services.create_topic(session, users[who], data)
        for rwho, rbody in replies:
            services.add_reply(session, users[rwho], t, {"body": rbody})
        if pinned:
            services.update_topic(session, admin, t, {"pinned": True, "version": t.version})
    session.flush()


def _a_customer(session, user):
    """A customer the user may see, when the customers module is active (generic lookup)."""
    try:
        ents = {e.name: e for e in services.linkable_entities()}
    except Exception:
        return None
    ent = ents.get("customers.customer")
    if ent is None:
        return None
    col = getattr(ent.model, ent.owner_attr)
    rec = session.scalar(select(ent.model).where(col == user.id).order_by(ent.model.id).limit(1))
    return (ent.name, rec.id) if rec is not None else None
