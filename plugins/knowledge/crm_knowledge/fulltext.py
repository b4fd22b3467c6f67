"""The database side of article search: the host's full-text objects on
``knowledge_article`` (``crm_host.textsearch``), called by the migrations."""

from __future__ import annotations

from crm_host import textsearch

TABLE = "knowledge_article"


def install_search(op) -> None:
    textsearch.install(op, TABLE)


def drop_search(op) -> None:
    textsearch.drop(op, TABLE)
