"""Demo data (``crm demo``): categories, articles, Q&A, products and competitors in Chinese
and English, some public (the help center at /kb/ has something to show)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from . import catalog, services
from .models import Article, Category

CATEGORIES = [
    # key, zh_Hant, zh_Hans, en, parent
    ("products", "產品說明", "产品说明", "Products", None),
    ("billing", "帳務與付款", "账务与付款", "Billing and payment", None),
    ("support", "售後服務", "售后服务", "After-sales service", None),
    ("install", "安裝與設定", "安装与设置", "Installation and setup", "support"),
    ("sales", "銷售話術", "销售话术", "Sales playbook", None),
]

# category, kind, visibility, (zh_Hant title, body), (en title, body), tags
ARTICLES = [
    (
        "products",
        "qa",
        "public",
        (
            "智慧門鎖支援哪些開鎖方式？",
            "支援**指紋**、密碼、感應卡與手機 App 四種方式。\n\n- 指紋最多 100 組\n- 密碼可設定臨時密碼",
        ),
        (
            "Which unlocking methods does the smart lock support?",
            "**Fingerprint**, PIN code, key card and the mobile app.\n\n- Up to 100 fingerprints\n- Temporary PIN codes",
        ),
        ["門鎖", "產品"],
    ),
    (
        "products",
        "article",
        "public",
        (
            "雲端監控攝影機規格總覽",
            "| 型號 | 解析度 | 夜視 |\n|---|---|---|\n| C200 | 1080p | 10 公尺 |\n| C400 | 2K | 20 公尺 |",
        ),
        (
            "Cloud camera specifications",
            "| Model | Resolution | Night vision |\n|---|---|---|\n| C200 | 1080p | 10 m |\n| C400 | 2K | 20 m |",
        ),
        ["攝影機"],
    ),
    (
        "billing",
        "qa",
        "public",
        ("可以用哪些方式付款？", "信用卡、銀行轉帳、超商代碼繳費皆可。企業客戶可申請月結。"),
        (
            "How can I pay?",
            "Credit card, bank transfer or convenience-store payment. Business customers may ask for monthly invoicing.",
        ),
        ["付款"],
    ),
    (
        "billing",
        "qa",
        "public",
        (
            "發票如何開立與寄送？",
            "電子發票於付款後 3 個工作天內寄到您登記的電子郵件。需要統一編號請於下單時填寫。",
        ),
        (
            "How are invoices issued?",
            "E-invoices are emailed within 3 working days after payment. Give your tax ID when ordering.",
        ),
        ["發票"],
    ),
    (
        "support",
        "qa",
        "public",
        ("產品保固期多久？", "硬體保固 **2 年**，自出貨日起算；人為損壞不在保固範圍內。"),
        (
            "How long is the warranty?",
            "Hardware is covered for **2 years** from shipment; accidental damage is not covered.",
        ),
        ["保固", "售後"],
    ),
    (
        "support",
        "article",
        "internal",
        (
            "退換貨處理流程（內部）",
            "1. 確認訂單與序號\n2. 判斷是否在 7 天鑑賞期內\n3. 建立售後工單並安排取件\n\n> 超過 30 天的退貨需主管核准。",
        ),
        (
            "Returns procedure (internal)",
            "1. Check the order and serial number\n2. Within the 7-day trial period?\n3. Open an after-sales ticket and book a pickup\n\n> Returns after 30 days need a manager's approval.",
        ),
        ["退貨", "流程"],
    ),
    (
        "install",
        "qa",
        "public",
        ("門鎖安裝需要多久？", "一般木門約 1 小時；鐵門或需要開孔時約 2 小時。"),
        (
            "How long does installing a lock take?",
            "About an hour on a wooden door; two hours on a steel door or when drilling is needed.",
        ),
        ["安裝"],
    ),
    (
        "install",
        "article",
        "public",
        (
            "攝影機連不上 Wi-Fi 怎麼辦？",
            "請確認使用 **2.4 GHz** 網路、密碼正確，並將攝影機移近路由器後重新配對。",
        ),
        (
            "The camera does not connect to Wi-Fi",
            "Use a **2.4 GHz** network, check the password and move the camera closer to the router, then pair again.",
        ),
        ["攝影機", "網路"],
    ),
    (
        "sales",
        "article",
        "internal",
        (
            "面對價格異議的回應技巧",
            "先確認客戶比較的對象，再說明**總持有成本**：保固、安裝與雲端儲存。",
        ),
        (
            "Answering price objections",
            "Ask what the customer compares with, then explain the **total cost of ownership**: warranty, installation and cloud storage.",
        ),
        ["話術", "價格"],
    ),
    (
        "sales",
        "qa",
        "restricted",
        ("經銷商折扣上限是多少？", "一般經銷商 15%，白金經銷商 22%。超過需業務主管核准。"),
        (
            "What is the maximum dealer discount?",
            "15% for dealers, 22% for platinum dealers; more needs the sales leader's approval.",
        ),
        ["折扣"],
    ),
]

PRODUCTS = [
    ("智慧門鎖 L300", "KB-L300", "門鎖", "L300", "8900"),
    ("智慧門鎖 L500 Pro", "KB-L500", "門鎖", "L500", "12800"),
    ("雲端攝影機 C200", "KB-C200", "攝影機", "C200", "2490"),
    ("雲端攝影機 C400", "KB-C400", "攝影機", "C400", "3990"),
    ("雲端錄影方案（年）", "KB-CLOUD-Y", "服務", "", "1200"),
]

COMPETITORS = [
    (
        "宏遠科技",
        "https://example.com/hongyuan",
        "價格低、通路廣，售後服務較弱",
        "通路多\n價格低",
        "保固只有 1 年\n客服回覆慢",
        [("宏遠門鎖 H1", "H1", "6990", "KB-L300"), ("宏遠攝影機 V2", "V2", "1990", "KB-C200")],
    ),
    (
        "Acme Security",
        "https://example.com/acme",
        "International brand, strong in enterprise projects",
        "Brand awareness\nEnterprise integrations",
        "High price\nLong delivery times",
        [("Acme Lock Pro", "ALP-9", "15900", "KB-L500")],
    ),
    (
        "安居智能",
        "",
        "新進品牌，主打 App 體驗",
        "App 介面好用",
        "硬體品質不穩定",
        [("安居鎖 S", "S1", "7500", "KB-L300")],
    ),
]


def fill(session, users, locale):
    if session.scalar(select(func.count()).select_from(Article)):
        return  # already there
    admin = users.get("admin") or next(iter(users.values()))
    english = locale == "en"
    cats: dict[str, Category] = {}
    for pos, (key, hant, hans, en, parent) in enumerate(CATEGORIES):
        main = en if english else (hans if locale == "zh_Hans" else hant)
        c = Category(
            name=main,
            names={"zh_Hant": hant, "zh_Hans": hans, "en": en},
            parent_id=cats[parent].id if parent else None,
            position=(pos + 1) * 10,
        )
        session.add(c)
        session.flush()
        cats[key] = c

    from crm_host.models import Role

    sales_role = session.scalar(select(Role).where(Role.name == "sales"))
    leader_role = session.scalar(select(Role).where(Role.name == "leader"))
    for cat, kind, vis, zh, en, tags in ARTICLES:
        src, tr, src_loc, tr_loc = (
            (en, zh, "en", "zh_Hant") if english else (zh, en, "zh_Hant", "en")
        )
        data = {
            "kind": kind,
            "title": src[0],
            "body": src[1],
            "locale": src_loc,
            "status": "published",
            "visibility": vis,
            "category_id": cats[cat].id,
            "tags": tags,
            "translations": {tr_loc: {"title": tr[0], "body": tr[1]}},
        }
        if vis == "restricted":
            data["roles"] = [r.id for r in (sales_role, leader_role) if r is not None]
        services.create_article(session, admin, data)
    services.create_article(
        session,
        admin,
        {
            "kind": "article",
            "title": "2027 年新品上市計畫（草稿）" if not english else "2027 launch plan (draft)",
            "body": "待確認。" if not english else "To be confirmed.",
            "locale": "en" if english else "zh_Hant",
            "status": "draft",
            "visibility": "internal",
            "category_id": cats["sales"].id,
        },
    )

    ours = {}
    for name, number, category, model, price in PRODUCTS:
        p = catalog.save_product(
            session,
            admin,
            {
                "name": name,
                "number": number,
                "category": category,
                "model": model,
                "price": Decimal(price),
                "description": "",
            },
        )
        ours[number] = p.id
    for name, site, summary, strengths, weaknesses, products in COMPETITORS:
        catalog.save_competitor(
            session,
            admin,
            {
                "name": name,
                "website": site,
                "summary": summary,
                "strengths": strengths,
                "weaknesses": weaknesses,
                "products": [
                    {"name": n, "model": m, "price": Decimal(pr), "versus_product_id": ours[vs]}
                    for n, m, pr, vs in products
                ],
            },
        )
    session.flush()
