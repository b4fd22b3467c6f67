"""marshmallow schemas: the API's validation and documentation. Business rules (merge
fields, audiences, channel names) are checked once, in the services."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from crm_host.api import PageArgs

from .agenda import KINDS

S = fields.String
L = validate.Length


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class InboxArgs(PageArgs):
    box = S(load_default="inbox", validate=validate.OneOf(("inbox", "unread", "archive")))


class InboxOut(ma.Schema):
    id = fields.Integer()
    kind = S()
    subject = S()
    body = S()
    html = S(allow_none=True, metadata={"description": "Sanitised HTML body, if any"})
    url = S(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    archived_at = fields.DateTime(allow_none=True)
    read = fields.Function(lambda m: m.read_at is not None)
    archived = fields.Function(lambda m: m.archived_at is not None)


class InboxPatch(Strict):
    read = fields.Boolean()
    archived = fields.Boolean()


class CountOut(ma.Schema):
    unread = fields.Integer()
    changed = fields.Integer()


class PreferenceOut(ma.Schema):
    kind = S()
    label = S()
    channels = fields.List(S())
    custom = fields.Boolean(metadata={"description": "True when the user chose; else the default"})
    default = fields.List(S())


class ChannelsIn(Strict):
    channels = fields.List(
        S(validate=L(max=64)),
        required=True,
        allow_none=True,
        metadata={"description": "Channel names; null: back to the default"},
    )


class DefaultOut(ma.Schema):
    kind = S()
    label = S()
    declared = fields.List(S())
    channels = fields.List(S())
    custom = fields.Boolean()


class CalendarEventArgs(ma.Schema):
    start = fields.AwareDateTime(required=True, default_timezone=None)
    end = fields.AwareDateTime(required=True)


class CalendarEventOut(ma.Schema):
    uid = S()
    title = S()
    start = fields.DateTime()
    end = fields.DateTime(allow_none=True)
    all_day = fields.Boolean()
    url = S(allow_none=True)
    kind = S()
    description = S()
    source = S()


class EntryIn(Strict):
    title = S(required=True, validate=L(min=1, max=200))
    kind = S(load_default="meeting", validate=validate.OneOf(KINDS))
    start = fields.DateTime(required=True)
    end = fields.DateTime(allow_none=True)
    all_day = fields.Boolean(load_default=False)
    location = S(allow_none=True, validate=L(max=200))
    description = S(load_default="", validate=L(max=5000))
    remind_minutes = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=20160))


class EntryOut(ma.Schema):
    id = fields.Integer()
    title = S()
    kind = S()
    start = fields.DateTime(attribute="start_at")
    end = fields.DateTime(attribute="end_at", allow_none=True)
    all_day = fields.Boolean()
    location = S(allow_none=True)
    description = S()
    remind_minutes = fields.Integer(allow_none=True)


class FeedOut(ma.Schema):
    url = S()


class MailingIn(Strict):
    name = S(required=True, validate=L(min=1, max=200))
    audience = S(required=True, validate=L(min=1, max=64))
    params = fields.Dict(
        load_default=dict,
        metadata={"description": "The audience's parameters (customers: the list's filters)"},
    )
    subject = S(required=True, validate=L(min=1, max=200))
    body = S(
        required=True,
        validate=L(min=1, max=50_000),
        metadata={"description": "Text with merge fields such as {contact_name}"},
    )
    html = S(
        allow_none=True,
        validate=L(max=50_000),
        metadata={"description": "Optional HTML version (sanitised)"},
    )
    rate_per_minute = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100_000))
    send_at = fields.AwareDateTime(allow_none=True, default_timezone=None)
    send = fields.Boolean(
        load_default=False, metadata={"description": "Schedule it (at send_at, or now)"}
    )


class PreviewItem(ma.Schema):
    email = S()
    name = S()
    customer_id = fields.Integer(allow_none=True)
    subject = S()
    body = S()


class PreviewOut(ma.Schema):
    total = fields.Integer(allow_none=True)
    items = fields.List(fields.Nested(PreviewItem))
    fields_ = fields.Dict(data_key="fields")


class TotalsOut(ma.Schema):
    queued = fields.Integer()
    sent = fields.Integer()
    failed = fields.Integer()
    unsubscribed = fields.Integer()
    invalid = fields.Integer()
    total = fields.Integer()


class MailingOut(ma.Schema):
    id = fields.Integer()
    name = S()
    audience = S()
    params = fields.Dict()
    subject = S()
    status = S()
    scheduled_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    rate_per_minute = fields.Integer()
    recipients_total = fields.Integer()
    error = S(allow_none=True)
    created_at = fields.DateTime()


class MailingDetail(MailingOut):
    body = fields.Function(lambda m: m.body.partition("\n\x00html\x00\n")[0])
    totals = fields.Nested(TotalsOut)


class RecipientArgs(PageArgs):
    status = S(
        load_default=None,
        validate=validate.OneOf(("queued", "sent", "failed", "unsubscribed", "invalid")),
    )


class RecipientOut(ma.Schema):
    id = fields.Integer()
    email = S()
    name = S()
    customer_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    status = S()
    error = S(allow_none=True)
    attempts = fields.Integer(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)


class AudienceOut(ma.Schema):
    name = S()
    label = S()
    fields_ = fields.Dict(data_key="fields")
