"""Sample customers for `crm demo`: a few hundred companies with contacts, in Chinese
(Traditional or Simplified, after the chosen locale) and English, phones written in the many
ways people write them."""

from __future__ import annotations

import random
from datetime import date

from . import services
from .models import Category

CITIES = {
    "zh_Hant": [
        ("北區", "台北市"),
        ("北區", "新北市"),
        ("中區", "台中市"),
        ("南區", "高雄市"),
        ("南區", "台南市"),
        ("北區", "桃園市"),
    ],
    "zh_Hans": [
        ("华北", "北京"),
        ("华东", "上海"),
        ("华南", "广州"),
        ("华南", "深圳"),
        ("西南", "成都"),
        ("华东", "杭州"),
    ],
    "en": [
        ("West", "San Francisco"),
        ("East", "New York"),
        ("Midwest", "Chicago"),
        ("South", "Austin"),
        ("West", "Seattle"),
        ("East", "Boston"),
    ],
}
PREFIX = {
    "zh_Hant": [
        "海宇",
        "勇創",
        "宏達",
        "金橋",
        "鼎新",
        "華通",
        "晶泰",
        "永豐",
        "聯合",
        "國泰",
        "正隆",
        "台塑",
    ],
    "zh_Hans": [
        "海宇",
        "勇创",
        "宏达",
        "金桥",
        "鼎新",
        "华通",
        "晶泰",
        "永丰",
        "联合",
        "国泰",
        "正隆",
        "天成",
    ],
    "en": [
        "Acme",
        "Globex",
        "Initech",
        "Umbrella",
        "Stark",
        "Wayne",
        "Hooli",
        "Vandelay",
        "Soylent",
        "Tyrell",
        "Cyberdyne",
        "Wonka",
    ],
}
SUFFIX = {
    "zh_Hant": [
        "科技股份有限公司",
        "貿易有限公司",
        "實業股份有限公司",
        "電子股份有限公司",
        "國際有限公司",
    ],
    "zh_Hans": ["科技有限公司", "贸易有限公司", "实业有限公司", "电子有限公司", "国际有限公司"],
    "en": [
        "Technologies Inc.",
        "Trading Ltd.",
        "Industries LLC",
        "Electronics Corp.",
        "International",
    ],
}
INDUSTRY = {
    "zh_Hant": ["製造業", "資訊服務", "金融保險", "零售", "物流"],
    "zh_Hans": ["制造业", "信息服务", "金融保险", "零售", "物流"],
    "en": ["Manufacturing", "IT services", "Finance", "Retail", "Logistics"],
}
SURNAMES = {"zh_Hant": "陳林黃張李王吳劉蔡楊", "zh_Hans": "陈林黄张李王吴刘蔡杨"}
GIVEN = {
    "zh_Hant": ["志明", "美玲", "建宏", "淑芬", "家豪", "雅婷", "俊傑", "怡君"],
    "zh_Hans": ["志明", "美玲", "建宏", "淑芬", "家豪", "雅婷", "俊杰", "怡君"],
}
EN_FIRST = ["Alice", "Brian", "Chloe", "David", "Emma", "Frank", "Grace", "Henry"]
EN_LAST = ["Smith", "Johnson", "Lee", "Brown", "Garcia", "Miller", "Davis", "Wilson"]
TITLES = {
    "zh_Hant": ["採購經理", "總經理", "財務主管", "工程師"],
    "zh_Hans": ["采购经理", "总经理", "财务主管", "工程师"],
    "en": ["Purchasing manager", "CEO", "Finance lead", "Engineer"],
}
DEPTS = {
    "zh_Hant": ["採購部", "總經理室", "財務部", "研發部"],
    "zh_Hans": ["采购部", "总经理室", "财务部", "研发部"],
    "en": ["Purchasing", "Management", "Finance", "R&D"],
}
DEMO_NOTE = {
    "zh_Hant": "由示範資料建立",
    "zh_Hans": "由示例数据创建",
    "en": "Customer created from the demo data",
}
CATEGORY_NAMES = {
    "zh_Hant": {
        "existing": "現有客戶",
        "potential": "潛在客戶",
        "partner": "合作夥伴",
        "agent": "代理商",
    },
    "zh_Hans": {
        "existing": "现有客户",
        "potential": "潜在客户",
        "partner": "合作伙伴",
        "agent": "代理商",
    },
}


def _phone(rng, locale, i):
    if locale == "en":
        area = rng.choice(["415", "212", "312", "512"])
        n = f"{rng.randint(200, 999)}{rng.randint(1000, 9999)}"
        return rng.choice([f"+1 ({area}) {n[:3]}-{n[3:]}", f"{area}-{n[:3]}-{n[3:]}"])
    area = rng.choice(["10", "21", "20", "755"])
    n = f"{rng.randint(6000, 8999)}{rng.randint(1000, 9999)}"
    return rng.choice([f"+86 {area} {n[:4]} {n[4:]}", f"(0{area}) {n}", f"0{area}-{n[:4]}-{n[4:]}"])


def _person(rng, locale):
    if locale == "en":
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        return f"{first} {last}", f"{first.lower()}.{last.lower()}"
    name = rng.choice(SURNAMES[locale]) + rng.choice(GIVEN[locale])
    return name, f"u{rng.randint(1000, 9999)}"


def fill(session, users, locale: str = "zh_Hant", count: int = 300) -> None:
    rng = random.Random(20261124)
    services.ensure_default_categories(session)
    cats = {c.code: c for c in session.query(Category)}
    for code, name in CATEGORY_NAMES.get(locale, {}).items():
        if code in cats:
            cats[code].name = name
    owners = [users["sales"], users["sales2"], users["leader"]]
    for i in range(count):
        # Mostly the chosen language, a quarter English: real books are mixed.
        loc = locale if (locale == "en" or rng.random() < 0.75) else "en"
        prefix = rng.choice(PREFIX[loc])
        city_region = rng.choice(CITIES[loc])
        region, city = city_region
        name = (
            f"{city}{prefix}{rng.choice(SUFFIX[loc])}"
            if loc != "en"
            else f"{prefix} {rng.choice(SUFFIX[loc])}"
        )
        owner = owners[i % len(owners)]
        domain = f"{prefix.lower() if loc == 'en' else 'hy' + str(i)}.example.com"
        c = services.create_customer(
            session,
            owner,
            {
                "name": name if i < 12 or rng.random() < 0.97 else name + f" {i}",
                "short_name": prefix,
                "category_id": cats[
                    rng.choice(["existing", "existing", "potential", "partner", "agent"])
                ].id,
                "lifecycle": rng.choice(
                    ["prospect", "first_purchase", "repeat", "loyal", "at_risk"]
                ),
                # Set by hand until a sales module reports revenue for ABC grading.
                "grade": rng.choices(["A", "B", "C", None], weights=[15, 30, 45, 10])[0],
                "industry": rng.choice(INDUSTRY[loc]),
                "region": region,
                "city": city,
                "address": f"{city}{rng.randint(1, 300)}號"
                if loc == "zh_Hant"
                else (
                    f"{city}{rng.randint(1, 300)}号"
                    if loc == "zh_Hans"
                    else f"{rng.randint(1, 999)} Main St, {city}"
                ),
                "postal_code": str(rng.randint(100, 999))
                if loc == "zh_Hant"
                else str(rng.randint(100000, 999999))
                if loc == "zh_Hans"
                else str(rng.randint(10000, 99999)),
                "phone": _phone(rng, loc, i),
                "email": f"info@{domain}",
                "website": f"https://www.{domain}",
                "source": rng.choice(["Web", "Referral", "Trade show", "Cold call"]),
                "owner_id": owner.id,
                "credit_rating": rng.choice(["AAA", "AA", "A", "BBB"]),
                "tags": rng.sample(
                    ["vip", "2026", "trade-show", "key-account", "new"], k=rng.randint(0, 2)
                ),
            },
        )
        for j in range(rng.randint(1, 3)):
            person, handle = _person(rng, loc)
            services.create_contact(
                session,
                owner,
                c,
                {
                    "name": person,
                    "title": rng.choice(TITLES[loc]),
                    "department": rng.choice(DEPTS[loc]),
                    "mobile": _phone(rng, loc, i * 10 + j),
                    "email": f"{handle}@{domain}",
                    "birthday": date(
                        1970 + rng.randint(0, 30), rng.randint(1, 12), rng.randint(1, 28)
                    ),
                    "is_primary": j == 0,
                },
            )
        services.add_timeline(
            session, c.id, "note", DEMO_NOTE.get(locale, DEMO_NOTE["en"]), user_id=owner.id
        )
