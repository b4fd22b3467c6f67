"""H-9: code numbering rules, unique under concurrent creation."""

import threading
from datetime import date

import pytest

from crm_host import numbering


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("C{yyyy}{seq:05}", "C202600007"),
        ("T{yy}{mm}-{seq:3}", "T2603-007"),
        ("{seq}", "7"),
        ("D{yyyy}{mm}{dd}{seq:04}", "D202603050007"),
    ],
)
def test_render(pattern, expected):
    numbering.validate_pattern(pattern)
    assert numbering.render(pattern, 7, date(2026, 3, 5)) == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "C{yyyy}",
        "{seq}{seq}",
        "C{year}{seq}",
        "C {seq}",
        "{seq:99}",
        "x" * 70 + "{seq}",
        "<script>{seq}",
    ],
)
def test_invalid_patterns(pattern):
    with pytest.raises(numbering.PatternError):
        numbering.validate_pattern(pattern)


def test_sequence_restarts_per_period(crm_app, crm_db):
    with crm_app.app_context():
        a = numbering.next_code(crm_db, "deal", "D{yyyy}{seq:03}", today=date(2026, 12, 31))
        b = numbering.next_code(crm_db, "deal", "D{yyyy}{seq:03}", today=date(2026, 12, 31))
        c = numbering.next_code(crm_db, "deal", "D{yyyy}{seq:03}", today=date(2027, 1, 1))
        crm_db.commit()
    assert (a, b, c) == ("D2026001", "D2026002", "D2027001")


def test_rolled_back_creation_gives_its_number_back(crm_app, crm_db):
    numbering.next_code(crm_db, "k", "{seq}")
    crm_db.commit()
    assert numbering.next_code(crm_db, "k", "{seq}") == "2"
    crm_db.rollback()
    assert numbering.next_code(crm_db, "k", "{seq}") == "2"


def test_admin_rule_applies_to_new_records(api, enable_modules):
    enable_modules("alpha")
    admin = api("admin")
    rules = {r["kind"]: r for r in admin.get("/api/v1/numbering-rules").get_json()}
    assert rules["alpha_item"]["pattern"] == "A{yyyy}{seq:04}"
    r = admin.put("/api/v1/numbering-rules/alpha_item", json={"pattern": "ITEM-{seq:06}"})
    assert r.status_code == 200 and r.get_json()["preview"] == "ITEM-000001"
    assert admin.post("/api/v1/alpha/items", json={"name": "n"}).get_json()["code"] == "ITEM-000001"
    r = admin.put("/api/v1/numbering-rules/alpha_item", json={"pattern": "NOSEQ"})
    assert r.status_code == 422 and "pattern" in r.get_json()["errors"]
    assert (
        api("sales")
        .put("/api/v1/numbering-rules/alpha_item", json={"pattern": "{seq}"})
        .status_code
        == 403
    )


def test_numbering_admin_page(login, enable_modules):
    enable_modules("alpha")
    admin = login("admin")
    assert "A{yyyy}{seq:04}" in admin.get("/admin/numbering").get_data(as_text=True)
    r = admin.post_form("/admin/numbering", {"kind": "alpha_item", "pattern": "bad"})
    assert r.status_code == 400
    r = admin.post_form(
        "/admin/numbering", {"kind": "alpha_item", "pattern": "AI{seq:05}"}, follow_redirects=True
    )
    assert "AI00001" in r.get_data(as_text=True)


def test_concurrent_creation_gives_unique_codes(crm_app):
    """Eight threads, each in its own transaction, allocate 25 codes each."""
    db = crm_app.extensions["crm"].db
    codes, errors = [], []
    lock = threading.Lock()

    def work():
        try:
            for _ in range(25):
                with db.session_scope() as s:
                    code = numbering.next_code(s, "race", "R{yyyy}{seq:05}")
                with lock:
                    codes.append(code)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(codes) == 200 and len(set(codes)) == 200
    assert max(codes).endswith("00200")


def test_bulk_allocation_continues_the_sequence(crm_app, crm_db):
    numbering.next_code(crm_db, "bulk", "B{seq:04}")
    codes = numbering.next_codes(crm_db, "bulk", 3, "B{seq:04}")
    assert codes == ["B0002", "B0003", "B0004"]
    assert numbering.next_code(crm_db, "bulk", "B{seq:04}") == "B0005"
    assert numbering.next_codes(crm_db, "fresh", 2, "F{seq}") == ["F1", "F2"]
    assert numbering.next_codes(crm_db, "fresh", 0) == []
