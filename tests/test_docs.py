"""The plugin contract is documented: every hookspec with its exact signature, every value
type with its fields, every fixture plugin authors get (docs/plugins.md)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import crm_host
from crm_host import contract, hookspecs

ROOT = Path(__file__).resolve().parent.parent
PLUGINS_MD = ROOT / "docs" / "plugins.md"
TESTING_PY = Path(crm_host.__file__).resolve().parent / "testing.py"

SPEC_MARKER = f"{crm_host.PROJECT}_spec"  # what pluggy's HookspecMarker sets: "crm_spec"
VALUE_TYPES = (
    "Plugin",
    "Permission",
    "MenuItem",
    "DashboardWidget",
    "Panel",
    "SearchResult",
    "Entity",
    "NotificationKind",
    "Message",
    "Channel",
    "Job",
)


def _doc() -> str:
    return PLUGINS_MD.read_text(encoding="utf-8")


def _hookspecs() -> dict:
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("crm_") and hasattr(fn, SPEC_MARKER)
    }


def _signature(name: str, fn) -> str:
    return f"{name}({', '.join(inspect.signature(fn).parameters)})"


def _sections(text: str) -> dict[str, str]:
    """Heading line → the text under it, up to the next heading (code fences skipped)."""
    out: dict[str, str] = {}
    current, buf, in_code = None, [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if not in_code and re.match(r"#{1,6} ", line):
            if current is not None:
                out[current] = "\n".join(buf)
            current, buf = line.strip(), []
            continue
        buf.append(line)
    if current is not None:
        out[current] = "\n".join(buf)
    return out


def _fixtures() -> list[str]:
    """Public fixtures defined in crm_host/testing.py (decorated with @pytest.fixture)."""
    tree = ast.parse(TESTING_PY.read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if isinstance(target, ast.Attribute) and target.attr == "fixture":
                names.append(node.name)
            elif isinstance(target, ast.Name) and target.id == "fixture":
                names.append(node.name)
    return names


def test_hookspecs_are_found():
    specs = _hookspecs()
    # Guards the discovery itself: if the marker name changed, every other check would pass
    # vacuously.
    assert "crm_entities" in specs and "crm_dashboard_widgets" in specs
    assert len(specs) >= 10


@pytest.mark.parametrize("name", sorted(_hookspecs()))
def test_every_hookspec_is_documented_with_its_exact_signature(name):
    sig = _signature(name, _hookspecs()[name])
    doc = _doc()
    assert sig in doc, f"docs/plugins.md does not mention `{sig}`"
    assert f"### `{sig}`" in doc.splitlines(), (
        f"docs/plugins.md needs a heading line exactly: ### `{sig}`"
    )


def test_no_documented_hook_heading_is_stale():
    specs = {_signature(n, f) for n, f in _hookspecs().items()}
    documented = re.findall(r"^### `(crm_\w+\([^)]*\))`$", _doc(), flags=re.M)
    assert documented, "no hook headings found in docs/plugins.md"
    stale = sorted(set(documented) - specs)
    assert not stale, f"documented hooks that are not hookspecs (renamed or removed?): {stale}"


def test_value_types_are_public_and_exist():
    for name in VALUE_TYPES:
        assert dataclasses.is_dataclass(getattr(contract, name)), name
        if name != "Message":
            assert name in crm_host.__all__, f"{name} is not exported by crm_host"


@pytest.mark.parametrize("name", VALUE_TYPES)
def test_every_value_type_is_documented_with_its_fields(name):
    doc = _doc()
    assert f"`{name}`" in doc, f"docs/plugins.md does not mention `{name}`"
    sections = _sections(doc)
    heading = f"### `{name}`"
    assert heading in sections, f"docs/plugins.md needs a section headed: {heading}"
    body = sections[heading]
    missing = [
        f.name for f in dataclasses.fields(getattr(contract, name)) if f"`{f.name}`" not in body
    ]
    assert not missing, f"fields of {name} not documented under its heading: {missing}"


def test_fixtures_are_found():
    names = _fixtures()
    assert {"crm_app", "login", "api", "crm_cli"} <= set(names)


@pytest.mark.parametrize("name", _fixtures())
def test_every_fixture_is_documented(name):
    assert f"`{name}`" in _doc(), (
        f"fixture `{name}` (crm_host/testing.py) is not in docs/plugins.md"
    )


def test_hook_api_version_is_documented():
    assert "HOOK_API_VERSION" in _doc()
    assert f'"{crm_host.HOOK_API_VERSION}"' in _doc()
