"""The translation catalogs of the host and of every plugin agree with each other.

Flask-Babel merges the host's catalog (crm_host/translations) and every plugin's
(plugins/<name>/crm_<name>/translations) into ONE gettext domain: when two catalogs translate
the same English text differently, whichever loads last wins on every page, so a button in one
module shows the other module's wording. These tests compare the Chinese catalogs pair by pair
(one test per pair and locale, so a clash is reported against the modules that cause it) and
check each catalog on its own: no fuzzy or empty translation, and the same placeholders as the
English text.
"""

from __future__ import annotations

import functools
import itertools
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("zh_Hant", "zh_Hans")

# %(name)s (also %(n)d, %(x).1f ...) as used by gettext/lazy_gettext and Jinja's newstyle _(),
# and {name} merge fields that users' templates and str.format() fill in.
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|\{(\w+)\}")


def _catalog_dirs() -> dict[str, Path]:
    dirs = {"host": ROOT / "crm_host" / "translations"}
    for d in sorted(ROOT.glob("plugins/*/crm_*/translations")):
        dirs[d.parent.parent.name] = d  # the plugin's folder name: customers, pipeline, ...
    return dirs


CATALOGS = _catalog_dirs()


@functools.cache
def _read(name: str, locale: str):
    path = CATALOGS[name] / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _forms(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _translations(name: str, locale: str) -> dict[tuple, str | tuple[str, ...]]:
    """{(msgctxt, msgid, plural?): translation} for the usable (non-empty, non-fuzzy) entries.

    The key follows what the merged domain looks up: a msgid under a msgctxt (pgettext) is
    a key of its own, and a plural entry is found by its singular msgid."""
    found = {}
    for m in _read(name, locale):
        if not m.id or m.fuzzy or not all(_forms(m)):
            continue
        plural = isinstance(m.id, tuple)
        singular = m.id[0] if plural else m.id
        found[(m.context, singular, plural)] = m.string
    return found


def _show(key: tuple) -> str:
    context, msgid, plural = key
    text = repr(msgid) + (" (plural)" if plural else "")
    return f"pgettext({context!r}, {text})" if context else text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("first", "second"),
    list(itertools.combinations(CATALOGS, 2)),
    ids=[f"{a}+{b}" for a, b in itertools.combinations(CATALOGS, 2)],
)
def test_two_catalogs_translate_the_same_english_alike(first, second, locale):
    a, b = _translations(first, locale), _translations(second, locale)
    clashes = [
        f"  {_show(key)}: {first} → {a[key]!r}, {second} → {b[key]!r}"
        for key in sorted(a.keys() & b.keys(), key=lambda k: (k[1], k[0] or "", k[2]))
        if a[key] != b[key]
    ]
    assert not clashes, (
        f"The {first} and {second} catalogs ({locale}) translate {len(clashes)} English "
        "text(s) differently. Flask-Babel merges every catalog into one domain, so whichever "
        "loads last wins on every page:\n"
        + "\n".join(clashes)
        + "\nFix: if the meaning is the same, use the same words in both catalogs; if the "
        "meanings differ, give the narrower one a more specific English text (e.g. 'Job title' "
        "rather than 'Title') or a context with pgettext(context, text)."
    )


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", list(CATALOGS))
def test_no_fuzzy_or_empty_translation(name, locale):
    bad = [
        f"  {'fuzzy' if m.fuzzy else 'empty'}: {_show((m.context, m.id, False))}"
        for m in _read(name, locale)
        if m.id and (m.fuzzy or not all(_forms(m)))
    ]
    assert not bad, (
        f"{CATALOGS[name].relative_to(ROOT)}/{locale}/LC_MESSAGES/messages.po has "
        f"{len(bad)} untranslated or unreviewed entries (gettext shows English for them):\n"
        + "\n".join(bad)
        + "\nTranslate them, remove the '#, fuzzy' flags, then run pybabel compile."
    )


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", list(CATALOGS))
def test_translations_keep_the_placeholders(name, locale):
    bad = []
    for m in _read(name, locale):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        allowed = [_placeholders(i) for i in ids]  # a plural form may follow either msgid
        for form in _forms(m):
            if form and _placeholders(form) not in allowed:
                bad.append(
                    f"  {_show((m.context, ids[0], len(ids) > 1))} → {form!r}: has "
                    f"{sorted(_placeholders(form))}, expected {sorted(allowed[-1])}"
                )
    assert not bad, (
        f"{CATALOGS[name].relative_to(ROOT)}/{locale}/LC_MESSAGES/messages.po: translations "
        "whose %(name)s / {name} placeholders differ from the English text (a missing one "
        "drops a value, an unknown one raises KeyError):\n" + "\n".join(bad)
    )
