"""Public self-service pages (``/kb/``): published, public articles for customers, no login.

Every query here goes through :func:`services.public_condition` (``published`` and
``public``), so an internal, restricted or draft article, its attachments and revisions
answer 404 whatever id is guessed; revisions have no public URL at all.

The language is part of the URL (``?lang=en|zh_Hant|zh_Hans``; without it the browser's
language), so pages are cacheable: ``Cache-Control: public`` with an ``ETag`` (a matching
``If-None-Match`` gets 304 before anything is rendered). The pages set no cookie and need
no session; the one form ("was this helpful?") posts without a CSRF token because there is
no session to protect: the vote is tied to a signed visitor cookie set on that POST only.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from crm_host.api import csrf_exempt, public
from crm_host.db import session

from . import services
from .models import LOCALES, Article, Category

bp = Blueprint("kb", __name__, url_prefix="/kb", template_folder="templates")
Err = services.KnowledgeError
PER_PAGE = 20
MAX_AGE = 300
VISITOR_COOKIE = "crm_kb_visitor"
LANGUAGE_NAMES = {"zh_Hant": "繁體中文", "zh_Hans": "简体中文", "en": "English"}
_BROWSER = {
    "en": "en",
    "zh-tw": "zh_Hant",
    "zh-hk": "zh_Hant",
    "zh-mo": "zh_Hant",
    "zh-hant": "zh_Hant",
    "zh-cn": "zh_Hans",
    "zh-sg": "zh_Hans",
    "zh-hans": "zh_Hans",
    "zh": "zh_Hans",
}


def _lang() -> tuple[str, bool]:
    """The page language and whether it came from the URL (else from the browser)."""
    want = request.args.get("lang")
    if want in LOCALES:
        return want, True
    best = request.accept_languages.best_match(list(_BROWSER))
    if best:
        return _BROWSER[best.lower()], False
    return current_app.config.get("CRM_DEFAULT_LOCALE", "en"), False


def _cacheable(resp, from_url: bool, etag: str | None = None):
    resp.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    if not from_url:
        resp.headers["Vary"] = "Accept-Language"
    if etag:
        resp.set_etag(etag)
    else:
        resp.add_etag()
    return resp.make_conditional(request)


def _render(template: str, lang: str, **ctx):
    with force_locale(lang):
        return render_template(
            template,
            lang=lang,
            language_names=LANGUAGE_NAMES,
            site=current_app.config.get("CRM_SITE_NAME") or "CRM",
            **ctx,
        )


def _categories(s, lang):
    """Categories holding at least one public article (with their counts), in tree order."""
    counts = dict(
        s.execute(
            select(Article.category_id, func.count())
            .where(services.public_condition())
            .group_by(Article.category_id)
        ).all()
    )
    out = []
    for depth, c in services.category_tree(s):
        n = counts.get(c.id, 0)
        out.append({"c": c, "depth": depth, "label": c.label(lang), "count": n})
    # Keep a parent whose children hold articles.
    keep = [row["count"] > 0 for row in out]
    for i in range(len(out) - 1, -1, -1):
        if keep[i]:
            d = out[i]["depth"]
            for j in range(i - 1, -1, -1):
                if out[j]["depth"] < d:
                    keep[j] = True
                    d = out[j]["depth"]
                    if d == 0:
                        break
    return [row for row, k in zip(out, keep, strict=True) if k]


def _rows(items, lang, q=None):
    rows = []
    for a in items:
        title, body, _h, _l = services.localized_match(a, lang, q)
        rows.append(
            {
                "a": a,
                "title": services.highlight(title, q or ""),
                "snippet": services.snippet(body, q),
            }
        )
    return rows


@bp.get("/")
@public
def home():
    lang, from_url = _lang()
    s = session()
    top = list(
        s.scalars(
            select(Article)
            .where(services.public_condition())
            .order_by(Article.view_count.desc(), Article.id.desc())
            .limit(8)
        )
    )
    html = _render(
        "crm_knowledge/public/home.html",
        lang,
        categories=_categories(s, lang),
        popular=_rows(top, lang),
    )
    return _cacheable(current_app.make_response(html), from_url)


@bp.get("/search")
@public
def search():
    lang, from_url = _lang()
    s = session()
    q = (request.args.get("q") or "").strip()[:200]
    page = max(1, min(_int(request.args.get("page")) or 1, 1000))
    rows, total, exact = [], 0, True
    if q:
        from crm_host.api import page_of

        stmt, order = services.article_query(s, services.public_condition(), services.Filters(q=q))
        items, total, exact = page_of(s, stmt, order, page, PER_PAGE)
        rows = _rows(items, lang, q)
    html = _render(
        "crm_knowledge/public/search.html",
        lang,
        q=q,
        rows=rows,
        total=total,
        exact=exact,
        page=page,
        has_next=page * PER_PAGE < total,
    )
    return _cacheable(current_app.make_response(html), from_url)


@bp.get("/c/<int:category_id>")
@public
def category(category_id):
    lang, from_url = _lang()
    s = session()
    cat = s.get(Category, category_id)
    if cat is None:
        abort(404)
    page = max(1, min(_int(request.args.get("page")) or 1, 1000))
    from crm_host.api import page_of

    stmt, order = services.article_query(
        s, services.public_condition(), services.Filters(category_id=cat.id)
    )
    items, total, _e = page_of(
        s, stmt, [Article.kind.desc(), Article.title, Article.id], page, PER_PAGE
    )
    if not items and page == 1:
        abort(404)  # a category with nothing public is not shown publicly
    html = _render(
        "crm_knowledge/public/category.html",
        lang,
        cat=cat,
        label=cat.label(lang),
        rows=_rows(items, lang),
        categories=_categories(s, lang),
        page=page,
        has_next=page * PER_PAGE < total,
    )
    return _cacheable(current_app.make_response(html), from_url)


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


@bp.get("/a/<int:article_id>")
@public
def article(article_id):
    lang, from_url = _lang()
    s = session()
    try:
        a = services.get_public_article(s, article_id)
    except Err:
        abort(404)
    languages = [a.locale] + [t.locale for t in a.translations]
    shown = lang if lang in languages else a.locale
    voted = request.args.get("voted") in ("yes", "no")
    etag = hashlib.sha256(
        f"{a.id}:{a.version}:{lang}:{shown}:{voted}:{a.updated_at}".encode()
    ).hexdigest()[:32]
    if etag in request.if_none_match:
        resp = current_app.response_class(status=304)
        return _cacheable(resp, from_url, etag)
    title, body, body_html, shown = services.localized(a, shown)
    services.count_view(s, a)
    s.commit()
    html = _render(
        "crm_knowledge/public/article.html",
        lang,
        a=a,
        title=title,
        body_html=body_html,
        shown=shown,
        languages=languages,
        category_label=a.category.label(lang) if a.category else None,
        attachments=services.attachments_of(s, a),
        voted=request.args.get("voted"),
    )
    return _cacheable(current_app.make_response(html), from_url, etag)


def _visitor_serializer():
    return URLSafeSerializer(current_app.secret_key, salt="crm-knowledge-visitor")


@bp.post("/a/<int:article_id>/feedback")
@public
@csrf_exempt  # no session on public pages; one vote per signed visitor cookie
def feedback(article_id):
    lang, from_url = _lang()
    s = session()
    try:
        a = services.get_public_article(s, article_id)
    except Err:
        abort(404)
    helpful = request.form.get("helpful")
    if helpful not in ("yes", "no"):
        abort(400)
    visitor = None
    raw = request.cookies.get(VISITOR_COOKIE)
    if raw:
        try:
            visitor = _visitor_serializer().loads(raw)
        except BadSignature:
            visitor = None
    new_cookie = visitor is None or not isinstance(visitor, str)
    if new_cookie:
        visitor = secrets.token_hex(12)
    services.vote(s, a, f"v:{visitor}", helpful == "yes")
    s.commit()
    args = {"article_id": a.id, "voted": helpful}
    if from_url:
        args["lang"] = lang
    resp = redirect(url_for("kb.article", **args) + "#feedback", 303)
    if new_cookie:
        resp.set_cookie(
            VISITOR_COOKIE,
            _visitor_serializer().dumps(visitor),
            max_age=3600 * 24 * 365,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
            path="/kb/",
        )
    return resp


@bp.get("/attachments/<int:attachment_id>")
@public
def attachment(attachment_id):
    from .views import _send

    try:
        att = services.get_attachment(session(), services.public_condition(), attachment_id)
    except Err:
        abort(404)
    resp = _send(att)
    resp.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return resp
