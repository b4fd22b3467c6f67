"""Settings: defaults for a laptop, overridden by ``CRM_*`` environment variables or by the
mapping given to :func:`crm_host.app.create_app`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULTS = {
    "CRM_ENV": "development",  # "production" refuses unsafe defaults
    "CRM_DATABASE_URL": None,  # default: sqlite file in the instance folder
    "CRM_SECRET_KEY": None,  # default: generated once into instance/secret_key
    "CRM_AUTO_MIGRATE": None,  # default: on for SQLite, off elsewhere
    "CRM_MODULE_POLL_SECONDS": 2.0,
    "CRM_DISCOVER_PLUGINS": True,
    "CRM_EXTRA_PLUGINS": {},  # {"name": "module.path"} for tests and development
    "CRM_COUNT_CAP": 10_000,
    "CRM_LOGIN_MAX_FAILURES": 5,
    "CRM_LOGIN_MAX_FAILURES_PER_IP": 50,
    "CRM_LOGIN_WINDOW_SECONDS": 900,
    "CRM_TOKEN_DAYS": 90,
    "CRM_SECURE_COOKIES": None,  # default: on in production
    "CRM_DEFAULT_LOCALE": "en",
    "CRM_TIMEZONE": "UTC",
    "CRM_CURRENCY": "CNY",  # ISO 4217 code amounts are kept in (shown with its local symbol)  # the organisation's zone (IANA name); each user may choose theirs
    "CRM_SITE_NAME": "CRM",
    "CRM_TRUSTED_PROXIES": 0,
    "CRM_PHONE_REGION": "CN",  # country assumed for phone numbers written without one  # how many reverse proxies' X-Forwarded-* headers to trust
}

INT_KEYS = {
    "CRM_COUNT_CAP",
    "CRM_LOGIN_MAX_FAILURES",
    "CRM_LOGIN_MAX_FAILURES_PER_IP",
    "CRM_LOGIN_WINDOW_SECONDS",
    "CRM_TOKEN_DAYS",
    "CRM_TRUSTED_PROXIES",
}
FLOAT_KEYS = {"CRM_MODULE_POLL_SECONDS"}
BOOL_KEYS = {"CRM_AUTO_MIGRATE", "CRM_DISCOVER_PLUGINS", "CRM_SECURE_COOKIES"}


class ConfigError(RuntimeError):
    pass


def _coerce(key, value):
    if key == "CRM_EXTRA_PLUGINS" and isinstance(value, str):
        # "name=package.module,other=pkg.mod" (development and tests)
        pairs = [p.split("=", 1) for p in value.split(",") if "=" in p]
        return {k.strip(): v.strip() for k, v in pairs}
    if key in INT_KEYS:
        return int(value)
    if key in FLOAT_KEYS:
        return float(value)
    if key in BOOL_KEYS:
        return str(value).lower() in ("1", "true", "yes", "on")
    return value


def load(app, overrides: dict | None = None) -> None:
    cfg = dict(DEFAULTS)
    for k, v in os.environ.items():
        if k.startswith("CRM_") and k in DEFAULTS or k.startswith("CRM_SMTP_"):
            cfg[k] = _coerce(k, v)
    cfg.update(overrides or {})
    app.config.update(cfg)

    inst = Path(app.instance_path)
    inst.mkdir(parents=True, exist_ok=True)
    production = app.config["CRM_ENV"] == "production"

    if not app.config["CRM_DATABASE_URL"]:
        app.config["CRM_DATABASE_URL"] = f"sqlite:///{inst / 'crm.db'}"
    if app.config["CRM_AUTO_MIGRATE"] is None:
        app.config["CRM_AUTO_MIGRATE"] = app.config["CRM_DATABASE_URL"].startswith("sqlite")

    key = app.config["CRM_SECRET_KEY"]
    if not key:
        if production:
            raise ConfigError(
                "CRM_SECRET_KEY must be set in production (the same value on every web "
                "server), e.g. python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        key = _instance_secret(inst / "secret_key")
    elif production and len(key) < 32:
        raise ConfigError("CRM_SECRET_KEY is too short for production (use 32+ characters).")
    app.config["SECRET_KEY"] = key

    secure = app.config["CRM_SECURE_COOKIES"]
    if secure is None:
        secure = production
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_NAME="crm_session",
        PERMANENT_SESSION_LIFETIME=60 * 60 * 12,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the host's gate, which knows about tokens
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead of a clock
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        API_TITLE="CRM API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/static/vendor/swagger-ui/",
    )


def _instance_secret(path: Path) -> str:
    """A random key kept in the instance folder: safe by default on a laptop."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it a moment ago
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
