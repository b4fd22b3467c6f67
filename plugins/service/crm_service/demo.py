"""Demo data for `crm demo`: tickets of every kind at every step of their workflow, in the
demo's language and in English, with answers, service records, escalations and surveys."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select, update

from crm_host.db import utcnow

from . import services
from .models import ServiceCategory, Survey, Ticket

TEXTS = {
    "zh_Hant": {
        "complaint": [
            ("收到的印表機外殼破損", "包裝完好但外殼右側有裂痕，要求換貨。", "雷射印表機 LP-300"),
            ("帳單金額與報價不符", "三月份帳單多收了安裝費 NT$3,000。", "三月份帳單"),
            ("送貨延誤五天", "約定週一送達，週六才收到，影響開幕。", "訂單 SO-2026-0412"),
            ("客服人員態度不佳", "電話中被多次打斷，問題沒有解決。", "客服專線"),
            ("退款遲遲未入帳", "申請退款已三週，仍未收到。", "退款申請"),
            ("維修後同樣問題再次發生", "上週維修的冷氣又開始滴水。", "冷氣 AC-12"),
            ("發票抬頭開錯", "統一編號錯誤，需重開發票。", "發票"),
            ("商品與型錄不符", "顏色與型錄差異很大。", "辦公椅 OC-8"),
        ],
        "support": [
            ("如何重設管理員密碼？", "管理員忘記密碼，無法登入後台。"),
            ("VPN 連線一直中斷", "每隔十分鐘就斷線一次。"),
            ("報表匯出 Excel 亂碼", "中文欄位變成亂碼。"),
            ("新增使用者時出現錯誤", "按下儲存後出現錯誤訊息 500。"),
            ("掃描器無法被電腦偵測", "USB 接上後沒有反應。"),
        ],
        "visit": [
            ("新機安裝與教育訓練", "到府安裝三台多功能事務機。"),
            ("年度保養", "依合約進行年度保養檢查。"),
            ("主機板更換", "到府更換故障主機板。"),
            ("網路設備檢修", "機房交換器異常閃燈。"),
        ],
        "reply": "您好，感謝您的來信。我們已確認問題，將於今日內安排處理，並由專人與您聯繫。",
        "solution": "更換新品並補償運費，由物流於兩個工作天內取回。",
        "summary": "已完成換貨，客戶確認無誤。改善包裝材料並通知倉庫。",
        "record": "到府完成安裝與測試，並說明操作方式。",
        "result": "運作正常",
        "comments": [
            "處理得很快，謝謝！",
            "還可以，但等太久了。",
            "非常專業。",
            "",
            "問題解決了。",
        ],
    },
    "zh_Hans": {
        "complaint": [
            ("收到的打印机外壳破损", "包装完好但外壳右侧有裂痕，要求换货。", "激光打印机 LP-300"),
            ("账单金额与报价不符", "三月份账单多收了安装费 ¥800。", "三月份账单"),
            ("送货延误五天", "约定周一送达，周六才收到，影响开业。", "订单 SO-2026-0412"),
            ("客服人员态度不好", "电话中被多次打断，问题没有解决。", "客服热线"),
            ("退款迟迟未到账", "申请退款已三周，仍未收到。", "退款申请"),
            ("维修后同样问题再次出现", "上周维修的空调又开始滴水。", "空调 AC-12"),
            ("发票抬头开错", "税号错误，需要重开发票。", "发票"),
            ("商品与目录不符", "颜色与目录差异很大。", "办公椅 OC-8"),
        ],
        "support": [
            ("如何重置管理员密码？", "管理员忘记密码，无法登录后台。"),
            ("VPN 连接一直中断", "每隔十分钟就断线一次。"),
            ("报表导出 Excel 乱码", "中文字段变成乱码。"),
            ("新增用户时出现错误", "点击保存后出现错误信息 500。"),
            ("扫描仪无法被电脑识别", "USB 接上后没有反应。"),
        ],
        "visit": [
            ("新机安装与培训", "上门安装三台多功能一体机。"),
            ("年度保养", "按合同进行年度保养检查。"),
            ("主板更换", "上门更换故障主板。"),
            ("网络设备检修", "机房交换机指示灯异常。"),
        ],
        "reply": "您好，感谢您的来信。我们已确认问题，将于今天内安排处理，并由专人与您联系。",
        "solution": "更换新品并补偿运费，由物流于两个工作日内取回。",
        "summary": "已完成换货，客户确认无误。改进包装材料并通知仓库。",
        "record": "上门完成安装与测试，并讲解操作方法。",
        "result": "运行正常",
        "comments": ["处理得很快，谢谢！", "还行，但等太久了。", "非常专业。", "", "问题解决了。"],
    },
    "en": {
        "complaint": [
            (
                "Printer arrived with a cracked case",
                "The box was fine but the right side of the case is cracked; please replace it.",
                "LP-300 laser printer",
            ),
            (
                "Invoice does not match the quote",
                "The March invoice charges an installation fee of $120 twice.",
                "March invoice",
            ),
            (
                "Delivery five days late",
                "Promised for Monday, arrived on Saturday, after our opening.",
                "Order SO-2026-0412",
            ),
            (
                "Rude agent on the hotline",
                "I was interrupted several times and nothing was solved.",
                "Hotline",
            ),
            (
                "Refund still not received",
                "I asked for a refund three weeks ago.",
                "Refund request",
            ),
            (
                "Same fault again after repair",
                "The air conditioner repaired last week drips again.",
                "AC-12",
            ),
            (
                "Wrong company name on the invoice",
                "The tax number is wrong; please issue a new invoice.",
                "Invoice",
            ),
            (
                "Product differs from the catalogue",
                "The colour is very different from the catalogue.",
                "OC-8 office chair",
            ),
        ],
        "support": [
            (
                "How do I reset the administrator password?",
                "Our administrator forgot the password and cannot sign in.",
            ),
            ("VPN keeps disconnecting", "It drops every ten minutes."),
            ("Excel export shows garbled Chinese", "Chinese column names are unreadable."),
            ("Error when adding a user", "Saving shows error 500."),
            ("Scanner not detected", "Nothing happens when it is plugged in over USB."),
        ],
        "visit": [
            ("Installation and training", "Install three multifunction printers on site."),
            ("Annual maintenance", "Yearly maintenance as in the contract."),
            ("Mainboard replacement", "Replace the faulty mainboard on site."),
            ("Network equipment check", "The switch in the server room blinks abnormally."),
        ],
        "reply": "Hello, thank you for writing. We have confirmed the problem and will handle it today; a colleague will call you.",
        "solution": "Replace the unit and refund the shipping; the courier collects it within two working days.",
        "summary": "Unit replaced, customer confirmed. Packaging improved and the warehouse informed.",
        "record": "Installed and tested on site; explained how to use it.",
        "result": "Working normally",
        "comments": [
            "Quick, thank you!",
            "OK, but it took too long.",
            "Very professional.",
            "",
            "Solved.",
        ],
    },
}


def _path(kind, status, needs_approval):
    """The steps from "received" to ``status``."""
    flow = list(services.WORKFLOWS[kind])
    if kind == "complaint" and not needs_approval:
        flow.remove("approval")
    if kind == "support" and status != "escalated":
        flow.remove("escalated")
    return flow[1 : flow.index(status) + 1]


def fill(session, users, locale):
    from crm_customers.models import Customer

    services.ensure_defaults(session)
    rng = random.Random(7)
    customers = list(
        session.scalars(
            select(Customer).where(Customer.deleted_at.is_(None)).order_by(Customer.id).limit(40)
        )
    )
    if not customers:
        return
    admin = users.get("admin")
    agent = users.get("service") or admin
    leader = users.get("leader") or admin
    actor = {
        "service.triage": agent,
        "service.assign": leader,
        "service.work": agent,
        "service.escalate": agent,
        "service.approve": leader,
        "service.close": agent,
    }
    cats = {
        k: list(session.scalars(select(ServiceCategory).where(ServiceCategory.kind == k)))
        for k in services.WORKFLOWS
    }
    from crm_host import people

    tech_name = {"zh_Hant": "技術支援部", "zh_Hans": "技术支持部"}.get(locale, "Technical support")
    from crm_host.models import Department

    tech = session.scalar(select(Department).where(Department.name == tech_name))
    if tech is None:
        tech = people.create_department(session, tech_name)
    services.set_setting(session, "tech_department_id", tech.id)
    for day, name in (
        (date(2027, 1, 1), {"zh_Hant": "元旦", "zh_Hans": "元旦"}.get(locale, "New Year's Day")),
        (
            date(2026, 12, 25),
            {"zh_Hant": "行憲紀念日", "zh_Hans": "圣诞节"}.get(locale, "Christmas Day"),
        ),
    ):
        services.add_holiday(session, admin, day, name)
    now = utcnow()
    texts = [TEXTS.get(locale, TEXTS["en"])]
    if locale != "en":
        texts.append(TEXTS["en"])
    made = []
    for li, tx in enumerate(texts):
        for kind, flow in services.WORKFLOWS.items():
            items = tx[kind]
            for si, status in enumerate(flow):
                for rep in range((8 if status == "closed" else 2) if li == 0 else 1):
                    i = (si * 2 + rep + li) % len(items)
                    title, desc, *target = items[i]
                    cat_list = cats[kind]
                    cat = cat_list[(si + rep) % len(cat_list)]
                    if kind == "complaint" and status == "approval" and not cat.needs_approval:
                        cat = next(c for c in cat_list if c.needs_approval)
                    customer = customers[(si * 3 + rep * 7 + li * 11 + len(made)) % len(customers)]
                    age_days = rng.randint(0, 100) if status == "closed" else rng.randint(0, 12)
                    created = now - timedelta(days=age_days, hours=rng.randint(0, 8))
                    t = services.create_ticket(
                        session,
                        admin,  # the agents' record scope is "own": they may not see every customer
                        {
                            "owner_id": agent.id,
                            "kind": kind,
                            "title": title,
                            "description": desc,
                            "target": target[0] if target else None,
                            "severity": rng.choice(["low", "normal", "normal", "high", "urgent"]),
                            "category_id": cat.id,
                            "customer_id": customer.id,
                        },
                        now=created,
                    )
                    when = created
                    for step in _path(kind, status, cat.needs_approval):
                        when = min(now, when + timedelta(hours=rng.randint(1, 30)))
                        perm = services.TRANSITIONS[(kind, t.status, step)]
                        comment = (
                            tx["solution"]
                            if step == "proposed"
                            else tx["summary"]
                            if step == "summary"
                            else None
                        )
                        if kind == "support" and step == "answered":
                            services.reply(
                                session, agent, t, tx["reply"], to_customer=False, now=when
                            )
                        services.transition(
                            session, actor[perm] or admin, t, step, comment, now=when
                        )
                    if kind == "visit" and status in ("visited", "closed"):
                        services.add_record(
                            session,
                            admin,
                            {
                                "ticket_id": t.id,
                                "kind": "onsite" if rep == 0 else "phone",
                                "engineer_id": agent.id,
                                "started_at": created + timedelta(days=1),
                                "ended_at": created + timedelta(days=1, hours=2),
                                "content": tx["record"],
                                "result": tx["result"],
                                "signed_by": customer.name[:20] if rep == 0 else None,
                            },
                        )
                    made.append(t)
    session.flush()
    # one ticket waits for the customer (clock paused)
    waiting = next((t for t in made if t.status == "assigned" and t.kind == "support"), None)
    if waiting is not None:
        services.set_waiting(session, agent, waiting, True, now=now - timedelta(hours=3))
    # surveys: most closed tickets answered, a spread of scores
    for n, sv in enumerate(session.scalars(select(Survey).order_by(Survey.id)).all()):
        if n % 4 == 3:
            continue
        t = session.get(Ticket, sv.ticket_id)
        session.execute(
            update(Survey)
            .where(Survey.id == sv.id)
            .values(
                score=[5, 4, 5, 3, 4, 2, 5][n % 7],
                comment=texts[0]["comments"][n % 5] or None,
                answered_at=(t.closed_at or now) + timedelta(hours=5),
            )
        )
    # the service-level job escalates whatever is overdue by now
    services.escalate_breaches(session, now)
