"""CUS-6 mailing labels and CUS-7 batch messages: PDF content and layout, scopes, merge
fields, delivery through the notification bus, the timeline, and the refusals."""

from __future__ import annotations

import io
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from crm_host.notify import run_once

LABELS = "/api/v1/customers/labels"
MESSAGES = "/api/v1/customers/messages"
KIND = "customers.message"


# --- Fixtures ------------------------------------------------------------------------------


@pytest.fixture
def crm_config():
    # Only customers and the two test plugins: the real channels module, when installed,
    # declares "email" too, and the first of two plugins declaring a channel wins.
    return {
        "CRM_DISCOVER_PLUGINS": False,
        "CRM_EXTRA_PLUGINS": {
            "customers": "crm_customers.plugin",
            "revenue_probe": "customers_revenue_probe",
            "test_mail": "customers_test_channel",
        },
    }


@pytest.fixture
def mail(customers, enable_modules):
    """The test plugin with an ``email`` channel, enabled; ``mail.SENT`` holds what it sent."""
    enable_modules("test_mail")
    import customers_test_channel

    customers_test_channel.SENT.clear()
    yield customers_test_channel
    customers_test_channel.SENT.clear()


def _customer(client, name, contacts=(), **fields):
    r = client.post("/api/v1/customers", json={"name": name, **fields})
    assert r.status_code == 201, r.get_json()
    c = r.get_json()
    c["contacts"] = []
    for ct in contacts:
        r = client.post(f"/api/v1/customers/{c['id']}/contacts", json=ct)
        assert r.status_code == 201, r.get_json()
        c["contacts"].append(r.get_json())
    return c


def _yongfeng(client):
    return _customer(
        client,
        "台北市永豐貿易有限公司",
        [
            {
                "name": "陳志明",
                "department": "採購部",
                "title": "採購經理",
                "email": "chen@yongfeng.example",
            },
            {"name": "林美華", "department": "財務部", "email": "lin@yongfeng.example"},
        ],
        postal_code="110",
        address="台北市信義區信義路五段7號",
    )


def _haiyu(client):
    return _customer(
        client,
        "北京海宇勇创科技有限公司",
        [{"name": "王小红", "department": "采购部", "email": "wang@haiyu.example"}],
        postal_code="100080",
        address="北京市海淀区中关村大街27号",
    )


# --- PDF helpers ---------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    try:
        from pypdf import PdfReader
    except ImportError:  # pragma: no cover - depends on the machine
        if not shutil.which("pdftotext"):
            pytest.skip("needs pypdf (pip install pypdf) or pdftotext (poppler-utils)")
        out = subprocess.run(
            ["pdftotext", "-", "-"], input=data, capture_output=True, check=True
        ).stdout
        return out.decode()
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def pdf_lines(data: bytes) -> list[tuple[int, str, float, float]]:
    """``(page, text, x, y)`` of every line drawn."""
    pypdf = pytest.importorskip("pypdf")
    out = []
    for n, page in enumerate(pypdf.PdfReader(io.BytesIO(data)).pages):

        def visit(text, cm, tm, font, size, n=n):
            if text.strip():
                out.append((n, text.strip(), tm[4], tm[5]))

        page.extract_text(visitor_text=visit)
    return out


def _fake(name, postal="100", contact=None):
    cts = [SimpleNamespace(name=contact, department="", is_primary=True, deleted_at=None)]
    return SimpleNamespace(
        name=name,
        postal_code=postal,
        address="1 Main Street",
        province=None,
        city=None,
        contacts=cts if contact else [],
    )


# --- Labels --------------------------------------------------------------------------------


def test_labels_pdf_has_the_chinese_names_and_postal_codes(api, customers):
    alice = api("sales")
    a, b = _yongfeng(alice), _haiyu(alice)
    r = alice.post(LABELS, json={"ids": [a["id"], b["id"]]})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.content_type == "application/pdf"
    assert 'filename="labels.pdf"' in r.headers["Content-Disposition"]
    text = pdf_text(r.get_data())
    for expected in (
        "110",
        "台北市信義區信義路五段7號",
        "台北市永豐貿易有限公司",
        "採購部 陳志明",  # the primary contact, with their department
        "100080",
        "北京海宇勇创科技有限公司",
        "采购部 王小红",
    ):
        assert expected in text, expected
    assert "林美華" not in text  # only the primary contact
    # The fonts: MSung-Light for the Traditional label, STSong-Light for the Simplified one,
    # each with its own CMap (reportlab's default pairs MSung with the GB CMap).
    raw = r.get_data()
    assert b"/MSung-Light" in raw and b"/STSong-Light" in raw
    assert b"/UniCNS-UCS2-H" in raw and b"/UniGB-UCS2-H" in raw
    # Every customer matching a filter, instead of ids.
    r = alice.post(LABELS, json={"filter": {"q": "永豐"}, "layout": "letter-3x10"})
    assert r.status_code == 200
    text = pdf_text(r.get_data())
    assert "台北市永豐貿易有限公司" in text and "海宇" not in text


def test_start_position_skips_used_labels():
    from crm_customers.labels import LAYOUTS, labels_pdf

    sheet = LAYOUTS["a4-3x7"]
    people = [_fake("First Customer", "111"), _fake("Second Customer", "222")]
    fresh = {t: (p, x, y) for p, t, x, y in pdf_lines(labels_pdf(people, "a4-3x7", 1))}
    used = {t: (p, x, y) for p, t, x, y in pdf_lines(labels_pdf(people, "a4-3x7", 5))}
    # Label 5 is the middle of the second row: one pitch right and one row down from label 1.
    p0, x0, y0 = fresh["First Customer"]
    p1, x1, y1 = used["First Customer"]
    assert p0 == p1 == 0
    assert x1 - x0 == pytest.approx(sheet.pitch_x, abs=0.5)
    assert y0 - y1 == pytest.approx(sheet.pitch_y, abs=0.5)
    # Starting on the last label of the sheet: the second customer opens a new page, top left.
    last = {t: (p, x, y) for p, t, x, y in pdf_lines(labels_pdf(people, "a4-3x7", 21))}
    assert last["First Customer"][0] == 0 and last["Second Customer"][0] == 1
    assert last["Second Customer"][1:] == pytest.approx(fresh["First Customer"][1:], abs=0.5)


def test_long_text_stays_inside_its_label():
    from crm_customers.labels import LAYOUTS, labels_pdf

    long_name = "中華民國台灣省新北市某某非常非常長的國際股份有限公司台灣分公司第二營業所" * 3
    c = _fake(long_name, "22041", contact="歐陽美麗")
    c.address = "新北市板橋區縣民大道二段7號12樓之3（遠東百貨對面，請從側門進入）" * 3
    for key, sheet in LAYOUTS.items():
        lines = pdf_lines(labels_pdf([c], key, 1))
        assert lines, key
        x0, top = sheet.left, sheet.page[1] - sheet.top
        for _page, _text, x, y in lines:
            assert x0 <= x <= x0 + sheet.width
            assert top - sheet.height <= y <= top, (key, _text)


def test_labels_refusals(api, customers):
    alice, bob = api("sales"), api("sales")
    mine, theirs = _yongfeng(alice), _haiyu(bob)
    r = alice.post(LABELS, json={"ids": [mine["id"], theirs["id"]]})
    assert r.status_code == 404 and r.content_type == "application/problem+json"
    assert alice.post(LABELS, json={"ids": [999999]}).status_code == 404
    r = alice.post(LABELS, json={"ids": [mine["id"]], "layout": "a5-1x1"})
    assert r.status_code == 422 and "layout" in r.get_json()["errors"]
    r = alice.post(LABELS, json={"ids": [mine["id"]], "start_position": 22})
    assert r.status_code == 422 and "start_position" in r.get_json()["errors"]
    assert alice.post(LABELS, json={}).status_code == 422  # neither ids nor filter
    assert api("staff").post(LABELS, json={"ids": [mine["id"]]}).status_code == 403
    paths = alice.get("/api/openapi.json").get_json()["paths"]
    assert LABELS in paths and MESSAGES in paths


def test_labels_pages(login, api, customers):
    client = login("sales")
    c = _yongfeng(api(client.crm_user))
    # The list's bulk button posts the ticked ids: the page to choose the sheet.
    r = client.post_form("/customers/outreach/labels", {"ids": [c["id"]]})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "台北市永豐貿易有限公司" in html
    assert 'value="a4-3x7"' in html and 'value="letter-3x10"' in html
    r = client.post_form(
        "/customers/outreach/labels",
        {"ids": [c["id"]], "layout": "a4-2x7", "start_position": "3"},
    )
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "labels.pdf" in r.headers["Content-Disposition"]
    assert "採購部 陳志明" in pdf_text(r.get_data())
    r = client.post_form(
        "/customers/outreach/labels", {"ids": [c["id"]], "layout": "a4-2x7", "start_position": "15"}
    )
    assert r.status_code == 400 and "start position" in r.get_data(as_text=True)
    # "All matching": the list's filter travels in the query string.
    r = client.get("/customers/outreach/labels?q=永豐&all=1")
    assert r.status_code == 200 and "台北市永豐貿易有限公司" in r.get_data(as_text=True)
    stranger = _haiyu(api("sales"))
    assert client.get(f"/customers/outreach/labels?ids={stranger['id']}").status_code == 404
    assert login("staff").get(f"/customers/outreach/labels?ids={c['id']}").status_code == 403


# --- Messages ------------------------------------------------------------------------------


def test_batch_message_is_merged_delivered_once_per_primary_contact_and_on_the_timeline(
    crm_app, api, login, mail
):
    client = login("sales")
    alice = api(client.crm_user)
    a, b = _yongfeng(alice), _haiyu(alice)
    c = _customer(alice, "無郵件有限公司", [{"name": "張三", "mobile": "0912345678"}])
    d = _customer(alice, "沒有聯絡人公司")
    r = alice.post(
        MESSAGES,
        json={
            "ids": [a["id"], b["id"], c["id"], d["id"]],
            "subject": "{customer_name} 新品通知",
            "body": "{contact_name} {contact_title} 您好：\n"
            "客戶編號 {customer_code}\n業務：{owner_name} <{owner_email}>",
            "channel": "email",
        },
    )
    assert r.status_code == 200, r.get_json()
    summary = r.get_json()
    assert summary["queued"] == 2 and summary["customers"] == 2
    assert {(x["customer_id"], x["reason"]) for x in summary["skipped"]} == {
        (c["id"], "no_address"),
        (d["id"], "no_contact"),
    }
    assert mail.SENT == []  # queued in the transaction; the worker sends
    assert run_once(crm_app)["sent"] == 2
    assert run_once(crm_app)["sent"] == 0  # exactly once
    by_address = {m.address: m for m in mail.SENT}
    assert set(by_address) == {"chen@yongfeng.example", "wang@haiyu.example"}
    chen = by_address["chen@yongfeng.example"]
    assert chen.kind == "customers.message"
    assert chen.subject == "台北市永豐貿易有限公司 新品通知"
    owner = client.crm_user
    assert chen.body == (
        f"陳志明 採購經理 您好：\n客戶編號 {a['code']}\n業務：{owner.name} <{owner.email}>"
    )
    assert chen.data["customer_id"] == a["id"]
    assert chen.data["contact_id"] == a["contacts"][0]["id"]
    assert by_address["wang@haiyu.example"].body.startswith("王小红  您好")  # no title
    # What went to whom is on the 360° page.
    html = client.get(f"/customers/{a['id']}").get_data(as_text=True)
    assert (
        "Email sent to 陳志明 &lt;chen@yongfeng.example&gt;: 台北市永豐貿易有限公司 新品通知"
        in html
    )
    assert "陳志明 採購經理 您好" in html
    # to_all: every contact with an email address.
    mail.SENT.clear()
    r = alice.post(
        MESSAGES,
        json={"ids": [a["id"]], "subject": "Hi", "body": "Dear {contact_name}", "to_all": True},
    )
    assert r.get_json()["queued"] == 2
    run_once(crm_app)
    assert sorted(m.body for m in mail.SENT) == ["Dear 林美華", "Dear 陳志明"]


def test_a_rolled_back_request_sends_nothing(crm_app, crm_db, api, mail, monkeypatch):
    from crm_customers import outreach
    from crm_customers.models import TimelineEntry
    from sqlalchemy import func, select

    from crm_host.models import OutboxMessage

    alice = api("sales")
    a, b = _yongfeng(alice), _haiyu(alice)
    real = outreach.services.add_timeline
    calls = []

    def failing(*args, **kw):  # the second customer's timeline entry fails
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(*args, **kw)

    monkeypatch.setattr(outreach.services, "add_timeline", failing)
    with pytest.raises(RuntimeError):
        alice.post(MESSAGES, json={"ids": [a["id"], b["id"]], "subject": "x", "body": "y"})
    monkeypatch.undo()
    assert len(calls) == 2  # the first message was queued before the failure ...
    assert run_once(crm_app)["sent"] == 0 and mail.SENT == []  # ... and rolled back with it
    count = crm_db.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == KIND)
    )
    assert count == 0
    assert (
        crm_db.scalar(
            select(func.count()).select_from(TimelineEntry).where(TimelineEntry.kind == "message")
        )
        == 0
    )


def test_message_refusals(api, mail):
    alice = api("sales")
    a = _yongfeng(alice)
    ok = {"ids": [a["id"]], "subject": "Hello", "body": "Dear {contact_name}"}
    r = alice.post(MESSAGES, json={**ok, "body": "Dear {customer.__class__}"})
    assert r.status_code == 422
    msg = r.get_json()["errors"]["body"][0]
    assert "{customer.__class__}" in msg and "Allowed:" in msg
    assert "{customer_name}" in msg and "{owner_email}" in msg
    r = alice.post(MESSAGES, json={**ok, "subject": "{foo} and {0}"})
    assert r.status_code == 422 and "{foo}" in r.get_json()["errors"]["subject"][0]
    assert alice.post(MESSAGES, json={**ok, "body": "a { b"}).status_code == 422
    assert alice.post(MESSAGES, json={**ok, "body": "{{literal}} braces"}).status_code == 200
    assert alice.post(MESSAGES, json={**ok, "subject": ""}).status_code == 422
    assert alice.post(MESSAGES, json={**ok, "subject": "x" * 201}).status_code == 422
    assert alice.post(MESSAGES, json={**ok, "body": "x" * 20_001}).status_code == 422
    assert alice.post(MESSAGES, json={**ok, "channel": "log"}).status_code == 422
    theirs = _haiyu(api("sales"))
    assert alice.post(MESSAGES, json={**ok, "ids": [a["id"], theirs["id"]]}).status_code == 404
    assert api("staff").post(MESSAGES, json=ok).status_code == 403
    # A dry run merges and reports, and queues nothing.
    r = alice.post(MESSAGES, json={**ok, "dry_run": True})
    assert r.status_code == 200 and r.get_json()["queued"] == 0
    assert r.get_json()["preview"][0]["body"] == "Dear 陳志明"


def test_missing_channel_is_a_clear_conflict(api, login, customers):
    # The test channel plugin is installed but not enabled: no "email" channel.
    alice = api("sales")
    a = _yongfeng(alice)
    r = alice.post(MESSAGES, json={"ids": [a["id"]], "subject": "Hello", "body": "Hi"})
    assert r.status_code == 409 and r.content_type == "application/problem+json"
    assert "enable the channels module" in r.get_json()["detail"]
    client = login(alice.user)
    html = client.get(f"/customers/outreach/message?ids={a['id']}").get_data(as_text=True)
    assert 'data-testid="no-channel"' in html
    r = client.post_form(
        "/customers/outreach/message",
        {"ids": [a["id"]], "channel": "email", "subject": "x", "body": "y", "action": "send"},
    )
    assert r.status_code == 409 and "enable the channels module" in r.get_data(as_text=True)


def test_message_page_preview_and_send(crm_app, login, api, mail):
    client = login("sales")
    alice = api(client.crm_user)
    a = _yongfeng(alice)
    c = _customer(alice, "無郵件有限公司", [{"name": "張三"}])
    ids = [a["id"], c["id"]]
    # From the list's bulk button: the form, with the merge-field cheat sheet.
    r = client.post_form("/customers/outreach/message", {"ids": ids})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="merge-fields"' in html
    assert "{contact_title}" in html and "台北市永豐貿易有限公司" in html
    form = {"ids": ids, "channel": "email", "subject": "致 {customer_name}"}
    r = client.post_form(
        "/customers/outreach/message",
        {**form, "body": "{contact_name} 您好", "action": "preview"},
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="preview"' in html
    assert "陳志明 您好" in html and "致 台北市永豐貿易有限公司" in html
    assert "無郵件有限公司" in html and mail.SENT == []
    r = client.post_form(
        "/customers/outreach/message", {**form, "body": "{nope}", "action": "preview"}
    )
    assert r.status_code == 400 and "{nope}" in r.get_data(as_text=True)
    r = client.post_form(
        "/customers/outreach/message",
        {**form, "body": "{contact_name} 您好", "action": "send"},
    )
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "1 messages queued for 1 customers." in page and "無郵件有限公司" in page
    assert run_once(crm_app)["sent"] == 1
    assert [m.address for m in mail.SENT] == ["chen@yongfeng.example"]
    # "All matching" the list's filter.
    r = client.get("/customers/outreach/message?q=永豐&all=1")
    assert r.status_code == 200 and "台北市永豐貿易有限公司" in r.get_data(as_text=True)
