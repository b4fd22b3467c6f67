"""marshmallow's own messages ("Missing data for required field.", "Longer than maximum length
120.") in the user's language.

marshmallow keeps its messages as plain class attributes and formats them when a value is
refused (``msg.format(**kwargs)``). :func:`install` swaps each one for a :class:`Message`: a
``str`` (so marshmallow treats it as before, and it equals the English text) whose
``format()``, called while a request is being handled, translates the text into the request's
language first. Outside a request (start-up, the CLI) messages stay English. Every plugin's
schemas get this for free, because the host installs it before any plugin is imported.
"""

from __future__ import annotations

import inspect

from flask import has_request_context
from flask_babel import gettext
from marshmallow import Schema, fields, validate


def N_(text: str) -> str:  # noqa: N802 - the marker pybabel looks for
    return text


# The texts, for the catalog (pybabel extracts N_). Keep them in step with marshmallow.
MESSAGES = [
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_('"{input}" cannot be formatted as a date.'),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid email address."),
    N_("Must be one of: {choices}."),
    N_("Not a valid integer."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Invalid type."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid period of time."),
    N_("Not a valid tuple."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid {obj_type}."),
    N_("Not a valid {awareness} {obj_type}."),
    N_('"{input}" cannot be formatted as a {obj_type}.'),
    N_("Must be equal to {other}."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Invalid input."),
    N_("Must be {min_op} {{min}}."),
    N_("Must be {max_op} {{max}}."),
    N_("Must be {min_op} {{min}} and {max_op} {{max}}."),
    N_("greater than or equal to"),
    N_("greater than"),
    N_("less than or equal to"),
    N_("less than"),
    N_("String does not match expected pattern."),
    N_("One or more of the choices you made was in: {values}."),
    N_("One or more of the choices you made was not in: {choices}."),
    N_("Invalid input type."),
    N_("Unknown field."),
]

_VALIDATOR_ATTRS = (
    "default_message",
    "message_min",
    "message_max",
    "message_all",
    "message_equal",
    "message_gte",
    "message_gt",
    "message_lte",
    "message_lt",
)


class Message(str):
    """A message that is translated when it is formatted during a request.

    ``validate.Range`` formats its templates once, at start-up, with the words for its
    operators; those calls are remembered (``stages``) and replayed, translated, later."""

    msgid: str
    stages: tuple[dict, ...]

    def __new__(cls, msgid: str, stages: tuple[dict, ...] = (), text: str | None = None):
        obj = super().__new__(cls, msgid if text is None else text)
        obj.msgid = msgid
        obj.stages = stages
        return obj

    def translated(self) -> str:
        text = gettext(self.msgid)
        for stage in self.stages:
            text = text.format(**{k: _plain(v) for k, v in stage.items()})
        return text

    def format(self, *args, **kwargs) -> str:
        if not has_request_context():
            # English now; the arguments are kept so a later format() can translate.
            english = str.format(self, *args, **{k: _english(v) for k, v in kwargs.items()})
            return Message(self.msgid, (*self.stages, kwargs), english) if kwargs else english
        return self.translated().format(*args, **kwargs)

    def __reduce__(self):
        return (Message, (self.msgid, self.stages, str(self)))


def _english(value):
    return str.__str__(value) if isinstance(value, Message) else value


def _plain(value):
    return value.translated() if isinstance(value, Message) else value


def _swap(mapping: dict) -> dict:
    return {k: Message(v) if isinstance(v, str) and v in _KNOWN else v for k, v in mapping.items()}


_KNOWN = set(MESSAGES)
_installed = False


def install() -> None:
    """Swap marshmallow's messages for translatable ones (once; before schemas are defined,
    since each field copies its messages when it is created)."""
    global _installed
    if _installed:
        return
    _installed = True
    for _name, cls in inspect.getmembers(fields, inspect.isclass):
        if issubclass(cls, fields.Field) and "default_error_messages" in cls.__dict__:
            cls.default_error_messages = _swap(cls.__dict__["default_error_messages"])
    for _name, cls in inspect.getmembers(validate, inspect.isclass):
        for attr in _VALIDATOR_ATTRS:
            value = cls.__dict__.get(attr)
            if isinstance(value, str) and value in _KNOWN:
                setattr(cls, attr, Message(value))
    Schema._default_error_messages = _swap(Schema._default_error_messages)
