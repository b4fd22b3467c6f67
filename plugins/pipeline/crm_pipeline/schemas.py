"""marshmallow schemas: the API's validation and documentation (the HTML forms load them
too, so input is validated once)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from crm_host.api import PageArgs

from .models import ACTIVITY_KINDS, ACTIVITY_STATUSES, DOCUMENT_KINDS, PERIOD_KINDS, STATUSES

S = fields.String
L = validate.Length
MAX_MONEY = 10**13


def _opt(max_len: int, **kw):
    return S(allow_none=True, validate=L(max=max_len), **kw)


def _money(**kw):
    kw.setdefault("validate", validate.Range(min=0, max=MAX_MONEY))
    return fields.Decimal(places=2, as_string=True, **kw)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# --- Deals -------------------------------------------------------------------------------


class DealIn(Strict):
    name = S(required=True, validate=L(min=1, max=200))
    customer_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    owner_id = fields.Integer()
    amount = _money()
    expected_close = fields.Date(allow_none=True)
    probability = fields.Integer(validate=validate.Range(min=0, max=100))
    source = _opt(80)
    stage_id = fields.Integer()
    status = S(validate=validate.OneOf(STATUSES))
    lost_reason = _opt(500)
    notes = _opt(10_000)


class DealPatch(Strict):
    """PATCH: any subset of the fields, plus the ``version`` you read (409 when stale).
    Changing ``stage_id`` or ``status`` is recorded in the deal's history."""

    name = S(validate=L(min=1, max=200))
    customer_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    amount = _money()
    expected_close = fields.Date(allow_none=True)
    probability = fields.Integer(validate=validate.Range(min=0, max=100))
    source = _opt(80)
    stage_id = fields.Integer()
    status = S(validate=validate.OneOf(STATUSES))
    lost_reason = _opt(500)
    notes = _opt(10_000)
    contract_no = _opt(60)
    contract_signed_on = fields.Date(allow_none=True)
    contract_start = fields.Date(allow_none=True)
    contract_end = fields.Date(allow_none=True)
    version = fields.Integer(required=True)


class DealFilter(PageArgs):
    q = S(validate=L(max=100))
    status = S(validate=validate.OneOf(STATUSES))
    stage_id = fields.Integer()
    owner_id = fields.Integer()
    department_id = fields.Integer()
    customer_id = fields.Integer()
    close_from = fields.Date()
    close_to = fields.Date()
    amount_min = fields.Decimal(places=2)
    amount_max = fields.Decimal(places=2)


class StageOut(ma.Schema):
    id = fields.Integer()
    code = S()
    name = S()
    position = fields.Integer()
    probability = fields.Integer()
    is_active = fields.Boolean()
    version = fields.Integer()


class StageIn(Strict):
    code = S(required=True, validate=L(min=1, max=32))
    name = S(required=True, validate=L(min=1, max=64))
    position = fields.Integer(load_default=100, validate=validate.Range(min=0, max=10_000))
    probability = fields.Integer(required=True, validate=validate.Range(min=0, max=100))
    is_active = fields.Boolean(load_default=True)


class DealListItem(ma.Schema):
    id = fields.Integer()
    code = S()
    name = S()
    customer_id = fields.Integer(allow_none=True)
    customer_name = S(allow_none=True)
    owner_id = fields.Integer()
    amount = fields.Decimal(as_string=True)
    expected_close = fields.Date(allow_none=True)
    probability = fields.Integer()
    status = S()
    stage_id = fields.Integer(allow_none=True)
    version = fields.Integer()


class DealOut(DealListItem):
    contact_id = fields.Integer(allow_none=True)
    contact_name = S(allow_none=True)
    customer_phone = S(allow_none=True)
    customer_address = S(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    source = S(allow_none=True)
    lost_reason = S(allow_none=True)
    won_on = fields.Date(allow_none=True)
    closed_on = fields.Date(allow_none=True)
    contract_no = S(allow_none=True)
    contract_signed_on = fields.Date(allow_none=True)
    contract_start = fields.Date(allow_none=True)
    contract_end = fields.Date(allow_none=True)
    notes = S(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class EventOut(ma.Schema):
    id = fields.Integer()
    at = fields.DateTime()
    user_id = fields.Integer(allow_none=True)
    kind = S()
    from_value = S(allow_none=True)
    to_value = S(allow_none=True)
    note = S(allow_none=True)


class TransferIn(Strict):
    owner_id = fields.Integer(required=True)
    note = S(load_default="", validate=L(max=500))


class BulkTransferIn(TransferIn):
    deal_ids = fields.List(fields.Integer(), required=True, validate=L(min=1, max=1000))


class TransferOut(ma.Schema):
    moved = fields.Integer()


class UrgeIn(Strict):
    message = S(required=True, validate=L(min=1, max=2000))


class UrgeOut(ma.Schema):
    id = fields.Integer()
    deal_id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    owner_id = fields.Integer(allow_none=True)
    message = S()
    at = fields.DateTime()


# --- Activities and appointments ---------------------------------------------------------


class ActivityIn(Strict):
    customer_id = fields.Integer()
    deal_id = fields.Integer(allow_none=True)
    kind = S(required=True, validate=validate.OneOf(ACTIVITY_KINDS))
    status = S(validate=validate.OneOf(ACTIVITY_STATUSES))
    subject = S(required=True, validate=L(min=1, max=200))
    planned_at = fields.AwareDateTime(allow_none=True)
    done_at = fields.AwareDateTime(allow_none=True)
    result = _opt(10_000)


class ActivityPatch(Strict):
    kind = S(validate=validate.OneOf(ACTIVITY_KINDS))
    status = S(validate=validate.OneOf(ACTIVITY_STATUSES))
    subject = S(validate=L(min=1, max=200))
    planned_at = fields.AwareDateTime(allow_none=True)
    done_at = fields.AwareDateTime(allow_none=True)
    result = _opt(10_000)
    version = fields.Integer(required=True)


class ActivityOut(ma.Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    deal_id = fields.Integer(allow_none=True)
    owner_id = fields.Integer()
    kind = S()
    status = S()
    subject = S()
    planned_at = fields.DateTime(allow_none=True)
    done_at = fields.DateTime(allow_none=True)
    result = S(allow_none=True)
    version = fields.Integer()


class ActivityFilter(Strict):
    deal_id = fields.Integer()
    customer_id = fields.Integer()
    owner_id = fields.Integer()
    status = S(validate=validate.OneOf(ACTIVITY_STATUSES))


class OverdueArgs(PageArgs):
    owner_id = fields.Integer()


class OverdueOut(ma.Schema):
    customer_id = fields.Integer()
    code = S()
    name = S()
    grade = S(allow_none=True)
    owner_id = fields.Integer()
    last_contact = fields.DateTime(allow_none=True)
    allowed_days = fields.Integer()
    url = S()


class OverduePage(ma.Schema):
    items = fields.List(fields.Nested(OverdueOut))
    page = fields.Integer()
    per_page = fields.Integer()
    has_more = fields.Boolean()


class ContactDaysIn(Strict):
    A = fields.Integer(required=True, validate=validate.Range(min=1, max=366))
    B = fields.Integer(required=True, validate=validate.Range(min=1, max=366))
    C = fields.Integer(required=True, validate=validate.Range(min=1, max=366))


class AppointmentIn(Strict):
    subject = S(required=True, validate=L(min=1, max=200))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(allow_none=True)
    location = _opt(200)
    notes = _opt(5_000)
    remind_minutes = fields.Integer(
        load_default=30, validate=validate.Range(min=0, max=60 * 24 * 14)
    )
    remind_user_ids = fields.List(fields.Integer(), validate=L(max=50))
    deal_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)


class AppointmentPatch(Strict):
    subject = S(validate=L(min=1, max=200))
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime(allow_none=True)
    location = _opt(200)
    notes = _opt(5_000)
    remind_minutes = fields.Integer(validate=validate.Range(min=0, max=60 * 24 * 14))
    remind_user_ids = fields.List(fields.Integer(), validate=L(max=50))
    version = fields.Integer(required=True)


class AppointmentOut(ma.Schema):
    id = fields.Integer()
    subject = S()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    location = S(allow_none=True)
    notes = S(allow_none=True)
    remind_minutes = fields.Integer()
    remind_at = fields.DateTime()
    reminded_at = fields.DateTime(allow_none=True)
    remind_user_ids = fields.List(fields.Integer())
    deal_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    owner_id = fields.Integer()
    version = fields.Integer()


class RangeArgs(Strict):
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()


# --- Competitors and documents -----------------------------------------------------------


class CompetitorIn(Strict):
    name = S(required=True, validate=L(min=1, max=200))
    catalog_key = S(validate=L(max=80), allow_none=True)
    strategy = _opt(5_000)
    strengths = _opt(5_000)
    weaknesses = _opt(5_000)
    price = _money(allow_none=True)


class CompetitorOut(ma.Schema):
    id = fields.Integer()
    deal_id = fields.Integer()
    name = S()
    catalog_key = S(allow_none=True)
    catalog_url = S(allow_none=True)
    strategy = S(allow_none=True)
    strengths = S(allow_none=True)
    weaknesses = S(allow_none=True)
    price = fields.Decimal(as_string=True, allow_none=True)


class DocumentOut(ma.Schema):
    id = fields.Integer()
    deal_id = fields.Integer()
    kind = S()
    filename = S()
    content_type = S()
    size = fields.Integer()
    sha256 = S()
    uploaded_by = fields.Integer(allow_none=True)
    uploaded_at = fields.DateTime()


class DocumentForm(Strict):
    kind = S(load_default="other", validate=validate.OneOf(DOCUMENT_KINDS))


# --- Won deals ---------------------------------------------------------------------------


class LineIn(Strict):
    product = S(required=True, validate=L(min=1, max=200))
    quantity = fields.Decimal(
        required=True, places=3, validate=validate.Range(min=0, min_inclusive=False, max=10**9)
    )
    unit_price = _money(required=True)
    discount = fields.Decimal(load_default=0, places=2, validate=validate.Range(min=0, max=100))


class LineOut(ma.Schema):
    id = fields.Integer()
    product = S()
    quantity = fields.Decimal(as_string=True)
    unit_price = fields.Decimal(as_string=True)
    discount = fields.Decimal(as_string=True)
    amount = fields.Decimal(as_string=True)


class DeliveryIn(Strict):
    delivered_on = fields.Date(required=True)
    description = S(required=True, validate=L(min=1, max=500))


class DeliveryOut(ma.Schema):
    id = fields.Integer()
    delivered_on = fields.Date()
    description = S()


class PaymentIn(Strict):
    due_on = fields.Date(required=True)
    amount = _money(required=True)
    note = _opt(300)


class PaymentPatch(Strict):
    received_on = fields.Date(allow_none=True)
    received_amount = _money(allow_none=True)
    note = _opt(300)
    version = fields.Integer(required=True)


class PaymentOut(ma.Schema):
    id = fields.Integer()
    deal_id = fields.Integer()
    due_on = fields.Date()
    amount = fields.Decimal(as_string=True)
    received_on = fields.Date(allow_none=True)
    received_amount = fields.Decimal(as_string=True, allow_none=True)
    note = S(allow_none=True)
    state = fields.Method("_state")
    version = fields.Integer()

    def _state(self, p):
        from .services import payment_state

        return payment_state(p)


# --- Targets and reports -----------------------------------------------------------------


class TargetIn(Strict):
    period_kind = S(required=True, validate=validate.OneOf(PERIOD_KINDS))
    period_start = fields.Date(required=True)
    user_id = fields.Integer(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    amount = _money(required=True)


class TargetOut(ma.Schema):
    id = fields.Integer()
    period_kind = S()
    period_start = fields.Date()
    user_id = fields.Integer(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    amount = fields.Decimal(as_string=True)


class TargetQuery(Strict):
    period_kind = S(load_default="month", validate=validate.OneOf(PERIOD_KINDS))
    period_start = fields.Date()


FORMATS = validate.OneOf(("json", "csv", "xlsx"))


class ReportArgs(Strict):
    owner_id = fields.Integer()
    department_id = fields.Integer()
    since = fields.Date()
    until = fields.Date()
    format = S(load_default="json", validate=FORMATS)


class PerformanceArgs(Strict):
    owner_id = fields.Integer()
    department_id = fields.Integer()
    period_kind = S(load_default="month", validate=validate.OneOf(PERIOD_KINDS))
    period_start = fields.Date()
    format = S(load_default="json", validate=FORMATS)


class ForecastArgs(Strict):
    owner_id = fields.Integer()
    department_id = fields.Integer()
    months = fields.Integer(load_default=6, validate=validate.Range(min=1, max=24))
    format = S(load_default="json", validate=FORMATS)


class FunnelStage(ma.Schema):
    stage_id = fields.Integer()
    code = S()
    name = S()
    probability = fields.Integer()
    count = fields.Integer()
    amount = fields.Decimal(as_string=True)
    reached = fields.Integer()
    conversion = fields.Float(allow_none=True)


class CountAmount(ma.Schema):
    count = fields.Integer()
    amount = fields.Decimal(as_string=True)


class FunnelOut(ma.Schema):
    stages = fields.List(fields.Nested(FunnelStage))
    won = fields.Nested(CountAmount)
    lost = fields.Nested(CountAmount)
    total = fields.Integer()
    win_rate = fields.Float(allow_none=True)


class PerfRow(ma.Schema):
    user_id = fields.Integer()
    department_id = fields.Integer(allow_none=True)
    name = S(allow_none=True)
    department = S(allow_none=True)
    won_count = fields.Integer()
    won_amount = fields.Decimal(as_string=True)
    target = fields.Decimal(as_string=True, allow_none=True)
    attainment = fields.Float(allow_none=True)


class PerformanceOut(ma.Schema):
    period_kind = S()
    period = S()
    start = fields.Date()
    end = fields.Date()
    people = fields.List(fields.Nested(PerfRow))
    departments = fields.List(fields.Nested(PerfRow))
    won_amount = fields.Decimal(as_string=True)
    target = fields.Decimal(as_string=True)


class ForecastRow(ma.Schema):
    month = S()
    count = fields.Integer()
    amount = fields.Decimal(as_string=True)
    weighted = fields.Decimal(as_string=True)


class ForecastOut(ma.Schema):
    months = fields.List(fields.Nested(ForecastRow))
