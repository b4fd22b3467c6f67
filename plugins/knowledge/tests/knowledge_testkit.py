"""Helpers for the knowledge tests: a pack directory written on the fly."""

from __future__ import annotations

from pathlib import Path

PACK_TOML = """\
name = "{name}"
version = "{version}"
source_locale = "zh_Hant"
title = {{ zh_Hant = "保險常見問題", zh_Hans = "保险常见问题", en = "Insurance FAQ" }}
description = {{ zh_Hant = "理賠與保單", en = "Claims and policies" }}

[[categories]]
key = "claims"
name = {{ zh_Hant = "理賠", zh_Hans = "理赔", en = "Claims" }}

[[categories]]
key = "car"
name = {{ zh_Hant = "車險", zh_Hans = "车险", en = "Car insurance" }}
parent = "claims"
"""

ARTICLES = {
    "car-claim-documents.md": """+++
kind = "qa"
category = "car"
title = "車險理賠需要準備哪些文件？"
tags = ["車險", "理賠"]
visibility = "public"
+++
請準備**理賠申請書**、行車執照與駕照影本、事故證明。
""",
    "car-claim-documents.en.md": """+++
title = "Which documents does a car insurance claim need?"
+++
Bring the **claim form**, copies of the vehicle and driving licences and the accident report.
""",
    "car-claim-documents.zh_Hans.md": """+++
title = "车险理赔需要准备哪些文件？"
+++
请准备**理赔申请书**、行车执照与驾照复印件、事故证明。
""",
    "underwriting-rules.md": """+++
kind = "article"
category = "claims"
title = "核保內部規則"
visibility = "internal"
+++
內部使用：高風險職業加費標準。
""",
}


def write_pack(root: Path, name="insurance-faq", version="1.0.0", articles=None, toml=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.toml").write_text(
        toml if toml is not None else PACK_TOML.format(name=name, version=version),
        encoding="utf-8",
    )
    folder = root / "articles"
    folder.mkdir(exist_ok=True)
    for f in folder.iterdir():
        f.unlink()
    for fname, content in (ARTICLES if articles is None else articles).items():
        (folder / fname).write_text(content, encoding="utf-8")
    return root
