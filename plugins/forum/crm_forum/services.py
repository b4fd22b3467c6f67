"""Business rules of the forum. Pages, API, jobs, demo data and tests all call these.

Functions take a session and the acting user, raise :class:`ForumError` on bad input and
never commit: the caller owns the transaction.

Access: ``forum.view`` to read at all, ``forum.post`` to write, ``forum.moderate`` to pin,
lock, move and hide, ``forum.admin`` for categories. Each category may further restrict who
reads and who posts (roles and/or departments, :class:`CategoryRule`); those rules apply
everywhere: lists, search, API, notifications and record panels. Record scopes do not apply
(the forum is a shared board), except to the customer or deal a topic links to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, has_request_context, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy import inspect as sa_inspect
from werkzeug.exceptions import Conflict

from crm_host import audit, storage
from crm_host import textsearch as search
from crm_host.db import utcnow
from crm_host.models import Department, Role, User, user_roles
from crm_host.notify import notify
from crm_host.security import has_permission, in_scope, permission_holders, scope_filter

from . import markup
from .i18n import N_, _l, in_language, user_locale
from .models import (
    MODES,
    Attachment,
    Category,
    CategoryRule,
    DigestItem,
    Follow,
    InterestCategory,
    InterestKeyword,
    InterestToken,
    Profile,
    ReadMark,
    Reply,
    Report,
    Revision,
    Topic,
)

MAX_TITLE = 200
MAX_BODY = 50_000
MAX_KEYWORDS = 30
MAX_ATTACHMENTS = 100
#: Entities a topic may be linked to (case discussions), when their module is active.
LINKABLE = ("customers.customer", "pipeline.deal")
ENTITY = "forum.topic"


class ForumError(ValueError):
    """A refused request; ``status`` is the HTTP answer (422 bad input, 403, 404, 409)."""

    def __init__(self, message, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


def _not_found():
    return ForumError(_l("No such topic."), status=404)


# --- Access ------------------------------------------------------------------------------


def is_admin(user) -> bool:
    return has_permission(user, "forum.admin")


def can_moderate(user) -> bool:
    return has_permission(user, "forum.moderate")


def _matches(rule: CategoryRule, user) -> bool:
    if rule.role_id is not None and rule.role_id in {r.id for r in user.roles}:
        return True
    return rule.department_id is not None and rule.department_id == user.department_id


def can_read(user, category: Category) -> bool:
    if not has_permission(user, "forum.view"):
        return False
    if is_admin(user):
        return True
    rules = [r for r in category.rules if r.right == "read"]
    return not rules or any(_matches(r, user) for r in rules)


def can_post(user, category: Category) -> bool:
    if not (has_permission(user, "forum.post") and can_read(user, category)):
        return False
    if is_admin(user):
        return True
    rules = [r for r in category.rules if r.right == "post"]
    return not rules or any(_matches(r, user) for r in rules)


def categories(session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.position, Category.name)))


def readable_categories(session, user) -> list[Category]:
    return [c for c in categories(session) if can_read(user, c)]


def readable_category_ids(session, user) -> list[int]:
    return [c.id for c in readable_categories(session, user)]


def postable_categories(session, user) -> list[Category]:
    return [c for c in categories(session) if can_post(user, c)]


def readers_condition(user_id_col, category: Category):
    """SQL: the user may read ``category`` (for choosing whom to notify)."""
    cond = permission_holders(user_id_col, "forum.view")
    rules = [r for r in category.rules if r.right == "read"]
    if not rules:
        return cond
    role_ids = [r.role_id for r in rules if r.role_id is not None]
    dept_ids = [r.department_id for r in rules if r.department_id is not None]
    allowed = [permission_holders(user_id_col, "forum.admin")]
    if role_ids:
        allowed.append(
            user_id_col.in_(select(user_roles.c.user_id).where(user_roles.c.role_id.in_(role_ids)))
        )
    if dept_ids:
        allowed.append(user_id_col.in_(select(User.id).where(User.department_id.in_(dept_ids))))
    return and_(cond, or_(*allowed))


# --- Categories --------------------------------------------------------------------------


def _clean(value, field: str, max_len: int, required=True) -> str:
    if value is not None and not isinstance(value, str):
        raise ForumError(_l("This field must be text."), field)
    value = (value or "").strip()
    if required and not value:
        raise ForumError(_l("This field is required."), field)
    if len(value) > max_len:
        raise ForumError(_l("At most %(n)s characters.", n=max_len), field)
    return value


def _ids(session, model, ids, field) -> list[int]:
    out = []
    for i in ids or []:
        if not isinstance(i, int) or isinstance(i, bool) or session.get(model, i) is None:
            raise ForumError(_l("Unknown choice: %(v)s.", v=i), field)
        out.append(i)
    return sorted(set(out))


def save_category(session, actor, data: dict, category: Category | None = None) -> Category:
    if not is_admin(actor):
        raise ForumError(_l("You need the permission 'forum.admin'."), status=403)
    name = _clean(data.get("name", category.name if category else None), "name", 80)
    clash = session.scalar(select(Category).where(Category.name == name))
    if clash is not None and clash is not category:
        raise ForumError(_l("A category of this name exists already."), "name")
    desc = _clean(
        data.get("description", category.description if category else ""),
        "description",
        300,
        required=False,
    )
    position = data.get("position", category.position if category else 100)
    if not isinstance(position, int) or isinstance(position, bool):
        raise ForumError(_l("A whole number is required."), "position")
    new = category is None
    before = None if new else audit.snapshot(category)
    if new:
        category = Category(name=name)
        session.add(category)
    category.name, category.description, category.position = name, desc, position
    if any(k in data for k in ("read_roles", "read_departments", "post_roles", "post_departments")):
        rules = []
        for right in ("read", "post"):
            for rid in _ids(session, Role, data.get(f"{right}_roles"), f"{right}_roles"):
                rules.append(CategoryRule(right=right, role_id=rid))
            for did in _ids(
                session, Department, data.get(f"{right}_departments"), f"{right}_departments"
            ):
                rules.append(CategoryRule(right=right, department_id=did))
        category.rules = rules
    session.flush()
    audit.record(session, "forum.category", category, "create" if new else "update", before=before)
    return category


def category_rules(category: Category) -> dict:
    out = {"read_roles": [], "read_departments": [], "post_roles": [], "post_departments": []}
    for r in category.rules:
        if r.role_id is not None:
            out[f"{r.right}_roles"].append(r.role_id)
        if r.department_id is not None:
            out[f"{r.right}_departments"].append(r.department_id)
    return out


# --- Topics: reading ---------------------------------------------------------------------


@dataclass
class Filters:
    category_id: int | None = None
    author_id: int | None = None
    q: str | None = None
    unread: bool = False
    following: bool = False


def _unread_cond(cutoff):
    cond = or_(ReadMark.read_at.is_(None), ReadMark.read_at < Topic.last_post_at)
    return cond if cutoff is None else and_(cond, Topic.last_post_at > cutoff)


def read_all_cutoff(session, user):
    return session.scalar(select(Profile.read_all_at).where(Profile.user_id == user.id))


def mark_all_read(session, user) -> None:
    """Every topic so far counts as read (a later post makes it unread again)."""
    p = session.get(Profile, user.id)
    if p is None:
        session.add(Profile(user_id=user.id, mode="instant", read_all_at=utcnow()))
    else:
        p.read_all_at = utcnow()


def topic_query(session, user, f: Filters):
    """SELECT (Topic, unread) the user may see, filtered, unsorted."""
    cutoff = read_all_cutoff(session, user)
    unread = case((_unread_cond(cutoff), 1), else_=0).label("unread")
    stmt = select(Topic, unread).outerjoin(
        ReadMark, and_(ReadMark.topic_id == Topic.id, ReadMark.user_id == user.id)
    )
    stmt = stmt.where(Topic.category_id.in_(readable_category_ids(session, user) or [-1]))
    if not can_moderate(user):
        stmt = stmt.where(Topic.hidden.is_(False))
    if f.category_id:
        stmt = stmt.where(Topic.category_id == f.category_id)
    if f.author_id:
        stmt = stmt.where(Topic.author_id == f.author_id)
    if f.following:
        stmt = stmt.where(Topic.id.in_(select(Follow.topic_id).where(Follow.user_id == user.id)))
    if f.unread:
        stmt = stmt.where(_unread_cond(cutoff))
    if f.q:
        cond = search.match(session, "forum_topic", Topic.id, f.q.strip()[:200])
        stmt = stmt.where(cond if cond is not None else Topic.id.is_(None))
    return stmt


def list_order(unread_col):
    return [Topic.pinned.desc(), unread_col.desc(), Topic.last_post_at.desc(), Topic.id.desc()]


def list_topics(session, user, f: Filters, page: int = 1, per_page: int = 25):
    """One page of topics as ``(items, total, exact)``; each item is the Topic with
    ``unread`` set."""
    from crm_host.api import page_of

    stmt = topic_query(session, user, f)
    unread_col = stmt.selected_columns.unread
    rows, total, exact = page_of(
        session, stmt, list_order(unread_col), page, per_page, scalars=False
    )
    items = []
    for r in rows:
        t = r["ForumTopic"]
        t.unread = bool(r["unread"])
        items.append(t)
    return items, total, exact


def get_topic(session, user, topic_id: int) -> Topic:
    """A topic the user may read; anything else (missing, hidden, unreadable category) is
    a 404, so nobody learns it exists."""
    t = session.get(Topic, topic_id)
    if t is None or not can_read(user, t.category) or (t.hidden and not can_moderate(user)):
        raise _not_found()
    return t


def replies(session, user, topic: Topic) -> list[Reply]:
    stmt = select(Reply).where(Reply.topic_id == topic.id)
    if not can_moderate(user):
        stmt = stmt.where(Reply.hidden.is_(False))
    return list(session.scalars(stmt.order_by(Reply.id)))


def get_reply(session, user, topic: Topic, reply_id: int) -> Reply:
    r = session.get(Reply, reply_id)
    if r is None or r.topic_id != topic.id or (r.hidden and not can_moderate(user)):
        raise ForumError(_l("No such reply."), status=404)
    return r


def mark_read(session, user, topic: Topic) -> None:
    mark = session.get(ReadMark, (user.id, topic.id))
    if mark is None:
        session.add(ReadMark(user_id=user.id, topic_id=topic.id, read_at=utcnow()))
    else:
        mark.read_at = utcnow()


def is_following(session, user, topic: Topic) -> bool:
    return session.get(Follow, (user.id, topic.id)) is not None


def attachments_of(session, topic: Topic) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment).where(Attachment.topic_id == topic.id).order_by(Attachment.id)
        )
    )


def revisions(session, topic: Topic | None = None, reply: Reply | None = None) -> list[Revision]:
    stmt = select(Revision)
    stmt = (
        stmt.where(Revision.reply_id == reply.id)
        if reply
        else stmt.where(Revision.topic_id == topic.id, Revision.reply_id.is_(None))
    )
    return list(session.scalars(stmt.order_by(Revision.id.desc())))


def users_by_id(session, ids) -> dict[int, User]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}


# --- Topics: writing ---------------------------------------------------------------------


def _body(value) -> str:
    return _clean(value, "body", MAX_BODY)


def _category_for_posting(session, user, category_id) -> Category:
    if not isinstance(category_id, int) or isinstance(category_id, bool):
        raise ForumError(_l("Choose a category."), "category_id")
    cat = session.get(Category, category_id)
    if cat is None or not can_read(user, cat):
        raise ForumError(_l("Unknown category."), "category_id")
    if not can_post(user, cat):
        raise ForumError(
            _l("You may not post in the category “%(name)s”.", name=cat.name),
            "category_id",
            status=403,
        )
    return cat


def _reindex(session, topic: Topic) -> None:
    bodies = session.scalars(
        select(Reply.body).where(Reply.topic_id == topic.id, Reply.hidden.is_(False))
    ).all()
    topic.search_text = search.index_text(topic.title, topic.body, *bodies)[:200_000]


def create_topic(session, user, data: dict) -> Topic:
    if not has_permission(user, "forum.post"):
        raise ForumError(_l("You need the permission 'forum.post'."), status=403)
    title = _clean(data.get("title"), "title", MAX_TITLE)
    body = _body(data.get("body"))
    cat = _category_for_posting(session, user, data.get("category_id"))
    link = resolve_link(session, user, data.get("link_entity"), data.get("link_id"))
    now = utcnow()
    topic = Topic(
        category_id=cat.id,
        author_id=user.id,
        title=title,
        body=body,
        body_html=markup.render(body),
        last_post_at=now,
        last_post_by=user.id,
        link_entity=link[0] if link else None,
        link_id=link[1] if link else None,
    )
    topic.category = cat
    _reindex(session, topic)
    session.add(topic)
    session.flush()
    session.add(Follow(user_id=user.id, topic_id=topic.id))  # authors follow their own
    session.add(ReadMark(user_id=user.id, topic_id=topic.id, read_at=now))
    audit.record(session, ENTITY, topic, "create")
    notify_interested(session, topic)
    return topic


def update_topic(session, user, topic: Topic, data: dict) -> Topic:
    """Edit (author or moderator; history kept) and moderate (pin, lock, hide, move)."""
    from crm_host.db import check_version

    mod = can_moderate(user)
    moderation = {k for k in ("pinned", "locked", "hidden", "category_id") if k in data}
    if moderation and not mod:
        raise ForumError(
            _l("Pinning, locking, hiding and moving need 'forum.moderate'."), status=403
        )
    editing = {"title", "body"} & set(data)
    if editing and topic.author_id != user.id and not mod:
        raise ForumError(_l("Only the author or a moderator may edit this topic."), status=403)
    if editing and topic.locked and not mod:
        raise ForumError(_l("This topic is locked."), status=409)
    try:
        check_version(topic, data.get("version"))
    except Conflict as exc:
        raise ForumError(getattr(exc, "description", str(exc)), "version", status=409) from None
    before = audit.snapshot(topic)
    title = _clean(data["title"], "title", MAX_TITLE) if "title" in data else topic.title
    body = _body(data["body"]) if "body" in data else topic.body
    for flag in ("pinned", "locked", "hidden"):
        if flag in data and not isinstance(data[flag], bool):
            raise ForumError(_l("true or false is required."), flag)
    if "category_id" in data and data["category_id"] != topic.category_id:
        cat = (
            session.get(Category, data["category_id"])
            if isinstance(data["category_id"], int)
            else None
        )
        if cat is None or not can_read(user, cat):
            raise ForumError(_l("Unknown category."), "category_id")
        topic.category_id, topic.category = cat.id, cat
    if (title, body) != (topic.title, topic.body):
        session.add(
            Revision(topic_id=topic.id, title=topic.title, body=topic.body, editor_id=user.id)
        )
        topic.title, topic.body, topic.body_html = title, body, markup.render(body)
        topic.edited_at = utcnow()
        _reindex(session, topic)
    for flag in ("pinned", "locked", "hidden"):
        if flag in data:
            setattr(topic, flag, data[flag])
    session.flush()
    audit.record(session, ENTITY, topic, "update", before=before)
    return topic


def add_reply(session, user, topic: Topic, data: dict) -> Reply:
    if not can_post(user, topic.category):
        raise ForumError(
            _l("You may not post in the category “%(name)s”.", name=topic.category.name), status=403
        )
    if topic.locked:
        raise ForumError(_l("This topic is locked: no new replies."), status=409)
    body = _body(data.get("body"))
    quote = None
    if data.get("quote_of") is not None:
        q = data["quote_of"]
        quote = session.get(Reply, q) if isinstance(q, int) and not isinstance(q, bool) else None
        if quote is None or quote.topic_id != topic.id or quote.hidden:
            raise ForumError(_l("The quoted reply is not part of this topic."), "quote_of")
    reply = Reply(
        topic_id=topic.id,
        author_id=user.id,
        body=body,
        body_html=markup.render(body),
        quote_of_id=quote.id if quote else None,
    )
    session.add(reply)
    session.flush()
    now = utcnow()
    session.execute(
        update(Topic)
        .where(Topic.id == topic.id)
        .values(
            reply_count=Topic.reply_count + 1,
            last_post_at=now,
            last_post_by=user.id,
        )
        .execution_options(synchronize_session=False)
    )
    bodies = session.scalars(
        select(Reply.body).where(Reply.topic_id == topic.id, Reply.hidden.is_(False))
    ).all()
    session.execute(
        update(Topic)
        .where(Topic.id == topic.id)
        .values(search_text=search.index_text(topic.title, topic.body, *bodies)[:200_000])
        .execution_options(synchronize_session=False)
    )
    session.expire(topic, ["reply_count", "last_post_at", "last_post_by", "search_text"])
    mark_read(session, user, topic)
    audit.record(session, "forum.reply", reply, "create")
    notify_followers(session, topic, reply, user)
    return reply


def update_reply(session, user, topic: Topic, reply: Reply, data: dict) -> Reply:
    from crm_host.db import check_version

    mod = can_moderate(user)
    if "hidden" in data and not mod:
        raise ForumError(_l("Hiding needs 'forum.moderate'."), status=403)
    if "body" in data and reply.author_id != user.id and not mod:
        raise ForumError(_l("Only the author or a moderator may edit this reply."), status=403)
    if "body" in data and topic.locked and not mod:
        raise ForumError(_l("This topic is locked."), status=409)
    try:
        check_version(reply, data.get("version"))
    except Conflict as exc:
        raise ForumError(getattr(exc, "description", str(exc)), "version", status=409) from None
    before = audit.snapshot(reply)
    if "body" in data:
        body = _body(data["body"])
        if body != reply.body:
            session.add(
                Revision(topic_id=topic.id, reply_id=reply.id, body=reply.body, editor_id=user.id)
            )
            reply.body, reply.body_html, reply.edited_at = body, markup.render(body), utcnow()
    if "hidden" in data:
        if not isinstance(data["hidden"], bool):
            raise ForumError(_l("true or false is required."), "hidden")
        reply.hidden = data["hidden"]
    session.flush()
    bodies = session.scalars(
        select(Reply.body).where(Reply.topic_id == topic.id, Reply.hidden.is_(False))
    ).all()
    session.execute(
        update(Topic)
        .where(Topic.id == topic.id)
        .values(search_text=search.index_text(topic.title, topic.body, *bodies)[:200_000])
        .execution_options(synchronize_session=False)
    )
    session.expire(topic, ["search_text"])
    audit.record(session, "forum.reply", reply, "update", before=before)
    return reply


# --- Follow ------------------------------------------------------------------------------


def follow(session, user, topic: Topic) -> None:
    if not is_following(session, user, topic):
        session.add(Follow(user_id=user.id, topic_id=topic.id))


def unfollow(session, user_id: int, topic_id: int) -> bool:
    return (
        session.execute(
            delete(Follow).where(Follow.user_id == user_id, Follow.topic_id == topic_id)
        ).rowcount
        > 0
    )


def _serializer():
    return URLSafeSerializer(current_app.secret_key, salt="crm-forum-unfollow")


def unfollow_token(user_id: int, topic_id: int) -> str:
    return _serializer().dumps([user_id, topic_id])


def read_unfollow_token(token: str) -> tuple[int, int]:
    try:
        user_id, topic_id = _serializer().loads(token)
        return int(user_id), int(topic_id)
    except (BadSignature, ValueError, TypeError):
        raise ForumError(_l("This link is not valid."), status=400) from None


def _url(endpoint: str, path: str, **kw) -> str:
    if has_request_context():
        return url_for(endpoint, _external=True, **kw)
    base = (current_app.config.get("CRM_BASE_URL") or "").rstrip("/")
    return base + path


def topic_url(topic_id: int) -> str:
    return _url("forum.topic", f"/forum/t/{topic_id}", topic_id=topic_id)


def unfollow_url(user_id: int, topic_id: int) -> str:
    tok = unfollow_token(user_id, topic_id)
    return _url("forum.unfollow_link", f"/forum/unfollow/{tok}", token=tok)


# --- Notifications -----------------------------------------------------------------------


def _active_users(session, ids) -> list[User]:
    if not ids:
        return []
    return list(
        session.scalars(
            select(User).where(User.id.in_(list(ids)), User.is_active.is_(True)).order_by(User.id)
        )
    )


def _by_locale(users) -> dict[str, list[User]]:
    out: dict[str, list[User]] = {}
    for u in users:
        out.setdefault(user_locale(u), []).append(u)
    return out


def notify_followers(session, topic: Topic, reply: Reply, replier) -> int:
    """Followers who may still read the topic, except the one who replied: one message each,
    with a signed link that unfollows in one click."""
    stmt = select(Follow.user_id).where(
        Follow.topic_id == topic.id,
        Follow.user_id != replier.id,
        readers_condition(Follow.user_id, topic.category),
    )
    if topic.hidden:
        stmt = stmt.where(permission_holders(Follow.user_id, "forum.moderate"))
    users = _active_users(session, session.scalars(stmt).all())
    excerpt = markup.excerpt(reply.body, 300)
    for u in users:
        loc = user_locale(u)
        link = unfollow_url(u.id, topic.id)
        notify(
            session,
            "forum.reply",
            in_language(
                loc, N_("%(name)s replied to “%(title)s”"), name=replier.name, title=topic.title
            ),
            f"{excerpt}\n\n{topic_url(topic.id)}\n\n"
            + in_language(loc, N_("Stop following this topic: %(url)s"), url=link),
            users=[u],
            data={
                "topic_id": topic.id,
                "reply_id": reply.id,
                "url": topic_url(topic.id),
                "unfollow_url": link,
            },
        )
    return len(users)


def match_profiles(session, topic: Topic):
    """SELECT (user id, mode) of everyone whose interest profile matches ``topic``: one
    query. Keyword tokens are rows; a keyword matches when all of its tokens are among the
    topic's tokens. Excludes the author, people who switched it off, and people who may not
    read the category."""
    toks = list(dict.fromkeys(search.tokens(f"{topic.title}\n{topic.body}")))[:2000]
    by_kw = (
        select(InterestKeyword.user_id)
        .join(InterestToken, InterestToken.keyword_id == InterestKeyword.id)
        .where(InterestToken.token.in_(toks or [""]))
        .group_by(InterestKeyword.id, InterestKeyword.user_id, InterestKeyword.tokens)
        .having(func.count(InterestToken.token) >= InterestKeyword.tokens)
    )
    by_cat = select(InterestCategory.user_id).where(
        InterestCategory.category_id == topic.category_id
    )
    matched = by_kw.union(by_cat).subquery()
    mode = func.coalesce(Profile.mode, "instant")
    return (
        select(User.id, mode.label("mode"))
        .join(matched, matched.c.user_id == User.id)
        .outerjoin(Profile, Profile.user_id == User.id)
        .where(
            User.id != topic.author_id,
            User.is_active.is_(True),
            mode != "off",
            readers_condition(User.id, topic.category),
        )
    )


def notify_interested(session, topic: Topic) -> dict:
    """Tell everyone whose profile matches a new topic: at once on their channels, or
    queued for their daily digest. Never the author; once per person."""
    rows = session.execute(match_profiles(session, topic)).all()
    instant = [uid for uid, mode in rows if mode == "instant"]
    digest = [uid for uid, mode in rows if mode == "digest"]
    author = session.get(User, topic.author_id)
    if instant:
        url = topic_url(topic.id)
        body = f"{author.name if author else ''}: {markup.excerpt(topic.body, 300)}\n\n{url}"
        for loc, users in _by_locale(_active_users(session, instant)).items():
            notify(
                session,
                "forum.interest",
                in_language(
                    loc,
                    N_("New topic in %(category)s: %(title)s"),
                    category=topic.category.name,
                    title=topic.title,
                ),
                body,
                users=users,
                data={"topic_id": topic.id, "url": url},
            )
    if digest:
        session.execute(
            insert(DigestItem),
            [{"user_id": uid, "topic_id": topic.id, "created_at": utcnow()} for uid in digest],
        )
    return {"instant": len(instant), "digest": len(digest)}


def send_digests(session, now: datetime | None = None) -> int:
    """The daily digest job: one message per person listing the topics queued for them since
    the last one. Every item is marked sent, so no topic is ever repeated."""
    now = now or utcnow()
    pending = session.execute(
        select(DigestItem.user_id, Topic)
        .join(Topic, Topic.id == DigestItem.topic_id)
        .where(DigestItem.sent_at.is_(None))
        .order_by(DigestItem.user_id, Topic.id)
    ).all()
    by_user: dict[int, list[Topic]] = {}
    for uid, topic in pending:
        by_user.setdefault(uid, []).append(topic)
    sent = 0
    for user in _active_users(session, by_user):
        topics = [t for t in by_user[user.id] if not t.hidden and can_read_as(session, user, t)]
        if topics:
            lines = [f"• {t.title} ({t.category.name})\n  {topic_url(t.id)}" for t in topics]
            notify(
                session,
                "forum.digest",
                in_language(
                    user_locale(user),
                    N_("Forum digest: new topics for you (%(num)s)"),
                    num=len(topics),
                ),
                "\n".join(lines),
                users=[user],
                data={"topic_ids": [t.id for t in topics]},
            )
            sent += 1
    if pending:
        session.execute(
            update(DigestItem)
            .where(DigestItem.sent_at.is_(None), DigestItem.user_id.in_(list(by_user)))
            .values(sent_at=now)
            .execution_options(synchronize_session=False)
        )
    return sent


def can_read_as(session, user: User, topic: Topic) -> bool:
    """Read check for someone other than the signed-in user (jobs): the same SQL rule."""
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.id == user.id, readers_condition(User.id, topic.category))
        )
        == 1
    )


def report(session, user, topic: Topic, reason, reply_id=None) -> Report:
    reason = _clean(reason, "reason", 500)
    reply = get_reply(session, user, topic, reply_id) if reply_id is not None else None
    rep = Report(
        topic_id=topic.id, reply_id=reply.id if reply else None, reporter_id=user.id, reason=reason
    )
    session.add(rep)
    session.flush()
    mods = session.scalars(
        select(User.id).where(
            User.id != user.id,
            User.is_active.is_(True),
            permission_holders(User.id, "forum.moderate"),
            readers_condition(User.id, topic.category),
        )
    ).all()
    url = topic_url(topic.id) + (f"#reply-{reply.id}" if reply else "")
    for loc, users in _by_locale(_active_users(session, mods)).items():
        notify(
            session,
            "forum.report",
            in_language(loc, N_("Reported in the forum: %(title)s"), title=topic.title),
            f"{user.name}: {reason}\n\n{url}",
            users=users,
            data={"topic_id": topic.id, "reply_id": rep.reply_id, "report_id": rep.id, "url": url},
        )
    return rep


def open_reports(session, user) -> list[Report]:
    if not can_moderate(user):
        return []
    ids = readable_category_ids(session, user) or [-1]
    return list(
        session.scalars(
            select(Report)
            .join(Topic, Topic.id == Report.topic_id)
            .where(Report.resolved_at.is_(None), Topic.category_id.in_(ids))
            .order_by(Report.id.desc())
            .limit(50)
        )
    )


def resolve_report(session, user, report_id: int) -> None:
    rep = session.get(Report, report_id)
    if rep is None or not can_moderate(user):
        raise ForumError(_l("No such report."), status=404)
    rep.resolved_at = utcnow()


# --- Interest profiles -------------------------------------------------------------------


def profile(session, user) -> dict:
    p = session.get(Profile, user.id)
    return {
        "mode": p.mode if p else "instant",
        "category_ids": sorted(
            session.scalars(
                select(InterestCategory.category_id).where(InterestCategory.user_id == user.id)
            )
        ),
        "keywords": sorted(
            session.scalars(
                select(InterestKeyword.keyword).where(InterestKeyword.user_id == user.id)
            )
        ),
    }


def save_profile(session, user, data: dict) -> dict:
    mode = data.get("mode", "instant")
    if mode not in MODES:
        raise ForumError(_l("Choose how to be told: %(modes)s.", modes=", ".join(MODES)), "mode")
    cat_ids = data.get("category_ids") or []
    if not isinstance(cat_ids, list):
        raise ForumError(_l("A list is required."), "category_ids")
    readable = set(readable_category_ids(session, user))
    for c in cat_ids:
        if c not in readable:
            raise ForumError(_l("Unknown category."), "category_ids")
    raw = data.get("keywords") or []
    if isinstance(raw, str):
        raw = raw.replace("，", ",").replace("、", ",").replace("\n", ",").split(",")
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        raise ForumError(_l("A list of words is required."), "keywords")
    keywords = list(dict.fromkeys(k.strip() for k in raw if k.strip()))
    if len(keywords) > MAX_KEYWORDS:
        raise ForumError(_l("At most %(n)s keywords.", n=MAX_KEYWORDS), "keywords")
    for k in keywords:
        if len(k) > 60 or not search.tokens(k):
            raise ForumError(_l("“%(k)s” is not a usable keyword.", k=k[:60]), "keywords")
    p = session.get(Profile, user.id)
    if p is None:
        session.add(Profile(user_id=user.id, mode=mode))
    else:
        p.mode = mode
    session.execute(delete(InterestCategory).where(InterestCategory.user_id == user.id))
    session.execute(delete(InterestToken).where(InterestToken.user_id == user.id))
    session.execute(delete(InterestKeyword).where(InterestKeyword.user_id == user.id))
    for c in sorted(set(cat_ids)):
        session.add(InterestCategory(user_id=user.id, category_id=c))
    session.flush()
    for k in keywords:
        toks = sorted(set(keyword_tokens(k)))
        kw = InterestKeyword(user_id=user.id, keyword=k, tokens=len(toks))
        session.add(kw)
        session.flush()
        session.add_all(InterestToken(keyword_id=kw.id, token=t, user_id=user.id) for t in toks)
    session.flush()
    return profile(session, user)


def keyword_tokens(keyword: str) -> list[str]:
    """A keyword's tokens as they appear in a topic's tokens: CJK runs as bigrams (a lone
    character as itself), other words whole."""
    out = []
    for phrase in search.query_terms(keyword):
        out.extend(phrase)
    return [t[:40] for t in out]


# --- Attachments -------------------------------------------------------------------------


def add_attachment(
    session, user, topic: Topic, upload, filename: str, store, reply: Reply | None = None
) -> Attachment:
    try:
        return _add_attachment(session, user, topic, upload, filename, store, reply)
    finally:
        upload.file.close()  # the spooled upload: its bytes are in the storage now


def _add_attachment(session, user, topic, upload, filename, store, reply):
    owner = reply.author_id if reply else topic.author_id
    if owner != user.id and not can_moderate(user):
        raise ForumError(_l("Only the author may attach files here."), status=403)
    if topic.locked and not can_moderate(user):
        raise ForumError(_l("This topic is locked."), status=409)
    n = session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.topic_id == topic.id)
    )
    if n >= MAX_ATTACHMENTS:
        raise ForumError(_l("This topic has too many attachments."), "file")
    name = (filename or "file").replace("/", "_").replace("\\", "_").strip()[:200] or "file"
    key = storage.save_in_transaction(session, store, upload.file)
    att = Attachment(
        topic_id=topic.id,
        reply_id=reply.id if reply else None,
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


# --- Case discussions (links to other modules' records) ---------------------------------


def _runtime():
    from crm_host.plugins import current_runtime

    return current_runtime()


def linkable_entities() -> list:
    """The Entity objects a topic may link to right now (their module is active)."""
    ents = _runtime().entities
    return [ents[n] for n in LINKABLE if n in ents]


def record_label(entity, rec) -> str:
    name = getattr(rec, "name", None) or getattr(rec, "title", None) or f"#{rec.id}"
    code = getattr(rec, "code", None)
    return f"{name} · {code}" if code else str(name)


def visible_record(session, user, entity_name: str | None, record_id: int | None):
    """``(entity, record)`` when the entity's module is active and the user may see the
    record (its owner scope rule), else None."""
    if not entity_name or record_id is None:
        return None
    ent = _runtime().entities.get(entity_name)
    if ent is None or entity_name not in LINKABLE:
        return None
    rec = session.get(ent.model, record_id)
    if rec is None or getattr(rec, "deleted_at", None) is not None:
        return None
    if ent.owner_attr and not in_scope(user, rec, ent.owner_attr, ent.department_attr):
        return None
    return ent, rec


def resolve_link(session, user, entity_name, record_id):
    if entity_name in (None, "") and record_id in (None, ""):
        return None
    if entity_name not in [e.name for e in linkable_entities()]:
        raise ForumError(_l("Records of this kind cannot be linked."), "link_entity")
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        raise ForumError(_l("Choose a record."), "link_id")
    if visible_record(session, user, entity_name, record_id) is None:
        raise ForumError(_l("Unknown record."), "link_id")
    return entity_name, record_id


def lookup_records(session, user, entity_name: str, q: str, limit: int = 10) -> list[dict]:
    """Records of a linkable entity matching ``q`` in the user's scope (the entity's own
    searchable columns and scope rule; no import of its module)."""
    ent = next((e for e in linkable_entities() if e.name == entity_name), None)
    q = (q or "").strip()[:100]
    if ent is None or not q:
        return []
    model = ent.model
    cols = sa_inspect(model).columns
    conds = [cols[a].contains(q, autoescape=True) for a in ent.searchable if a in cols]
    if not conds:
        return []
    stmt = select(model).where(or_(*conds))
    if "deleted_at" in cols:
        stmt = stmt.where(cols["deleted_at"].is_(None))
    if ent.owner_attr:
        cond = scope_filter(
            user,
            getattr(model, ent.owner_attr),
            getattr(model, ent.department_attr) if ent.department_attr else None,
        )
        if cond is not None:
            stmt = stmt.where(cond)
    return [
        {"id": r.id, "label": record_label(ent, r)}
        for r in session.scalars(stmt.order_by(model.id.desc()).limit(limit))
    ]


def topics_linked_to(session, user, entity_name: str, record_id: int, limit: int = 20):
    """Topics about a record, as far as the user may read them (category rules, hidden)."""
    stmt = select(Topic).where(
        Topic.link_entity == entity_name,
        Topic.link_id == record_id,
        Topic.category_id.in_(readable_category_ids(session, user) or [-1]),
    )
    if not can_moderate(user):
        stmt = stmt.where(Topic.hidden.is_(False))
    return list(session.scalars(stmt.order_by(Topic.last_post_at.desc()).limit(limit)))


def latest_topics(session, user, limit: int = 6):
    items, _t, _e = list_topics(session, user, Filters(), 1, limit)
    return items
