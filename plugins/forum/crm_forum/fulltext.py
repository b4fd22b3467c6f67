"""The database side of topic search (see search.py for the tokens).

The same approach as the customers module: SQLite keeps an FTS5 table with external content
(``forum_topic_fts``) in step by triggers; PostgreSQL a generated ``tsvector`` column with a
GIN index. Objects named ``*_fts*`` and ``search_vector`` are left alone by autogenerate.
"""

from __future__ import annotations

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS forum_topic_fts USING fts5("
    "search_text, content='forum_topic', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER IF NOT EXISTS forum_topic_fts_ai AFTER INSERT ON forum_topic "
    "BEGIN INSERT INTO forum_topic_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS forum_topic_fts_ad AFTER DELETE ON forum_topic "
    "BEGIN INSERT INTO forum_topic_fts(forum_topic_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS forum_topic_fts_au AFTER UPDATE OF search_text ON "
    "forum_topic BEGIN INSERT INTO forum_topic_fts(forum_topic_fts, rowid, "
    "search_text) VALUES ('delete', old.id, old.search_text); INSERT INTO "
    "forum_topic_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO forum_topic_fts(forum_topic_fts) VALUES ('rebuild')",
]
POSTGRES = [
    "ALTER TABLE forum_topic ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
    "CREATE INDEX IF NOT EXISTS ix_forum_topic_search_vector ON forum_topic "
    "USING gin (search_vector)",
]


def install_search(op) -> None:
    bind = op.get_bind()
    for stmt in SQLITE if bind.dialect.name == "sqlite" else POSTGRES:
        op.execute(stmt)


def drop_search(op) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for t in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS forum_topic_fts_{t}")
        op.execute("DROP TABLE IF EXISTS forum_topic_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_forum_topic_search_vector")
        op.execute("ALTER TABLE forum_topic DROP COLUMN IF EXISTS search_vector")


def match_condition(session, topic_id_col, query: str):
    """A SQL condition: the topic matches ``query`` (None when the query has no words)."""
    from sqlalchemy import select, text

    from . import search

    if session.bind.dialect.name == "postgresql":
        tsq = search.pg_tsquery(query)
        if not tsq:
            return None
        return text("forum_topic.search_vector @@ to_tsquery('simple', :tsq)").bindparams(tsq=tsq)
    m = search.fts5_match(query)
    if not m:
        return None
    return topic_id_col.in_(
        select(text("rowid"))
        .select_from(text("forum_topic_fts"))
        .where(text("forum_topic_fts MATCH :m").bindparams(m=m))
    )
