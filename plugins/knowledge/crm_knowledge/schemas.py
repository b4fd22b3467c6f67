"""marshmallow schemas: the API's types and documentation. Lengths and the other business
rules are checked once, in services.py (so the pages and the API answer the same)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from crm_host.api import PageArgs

from .models import KINDS, LOCALES, STATUSES, VISIBILITIES

S = fields.String
I = fields.Integer  # noqa: E741
OneOf = ma.validate.OneOf


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# --- Articles ----------------------------------------------------------------------------


class KbArticleFilter(PageArgs):
    q = S(validate=ma.validate.Length(max=200))
    category_id = I()
    tag = S(validate=ma.validate.Length(max=60))
    kind = S(validate=OneOf(KINDS))
    status = S(validate=OneOf(STATUSES))
    visibility = S(validate=OneOf(VISIBILITIES))
    author_id = I()


class KbTranslationIn(Strict):
    title = S(required=True, allow_none=True)
    body = S(load_default="")


class KbArticleIn(Strict):
    kind = S(load_default="article", validate=OneOf(KINDS))
    title = S(required=True)
    body = S(load_default="")
    locale = S(load_default="en", validate=OneOf(LOCALES))
    status = S(load_default="draft", validate=OneOf(STATUSES))
    visibility = S(load_default="internal", validate=OneOf(VISIBILITIES))
    category_id = I(allow_none=True)
    tags = fields.List(S(), load_default=list)
    roles = fields.List(I(), metadata={"description": "Role ids (restricted visibility)"})
    departments = fields.List(I(), metadata={"description": "Department ids (restricted)"})
    translations = fields.Dict(
        keys=S(validate=OneOf(LOCALES)),
        values=fields.Nested(KbTranslationIn, allow_none=True),
        metadata={"description": "{locale: {title, body}}; null removes a translation"},
    )


class KbArticlePatch(Strict):
    version = I(required=True)
    kind = S(validate=OneOf(KINDS))
    title = S()
    body = S()
    locale = S(validate=OneOf(LOCALES))
    status = S(validate=OneOf(STATUSES))
    visibility = S(validate=OneOf(VISIBILITIES))
    category_id = I(allow_none=True)
    tags = fields.List(S())
    roles = fields.List(I())
    departments = fields.List(I())
    translations = fields.Dict(
        keys=S(validate=OneOf(LOCALES)), values=fields.Nested(KbTranslationIn, allow_none=True)
    )


class KbCategoryRef(ma.Schema):
    id = I()
    name = S()


class KbArticleListItem(ma.Schema):
    id = I()
    kind = S()
    title = S()
    locale = S()
    status = S()
    visibility = S()
    category = fields.Nested(KbCategoryRef, allow_none=True)
    tags = fields.List(S(), attribute="tag_list")
    author_id = I(allow_none=True)
    view_count = I()
    helpful_yes = I()
    helpful_no = I()
    updated_at = fields.AwareDateTime()
    snippet = S(metadata={"description": "Plain text around the match (search)"})
    highlight = S(metadata={"description": "The snippet as HTML with <mark> around matches"})


class KbTranslationOut(ma.Schema):
    locale = S()
    title = S()
    body = S()
    body_html = S()


class KbAttachmentOut(ma.Schema):
    id = I()
    filename = S()
    content_type = S()
    size = I()
    url = S()


class KbArticleOut(KbArticleListItem):
    body = S()
    body_html = S(metadata={"description": "The Markdown rendered and sanitised"})
    version = I()
    published_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    roles = fields.List(I())
    departments = fields.List(I())
    translations = fields.List(fields.Nested(KbTranslationOut))
    attachments = fields.List(fields.Nested(KbAttachmentOut))
    pack_name = S(allow_none=True)
    pack_version = S(allow_none=True)
    my_vote = fields.Boolean(allow_none=True)


class KbRevisionOut(ma.Schema):
    number = I()
    title = S()
    body = S()
    editor_id = I(allow_none=True)
    note = S()
    created_at = fields.AwareDateTime()


class KbRestoreIn(Strict):
    version = I(required=True)


class KbFeedbackIn(Strict):
    helpful = fields.Boolean(required=True)


class KbFeedbackOut(ma.Schema):
    helpful_yes = I()
    helpful_no = I()
    my_vote = fields.Boolean(allow_none=True)


# --- Categories --------------------------------------------------------------------------


class KbCategoryIn(Strict):
    name = S(required=True)
    names = fields.Dict(keys=S(validate=OneOf(LOCALES)), values=S())
    parent_id = I(allow_none=True)
    position = I(validate=ma.validate.Range(min=0, max=100_000))


class KbCategoryPatch(KbCategoryIn):
    version = I(required=True)
    name = S()


class KbCategoryOut(ma.Schema):
    id = I()
    name = S()
    names = fields.Dict()
    parent_id = I(allow_none=True)
    position = I()
    version = I()
    pack_name = S(allow_none=True)


# --- Products and competitors ------------------------------------------------------------


class KbProductFilter(PageArgs):
    q = S(validate=ma.validate.Length(max=200))
    category = S(validate=ma.validate.Length(max=120))
    active = fields.Boolean()


class KbProductIn(Strict):
    name = S(required=True)
    number = S(required=True)
    category = S(load_default="")
    model = S(load_default="")
    price = fields.Decimal(allow_none=True, as_string=True, places=2)
    description = S(load_default="")
    active = fields.Boolean(load_default=True)


class KbProductPatch(Strict):
    version = I(required=True)
    name = S()
    number = S()
    category = S()
    model = S()
    price = fields.Decimal(allow_none=True, as_string=True, places=2)
    description = S()
    active = fields.Boolean()


class KbProductOut(ma.Schema):
    id = I()
    name = S()
    number = S()
    category = S()
    model = S()
    price = fields.Decimal(allow_none=True, as_string=True)
    description = S()
    active = fields.Boolean()
    version = I()
    updated_at = fields.AwareDateTime()


class KbCompetitorProductIn(Strict):
    id = I()
    name = S(required=True)
    model = S(load_default="")
    price = fields.Decimal(allow_none=True, as_string=True, places=2)
    description = S(load_default="")
    versus_product_id = I(allow_none=True)


class KbCompetitorFilter(PageArgs):
    q = S(validate=ma.validate.Length(max=200))


class KbCompetitorIn(Strict):
    name = S(required=True)
    website = S(load_default="")
    summary = S(load_default="")
    strengths = S(load_default="")
    weaknesses = S(load_default="")
    products = fields.List(fields.Nested(KbCompetitorProductIn), load_default=list)


class KbCompetitorPatch(Strict):
    version = I(required=True)
    name = S()
    website = S()
    summary = S()
    strengths = S()
    weaknesses = S()
    products = fields.List(
        fields.Nested(KbCompetitorProductIn),
        metadata={"description": "The whole list (items with an id are kept and updated)"},
    )


class KbCompetitorProductOut(ma.Schema):
    id = I()
    name = S()
    model = S()
    price = fields.Decimal(allow_none=True, as_string=True)
    description = S()
    versus_product_id = I(allow_none=True)


class KbCompetitorOut(ma.Schema):
    id = I()
    name = S()
    website = S()
    summary = S()
    strengths = S()
    weaknesses = S()
    products = fields.List(fields.Nested(KbCompetitorProductOut))
    version = I()
    updated_at = fields.AwareDateTime()


# --- Documents ---------------------------------------------------------------------------


class KbDocumentFilter(PageArgs):
    q = S(validate=ma.validate.Length(max=200))


class KbDocumentPatch(Strict):
    version = I(required=True)
    title = S()
    description = S()
    roles = fields.List(I())
    departments = fields.List(I())


class KbDocumentOut(ma.Schema):
    id = I()
    title = S()
    description = S()
    filename = S()
    content_type = S()
    size = I()
    roles = fields.List(I())
    departments = fields.List(I())
    url = S()
    version = I()
    created_at = fields.AwareDateTime()


# --- Packs -------------------------------------------------------------------------------


class KbPackOut(ma.Schema):
    name = S()
    version = S()
    title = S()
    description = S()
    installed_version = S(allow_none=True)
    articles = I()
    categories = I()


class KbPackReportOut(ma.Schema):
    name = S()
    version = S()
    previous = S(allow_none=True)
    outcome = S()
    categories_created = I()
    created = fields.List(S())
    updated = fields.List(S())
    unchanged = fields.List(S())
    conflicts = fields.List(fields.Dict())
    dropped = fields.List(S())
