"""marshmallow schemas: the API's validation and documentation, and the import's row check."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from crm_host.api import PageArgs

from .models import GRADES, LIFECYCLE

S = fields.String
L = validate.Length


def _opt(max_len: int, **kw):
    return S(allow_none=True, validate=L(max=max_len), **kw)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class CustomerIn(Strict):
    """Fields a client may set on a customer (create and PATCH)."""

    name = S(required=True, validate=L(min=1, max=200))
    short_name = _opt(80)
    category_id = fields.Integer(allow_none=True)
    grade = S(allow_none=True, validate=validate.OneOf(GRADES))
    lifecycle = S(validate=validate.OneOf(LIFECYCLE))
    industry = _opt(80)
    region = _opt(80)
    province = _opt(80)
    city = _opt(80)
    address = _opt(300)
    postal_code = _opt(20)
    phone = _opt(40)
    fax = _opt(40)
    email = fields.Email(allow_none=True, validate=L(max=254))
    website = _opt(300)
    source = _opt(80)
    owner_id = fields.Integer()
    credit_rating = _opt(20)
    tax_id = _opt(40)
    notes = _opt(10_000)
    tags = fields.List(S(validate=L(min=1, max=40)), validate=L(max=30))


class CustomerPatch(CustomerIn):
    """PATCH: any subset of the fields, plus the ``version`` you read (409 when stale)."""

    name = S(validate=L(min=1, max=200))
    version = fields.Integer(required=True)


class ContactIn(Strict):
    code = _opt(40)
    name = S(required=True, validate=L(min=1, max=120))
    department = _opt(120)
    title = _opt(120)
    phone = _opt(40)
    mobile = _opt(40)
    email = fields.Email(allow_none=True, validate=L(max=254))
    birthday = fields.Date(allow_none=True)
    notes = _opt(5_000)
    is_primary = fields.Boolean()


class ContactPatch(ContactIn):
    name = S(validate=L(min=1, max=120))
    version = fields.Integer(required=True)


class ContactOut(ma.Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    code = S(allow_none=True)
    name = S()
    department = S(allow_none=True)
    title = S(allow_none=True)
    phone = S(allow_none=True)
    mobile = S(allow_none=True)
    email = S(allow_none=True)
    birthday = fields.Date(allow_none=True)
    notes = S(allow_none=True)
    is_primary = fields.Boolean()
    version = fields.Integer()


class CategoryOut(ma.Schema):
    id = fields.Integer()
    code = S()
    name = S()
    position = fields.Integer()
    is_active = fields.Boolean()


class CategoryIn(Strict):
    code = S(required=True, validate=L(min=1, max=32))
    name = S(required=True, validate=L(min=1, max=64))
    position = fields.Integer(load_default=100, validate=validate.Range(min=0, max=10_000))
    is_active = fields.Boolean(load_default=True)


class CustomerListItem(ma.Schema):
    """What a list shows: no contacts, no notes (send only the columns a list needs)."""

    id = fields.Integer()
    code = S()
    name = S()
    short_name = S(allow_none=True)
    category_id = fields.Integer(allow_none=True)
    grade = S(allow_none=True)
    lifecycle = S()
    industry = S(allow_none=True)
    region = S(allow_none=True)
    city = S(allow_none=True)
    phone = S(allow_none=True)
    email = S(allow_none=True)
    owner_id = fields.Integer()
    version = fields.Integer()
    updated_at = fields.DateTime()


class CustomerOut(CustomerListItem):
    province = S(allow_none=True)
    address = S(allow_none=True)
    postal_code = S(allow_none=True)
    fax = S(allow_none=True)
    website = S(allow_none=True)
    source = S(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    credit_rating = S(allow_none=True)
    tax_id = S(allow_none=True)
    notes = S(allow_none=True)
    tags = fields.List(S())
    revenue = fields.Decimal(as_string=True)
    created_at = fields.DateTime()
    deleted_at = fields.DateTime(allow_none=True)
    primary_contact = fields.Method("_primary")

    def _primary(self, obj):
        from .services import primary_contact

        ct = primary_contact(obj)
        return ContactOut().dump(ct) if ct else None


class DuplicateOut(ma.Schema):
    id = fields.Integer()
    code = S()
    name = S()
    owner_id = fields.Integer()


class CustomerCreated(CustomerOut):
    duplicates = fields.List(fields.Nested(DuplicateOut))


class CustomerFilter(PageArgs):
    q = S(validate=L(max=100))
    category_id = fields.Integer()
    region = S(validate=L(max=80))
    province = S(validate=L(max=80))
    city = S(validate=L(max=80))
    industry = S(validate=L(max=80))
    grade = S(validate=validate.OneOf(GRADES))
    lifecycle = S(validate=validate.OneOf(LIFECYCLE))
    owner_id = fields.Integer()
    tag = S(validate=L(max=40))
    trash = fields.Boolean(load_default=False)


class LookupOut(ma.Schema):
    customer = fields.Nested(CustomerListItem)
    contact = fields.Nested(ContactOut, allow_none=True)
    phone = S()
    exact = fields.Boolean()
    url = S()


class DuplicateQuery(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    name = S(validate=L(max=200))
    phone = S(validate=L(max=40))
    email = S(validate=L(max=254))
    exclude_id = fields.Integer()


class MergeIn(Strict):
    source_id = fields.Integer(required=True)
    version = fields.Integer(required=True)


class HandoverIn(Strict):
    customer_ids = fields.List(fields.Integer(), required=True, validate=L(min=1, max=5000))
    owner_id = fields.Integer(required=True)
    note = S(load_default="", validate=L(max=2000))


class HandoverOut(ma.Schema):
    moved = fields.Integer()


class SavedFilterIn(Strict):
    name = S(required=True, validate=L(min=1, max=80))
    query = fields.Dict(keys=S(), values=fields.Raw(), load_default=dict)


class SavedFilterOut(ma.Schema):
    id = fields.Integer()
    name = S()
    query = fields.Dict()


class GradeSharesIn(Strict):
    A = fields.Integer(required=True, validate=validate.Range(min=0, max=100))
    B = fields.Integer(required=True, validate=validate.Range(min=0, max=100))
    C = fields.Integer(required=True, validate=validate.Range(min=0, max=100))


class GradesOut(ma.Schema):
    distribution = fields.Dict()
    shares = fields.Dict()


class RegradeOut(ma.Schema):
    counts = fields.Dict()
    revenue = S()
    shares = fields.Dict()
    skipped = S(
        metadata={"description": "Why nothing was regraded, when no module reports revenue"}
    )
