"""Channel settings: ``CRM_SMTP_*``, ``CRM_SMS_*``, ``CRM_FAX_*``, ``CRM_WEBHOOK_*`` and
``CRM_MAILING_*`` from the configuration (or the environment), overridden by what an
administrator saves on *Administration → Channels*.

Secrets (the SMTP password, the SMS auth header, the webhook secret) are never logged and
never shown back on the settings page.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from flask import current_app, has_app_context

from .models import Setting

#: key → (config name, default, kind). ``kind`` is ``str``, ``int`` or ``secret``.
FIELDS: dict[str, tuple[str, object, str]] = {
    "smtp_host": ("CRM_SMTP_HOST", "", "str"),
    "smtp_port": ("CRM_SMTP_PORT", 0, "int"),
    "smtp_user": ("CRM_SMTP_USER", "", "str"),
    "smtp_password": ("CRM_SMTP_PASSWORD", "", "secret"),
    "smtp_security": ("CRM_SMTP_SECURITY", "starttls", "str"),  # starttls | ssl | none
    "smtp_sender": ("CRM_SMTP_SENDER", "", "str"),
    "smtp_timeout": ("CRM_SMTP_TIMEOUT", 20, "int"),
    "sms_url": ("CRM_SMS_URL", "", "str"),
    "sms_method": ("CRM_SMS_METHOD", "POST", "str"),
    "sms_body": ("CRM_SMS_BODY", '{"to": {to}, "text": {text}}', "str"),
    "sms_content_type": ("CRM_SMS_CONTENT_TYPE", "application/json", "str"),
    "sms_auth_header": ("CRM_SMS_AUTH_HEADER", "", "secret"),
    "sms_timeout": ("CRM_SMS_TIMEOUT", 10, "int"),
    "fax_address": ("CRM_FAX_ADDRESS", "", "str"),  # e.g. "{number}@fax.example"
    "webhook_secret": ("CRM_WEBHOOK_SECRET", "", "secret"),
    "webhook_timeout": ("CRM_WEBHOOK_TIMEOUT", 10, "int"),
    "mailing_rate": ("CRM_MAILING_RATE", 600, "int"),  # messages per minute
    "public_url": ("CRM_PUBLIC_URL", "", "str"),  # base of unsubscribe and feed links
}
SECRETS = {k for k, (_c, _d, kind) in FIELDS.items() if kind == "secret"}
SECURITY = ("starttls", "ssl", "none")
_CACHE: dict = {}
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Settings:
    values: dict

    def __getattr__(self, key):
        try:
            return self.values[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def smtp_configured(self) -> bool:
        return bool(self.values["smtp_host"] and self.values["smtp_sender"])

    def __repr__(self) -> str:  # never print a secret, even by accident
        shown = {k: ("***" if k in SECRETS and v else v) for k, v in self.values.items()}
        return f"Settings({shown})"


def _config_value(name: str, default):
    if has_app_context():
        value = current_app.config.get(name)
        if value not in (None, ""):
            return value
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _coerce(key: str, value):
    kind = FIELDS[key][2]
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            return int(FIELDS[key][1])
    return "" if value is None else str(value)


def stored(session) -> dict:
    return {row.key: row.value for row in session.query(Setting).all()}


def load(session=None, use_cache: bool = True) -> Settings:
    """The effective settings: stored overrides, else configuration, else defaults."""
    key = id(current_app._get_current_object()) if has_app_context() else 0
    hit = _CACHE.get(key)
    if use_cache and hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    if session is None and has_app_context():
        with current_app.extensions["crm"].db.Session() as s:
            overrides = stored(s)
    elif session is not None:
        overrides = stored(session)
    else:
        overrides = {}
    values = {}
    for k, (cfg, default, _kind) in FIELDS.items():
        v = overrides.get(k, {}).get("v") if isinstance(overrides.get(k), dict) else None
        values[k] = _coerce(k, v if v not in (None, "") else _config_value(cfg, default))
    if not values["smtp_port"]:
        values["smtp_port"] = {"ssl": 465, "none": 25}.get(values["smtp_security"], 587)
    result = Settings(values)
    _CACHE[key] = (time.monotonic(), result)
    return result


def save(session, changes: dict) -> None:
    """Store administrator overrides. An empty secret keeps the stored one; an empty other
    value removes the override (the configuration applies again)."""
    for k, v in changes.items():
        if k not in FIELDS:
            continue
        row = session.get(Setting, k)
        if k in SECRETS and v in (None, ""):
            continue
        if v in (None, ""):
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            session.add(Setting(key=k, value={"v": v}))
        else:
            row.value = {"v": v}
    _CACHE.clear()


def clear_secret(session, key: str) -> None:
    if key in SECRETS:
        row = session.get(Setting, key)
        if row is not None:
            session.delete(row)
    _CACHE.clear()


def invalidate() -> None:
    _CACHE.clear()
