"""The database side of topic search: the host's full-text objects on ``forum_topic``
(``crm_host.textsearch``), called by the migrations."""

from __future__ import annotations

from crm_host import textsearch

TABLE = "forum_topic"


def install_search(op) -> None:
    textsearch.install(op, TABLE)


def drop_search(op) -> None:
    textsearch.drop(op, TABLE)
