"""The pack through the knowledge module: loaded by its loader, contributed by the plugin's
hook, installed with `crm knowledge packs install`, shown at /kb/ (public articles only),
installed twice without change, upgraded without losing local edits, refused when broken."""

from __future__ import annotations

import re
import shutil

import pytest
from insurance_faq_testkit import (
    ADDED_LINE,
    ALSO_CHANGED_SLUG,
    CHANGED_SLUG,
    NEW_SLUG,
    PACK_DIR,
    articles,
    copy_pack,
    make_next_version,
    manifest,
)
from markupsafe import escape
from sqlalchemy import text

packs = pytest.importorskip("crm_knowledge.packs", reason="the knowledge module is not installed")

ARTICLES = articles()
PUBLIC = sorted(s for s, a in ARTICLES.items() if a["zh_Hant"][0]["visibility"] == "public")
INTERNAL = sorted(s for s, a in ARTICLES.items() if a["zh_Hant"][0]["visibility"] == "internal")


@pytest.fixture
def crm_config(tmp_path):
    return {"CRM_KNOWLEDGE_STORAGE_DIR": str(tmp_path / "knowledge-files")}


@pytest.fixture
def faq(enable_modules, crm_app):
    """insurance_faq enabled; knowledge comes with it (a dependency)."""
    assert set(enable_modules("insurance_faq")) >= {"knowledge", "insurance_faq"}
    return crm_app


@pytest.fixture
def ship(monkeypatch, tmp_path):
    """``ship(folder)``: make the plugin's hook read the pack from ``folder`` instead of the
    package, as if a new release of crm-insurance-faq had been installed."""
    import crm_insurance_faq.plugin as plugin_module

    def use(pack_dir):
        monkeypatch.setattr(plugin_module, "files", lambda _package: pack_dir.parent)

    return use


def installed(crm_db) -> dict[str, dict]:
    """The pack's articles in the database, by slug."""
    crm_db.rollback()  # a fresh transaction sees what the CLI committed
    rows = crm_db.execute(
        text(
            "SELECT id, pack_key, pack_version, visibility, status, version, title "
            "FROM knowledge_article WHERE pack_name = 'insurance-faq'"
        )
    ).mappings()
    return {r["pack_key"]: dict(r) for r in rows}


def test_the_knowledge_loader_accepts_the_pack():
    pack = packs.KnowledgePack.from_directory(PACK_DIR)
    assert (pack.name, pack.version, pack.source_locale) == ("insurance-faq", "1.0.0", "zh_Hant")
    assert [c.key for c in pack.categories] == [c["key"] for c in manifest()["categories"]]
    assert {a.slug for a in pack.articles} == set(ARTICLES)
    for a in pack.articles:
        assert set(a.translations) == {"en", "zh_Hans"}, a.slug
    assert pack.label("en") == "Insurance FAQ" and pack.label("zh_Hans") == "保险常见问题"


def test_the_plugin_contributes_its_pack_while_enabled(faq, crm_cli):
    from crm_host import modules

    out = crm_cli("knowledge", "packs", "list").output
    assert "insurance-faq\t1.0.0\tnot installed\tInsurance FAQ" in out
    modules.disable(faq, "insurance_faq")
    assert "insurance-faq" not in crm_cli("knowledge", "packs", "list").output


def test_enable_from_the_cli_needs_no_migration(crm_cli, migration_drift):
    r = crm_cli("modules", "enable", "insurance_faq", "--with-deps")
    assert r.exit_code == 0, r.output
    assert "enabled" in crm_cli("modules", "info", "insurance_faq").output
    assert migration_drift("insurance_faq") == []  # it owns no table


def test_install_publishes_the_public_articles_at_kb_and_hides_internal_ones(faq, crm_cli, crm_db):
    r = crm_cli("knowledge", "packs", "install", "insurance-faq")
    assert r.exit_code == 0, r.output
    assert "insurance-faq 1.0.0: installed" in r.output
    assert f"articles created: {len(ARTICLES)}, updated: 0, unchanged: 0, conflicts: 0" in r.output
    rows = installed(crm_db)
    assert set(rows) == set(ARTICLES)
    assert {s for s, r in rows.items() if r["visibility"] == "internal"} == set(INTERNAL)
    assert {r["status"] for r in rows.values()} == {"published"}

    web = faq.test_client()  # nobody signed in
    for slug in PUBLIC:
        for lang in ("zh_Hant", "zh_Hans", "en"):
            page = web.get(f"/kb/a/{rows[slug]['id']}?lang={lang}")
            assert page.status_code == 200, (slug, lang)
            title = ARTICLES[slug][lang][0]["title"]
            assert str(escape(title)) in page.get_data(as_text=True), (slug, lang)
    for slug in INTERNAL:
        for lang in ("zh_Hant", "en"):
            assert web.get(f"/kb/a/{rows[slug]['id']}?lang={lang}").status_code == 404, slug

    home = web.get("/kb/?lang=zh_Hant").get_data(as_text=True)
    assert "理賠" in home and "保單條款" in home

    # Search: Chinese and English find the pack's articles, never an internal one.
    public_ids = {rows[s]["id"] for s in PUBLIC}
    internal_ids = {rows[s]["id"] for s in INTERNAL}

    def hits(q, lang):
        page = web.get("/kb/search", query_string={"q": q, "lang": lang})
        assert page.status_code == 200
        return {int(i) for i in re.findall(r'href="/kb/a/(\d+)', page.get_data(as_text=True))}

    assert rows["deductible"]["id"] in hits("自負額", "zh_Hant")
    assert rows["deductible"]["id"] in hits("deductible", "en")
    assert rows["cooling-off-period"]["id"] in hits("犹豫期", "zh_Hans")
    for q in ("理賠", "分流", "詐保", "triage", "agents"):  # the last four: internal words
        found = hits(q, "zh_Hant")
        assert found <= public_ids and not found & internal_ids, q


def test_internal_articles_are_there_for_staff(faq, crm_cli, crm_db, api):
    crm_cli("knowledge", "packs", "install", "insurance-faq")
    rows = installed(crm_db)
    staff = api("admin")
    r = staff.get(f"/api/v1/articles/{rows['claim-triage-guidelines']['id']}")
    assert r.status_code == 200
    assert r.get_json()["title"] == ARTICLES["claim-triage-guidelines"]["zh_Hant"][0]["title"]


def test_an_administrator_installs_it_from_the_packs_screen(faq, login, crm_db):
    admin = login("admin")
    page = admin.get("/admin/knowledge/packs")
    assert page.status_code == 200
    assert "Insurance FAQ" in page.get_data(as_text=True) or "保險常見問題" in page.get_data(
        as_text=True
    )
    r = admin.post_form("/admin/knowledge/packs", {"name": "insurance-faq", "action": "install"})
    assert r.status_code == 200
    assert set(installed(crm_db)) == set(ARTICLES)
    # Someone without knowledge.admin cannot.
    assert login("sales").get("/admin/knowledge/packs").status_code == 403


def test_a_script_installs_it_through_the_api(faq, api, crm_db):
    admin = api("admin")
    listed = admin.get("/api/v1/knowledge/packs").get_json()
    assert {"name": "insurance-faq", "version": "1.0.0", "installed_version": None}.items() <= (
        next(p for p in listed if p["name"] == "insurance-faq").items()
    )
    first = admin.post("/api/v1/knowledge/packs/insurance-faq/install")
    assert first.status_code == 200 and first.get_json()["outcome"] == "installed"
    again = admin.post("/api/v1/knowledge/packs/insurance-faq/install").get_json()
    assert again["outcome"] == "unchanged"
    assert set(installed(crm_db)) == set(ARTICLES)
    assert api("sales").post("/api/v1/knowledge/packs/insurance-faq/install").status_code == 403


def test_installing_twice_changes_nothing(faq, crm_cli, crm_db):
    assert crm_cli("knowledge", "packs", "install", "insurance-faq").exit_code == 0
    before = installed(crm_db)
    again = crm_cli("knowledge", "packs", "install", "insurance-faq")
    assert again.exit_code == 0, again.output
    assert "insurance-faq 1.0.0: unchanged" in again.output
    assert installed(crm_db) == before  # same rows, same versions
    listed = crm_cli("knowledge", "packs", "list").output
    assert "insurance-faq\t1.0.0\tinstalled 1.0.0" in listed


def test_upgrade_to_a_new_release_keeps_local_edits(faq, crm_cli, crm_db, api, ship, tmp_path):
    crm_cli("knowledge", "packs", "install", "insurance-faq")
    rows = installed(crm_db)

    # An editor adapts one article to the company before the partner ships 1.1.0.
    editor = api("admin")
    art_id = rows[CHANGED_SLUG]["id"]
    current = editor.get(f"/api/v1/articles/{art_id}").get_json()
    local = current["body"] + "\n\n本公司另提供 24 小時線上報案。"
    r = editor.patch(
        f"/api/v1/articles/{art_id}", json={"body": local, "version": current["version"]}
    )
    assert r.status_code == 200, r.get_json()

    # The partner releases 1.1.0: CHANGED_SLUG and ALSO_CHANGED_SLUG changed, NEW_SLUG added.
    new_release = copy_pack(tmp_path / "release-1.1.0")
    make_next_version(new_release, "1.1.0")
    ship(new_release)
    assert "upgrade available to 1.1.0" in crm_cli("knowledge", "packs", "list").output

    # `install` does not upgrade: it refuses and says what to do.
    refused = crm_cli("knowledge", "packs", "install", "insurance-faq")
    assert refused.exit_code != 0 and "use upgrade" in refused.output

    r = crm_cli("knowledge", "packs", "upgrade", "insurance-faq")
    assert r.exit_code == 0, r.output
    assert "insurance-faq 1.1.0: upgraded (was 1.0.0)" in r.output
    assert (
        f"articles created: 1, updated: 1, unchanged: {len(ARTICLES) - 2}, conflicts: 1" in r.output
    )
    assert f"conflict: '{CHANGED_SLUG}' (article {art_id}) was edited locally" in r.output

    after = installed(crm_db)
    assert set(after) == set(ARTICLES) | {NEW_SLUG}
    # The local edit wins; the pack's new text is kept as a revision that can be restored.
    kept = editor.get(f"/api/v1/articles/{art_id}").get_json()
    assert kept["body"] == local and ADDED_LINE["zh_Hant"] not in kept["body"]
    revisions = editor.get(f"/api/v1/articles/{art_id}/revisions").get_json()
    items = revisions["items"] if isinstance(revisions, dict) else revisions
    assert any("not applied" in (rev.get("note") or "") for rev in items)
    # The article nobody touched took the new text, in every language.
    web = faq.test_client()
    for lang, line in ADDED_LINE.items():
        page = web.get(f"/kb/a/{after[ALSO_CHANGED_SLUG]['id']}?lang={lang}").get_data(as_text=True)
        assert str(escape(line)) in page, lang
    assert web.get(f"/kb/a/{after[NEW_SLUG]['id']}?lang=en").status_code == 200

    # Upgrading again to the same release changes nothing.
    again = crm_cli("knowledge", "packs", "upgrade", "insurance-faq")
    assert "insurance-faq 1.1.0: unchanged" in again.output


def _break_category(pack):
    path = pack / "articles" / f"{CHANGED_SLUG}.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace('category = "claims"', 'category = "claim"'),
        encoding="utf-8",
    )


def _orphan_translation(pack):
    (pack / "articles" / f"{CHANGED_SLUG}.md").unlink()


def _unknown_locale(pack):
    shutil.copy(
        pack / "articles" / f"{CHANGED_SLUG}.en.md", pack / "articles" / f"{CHANGED_SLUG}.ja.md"
    )


def _unclosed_front_matter(pack):
    path = pack / "articles" / f"{CHANGED_SLUG}.zh_Hans.md"
    path.write_text(
        path.read_text(encoding="utf-8")
        .replace("+++\n", "", 2)
        .replace("title =", "+++\ntitle =", 1),
        encoding="utf-8",
    )


def _bad_parent(pack):
    toml = pack / "pack.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('parent = "claims"', 'parent = "claim"', 1),
        encoding="utf-8",
    )


def _bad_version(pack):
    toml = pack / "pack.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('version = "1.0.0"', 'version = "one"'),
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    "breakage, where",
    [
        (_break_category, f"articles/{CHANGED_SLUG}.md: field 'category'"),
        (_orphan_translation, f"articles/{CHANGED_SLUG}."),
        (_unknown_locale, f"articles/{CHANGED_SLUG}.ja.md: field 'locale'"),
        (_unclosed_front_matter, f"articles/{CHANGED_SLUG}.zh_Hans.md"),
        (_bad_parent, "pack.toml: field 'categories[1].parent'"),
        (_bad_version, "pack.toml: field 'version'"),
    ],
    ids=[
        "unknown-category",
        "orphan-translation",
        "unknown-locale",
        "front-matter",
        "unknown-parent",
        "bad-version",
    ],
)
def test_a_broken_copy_is_refused_naming_the_bad_entry(tmp_path, breakage, where):
    broken = copy_pack(tmp_path)
    breakage(broken)
    with pytest.raises(packs.PackError) as refused:
        packs.KnowledgePack.from_directory(broken)
    assert str(refused.value).startswith(where), str(refused.value)


def test_a_broken_release_installs_nothing_and_says_why(faq, crm_cli, crm_db, ship, tmp_path):
    broken = copy_pack(tmp_path)
    _break_category(broken)
    ship(broken)
    where = f"articles/{CHANGED_SLUG}.md: field 'category': unknown category 'claim'"
    listed = crm_cli("knowledge", "packs", "list")
    assert "insurance-faq\t" not in listed.output and where in listed.output
    r = crm_cli("knowledge", "packs", "install", "insurance-faq")
    assert r.exit_code != 0
    assert "No pack named 'insurance-faq'" in r.output
    assert f"Refused (plugin insurance_faq): {where}" in r.output
    assert installed(crm_db) == {}  # refused whole: not one article
    # A bad pack is the pack's problem, not the plugin's: the module stays enabled.
    assert "state:        enabled" in crm_cli("modules", "info", "insurance_faq").output
