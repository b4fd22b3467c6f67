"""REST API of the forum: thin endpoints over services (``/api/v1/topics``, ``/api/v1/forum``)."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_login import current_user

from crm_host import storage
from crm_host.api import Blueprint, PageArgs, abort, envelope, page_schema, refusals, require
from crm_host.db import session

from . import services
from .schemas import (
    FollowOut,
    ForumAttachmentOut,
    ForumCategoryIn,
    ForumCategoryOut,
    ForumCategoryPatch,
    ForumProfile,
    ForumReportIn,
    ForumReportOut,
    ForumRevisionOut,
    ReplyIn,
    ReplyOut,
    ReplyPatch,
    TopicFilter,
    TopicIn,
    TopicListItem,
    TopicOut,
    TopicPatch,
)

blp = Blueprint(
    "Forum",
    __name__,
    url_prefix="/api/v1",
    description="Discussion board: topics, replies, follows, interests (forum module)",
)
Err = services.ForumError


def _topic(topic_id):
    try:
        return services.get_topic(session(), current_user, topic_id)
    except Err:
        abort(404, message="No such topic.")


def file_storage():
    return storage.storage_for_app(current_app, "CRM_FORUM_STORAGE_DIR", "forum-files")


def max_upload() -> int:
    return int(current_app.config.get("CRM_FORUM_MAX_UPLOAD") or 10 * 1024 * 1024)


def read_upload(field="file"):
    """The uploaded file within the size limit (413 from Content-Length before reading),
    its type sniffed from the bytes; ``(upload, filename)`` or None when none was sent."""
    limit = max_upload()
    envelope_ = limit + 64 * 1024
    if request.content_length is not None and request.content_length > envelope_:
        raise storage.UploadError(storage.too_large_message(limit), status=413)
    request.max_content_length = envelope_
    f = request.files.get(field)
    if f is None or not f.filename:
        return None
    return storage.accept_upload(f.stream, limit), f.filename


def attachment_dict(a):
    return {
        "id": a.id,
        "reply_id": a.reply_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "url": url_for("forum.attachment", attachment_id=a.id),
    }


def _topic_out(t):
    s = session()
    t.following = services.is_following(s, current_user, t)
    t.attachments = [attachment_dict(a) for a in services.attachments_of(s, t)]
    if not hasattr(t, "unread"):
        t.unread = False
    return t


@blp.route("/topics", methods=["GET"])
@blp.arguments(TopicFilter, location="query")
@blp.response(200, page_schema(TopicListItem))
def list_topics(args):
    """Topics you may read: pinned first, then unread, then the latest activity. ``q``
    searches titles, posts and replies (Chinese and English)."""
    require("forum.view")
    f = services.Filters(
        category_id=args.get("category_id"),
        author_id=args.get("author_id"),
        q=args.get("q"),
        unread=args.get("unread", False),
        following=args.get("following", False),
    )
    items, total, exact = services.list_topics(
        session(), current_user, f, args["page"], args["per_page"]
    )
    return envelope(items, args["page"], args["per_page"], total, exact)


@blp.route("/topics", methods=["POST"])
@blp.arguments(TopicIn)
@blp.response(201, TopicOut)
def create_topic(args):
    """Open a topic (Markdown body). You follow it from then on."""
    require("forum.post")
    s = session()
    with refusals(s, Err):
        t = services.create_topic(s, current_user, args)
    s.commit()
    return _topic_out(t)


@blp.route("/topics/read-all", methods=["POST"])
@blp.response(204)
def read_all():
    """Mark every topic as read (a later post makes it unread again)."""
    require("forum.view")
    s = session()
    services.mark_all_read(s, current_user)
    s.commit()


@blp.route("/topics/<int:topic_id>", methods=["GET"])
@blp.response(200, TopicOut)
def get_topic(topic_id):
    require("forum.view")
    return _topic_out(_topic(topic_id))


@blp.route("/topics/<int:topic_id>", methods=["PATCH"])
@blp.arguments(TopicPatch)
@blp.response(200, TopicOut)
def patch_topic(args, topic_id):
    """Edit (author or moderator; the previous text is kept as a revision) or moderate
    (``pinned``, ``locked``, ``hidden``, ``category_id``: ``forum.moderate``). Send the
    ``version`` you read (409 when stale)."""
    require("forum.view")
    s = session()
    t = _topic(topic_id)
    with refusals(s, Err):
        services.update_topic(s, current_user, t, args)
    s.commit()
    return _topic_out(t)


@blp.route("/topics/<int:topic_id>/revisions", methods=["GET"])
@blp.response(200, ForumRevisionOut(many=True))
def topic_revisions(topic_id):
    require("forum.view")
    return services.revisions(session(), _topic(topic_id))


@blp.route("/topics/<int:topic_id>/replies", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(ReplyOut))
def list_replies(args, topic_id):
    require("forum.view")
    t = _topic(topic_id)
    items = services.replies(session(), current_user, t)
    page, per = args["page"], args["per_page"]
    return envelope(items[(page - 1) * per : page * per], page, per, len(items), True)


@blp.route("/topics/<int:topic_id>/replies", methods=["POST"])
@blp.arguments(ReplyIn)
@blp.response(201, ReplyOut)
def create_reply(args, topic_id):
    """Reply (Markdown); ``quote_of`` quotes another reply. Followers are notified.
    A locked topic answers 409."""
    require("forum.view")
    s = session()
    t = _topic(topic_id)
    with refusals(s, Err):
        r = services.add_reply(s, current_user, t, args)
    s.commit()
    return r


@blp.route("/topics/<int:topic_id>/replies/<int:reply_id>", methods=["PATCH"])
@blp.arguments(ReplyPatch)
@blp.response(200, ReplyOut)
def patch_reply(args, topic_id, reply_id):
    require("forum.view")
    s = session()
    t = _topic(topic_id)
    with refusals(s, Err):
        r = services.get_reply(s, current_user, t, reply_id)
        services.update_reply(s, current_user, t, r, args)
    s.commit()
    return r


@blp.route("/topics/<int:topic_id>/follow", methods=["PUT", "DELETE"])
@blp.response(200, FollowOut)
def follow_topic(topic_id):
    """PUT follows the topic (replies notify you), DELETE stops following."""
    require("forum.view")
    s = session()
    t = _topic(topic_id)
    if request.method == "PUT":
        services.follow(s, current_user, t)
    else:
        services.unfollow(s, current_user.id, t.id)
    s.commit()
    return {"following": request.method == "PUT"}


@blp.route("/topics/<int:topic_id>/reports", methods=["POST"])
@blp.arguments(ForumReportIn)
@blp.response(201, ForumReportOut)
def report_topic(args, topic_id):
    """Report the topic (or one of its replies) to the moderators."""
    require("forum.view")
    s = session()
    t = _topic(topic_id)
    with refusals(s, Err):
        rep = services.report(s, current_user, t, args.get("reason"), args.get("reply_id"))
    s.commit()
    return rep


@blp.route("/topics/<int:topic_id>/attachments", methods=["POST"])
@blp.response(201, ForumAttachmentOut)
def upload_attachment(topic_id):
    """Attach a file (multipart field ``file``, optional ``reply_id``); PDF, Office
    documents, images and text, up to ``CRM_FORUM_MAX_UPLOAD`` (10 MiB)."""
    require("forum.post")
    s = session()
    t = _topic(topic_id)
    with refusals(s, Err, storage.UploadError):
        got = read_upload()
        if got is None:
            raise storage.UploadError("Choose a file to upload.")
        reply = None
        if request.form.get("reply_id"):
            try:
                reply = services.get_reply(s, current_user, t, int(request.form["reply_id"]))
            except ValueError:
                raise Err("Unknown reply.", "reply_id") from None
        a = services.add_attachment(s, current_user, t, got[0], got[1], file_storage(), reply)
    s.commit()
    return attachment_dict(a)


def _category_out(c):
    d = {
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "position": c.position,
        "can_post": services.can_post(current_user, c),
    }
    d.update(services.category_rules(c))
    return d


@blp.route("/forum/categories", methods=["GET"])
@blp.response(200, ForumCategoryOut(many=True))
def list_categories():
    require("forum.view")
    return [_category_out(c) for c in services.readable_categories(session(), current_user)]


@blp.route("/forum/categories", methods=["POST"])
@blp.arguments(ForumCategoryIn)
@blp.response(201, ForumCategoryOut)
def create_category(args):
    """Create a category; ``read_*`` / ``post_*`` restrict who reads and posts (none: all)."""
    require("forum.admin")
    s = session()
    with refusals(s, Err):
        c = services.save_category(s, current_user, args)
    s.commit()
    return _category_out(c)


@blp.route("/forum/categories/<int:category_id>", methods=["PATCH"])
@blp.arguments(ForumCategoryPatch)
@blp.response(200, ForumCategoryOut)
def patch_category(args, category_id):
    require("forum.admin")
    s = session()
    c = s.get(services.Category, category_id)
    if c is None:
        abort(404, message="No such category.")
    with refusals(s, Err):
        services.save_category(s, current_user, args, c)
    s.commit()
    return _category_out(c)


@blp.route("/forum/profile", methods=["GET"])
@blp.response(200, ForumProfile)
def get_profile():
    """Your interest profile: categories and keywords whose new topics you are told about."""
    require("forum.view")
    return services.profile(session(), current_user)


@blp.route("/forum/profile", methods=["PUT"])
@blp.arguments(ForumProfile)
@blp.response(200, ForumProfile)
def put_profile(args):
    require("forum.view")
    s = session()
    with refusals(s, Err):
        out = services.save_profile(s, current_user, args)
    s.commit()
    return out
