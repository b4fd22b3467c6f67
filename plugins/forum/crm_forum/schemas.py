"""marshmallow schemas: the API's types and documentation. Lengths and the other business
rules are checked once, in services.py (so the pages and the API answer the same)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from crm_host.api import PageArgs

S = fields.String
I = fields.Integer  # noqa: E741


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class TopicFilter(PageArgs):
    category_id = I()
    author_id = I()
    q = S(validate=ma.validate.Length(max=200))
    unread = fields.Boolean()
    following = fields.Boolean()


class TopicIn(Strict):
    category_id = I(required=True)
    title = S(required=True)
    body = S(required=True)
    link_entity = S(allow_none=True)
    link_id = I(allow_none=True)


class TopicPatch(Strict):
    version = I(required=True)
    title = S()
    body = S()
    category_id = I()
    pinned = fields.Boolean()
    locked = fields.Boolean()
    hidden = fields.Boolean()


class ForumCategoryRef(ma.Schema):
    id = I()
    name = S()


class TopicListItem(ma.Schema):
    id = I()
    title = S()
    category = fields.Nested(ForumCategoryRef)
    author_id = I()
    reply_count = I()
    pinned = fields.Boolean()
    locked = fields.Boolean()
    hidden = fields.Boolean()
    unread = fields.Boolean()
    created_at = fields.AwareDateTime()
    last_post_at = fields.AwareDateTime()
    link_entity = S(allow_none=True)
    link_id = I(allow_none=True)


class ForumAttachmentOut(ma.Schema):
    id = I()
    reply_id = I(allow_none=True)
    filename = S()
    content_type = S()
    size = I()
    url = S()


class TopicOut(TopicListItem):
    body = S()
    body_html = S(metadata={"description": "The Markdown rendered and sanitised"})
    version = I()
    edited_at = fields.AwareDateTime(allow_none=True)
    following = fields.Boolean()
    attachments = fields.List(fields.Nested(ForumAttachmentOut))


class ReplyIn(Strict):
    body = S(required=True)
    quote_of = I(allow_none=True, metadata={"description": "Id of a reply of this topic"})


class ReplyPatch(Strict):
    version = I(required=True)
    body = S()
    hidden = fields.Boolean()


class ReplyOut(ma.Schema):
    id = I()
    topic_id = I()
    author_id = I()
    body = S()
    body_html = S()
    quote_of_id = I(allow_none=True)
    hidden = fields.Boolean()
    version = I()
    created_at = fields.AwareDateTime()
    edited_at = fields.AwareDateTime(allow_none=True)


class ForumRevisionOut(ma.Schema):
    id = I()
    reply_id = I(allow_none=True)
    title = S(allow_none=True)
    body = S()
    editor_id = I()
    created_at = fields.AwareDateTime()


class ForumReportIn(Strict):
    reason = S(required=True)
    reply_id = I(allow_none=True)


class ForumReportOut(ma.Schema):
    id = I()
    topic_id = I()
    reply_id = I(allow_none=True)
    reason = S()


class FollowOut(ma.Schema):
    following = fields.Boolean()


class ForumCategoryIn(Strict):
    name = S(required=True)
    description = S()
    position = I()
    read_roles = fields.List(I())
    read_departments = fields.List(I())
    post_roles = fields.List(I())
    post_departments = fields.List(I())


class ForumCategoryPatch(ForumCategoryIn):
    name = S()


class ForumCategoryOut(ma.Schema):
    id = I()
    name = S()
    description = S()
    position = I()
    can_post = fields.Boolean()
    read_roles = fields.List(I())
    read_departments = fields.List(I())
    post_roles = fields.List(I())
    post_departments = fields.List(I())


class ForumProfile(Strict):
    mode = S(metadata={"description": "instant, digest or off"})
    category_ids = fields.List(I())
    keywords = fields.List(S())
