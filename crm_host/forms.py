"""WTForms for the host's own pages (CSRF comes with FlaskForm)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from .contract import SCOPES
from .numbering import PatternError, validate_pattern
from .security import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    next = HiddenField()
    #: The browser's time zone (filled in by crm.js), kept for a user who has none yet.
    tz = HiddenField()


class UserForm(FlaskForm):
    email = EmailField(
        _l("Email"), validators=[DataRequired(), Length(max=255)]
    )  # format: people.create_user
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=64)])
    department_id = SelectField(_l("Department"), coerce=int, validators=[Optional()])
    supervisor_id = SelectField(_l("Supervisor"), coerce=int, validators=[Optional()])
    roles = SelectMultipleField(_l("Roles"), validators=[Optional()])
    locale = SelectField(_l("Language"), validators=[Optional()])
    is_active = BooleanField(_l("Active"), default=True)
    password = PasswordField(
        _l("Password"), validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=256)]
    )
    version = HiddenField()


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    parent_id = SelectField(_l("Parent department"), coerce=int, validators=[Optional()])
    leader_id = SelectField(_l("Leader"), coerce=int, validators=[Optional()])
    version = HiddenField()


class RoleForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    label = StringField(_l("Label"), validators=[DataRequired(), Length(max=120)])
    scope = SelectField(_l("Record scope"), choices=[(s, s) for s in SCOPES])
    version = HiddenField()

    def validate_name(self, field):
        import re

        if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", field.data or ""):
            raise ValidationError(_l("Use lower-case letters, digits and underscores."))


class NumberingForm(FlaskForm):
    kind = StringField(_l("Kind"), validators=[DataRequired(), Length(max=64)])
    pattern = StringField(_l("Pattern"), validators=[DataRequired(), Length(max=60)])

    def validate_pattern(self, field):
        try:
            validate_pattern(field.data)
        except PatternError as exc:
            raise ValidationError(str(exc)) from None


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=120)])
    days = IntegerField(
        _l("Valid for (days)"),
        default=90,
        validators=[DataRequired(), NumberRange(min=1, max=3650)],
    )


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=256)]
    )


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=64)])
    locale = SelectField(_l("Language"))
    timezone = SelectField(_l("Time zone"))
