"""Answers to hooks other (optional) plugins publish; nothing is imported from them."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import func, select

from . import services
from .models import Competitor


def _url(endpoint: str, **kw) -> str:
    try:
        return url_for(endpoint, **kw)
    except RuntimeError:  # no request and no SERVER_NAME: a path is still useful
        if endpoint == "knowledge.article":
            return f"/knowledge/articles/{kw['article_id']}"
        return f"/knowledge/competitors/{kw['competitor_id']}"


def service_answers(query, user, limit, locale) -> list[dict]:
    """Published Q&A and articles ``user`` may read that match ``query``, best first."""
    from crm_host.db import session

    query = (query or "").strip()
    if not query or not limit or user is None or not services.can_view(user):
        return []
    s = session()
    cond = services.visible_condition(user)
    published = services.Article.status == "published"
    cond = published if cond is None else (cond & published)
    out = []
    for art in services.search(s, cond, query, int(limit)):
        title, body, _html, _loc = services.localized(art, locale)
        out.append(
            {
                "id": str(art.id),
                "title": title,
                "answer": body,
                "url": _url("knowledge.article", article_id=art.id),
                "snippet": services.snippet_text(body, query, 160),
            }
        )
    return out


def competitor_catalog(session, query, limit) -> list[dict]:
    """Competitors whose name contains ``query`` (the first ``limit`` by name when empty)."""
    limit = max(0, min(int(limit or 0), 200))
    if not limit:
        return []
    stmt = select(Competitor)
    q = (query or "").strip()
    if q:
        esc = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(Competitor.name).like(f"%{esc.lower()}%", escape="\\"))
    rows = session.scalars(stmt.order_by(Competitor.name, Competitor.id).limit(limit))
    return [
        {
            "key": f"knowledge:{c.id}",
            "name": c.name,
            "url": _url("knowledge.competitor", competitor_id=c.id),
            "summary": c.summary or "",
        }
        for c in rows
    ]
