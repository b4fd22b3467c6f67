"""``crm demo``: sample people for every role, then each enabled module's demo data."""

from __future__ import annotations

import traceback

from sqlalchemy import select

from . import modules as module_ops
from . import people
from .models import Department, User
from .plugins import ModuleError


class DemoError(RuntimeError):
    pass


ORG = {
    "zh_Hant": {
        "company": "海宇科技股份有限公司",
        "sales": "業務部",
        "north": "北區業務組",
        "south": "南區業務組",
        "service": "客戶服務部",
        "support": "技術支援部",
        "people": {
            "admin": "系統管理員",
            "leader": "王建國",
            "sales": "陳小明",
            "sales2": "林美玲",
            "service": "張志強",
            "staff": "李雅婷",
        },
    },
    "zh_Hans": {
        "company": "海宇科技有限公司",
        "sales": "销售部",
        "north": "北区销售组",
        "south": "南区销售组",
        "service": "客户服务部",
        "support": "技术支持部",
        "people": {
            "admin": "系统管理员",
            "leader": "王建国",
            "sales": "陈小明",
            "sales2": "林美玲",
            "service": "张志强",
            "staff": "李雅婷",
        },
    },
    "en": {
        "company": "Haiyu Technology Ltd.",
        "sales": "Sales",
        "north": "Sales North",
        "south": "Sales South",
        "service": "Customer Service",
        "support": "Technical Support",
        "people": {
            "admin": "Ada Admin",
            "leader": "Grace Leader",
            "sales": "Sam Seller",
            "sales2": "Mia Morgan",
            "service": "Sid Service",
            "staff": "Stella Staff",
        },
    },
}

ROLES = {
    "admin": ["admin"],
    "leader": ["leader", "sales"],
    "sales": ["sales"],
    "sales2": ["sales"],
    "service": ["service"],
    "staff": ["staff"],
}


DEMO_TIMEZONE = {"zh_Hant": "Asia/Taipei", "zh_Hans": "Asia/Shanghai"}


def _dept(s, name, parent=None):
    d = s.scalar(select(Department).where(Department.name == name))
    return d or people.create_department(s, name, parent.id if parent else None)


def run(app, locale: str = "zh_Hant", password: str = "demo1234") -> str:
    crm = app.extensions["crm"]
    crm.ensure_ready()
    org = ORG[locale]
    lines = []

    # Every installed, healthy module is switched on: a demo shows the whole product.
    for name in crm.plugins.order:
        lp = crm.plugins.plugins[name]
        if lp.error:
            lines.append(f"  module {name}: broken, skipped ({lp.error.strip().splitlines()[0]})")
            continue
        try:
            module_ops.enable(app, name, with_deps=True, actor="demo")
        except ModuleError as exc:
            lines.append(f"  module {name}: {exc}")

    with crm.db.Session() as s:
        if people.find_user(s, "admin@example.com") is not None:
            # Already filled: a second run must not duplicate every module's sample data.
            return (
                "Demo data is already present (admin@example.com exists); nothing added.\n"
                "Sign in as admin@example.com with the demo password."
            )

    with crm.db.session_scope() as s:
        company = _dept(s, org["company"])
        sales = _dept(s, org["sales"], company)
        north = _dept(s, org["north"], sales)
        _dept(s, org["south"], sales)
        service = _dept(s, org["service"], company)
        _dept(s, org["support"], service)
        depts = {
            "admin": company,
            "leader": sales,
            "sales": north,
            "sales2": north,
            "service": service,
            "staff": company,
        }
        users = {}
        for key, name in org["people"].items():
            email = f"{key}@example.com"
            u = people.find_user(s, email)
            if u is None:
                u = people.create_user(
                    s,
                    email,
                    name,
                    password,
                    roles=ROLES[key],
                    department_id=depts[key].id,
                    locale=locale,
                )
                # The demo company sits where its language is spoken, so its times read right.
                u.timezone = DEMO_TIMEZONE.get(locale)
            users[key] = u
        s.flush()
        for key in ("sales", "sales2"):
            users[key].supervisor_id = users["leader"].id
        users["service"].supervisor_id = users["leader"].id
        sales.leader_id = users["leader"].id
        north.leader_id = users["leader"].id
        user_ids = {k: u.id for k, u in users.items()}

    rt = crm.plugins.current(force=True)
    caller = rt.pm.hook.crm_demo_data
    impls = {i.plugin_name: i for i in caller.get_hookimpls()}
    for name in rt.active:
        impl = impls.get(name)
        if impl is None:
            continue
        with crm.db.Session() as s:
            try:
                with app.test_request_context():
                    demo_users = {k: s.get(User, v) for k, v in user_ids.items()}
                    impl.function(session=s, users=demo_users, locale=locale)
                s.commit()
                lines.append(f"  {name}: demo data added")
            except Exception:
                s.rollback()
                lines.append(f"  {name}: demo data FAILED\n{traceback.format_exc(limit=4)}")

    logins = "\n".join(
        f"  {k + '@example.com':<22} {ROLES[k][0]:<8} {org['people'][k]}" for k in org["people"]
    )
    return (
        "Demo data ready.\n"
        + ("\n".join(lines) + "\n" if lines else "")
        + f"Sign in with any of these (password: {password}):\n{logins}"
    )
