"""The pack's content, checked without the knowledge module: it parses, every article exists
in all three languages, references point at real categories and articles, and the wheel
ships it. (test_insurance_faq_install.py checks it through the knowledge module.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from insurance_faq_testkit import LOCALES, PACK_DIR, PACKAGE_DIR, SLUG_RE, articles, manifest

PACK_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,60}$")


@pytest.fixture(scope="module")
def pack():
    return manifest()


@pytest.fixture(scope="module")
def arts():
    return articles()


def test_manifest_names_the_pack_in_three_languages(pack):
    from packaging.version import Version

    assert pack["name"] == "insurance-faq" and PACK_NAME_RE.match(pack["name"])
    assert Version(pack["version"]) == Version("1.0.0")
    assert pack["source_locale"] == "zh_Hant"
    for field in ("title", "description"):
        assert set(pack[field]) == set(LOCALES), field
        assert all(text.strip() for text in pack[field].values()), field


def test_categories_are_unique_translated_and_form_a_tree(pack):
    cats = pack["categories"]
    keys = [c["key"] for c in cats]
    assert len(keys) == len(set(keys))
    assert {"claims", "claims-car", "claims-health", "policy", "premiums", "faq"} <= set(keys)
    parents = {c["key"]: c.get("parent") for c in cats}
    for c in cats:
        assert set(c["name"]) == set(LOCALES), c["key"]
        assert c.get("parent") in (None, *keys), c["key"]
        seen, k = set(), c["key"]
        while k is not None:  # walking up ends: no cycle
            assert k not in seen, c["key"]
            seen.add(k)
            k = parents[k]


def test_every_article_is_well_formed(pack, arts):
    keys = {c["key"] for c in pack["categories"]}
    for slug, per_locale in arts.items():
        assert SLUG_RE.match(slug), slug
        meta, body = per_locale["zh_Hant"]
        assert set(meta) <= {"kind", "category", "title", "tags", "visibility"}, slug
        assert meta["kind"] in ("qa", "article"), slug
        assert meta["category"] in keys, slug
        assert meta["visibility"] in ("public", "internal"), slug
        assert meta["title"].strip() and len(meta["title"]) <= 300, slug
        assert all(isinstance(t, str) and t.strip() for t in meta.get("tags", [])), slug
        assert len(body) > 200, slug  # real content, not a placeholder
        if meta["kind"] == "qa":
            assert meta["title"].endswith(("？", "?")), f"{slug}: a question's title asks"


def test_every_article_exists_in_all_three_languages(arts):
    for slug, per_locale in arts.items():
        assert set(per_locale) == set(LOCALES), slug
        for locale in ("zh_Hans", "en"):
            meta, body = per_locale[locale]
            assert set(meta) == {"title"}, f"{slug}.{locale}: a translation holds only a title"
            assert meta["title"].strip() and body.strip(), f"{slug}.{locale}"
            # The same structure in every language: as many headings and table rows.
            src = per_locale["zh_Hant"][1]
            assert body.count("\n## ") == src.count("\n## "), f"{slug}.{locale}: headings"
            assert body.count("\n|") == src.count("\n|"), f"{slug}.{locale}: table rows"


def test_the_pack_is_big_enough_and_mixes_public_and_internal(pack, arts):
    metas = [a["zh_Hant"][0] for a in arts.values()]
    assert len(metas) >= 25
    internal = [m for m in metas if m["visibility"] == "internal"]
    assert 2 <= len(internal) < len(metas) // 4
    assert {m["kind"] for m in metas} == {"qa", "article"}
    # No category is empty for the public: each one (or a child) has a public article.
    public_cats = {m["category"] for m in metas if m["visibility"] == "public"}
    parents = {c["key"]: c.get("parent") for c in pack["categories"]}
    reached = set(public_cats) | {parents[k] for k in public_cats if parents[k]}
    assert reached == set(parents)


# The knowledge module renders a single line break as a line break (Markdown "breaks" on, as
# people type in a text box), so a paragraph or list item is written on one line.
BLOCK_START = re.compile(r"^\s*(#|\||[-*+] |>|\d+\. |```)")


def test_paragraphs_are_not_hard_wrapped(arts):
    for slug, per_locale in arts.items():
        for locale, (_meta, body) in per_locale.items():
            lines = body.split("\n")
            for before, line in zip(lines, lines[1:], strict=False):
                if line.strip() and before.strip() and not BLOCK_START.match(line):
                    assert before.lstrip().startswith(("|", "#")), (
                        f"{slug}.{locale}: a wrapped line: {line[:40]!r}"
                    )


# Cross references name other articles by their exact title in the reader's language:
# 〈title〉 in zh_Hant, 《title》 in zh_Hans (law names end in 法/规范/标准…), see "title" in en.
REFS = {
    "zh_Hant": re.compile(r"〈([^〉]+)〉"),
    "zh_Hans": re.compile(r"《([^》]+)》"),
    "en": re.compile(r'(?:[Ss]ee|described in|[Ss]ee also) "([^"]+)"'),
}
NOT_AN_ARTICLE = re.compile(r"(法|规范|标准|及代码|（2020 年修订版）)$")


def test_cross_references_name_real_articles(arts):
    titles = {loc: {a[loc][0]["title"] for a in arts.values()} for loc in LOCALES}
    for slug, per_locale in arts.items():
        for locale, (_meta, body) in per_locale.items():
            for ref in REFS[locale].findall(body):
                ref = " ".join(ref.split())  # a reference may wrap across lines
                if locale == "zh_Hans" and NOT_AN_ARTICLE.search(ref):
                    continue
                assert ref in titles[locale], f"{slug}.{locale}: no article titled {ref!r}"


def test_internal_articles_do_not_leak_into_public_ones(arts):
    internal_titles = {
        loc: {
            a[loc][0]["title"] for a in arts.values() if a["zh_Hant"][0]["visibility"] == "internal"
        }
        for loc in LOCALES
    }
    for slug, per_locale in arts.items():
        if per_locale["zh_Hant"][0]["visibility"] != "public":
            continue
        for locale, (_meta, body) in per_locale.items():
            for title in internal_titles[locale]:
                assert title not in body, f"{slug}.{locale} points the public at {title!r}"


def test_package_data_ships_every_pack_file():
    """pyproject.toml's package-data must cover every file of the pack (else the wheel has
    plugin.py and no articles: the pack would fail to load once installed from PyPI)."""
    text = (PACKAGE_DIR.parent / "pyproject.toml").read_text(encoding="utf-8")
    patterns = re.search(r'"crm_insurance_faq" = \[(.*?)\]', text, re.S).group(1)
    globs = re.findall(r'"([^"]+)"', patterns)
    covered = {p for g in globs for p in PACKAGE_DIR.glob(g)}
    shipped = {p for p in PACK_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped and shipped <= covered, sorted(map(str, shipped - covered))


@pytest.mark.slow
def test_the_built_wheel_contains_the_pack(tmp_path):
    import shutil
    import zipfile

    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path / "src"
    shutil.copytree(
        PACKAGE_DIR.parent,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0 and "satisfies the requirement setuptools" in run.stderr:
        pytest.skip("no package index to fetch the build backend from")
    assert run.returncode == 0, run.stderr
    wheel = next(tmp_path.glob("crm_insurance_faq-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "crm_insurance_faq/" + str(p.relative_to(PACKAGE_DIR)).replace("\\", "/")
        for p in PACK_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected <= names, sorted(expected - names)[:5]
    assert "crm_insurance_faq/plugin.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "insurance_faq = crm_insurance_faq.plugin"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_pack_dir_is_inside_the_package():
    assert Path(PACK_DIR).is_dir() and (PACKAGE_DIR / "plugin.py").is_file()


def test_emphasis_renders_in_every_language(arts):
    # CommonMark does not close ** between a full-width bracket and a Chinese character
    # (**保單價值（解約金）**的 shows its asterisks): keep the brackets outside the bold.
    markup = pytest.importorskip("crm_knowledge.markup")
    for slug, per_locale in arts.items():
        for locale, (_meta, body) in per_locale.items():
            html = markup.render(body)
            assert "**" not in html, f"{slug}.{locale}: unrendered ** in {html[:80]!r}"
