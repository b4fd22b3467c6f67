"""Business rules of the knowledge module. Pages, API, CLI, hooks, demo data and tests call
these; they raise :class:`KnowledgeError` on bad input and never commit.

Access (articles): ``knowledge.view`` reads published articles that are ``internal`` or
``public``, and ``restricted`` ones whose rules name one of the reader's roles or their
department; ``knowledge.edit`` also sees drafts and writes; ``knowledge.admin`` sees
everything and manages categories and packs. An author always sees their own articles.
The rule is a SQL condition (:func:`visible_condition`) used by every list, search, hook
and detail page, so nothing is filtered in Python. The public self-service pages see
``published`` + ``public`` only (:func:`public_condition`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import and_, column, delete, false, func, or_, select, table, text, update

from crm_host import audit
from crm_host import textsearch as ts
from crm_host.db import check_version, utcnow
from crm_host.models import Department, Role
from crm_host.security import has_permission

from . import markup
from .i18n import _l
from .models import (
    KINDS,
    LOCALES,
    STATUSES,
    VISIBILITIES,
    AccessRule,
    Article,
    Attachment,
    Category,
    Revision,
    Tag,
    Translation,
    Vote,
)

TABLE = "knowledge_article"
ENTITY = "knowledge.article"
MAX_TITLE = 300
MAX_BODY = 200_000
MAX_TAGS = 20
MAX_TAG = 60


class KnowledgeError(ValueError):
    """A refused request; ``status`` is the HTTP answer (422 bad input, 403, 404, 409)."""

    def __init__(self, message, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


def not_found(what=None):
    return KnowledgeError(what or _l("No such article."), status=404)


# --- Access ------------------------------------------------------------------------------


def can_view(user) -> bool:
    return has_permission(user, "knowledge.view")


def can_edit(user) -> bool:
    return has_permission(user, "knowledge.edit")


def is_admin(user) -> bool:
    return has_permission(user, "knowledge.admin")


def _rule_match(rule_table, key_col, user):
    role_ids = [r.id for r in getattr(user, "roles", [])]
    conds = []
    if role_ids:
        conds.append(rule_table.role_id.in_(role_ids))
    if getattr(user, "department_id", None) is not None:
        conds.append(rule_table.department_id == user.department_id)
    if not conds:
        return None
    return select(key_col).where(or_(*conds))


def visible_condition(user):
    """SQL: the articles ``user`` may read (None: no limit)."""
    if is_admin(user):
        return None
    if not can_view(user):
        return false()
    allowed = _rule_match(AccessRule, AccessRule.article_id, user)
    readable = [Article.visibility.in_(("internal", "public"))]
    if allowed is not None:
        readable.append(and_(Article.visibility == "restricted", Article.id.in_(allowed)))
    own = Article.author_id == user.id
    cond = or_(*readable)
    if not can_edit(user):
        cond = and_(cond, Article.status == "published")
    return or_(cond, own)


def public_condition():
    return and_(Article.status == "published", Article.visibility == "public")


def visible(stmt, user):
    cond = visible_condition(user)
    return stmt if cond is None else stmt.where(cond)


def get_article(session, user, article_id) -> Article:
    """The article if ``user`` may read it, else 404 (a stranger learns nothing)."""
    try:
        article_id = int(article_id)
    except (TypeError, ValueError):
        raise not_found() from None
    art = session.scalar(visible(select(Article).where(Article.id == article_id), user))
    if art is None:
        raise not_found()
    return art


def get_public_article(session, article_id) -> Article:
    art = session.scalar(select(Article).where(Article.id == article_id, public_condition()))
    if art is None:
        raise not_found()
    return art


def may_edit(user, art: Article) -> bool:
    return can_edit(user) or (art.author_id == user.id and art.status == "draft")


# --- Text --------------------------------------------------------------------------------


def plain(text_: str) -> str:
    """Markdown to plain text (for search tokens and snippets)."""
    return markup.plain(text_)


def reindex(art: Article) -> None:
    parts = [art.title, art.title, plain(art.body), " ".join(art.tag_list)]
    for t in art.translations:
        parts.extend([t.title, t.title, plain(t.body)])
    art.search_text = ts.index_text(*parts)


def article_hash(art: Article) -> str:
    from .packs import content_hash

    return content_hash(
        art.kind,
        art.title,
        art.body,
        art.tag_list,
        {t.locale: (t.title, t.body) for t in art.translations},
    )


def _clean(value, field: str, max_len: int, required=True) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else None
    if value is None:
        raise KnowledgeError(_l("Must be text."), field)
    if required and not value:
        raise KnowledgeError(_l("This field is required."), field)
    if len(value) > max_len:
        raise KnowledgeError(_l("At most %(n)s characters.", n=max_len), field)
    return value


def _tags(values) -> list[str]:
    out: list[str] = []
    for v in values or []:
        v = (v or "").strip().replace("|", " ")
        if not v:
            continue
        if len(v) > MAX_TAG:
            raise KnowledgeError(_l("A tag has at most %(n)s characters.", n=MAX_TAG), "tags")
        if v not in out:
            out.append(v)
    if len(out) > MAX_TAGS:
        raise KnowledgeError(_l("At most %(n)s tags.", n=MAX_TAGS), "tags")
    return out


def _write_tags(session, art: Article, tags: list[str]) -> None:
    """The tag rows (after the article is flushed; the article itself is not touched)."""
    session.execute(delete(Tag).where(Tag.article_id == art.id))
    for t in tags:
        session.add(Tag(article_id=art.id, tag=t))


def _ids(session, model, ids, field) -> list[int]:
    ids = sorted({int(i) for i in ids or []})
    if ids:
        found = set(session.scalars(select(model.id).where(model.id.in_(ids))))
        if found != set(ids):
            raise KnowledgeError(_l("Unknown id(s): %(ids)s.", ids=sorted(set(ids) - found)), field)
    return ids


def _category(session, category_id):
    if category_id is None:
        return None
    cat = session.get(Category, category_id)
    if cat is None:
        raise KnowledgeError(_l("No such category."), "category_id")
    return cat.id


# --- Articles ----------------------------------------------------------------------------


def add_revision(session, art: Article, editor, note: str = "", title=None, body=None):
    """Store a revision: the article as it is now, or the given text (a pack's text)."""
    if art.id is None:
        session.flush()
    number = (
        session.scalar(select(func.max(Revision.number)).where(Revision.article_id == art.id)) or 0
    ) + 1
    rev = Revision(
        article_id=art.id,
        number=number,
        title=art.title if title is None else title,
        body=art.body if body is None else body,
        editor_id=getattr(editor, "id", None),
        note=note[:300],
    )
    session.add(rev)
    return rev


def _apply_translations(art: Article, translations: dict) -> None:
    """``{locale: {"title", "body"}}``; a locale mapped to None (or an empty title) is
    removed."""
    for loc, tr in (translations or {}).items():
        if loc not in LOCALES:
            raise KnowledgeError(_l("Unknown language."), f"translations.{loc}")
        current = art.translation(loc)
        if not tr or not (tr.get("title") or "").strip():
            if current is not None:
                art.translations.remove(current)
            continue
        if loc == art.locale:
            raise KnowledgeError(_l("This is the article's own language."), f"translations.{loc}")
        title = _clean(tr.get("title"), f"translations.{loc}.title", MAX_TITLE)
        body = _clean(tr.get("body"), f"translations.{loc}.body", MAX_BODY, required=False)
        if current is None:
            art.translations.append(
                Translation(locale=loc, title=title, body=body, body_html=markup.render(body))
            )
        else:
            current.title, current.body, current.body_html = title, body, markup.render(body)


def _set_rules(session, art: Article, data: dict) -> None:
    if "roles" not in data and "departments" not in data:
        return
    roles = _ids(
        session, Role, data.get("roles", [r.role_id for r in art.rules if r.role_id]), "roles"
    )
    depts = _ids(
        session,
        Department,
        data.get("departments", [r.department_id for r in art.rules if r.department_id]),
        "departments",
    )
    art.rules.clear()
    for rid in roles:
        art.rules.append(AccessRule(role_id=rid))
    for did in depts:
        art.rules.append(AccessRule(department_id=did))


def _check_choice(value, choices, field):
    if value not in choices:
        raise KnowledgeError(_l("Not a valid choice."), field)
    return value


def create_article(session, user, data: dict) -> Article:
    if not can_edit(user):
        raise KnowledgeError(_l("You may not write articles."), status=403)
    with session.no_autoflush:
        art = Article(
            kind=_check_choice(data.get("kind", "article"), KINDS, "kind"),
            title=_clean(data.get("title"), "title", MAX_TITLE),
            body=_clean(data.get("body"), "body", MAX_BODY, required=False),
            locale=_check_choice(data.get("locale", "en"), LOCALES, "locale"),
            status=_check_choice(data.get("status", "draft"), STATUSES, "status"),
            visibility=_check_choice(
                data.get("visibility", "internal"), VISIBILITIES, "visibility"
            ),
            category_id=_category(session, data.get("category_id")),
            author_id=user.id,
            view_count=0,
            helpful_yes=0,
            helpful_no=0,
        )
        art.body_html = markup.render(art.body)
        if art.status == "published":
            art.published_at = utcnow()
        _apply_translations(art, data.get("translations"))
        tags = _tags(data.get("tags"))
        art.tags = "|".join(tags)
        _set_rules(session, art, data)
        if art.visibility == "restricted" and not art.rules:
            raise KnowledgeError(
                _l("A restricted article needs at least one role or department."), "visibility"
            )
        reindex(art)
    session.add(art)
    session.flush()
    _write_tags(session, art, tags)
    add_revision(session, art, user, note="Created")
    audit.record(session, ENTITY, art, "create", after={"title": art.title})
    return art


EDITABLE = ("kind", "title", "body", "locale", "status", "visibility", "category_id")


def update_article(session, user, art: Article, data: dict, note: str = "") -> Article:
    if not may_edit(user, art):
        raise KnowledgeError(_l("You may not edit this article."), status=403)
    check_version(art, data.get("version"))
    before = {"title": art.title, "status": art.status, "visibility": art.visibility}
    if data.get("status") == "published" and art.status != "published" and not can_edit(user):
        raise KnowledgeError(_l("Only editors may publish."), "status", status=403)
    tags = None
    with session.no_autoflush:
        for key in EDITABLE:
            if key not in data:
                continue
            v = data[key]
            if key == "title":
                v = _clean(v, "title", MAX_TITLE)
            elif key == "body":
                v = _clean(v, "body", MAX_BODY, required=False)
            elif key == "kind":
                v = _check_choice(v, KINDS, "kind")
            elif key == "locale":
                v = _check_choice(v, LOCALES, "locale")
            elif key == "status":
                v = _check_choice(v, STATUSES, "status")
                if v == "published" and art.published_at is None:
                    art.published_at = utcnow()
            elif key == "visibility":
                v = _check_choice(v, VISIBILITIES, "visibility")
            elif key == "category_id":
                v = _category(session, v)
            setattr(art, key, v)
        art.body_html = markup.render(art.body)
        if "translations" in data:
            _apply_translations(art, data["translations"])
            if art.translation(art.locale) is not None:
                raise KnowledgeError(
                    _l("This is the article's own language."), f"translations.{art.locale}"
                )
        if "tags" in data:
            tags = _tags(data["tags"])
            art.tags = "|".join(tags)
        _set_rules(session, art, data)
        if art.visibility == "restricted" and not art.rules:
            raise KnowledgeError(
                _l("A restricted article needs at least one role or department."), "visibility"
            )
        reindex(art)
        art.updated_at = utcnow()
    session.flush()
    if tags is not None:
        _write_tags(session, art, tags)
    add_revision(session, art, user, note=note or "Edited")
    audit.record(
        session,
        ENTITY,
        art,
        "update",
        before=before,
        after={"title": art.title, "status": art.status, "visibility": art.visibility},
    )
    return art


def revisions(session, art: Article) -> list[Revision]:
    return list(
        session.scalars(
            select(Revision).where(Revision.article_id == art.id).order_by(Revision.number.desc())
        )
    )


def get_revision(session, art: Article, number: int) -> Revision:
    rev = session.scalar(
        select(Revision).where(Revision.article_id == art.id, Revision.number == number)
    )
    if rev is None:
        raise KnowledgeError(_l("No such revision."), status=404)
    return rev


def diff(old: Revision | None, new: Revision) -> list[tuple[str, str]]:
    """Line diff from ``old`` to ``new``: ``[(" " | "+" | "-" | "@", line)]``."""
    a = ([f"# {old.title}", ""] + old.body.splitlines()) if old else []
    b = [f"# {new.title}", ""] + new.body.splitlines()
    out = []
    for line in difflib.unified_diff(a, b, lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        out.append((line[:1], line[1:]))
    return out


def restore(session, user, art: Article, number: int, version) -> Article:
    rev = get_revision(session, art, number)
    return update_article(
        session,
        user,
        art,
        {"version": version, "title": rev.title, "body": rev.body},
        note=f"Restored revision {rev.number}",
    )


def create_from_pack(session, pack, pa, category_id, actor) -> Article:
    art = Article(
        kind=pa.kind,
        title=pa.title,
        body=pa.body,
        body_html=markup.render(pa.body),
        locale=pack.source_locale,
        status="published",
        visibility=pa.visibility,
        category_id=category_id,
        author_id=getattr(actor, "id", None),
        published_at=utcnow(),
        pack_name=pack.name,
        pack_key=pa.slug,
        pack_version=pack.version,
        view_count=0,
        helpful_yes=0,
        helpful_no=0,
        tags="|".join(pa.tags),
        pack_hash=pa.content_hash(),
    )
    for loc, (title, body) in pa.translations.items():
        art.translations.append(
            Translation(locale=loc, title=title, body=body, body_html=markup.render(body))
        )
    reindex(art)
    session.add(art)
    session.flush()
    _write_tags(session, art, list(pa.tags))
    add_revision(session, art, actor, note=f"Pack {pack.name} {pack.version}")
    return art


def apply_pack_text(session, art: Article, pack, pa, actor, note: str) -> None:
    with session.no_autoflush:
        art.kind = pa.kind
        art.title = pa.title
        art.body = pa.body
        art.body_html = markup.render(pa.body)
        keep = set(pa.translations)
        for t in list(art.translations):
            if t.locale not in keep:
                art.translations.remove(t)
        _apply_translations(
            art, {loc: {"title": t[0], "body": t[1]} for loc, t in pa.translations.items()}
        )
        art.tags = "|".join(pa.tags)
        reindex(art)
        art.updated_at = utcnow()
        art.pack_hash = pa.content_hash()
        art.pack_version = pack.version
    session.flush()
    _write_tags(session, art, list(pa.tags))
    add_revision(session, art, actor, note=note)


# --- Listing and search ------------------------------------------------------------------


@dataclass
class Filters:
    q: str | None = None
    category_id: int | None = None
    tag: str | None = None
    kind: str | None = None
    status: str | None = None
    visibility: str | None = None
    author_id: int | None = None


def _rank(session, q: str):
    """(condition, order clause) ranking ``q`` with the database's full text, or None when
    ``q`` has nothing to search for. BM25 on SQLite (FTS5), ``ts_rank`` on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        tsq = ts.pg_tsquery(q)
        if not tsq:
            return None
        cond = text(f"{TABLE}.search_vector @@ to_tsquery('simple', :kb_tsq)").bindparams(
            kb_tsq=tsq
        )
        order = text(
            f"ts_rank({TABLE}.search_vector, to_tsquery('simple', :kb_tsq_r), 1) DESC"
        ).bindparams(kb_tsq_r=tsq)
        return cond, order, None
    m = ts.fts5_match(q)
    if not m:
        return None
    fts = table(f"{TABLE}_fts", column("rowid"), column("rank"))
    cond = text(f"{TABLE}_fts MATCH :kb_m").bindparams(kb_m=m)
    return cond, fts.c.rank, (fts, fts.c.rowid == Article.id)


def article_query(session, base_cond, f: Filters):
    """``(select, order)`` over the articles matching ``f`` within ``base_cond``."""
    stmt = select(Article)
    if base_cond is not None:
        stmt = stmt.where(base_cond)
    if f.category_id:
        stmt = stmt.where(Article.category_id.in_(category_subtree(session, f.category_id)))
    if f.tag:
        stmt = stmt.where(Article.id.in_(select(Tag.article_id).where(Tag.tag == f.tag.strip())))
    for attr in ("kind", "status", "visibility", "author_id"):
        v = getattr(f, attr)
        if v:
            stmt = stmt.where(getattr(Article, attr) == v)
    order = [Article.updated_at.desc(), Article.id.desc()]
    if f.q and f.q.strip():
        ranked = _rank(session, f.q)
        if ranked is None:
            return stmt.where(false()), order
        cond, rank_order, join = ranked
        if join is not None:
            stmt = stmt.join(*join)
        stmt = stmt.where(cond)
        order = [rank_order, Article.id.desc()]
    return stmt, order


def list_articles(session, user, f: Filters, page=1, per_page=25):
    from crm_host.api import page_of

    stmt, order = article_query(session, visible_condition(user), f)
    return page_of(session, stmt, order, page, per_page)


def search(session, cond, q: str, limit: int = 10, category_id=None) -> list[Article]:
    stmt, order = article_query(session, cond, Filters(q=q, category_id=category_id))
    return list(session.scalars(stmt.order_by(*order).limit(limit)))


def category_subtree(session, root_id: int) -> list[int]:
    rows = session.execute(select(Category.id, Category.parent_id)).all()
    children: dict = {}
    for cid, pid in rows:
        children.setdefault(pid, []).append(cid)
    out, todo = [], [int(root_id)]
    while todo:
        c = todo.pop()
        if c in out:
            continue
        out.append(c)
        todo.extend(children.get(c, []))
    return out


# --- Snippets and highlighting -----------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _terms(q: str) -> list[str]:
    import unicodedata

    q = unicodedata.normalize("NFKC", q or "")
    terms = [t for t in re.split(r"[\s,，。;；]+", q) if t]
    return sorted(set(terms), key=len, reverse=True)[:8]


def highlight(text_: str, q: str) -> Markup:
    """``text_`` escaped, with the query's words wrapped in ``<mark>``."""
    terms = _terms(q)
    if not terms:
        return escape(text_)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, pos = [], 0
    for m in pattern.finditer(text_):
        out.append(str(escape(text_[pos : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        pos = m.end()
    out.append(str(escape(text_[pos:])))
    return Markup("".join(out))


def snippet_text(body: str, q: str | None, width: int = 160) -> str:
    """Plain text around the first match of ``q`` in ``body`` (the start when none)."""
    text_ = plain(body)
    start = 0
    if q:
        lower = text_.lower()
        hits = [lower.find(t.lower()) for t in _terms(q)]
        hits = [h for h in hits if h >= 0]
        if hits:
            start = max(0, min(hits) - width // 3)
    piece = text_[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text_) else "")


def snippet(body: str, q: str | None, width: int = 160) -> Markup:
    return highlight(snippet_text(body, q, width), q or "")


def localized(art: Article, locale: str | None) -> tuple[str, str, str, str]:
    """``(title, body, body_html, locale)`` in ``locale`` when translated, else the source."""
    if locale and locale != art.locale:
        t = art.translation(locale)
        if t is not None:
            return t.title, t.body, t.body_html, t.locale
    return art.title, art.body, art.body_html, art.locale


def attachments_of(session, art: Article) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment).where(Attachment.article_id == art.id).order_by(Attachment.id)
        )
    )


# --- Feedback and views ------------------------------------------------------------------


def count_view(session, art: Article) -> None:
    session.execute(
        update(Article)
        .where(Article.id == art.id)
        .values(view_count=Article.view_count + 1, updated_at=Article.updated_at)
        .execution_options(synchronize_session=False)
    )


def vote(session, art: Article, voter: str, helpful: bool) -> bool:
    """Record one visitor's answer; a second answer from the same voter replaces the first
    (still one vote). Returns whether the counts changed."""
    prev = session.get(Vote, (art.id, voter))
    if prev is not None and prev.helpful == helpful:
        return False
    yes = Article.helpful_yes
    no = Article.helpful_no
    if prev is None:
        session.add(Vote(article_id=art.id, voter=voter, helpful=helpful))
        values = {"helpful_yes": yes + 1} if helpful else {"helpful_no": no + 1}
    else:
        prev.helpful = helpful
        values = (
            {"helpful_yes": yes + 1, "helpful_no": no - 1}
            if helpful
            else {"helpful_yes": yes - 1, "helpful_no": no + 1}
        )
    session.flush()
    session.execute(
        update(Article)
        .where(Article.id == art.id)
        .values(**values, updated_at=Article.updated_at)  # not an edit
        .execution_options(synchronize_session=False)
    )
    return True


def voted(session, art: Article, voter: str | None):
    if not voter:
        return None
    v = session.get(Vote, (art.id, voter))
    return None if v is None else v.helpful


def most_viewed(session, user, limit=10) -> list[Article]:
    stmt = visible(select(Article).where(Article.status == "published"), user)
    return list(session.scalars(stmt.order_by(Article.view_count.desc(), Article.id).limit(limit)))


def least_helpful(session, user, limit=10) -> list[Article]:
    """Articles with at least one vote, the largest share of "not helpful" first."""
    total = Article.helpful_yes + Article.helpful_no
    stmt = visible(select(Article).where(Article.helpful_no > 0), user)
    share = (Article.helpful_no * 1.0) / total
    return list(
        session.scalars(
            stmt.order_by(share.desc(), Article.helpful_no.desc(), Article.id).limit(limit)
        )
    )


# --- Categories --------------------------------------------------------------------------


def categories(session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.position, Category.name)))


def category_tree(session, locale=None) -> list[tuple[int, Category]]:
    """``[(depth, category)]`` in tree order (children under their parent)."""
    cats = categories(session)
    children: dict = {}
    for c in cats:
        children.setdefault(c.parent_id, []).append(c)
    out: list = []

    def walk(pid, depth):
        for c in children.get(pid, []):
            out.append((depth, c))
            if depth < 20:
                walk(c.id, depth + 1)

    walk(None, 0)
    known = {c.id for _d, c in out}
    out.extend((0, c) for c in cats if c.id not in known)  # a broken parent chain
    return out


def save_category(session, actor, data: dict, category: Category | None = None) -> Category:
    if not is_admin(actor):
        raise KnowledgeError(_l("You may not manage categories."), status=403)
    if category is not None:
        check_version(category, data.get("version"))
    cat = category or Category(names={}, position=100)
    if "name" in data or category is None:
        cat.name = _clean(data.get("name"), "name", 120)
    if "names" in data:
        names = {}
        for loc, v in (data.get("names") or {}).items():
            if loc not in LOCALES:
                raise KnowledgeError(_l("Unknown language."), f"names.{loc}")
            v = _clean(v, f"names.{loc}", 120, required=False)
            if v:
                names[loc] = v
        cat.names = names
    if "position" in data and data["position"] is not None:
        cat.position = int(data["position"])
    if "parent_id" in data:
        pid = data["parent_id"]
        if pid is not None:
            if session.get(Category, pid) is None:
                raise KnowledgeError(_l("No such category."), "parent_id")
            if category is not None and pid in category_subtree(session, category.id):
                raise KnowledgeError(_l("A category cannot be moved under itself."), "parent_id")
        cat.parent_id = pid
    if category is None:
        session.add(cat)
    session.flush()
    return cat


def delete_category(session, actor, category: Category) -> None:
    if not is_admin(actor):
        raise KnowledgeError(_l("You may not manage categories."), status=403)
    used = session.scalar(select(func.count()).where(Article.category_id == category.id))
    kids = session.scalar(select(func.count()).where(Category.parent_id == category.id))
    if used or kids:
        raise KnowledgeError(_l("The category still holds articles or categories."), status=409)
    session.delete(category)
    session.flush()


# --- Attachments -------------------------------------------------------------------------


def add_attachment(session, user, art: Article, upload, filename: str, store) -> Attachment:
    if not may_edit(user, art):
        raise KnowledgeError(_l("You may not edit this article."), status=403)
    name = (filename or "file").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200] or "file"
    key = store.save(upload.file)
    att = Attachment(
        article_id=art.id,
        filename=name,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
        storage_key=key,
        uploader_id=user.id,
    )
    session.add(att)
    session.flush()
    return att


def get_attachment(session, cond, attachment_id) -> Attachment:
    """An attachment of an article matching ``cond`` (a visibility condition), else 404."""
    stmt = (
        select(Attachment)
        .join(Article, Article.id == Attachment.article_id)
        .where(Attachment.id == attachment_id)
    )
    if cond is not None:
        stmt = stmt.where(cond)
    att = session.scalar(stmt)
    if att is None:
        raise KnowledgeError(_l("No such file."), status=404)
    return att


def delete_attachment(session, user, art: Article, att: Attachment, store) -> None:
    if not may_edit(user, art) or att.article_id != art.id:
        raise KnowledgeError(_l("You may not edit this article."), status=403)
    key = att.storage_key
    session.delete(att)
    session.flush()
    store.delete(key)


def localized_match(art: Article, locale: str | None, q: str | None):
    """Like :func:`localized`, but for a search result: when the reader's language does not
    contain the query (it matched another language), the version that does."""
    title, body, html_, loc = localized(art, locale)
    terms = [t.lower() for t in _terms(q or "")]
    if not terms or any(t in (title + " " + body).lower() for t in terms):
        return title, body, html_, loc
    versions = [(art.title, art.body, art.body_html, art.locale)] + [
        (t.title, t.body, t.body_html, t.locale) for t in art.translations
    ]
    for v in versions:
        if any(t in (v[0] + " " + v[1]).lower() for t in terms):
            return v
    return title, body, html_, loc
