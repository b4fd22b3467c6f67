"""marshmallow schemas of the host's API (validation lives here, once)."""

from __future__ import annotations

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from .api import PageArgs
from .contract import SCOPES
from .security import MIN_PASSWORD_LENGTH
from .timezones import is_valid as _is_timezone


def _known_timezone(value):
    if value is not None and not _is_timezone(value):
        raise ma.ValidationError(_l("Unknown time zone: use a name such as Asia/Taipei."))


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # a misspelled field is an error, not silently ignored


class TokenRequest(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=255))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=256)
    )
    name = fields.String(load_default="API token", validate=validate.Length(min=1, max=120))
    days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650))


class TokenCreated(ma.Schema):
    token = fields.String(
        metadata={"description": "Shown once; send as 'Authorization: Bearer <token>'"}
    )
    id = fields.Integer()
    name = fields.String()
    expires_at = fields.DateTime(allow_none=True)


class TokenSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class RoleRef(ma.Schema):
    name = fields.String()


class UserSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    email = fields.Email()
    name = fields.String()
    phone = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    timezone = fields.String(allow_none=True)
    is_active = fields.Boolean()
    department_id = fields.Integer(allow_none=True)
    supervisor_id = fields.Integer(allow_none=True)
    roles = fields.Function(lambda u: u.role_names)
    version = fields.Integer()
    created_at = fields.DateTime(dump_only=True)


class MeSchema(UserSchema):
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())
    scope = fields.String()
    superuser = fields.Boolean()


class UserCreate(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=255))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=256)
    )
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    locale = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(["en", "zh_Hant", "zh_Hans"])
    )
    department_id = fields.Integer(load_default=None, allow_none=True)
    supervisor_id = fields.Integer(load_default=None, allow_none=True)
    roles = fields.List(
        fields.String(validate=validate.Length(max=64)),
        load_default=["staff"],
        validate=validate.Length(max=20),
    )


class UserUpdate(Strict):
    version = fields.Integer(required=True)
    email = fields.Email(validate=validate.Length(max=255))
    name = fields.String(validate=validate.Length(min=1, max=120))
    password = fields.String(
        load_only=True, validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=256)
    )
    phone = fields.String(allow_none=True, validate=validate.Length(max=64))
    locale = fields.String(allow_none=True, validate=validate.OneOf(["en", "zh_Hant", "zh_Hans"]))
    timezone = fields.String(allow_none=True, validate=_known_timezone)
    department_id = fields.Integer(allow_none=True)
    supervisor_id = fields.Integer(allow_none=True)
    roles = fields.List(
        fields.String(validate=validate.Length(max=64)), validate=validate.Length(max=20)
    )
    is_active = fields.Boolean()


class UserFilter(PageArgs):
    q = fields.String(validate=validate.Length(max=100))
    department_id = fields.Integer()
    role = fields.String(validate=validate.Length(max=64))
    is_active = fields.Boolean()


class DepartmentSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    parent_id = fields.Integer(allow_none=True, load_default=None)
    leader_id = fields.Integer(allow_none=True, load_default=None)
    version = fields.Integer(dump_only=True)

    class Meta:
        unknown = ma.RAISE


class RoleSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    label = fields.String()
    scope = fields.String(validate=validate.OneOf(SCOPES))
    is_superuser = fields.Boolean()
    builtin = fields.Boolean()
    version = fields.Integer()
    grants = fields.Function(lambda r: {g.permission: g.effect for g in r.grants})


class GrantRequest(Strict):
    permission = fields.String(required=True, validate=validate.Length(max=128))
    effect = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(["allow", "deny", "none"])
    )


class PermissionSchema(ma.Schema):
    name = fields.String()
    label = fields.Function(lambda p: str(p.label))
    default_roles = fields.List(fields.String())


class ModuleSchema(ma.Schema):
    name = fields.String()
    version = fields.String()
    state = fields.String()
    description = fields.String()
    depends = fields.List(fields.String())
    dependents = fields.List(fields.String())
    error = fields.String(allow_none=True)


class ModuleAction(Strict):
    with_deps = fields.Boolean(load_default=False)
    cascade = fields.Boolean(load_default=False)


class NumberingRuleSchema(ma.Schema):
    kind = fields.String()
    pattern = fields.String()
    preview = fields.String()


class NumberingRuleUpdate(Strict):
    pattern = fields.String(required=True, validate=validate.Length(min=1, max=60))


class AuditSchema(ma.Schema):
    id = fields.Integer()
    at = fields.DateTime()
    user_id = fields.Integer(allow_none=True)
    actor = fields.String(allow_none=True)
    entity = fields.String()
    record_id = fields.String()
    action = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class AuditFilter(PageArgs):
    entity = fields.String(validate=validate.Length(max=64))
    record_id = fields.String(validate=validate.Length(max=64))
    user_id = fields.Integer()


class OutboxSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    channel = fields.String()
    recipient_id = fields.Integer(allow_none=True)
    address = fields.String(allow_none=True)
    subject = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


class OutboxFilter(PageArgs):
    status = fields.String(validate=validate.OneOf(["pending", "sent", "dead"]))
    kind = fields.String(validate=validate.Length(max=64))
