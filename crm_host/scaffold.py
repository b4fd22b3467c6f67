"""``crm plugin new NAME``: write a working plugin skeleton from ``scaffold/template``.

The template files use ``__name__`` / ``__Name__`` placeholders in paths and ``{{name}}`` /
``{{Name}}`` / ``{{date}}`` in contents, so the skeleton stays readable as plain files.
"""

from __future__ import annotations

import keyword
import re
from datetime import date
from pathlib import Path

TEMPLATE = Path(__file__).parent / "scaffold" / "template"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
RESERVED = {"host", "crm", "test", "tests", "admin", "api", "static"}


class ScaffoldError(ValueError):
    pass


def create(name: str, directory: str | Path = "plugins") -> Path:
    if not NAME.match(name) or keyword.iskeyword(name) or name in RESERVED:
        raise ScaffoldError(
            f"'{name}' is not a usable plugin name: use 2-31 lower-case letters, digits or "
            f"underscores, starting with a letter (and not one of {', '.join(sorted(RESERVED))})."
        )
    target = Path(directory) / name
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or folder.")
    words = {
        "{{name}}": name,
        "{{dist}}": name.replace("_", "-"),  # the normalised distribution name (PEP 503)
        "{{Name}}": name.replace("_", " ").title(),
        "{{Class}}": "".join(p.title() for p in name.split("_")),
        "{{date}}": date.today().isoformat(),
    }
    for src in sorted(TEMPLATE.rglob("*")):
        if src.is_dir() or "__pycache__" in src.parts:
            continue
        rel = str(src.relative_to(TEMPLATE)).replace("__name__", name)
        rel = rel.removesuffix(".tmpl")
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = src.read_text(encoding="utf-8")
        for k, v in words.items():
            text = text.replace(k, v)
        dest.write_text(text, encoding="utf-8")
    return target
