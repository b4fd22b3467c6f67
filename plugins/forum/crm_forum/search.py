"""Search text that serves Chinese and English at every query length.

Copied from the customers module's tokeniser (crm_customers.search is its internal module;
the forum depends on the host only). It is generic and belongs in the host.

Chinese has no spaces and its most common queries are two characters long, which a trigram
index cannot serve. So each record keeps its searchable text as *tokens*: overlapping
character bigrams for every CJK run (北京海宇 → 北京 京海 海宇, plus the run's last character
so one-character prefix queries reach it) and lower-cased words for everything else. The
database's own full-text index holds the tokens (FTS5 on SQLite, a GIN ``tsvector`` on
PostgreSQL); a query becomes the same tokens as a phrase, its last word as a prefix.
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
