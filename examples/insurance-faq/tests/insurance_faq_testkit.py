"""Helpers for the insurance-faq tests: where the pack is, a plain reader of its files, and
copies of it in a temporary folder (a newer version, a broken one)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import tomllib

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "crm_insurance_faq"
PACK_DIR = PACKAGE_DIR / "pack"
LOCALES = ("zh_Hant", "zh_Hans", "en")
SOURCE_LOCALE = "zh_Hant"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


def manifest(pack_dir: Path = PACK_DIR) -> dict:
    return tomllib.loads((pack_dir / "pack.toml").read_text(encoding="utf-8"))


def read_article(path: Path) -> tuple[dict, str]:
    """(front matter, body) of one article file; raises ValueError when it is malformed."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines[0] != "+++":
        raise ValueError(f"{path.name}: no front matter")
    end = lines.index("+++", 1)
    return tomllib.loads("\n".join(lines[1:end])), "\n".join(lines[end + 1 :]).strip()


def articles(pack_dir: Path = PACK_DIR) -> dict[str, dict[str, tuple[dict, str]]]:
    """{slug: {locale: (front matter, body)}} for every article file of the pack."""
    out: dict[str, dict[str, tuple[dict, str]]] = {}
    for path in sorted((pack_dir / "articles").glob("*.md")):
        slug, _, locale = path.name[:-3].partition(".")
        out.setdefault(slug, {})[locale or SOURCE_LOCALE] = read_article(path)
    return out


def copy_pack(dest: Path) -> Path:
    """A copy of the shipped pack at ``dest / "pack"`` (returns that folder)."""
    target = dest / "pack"
    shutil.copytree(PACK_DIR, target)
    return target


def set_version(pack_dir: Path, version: str) -> None:
    toml = pack_dir / "pack.toml"
    text = toml.read_text(encoding="utf-8")
    text, n = re.subn(r'^version = "[^"]+"', f'version = "{version}"', text, flags=re.M)
    assert n == 1
    toml.write_text(text, encoding="utf-8")


CHANGED_SLUG = "claim-deadlines"  # changed by the next release (and, in a test, locally too)
ALSO_CHANGED_SLUG = "claim-documents"  # changed by the next release only
NEW_SLUG = "travel-insurance-claim"
ADDED_LINE = {
    "zh_Hant": "在國外發生事故時，請同時保留當地的報案與就醫證明。",
    "zh_Hans": "在境外发生事故时，请同时保存当地的报案与就医证明。",
    "en": "If it happens abroad, keep the local police and medical papers as well.",
}
NEW_ARTICLE = {
    f"{NEW_SLUG}.md": """+++
kind = "qa"
category = "claims"
title = "旅遊不便險與海外醫療怎麼申請理賠？"
tags = ["旅平險", "海外醫療"]
visibility = "public"
+++
回國後備妥**當地醫療收據與診斷證明**（外文文件可能需要翻譯）、護照出入境紀錄，以及航空公司出具的延誤或行李證明。
""",
    f"{NEW_SLUG}.zh_Hans.md": """+++
title = "旅行不便险与境外医疗怎么申请理赔？"
+++
回国后备齐**当地医疗发票与诊断证明**（外文材料可能需要翻译）、护照出入境记录，以及航空公司出具的延误或行李证明。
""",
    f"{NEW_SLUG}.en.md": """+++
title = "How do I claim travel inconvenience or overseas medical costs?"
+++
Back home, gather the **local medical receipts and certificate** (translated if needed), the
passport's entry and exit stamps, and the airline's delay or baggage statement.
""",
}


def make_next_version(pack_dir: Path, version: str = "1.1.0") -> None:
    """Turn a copy of the pack into the next release: a higher version, two articles changed
    in every language, one new article."""
    set_version(pack_dir, version)
    folder = pack_dir / "articles"
    for slug in (CHANGED_SLUG, ALSO_CHANGED_SLUG):
        for locale, line in ADDED_LINE.items():
            path = folder / (f"{slug}.md" if locale == SOURCE_LOCALE else f"{slug}.{locale}.md")
            text = path.read_text(encoding="utf-8").rstrip("\n")
            path.write_text(f"{text}\n\n{line}\n", encoding="utf-8")
    for name, text in NEW_ARTICLE.items():
        (folder / name).write_text(text, encoding="utf-8")
