"""The database side of customer search (see search.py for the tokens).

SQLite: an FTS5 table with external content (``customers_customer_fts``) kept in step by
triggers. PostgreSQL: a generated ``tsvector`` column with a GIN index. Migrations call
:func:`install_search`; on SQLite a later migration that rebuilds ``customers_customer``
(Alembic batch mode copies the table) must call it again, since the triggers go with the
old table. Objects named ``*_fts*`` and ``search_vector`` are left alone by autogenerate.
"""

from __future__ import annotations

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS customers_customer_fts USING fts5("
    "search_text, content='customers_customer', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER IF NOT EXISTS customers_customer_fts_ai AFTER INSERT ON customers_customer "
    "BEGIN INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS customers_customer_fts_ad AFTER DELETE ON customers_customer "
    "BEGIN INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS customers_customer_fts_au AFTER UPDATE OF search_text ON "
    "customers_customer BEGIN INSERT INTO customers_customer_fts(customers_customer_fts, rowid, "
    "search_text) VALUES ('delete', old.id, old.search_text); INSERT INTO "
    "customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO customers_customer_fts(customers_customer_fts) VALUES ('rebuild')",
]
POSTGRES = [
    "ALTER TABLE customers_customer ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
    "CREATE INDEX IF NOT EXISTS ix_customers_customer_search_vector ON customers_customer "
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
            op.execute(f"DROP TRIGGER IF EXISTS customers_customer_fts_{t}")
        op.execute("DROP TABLE IF EXISTS customers_customer_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_customers_customer_search_vector")
        op.execute("ALTER TABLE customers_customer DROP COLUMN IF EXISTS search_vector")
