"""Code numbering rules (H-9): ``C{yyyy}{seq:05}`` → ``C202600042``.

Tokens: ``{yyyy}`` ``{yy}`` ``{mm}`` ``{dd}`` and ``{seq}`` / ``{seq:N}`` (zero-padded to N).
The sequence restarts whenever the date parts in the pattern change (a pattern with
``{yyyy}`` counts per year). Numbers are unique under concurrent creation: the counter is
advanced with one atomic ``UPDATE ... RETURNING`` on a row per (kind, period), which the
database serialises; the row lock is held until the caller's transaction ends, so a rolled
back creation gives its number back.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .models import NumberingRule, NumberSequence

TOKEN = re.compile(r"\{(yyyy|yy|mm|dd|seq(?::(\d{1,2}))?)\}")
DEFAULT_PATTERN = "{seq:06}"


class PatternError(ValueError):
    pass


def validate_pattern(pattern: str) -> None:
    if not pattern or len(pattern) > 60:
        raise PatternError("A pattern is 1 to 60 characters long.")
    tokens = TOKEN.findall(pattern)
    if sum(1 for t, _ in tokens if t.startswith("seq")) != 1:
        raise PatternError("A pattern must contain {seq} (or {seq:N}) exactly once.")
    rest = TOKEN.sub("", pattern)
    if "{" in rest or "}" in rest:
        raise PatternError("Unknown token; use {yyyy} {yy} {mm} {dd} {seq:N}.")
    if not re.fullmatch(r"[A-Za-z0-9_\-/.#]*", rest):
        raise PatternError("Only letters, digits and - _ / . # may surround the tokens.")
    for _tok, width in tokens:
        if width and not 1 <= int(width) <= 12:
            raise PatternError("The {seq:N} width is 1 to 12.")


def _period(pattern: str, today: date) -> str:
    parts = {t for t, _ in TOKEN.findall(pattern)}
    if "dd" in parts:
        return today.strftime("%Y%m%d")
    if "mm" in parts:
        return today.strftime("%Y%m")
    if "yyyy" in parts or "yy" in parts:
        return today.strftime("%Y")
    return "-"


def render(pattern: str, seq: int, today: date) -> str:
    def sub(m):
        tok, width = m.group(1), m.group(2)
        if tok == "yyyy":
            return f"{today.year:04d}"
        if tok == "yy":
            return f"{today.year % 100:02d}"
        if tok == "mm":
            return f"{today.month:02d}"
        if tok == "dd":
            return f"{today.day:02d}"
        return str(seq).zfill(int(width)) if width else str(seq)

    return TOKEN.sub(sub, pattern)


def pattern_for(session, kind: str, default: str | None = None) -> str:
    rule = session.get(NumberingRule, kind)
    if rule is not None:
        return rule.pattern
    return default or DEFAULT_PATTERN


def next_code(
    session, kind: str, default_pattern: str | None = None, today: date | None = None
) -> str:
    """Allocate the next code of ``kind`` inside the caller's transaction."""
    today = today or date.today()
    pattern = pattern_for(session, kind, default_pattern)
    period = _period(pattern, today)
    stmt = (
        update(NumberSequence)
        .where(NumberSequence.kind == kind, NumberSequence.period == period)
        .values(value=NumberSequence.value + 1)
        .returning(NumberSequence.value)
    )
    value = session.execute(stmt).scalar()
    if value is None:
        # First number of the period: create the row; if another transaction raced us to
        # it, our savepoint rolls back and the UPDATE then waits on its lock.
        try:
            with session.begin_nested():
                session.add(NumberSequence(kind=kind, period=period, value=1))
            value = 1
        except IntegrityError:
            value = session.execute(stmt).scalar()
    return render(pattern, value, today)


def next_codes(
    session, kind: str, count: int, default_pattern: str | None = None, today: date | None = None
) -> list[str]:
    """Allocate ``count`` consecutive codes in one statement (bulk imports)."""
    if count <= 0:
        return []
    today = today or date.today()
    pattern = pattern_for(session, kind, default_pattern)
    period = _period(pattern, today)
    stmt = (
        update(NumberSequence)
        .where(NumberSequence.kind == kind, NumberSequence.period == period)
        .values(value=NumberSequence.value + count)
        .returning(NumberSequence.value)
    )
    last = session.execute(stmt).scalar()
    if last is None:
        try:
            with session.begin_nested():
                session.add(NumberSequence(kind=kind, period=period, value=count))
            last = count
        except IntegrityError:
            last = session.execute(stmt).scalar()
    return [render(pattern, n, today) for n in range(last - count + 1, last + 1)]


def preview(pattern: str, today: date | None = None) -> str:
    validate_pattern(pattern)
    return render(pattern, 1, today or date.today())


def rules(session) -> dict[str, NumberingRule]:
    return {r.kind: r for r in session.scalars(select(NumberingRule))}
