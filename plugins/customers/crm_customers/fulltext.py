"""The database side of customer search: the host's full-text objects on
``customers_customer`` (``crm_host.textsearch``). Migrations call :func:`install_search`; on
SQLite a later migration that rebuilds ``customers_customer`` (Alembic batch mode copies the
table) must call it again, since the triggers go with the old table."""

from __future__ import annotations

from crm_host import textsearch

TABLE = "customers_customer"


def install_search(op) -> None:
    textsearch.install(op, TABLE)


def drop_search(op) -> None:
    textsearch.drop(op, TABLE)
