"""Full-text search that serves Chinese and English at every query length, for any module.

Chinese has no spaces and its most common queries are two characters long, which a trigram
index cannot serve. So each record keeps its searchable text as *tokens* in a ``search_text``
column: overlapping character bigrams for every CJK run (北京海宇 → 北京 京海 海宇, plus the
run's last character so one-character prefix queries reach it) and lower-cased words for
everything else. The database's own full-text index holds the tokens (FTS5 on SQLite, a GIN
``tsvector`` on PostgreSQL); a query becomes the same tokens as a phrase, its last word as a
prefix.

A module with a table ``visits_visit`` and a ``search_text`` column:

* migration: ``textsearch.install(op, "visits_visit")`` (``drop(op, "visits_visit")`` to undo);
  on SQLite call ``install`` again after a batch migration rebuilds the table;
* on write: ``visit.search_text = textsearch.index_text(visit.title, visit.notes)``;
* on read: ``stmt.where(textsearch.match(session, "visits_visit", Visit.id, q))``.

Objects named ``*_fts*`` and ``search_vector`` are left alone by autogenerate.
"""

from __future__ import annotations

import re
import unicodedata

# CJK Unified Ideographs (+ extension A), compatibility ideographs, kana, hangul.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")
MAX_WORD = 40


def _fold(text: str) -> str:
    # NFKC turns full-width Ｌａｔｉｎ and digits (common in Chinese input) into ASCII.
    return unicodedata.normalize("NFKC", text or "").lower()


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for run in _RUN.findall(_fold(text)):
        if _IS_CJK.match(run):
            if len(run) == 1:
                out.append(run)
                continue
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
            out.append(run[-1])
        else:
            out.append(run[:MAX_WORD])
    return out


def index_text(*parts: str | None) -> str:
    """The space-separated tokens stored for a record."""
    seen: list[str] = []
    for p in parts:
        if p:
            seen.extend(tokens(p))
    return " ".join(seen)


def pg_tsvector_literal(text: str) -> str:
    """A ``tsvector`` literal with positions, built without PostgreSQL's parser (which splits
    CJK differently per locale). Tokens are letters and digits only, so quoting is safe."""
    return " ".join(f"'{t}':{i}" for i, t in enumerate(text.split(), start=1) if t) or ""


def query_terms(query: str) -> list[list[str]]:
    """Split a user's query into phrases of tokens; each phrase must match."""
    phrases = []
    for run in _RUN.findall(_fold(query)):
        if _IS_CJK.match(run) and len(run) > 1:
            phrases.append([run[i : i + 2] for i in range(len(run) - 1)])
        else:
            phrases.append([run[:MAX_WORD]])
    return phrases[:8]


def _is_prefix(token: str) -> bool:
    """Whether the last token is matched as a prefix: a word being typed, or one CJK
    character. A CJK bigram is a whole token already (none is longer), and as a prefix it
    would only make the index merge term ranges (``"科技"*`` costs 5x ``"科技"``)."""
    return not (len(token) == 2 and _IS_CJK.match(token))


def fts5_match(query: str) -> str | None:
    """An FTS5 MATCH expression: CJK bigrams as phrases, the last token as a prefix."""
    phrases = query_terms(query)
    if not phrases:
        return None
    parts = []
    for i, ph in enumerate(phrases):
        last = i == len(phrases) - 1
        if len(ph) == 1:
            parts.append(f'"{ph[0]}"' + ("*" if last and _is_prefix(ph[0]) else ""))
        else:
            parts.append('"' + " ".join(ph) + '"')
    return " AND ".join(parts)


def pg_tsquery(query: str) -> str | None:
    phrases = query_terms(query)
    if not phrases:
        return None
    parts = []
    for i, ph in enumerate(phrases):
        last = i == len(phrases) - 1
        if len(ph) == 1:
            parts.append(f"'{ph[0]}'" + (":*" if last and _is_prefix(ph[0]) else ""))
        else:
            parts.append("(" + " <-> ".join(f"'{t}'" for t in ph) + ")")
    return " & ".join(parts)


# --- The database side ---------------------------------------------------------------------


def _sqlite_objects(table: str) -> list[str]:
    fts = f"{table}_fts"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(search_text, content='{table}', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN INSERT INTO "
        f"{fts}(rowid, search_text) VALUES (new.id, new.search_text); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN INSERT INTO "
        f"{fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF search_text ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, "
        f"old.search_text); INSERT INTO {fts}(rowid, search_text) VALUES (new.id, "
        "new.search_text); END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def _postgres_objects(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
        f"CREATE INDEX IF NOT EXISTS ix_{table}_search_vector ON {table} USING gin (search_vector)",
    ]


def install(op, table: str) -> None:
    """Create the full-text objects of ``table`` (an ``id`` key and a ``search_text`` column):
    an FTS5 table kept in step by triggers on SQLite, a generated ``tsvector`` column with a
    GIN index on PostgreSQL. For a migration (``op`` is Alembic's)."""
    if not _NAME.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for stmt in _sqlite_objects(table) if sqlite else _postgres_objects(table):
        op.execute(stmt)


def drop(op, table: str) -> None:
    """Remove what :func:`install` made."""
    if not _NAME.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    if op.get_bind().dialect.name == "sqlite":
        for t in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{t}")
        op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    else:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_vector")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")


def match(session, table: str, id_col, query: str):
    """A condition on ``id_col`` (the table's primary key) answered by the full-text index,
    or None when ``query`` has nothing to search for."""
    from sqlalchemy import select, text

    if not _NAME.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    if session.get_bind().dialect.name == "postgresql":
        tsq = pg_tsquery(query)
        if not tsq:
            return None
        return text(f"{table}.search_vector @@ to_tsquery('simple', :tsq)").bindparams(tsq=tsq)
    m = fts5_match(query)
    if not m:
        return None
    return id_col.in_(
        select(text("rowid"))
        .select_from(text(f"{table}_fts"))
        .where(text(f"{table}_fts MATCH :m").bindparams(m=m))
    )


_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
