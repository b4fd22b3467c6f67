"""marshmallow schemas: the API's validation and documentation (the HTML forms load them
too, so input is validated once)."""

from __future__ import annotations

from datetime import timezone

import marshmallow as ma
from marshmallow import fields, validate

from crm_host.api import PageArgs

from .models import KINDS, RECORD_KINDS, SEVERITIES

S = fields.String
L = validate.Length
When = lambda **kw: fields.AwareDateTime(default_timezone=timezone.utc, **kw)  # noqa: E731


def _opt(max_len: int, **kw):
    return S(allow_none=True, validate=L(max=max_len), **kw)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class TicketIn(Strict):
    kind = S(required=True, validate=validate.OneOf(KINDS))
    title = S(required=True, validate=L(min=1, max=200))
    description = _opt(20_000)
    target = _opt(200)
    severity = S(validate=validate.OneOf(SEVERITIES))
    category_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    owner_id = fields.Integer()
    department_id = fields.Integer(allow_none=True)


class TicketPatch(Strict):
    """PATCH: any subset of the fields plus the ``version`` you read (409 when stale).
    ``waiting: true`` pauses the service-level clock while you wait for the customer."""

    title = S(validate=L(min=1, max=200))
    description = _opt(20_000)
    target = _opt(200)
    severity = S(validate=validate.OneOf(SEVERITIES))
    category_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    owner_id = fields.Integer()
    department_id = fields.Integer()
    waiting = fields.Boolean()
    comment = _opt(2000)
    version = fields.Integer(required=True)


class TicketFilter(PageArgs):
    q = S(validate=L(max=100))
    kind = S(validate=validate.OneOf(KINDS))
    status = S(validate=L(max=16))
    severity = S(validate=validate.OneOf(SEVERITIES))
    customer_id = fields.Integer()
    department_id = fields.Integer()
    owner_id = fields.Integer()
    category_id = fields.Integer()
    overdue = fields.Boolean()


class TicketListItem(ma.Schema):
    id = fields.Integer()
    code = S()
    kind = S()
    status = S()
    title = S()
    severity = S()
    category_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    customer_name = S(allow_none=True)
    owner_id = fields.Integer()
    department_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    resolution_due_at = fields.DateTime(allow_none=True)
    waiting = fields.Function(lambda t: t.waiting_since is not None)
    overdue = fields.Method("_overdue")
    version = fields.Integer()

    def _overdue(self, t):
        from .services import is_overdue

        return is_overdue(t)


class TicketOut(TicketListItem):
    description = S(allow_none=True)
    target = S(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    contact_name = S(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    escalated = fields.Boolean()
    solution = S(allow_none=True)
    summary = S(allow_none=True)
    response_due_at = fields.DateTime(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    waiting_since = fields.DateTime(allow_none=True)
    paused_minutes = fields.Integer()
    response_escalated_at = fields.DateTime(allow_none=True)
    resolution_escalated_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    next_steps = fields.Method("_next")

    def _next(self, t):
        from .services import next_steps

        return next_steps(t)


class TicketTransitionIn(Strict):
    to = S(required=True, validate=L(min=1, max=16))
    comment = _opt(20_000)
    owner_id = fields.Integer()
    department_id = fields.Integer()
    version = fields.Integer()


class TicketEventOut(ma.Schema):
    id = fields.Integer()
    at = fields.DateTime()
    user_id = fields.Integer(allow_none=True)
    kind = S()
    from_status = S(allow_none=True)
    to_status = S(allow_none=True)
    comment = S(allow_none=True)
    data = fields.Dict(allow_none=True)


class TicketReplyIn(Strict):
    body = S(required=True, validate=L(min=1, max=20_000))
    to_customer = fields.Boolean(load_default=True)


class ServiceAnswerArgs(Strict):
    q = S(required=True, validate=L(min=1, max=200))
    limit = fields.Integer(load_default=5, validate=validate.Range(min=1, max=20))


class ServiceAnswerOut(ma.Schema):
    id = S()
    title = S()
    answer = S()
    url = S()
    snippet = S()


class ServiceAnswersOut(ma.Schema):
    available = fields.Boolean()
    items = fields.List(fields.Nested(ServiceAnswerOut))


class ServiceRecordIn(Strict):
    ticket_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    kind = S(required=True, validate=validate.OneOf(RECORD_KINDS))
    engineer_id = fields.Integer()
    started_at = When(required=True)
    ended_at = When(allow_none=True)
    content = S(required=True, validate=L(min=1, max=20_000))
    result = _opt(20_000)
    signed_by = _opt(120)


class ServiceRecordPatch(Strict):
    ended_at = When(allow_none=True)
    content = S(validate=L(min=1, max=20_000))
    result = _opt(20_000)
    signed_by = _opt(120)
    version = fields.Integer(required=True)


class ServiceRecordFilter(PageArgs):
    customer_id = fields.Integer()
    ticket_id = fields.Integer()


class ServiceRecordOut(ma.Schema):
    id = fields.Integer()
    ticket_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer()
    kind = S()
    engineer_id = fields.Integer()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    content = S()
    result = S(allow_none=True)
    signed_by = S(allow_none=True)
    signed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class ServiceCategoryOut(ma.Schema):
    id = fields.Integer()
    kind = S()
    code = S()
    name = S()
    needs_approval = fields.Boolean()
    is_active = fields.Boolean()
    position = fields.Integer()


class ServiceCategoryIn(Strict):
    kind = S(required=True, validate=validate.OneOf(KINDS))
    code = S(required=True, validate=L(min=1, max=32))
    name = S(required=True, validate=L(min=1, max=80))
    needs_approval = fields.Boolean(load_default=False)
    is_active = fields.Boolean(load_default=True)
    position = fields.Integer(load_default=100)


class ServiceSlaIn(Strict):
    severity = S(required=True, validate=validate.OneOf(SEVERITIES))
    category_id = fields.Integer(allow_none=True, load_default=None)
    response_minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=525600))
    resolution_minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=525600))


class ServiceSlaOut(ma.Schema):
    id = fields.Integer()
    severity = S()
    category_id = fields.Integer(allow_none=True)
    response_minutes = fields.Integer()
    resolution_minutes = fields.Integer()


class ServiceReportArgs(Strict):
    kind = S(validate=validate.OneOf(KINDS))
    since = fields.Date()
    until = fields.Date()
    group = S(validate=validate.OneOf(("agent", "department", "category", "month")))
