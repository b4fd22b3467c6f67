"""Application factory: config → plugins → database → blueprints, menus, gate."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from flask import Flask, g, redirect, request, url_for
from flask_babel import Babel
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import inspect
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import NotFound, ServiceUnavailable

from . import builtin, config, migrate, timezones
from .api import Api, problem
from .db import Database, close_session
from .i18n import gettext, select_locale
from .plugins import PluginHost

log = logging.getLogger(__name__)

#: Endpoints anyone may reach (besides views marked with ``crm_host.api.public``).
PUBLIC_ENDPOINTS = {"static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}


class CRM:
    """Everything the host keeps per application (``app.extensions["crm"]``)."""

    def __init__(self, app: Flask, db: Database, plugins: PluginHost, api: Api):
        self.app = app
        self.db = db
        self.plugins = plugins
        self.api = api
        self.blueprint_owner: dict[str, str] = {}  # blueprint name → plugin name
        self.api_tags_owner: dict[str, str] = {}
        self._ready = False
        self._ready_lock = threading.Lock()

    def ensure_ready(self) -> None:
        """Check (or, on SQLite, apply) the host schema and record installed plugins.

        Done lazily, on first use, so ``create_app`` never touches the database and
        ``crm db upgrade`` can run on an empty one.
        """
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            engine = self.db.engine
            if not inspect(engine).has_table("host_state"):
                if not self.app.config["CRM_AUTO_MIGRATE"]:
                    raise ServiceUnavailable(
                        "The database has no CRM tables yet: run `crm db upgrade`."
                    )
                migrate.upgrade_host(engine)
            elif self.app.config["CRM_AUTO_MIGRATE"]:
                migrate.upgrade_host(engine)
            with self.db.session_scope() as s:
                from .security import ensure_default_roles

                ensure_default_roles(s)
            self.plugins.sync_installed()
            self._ready = True

    def runtime(self):
        self.ensure_ready()
        return self.plugins.current()

    def disabled_api_tags(self) -> set[str]:
        rt = self.runtime()
        return {tag for tag, owner in self.api_tags_owner.items() if not rt.is_active(owner)}


def create_app(overrides: dict | None = None, instance_path: str | None = None) -> Flask:
    import os

    instance_path = (
        instance_path
        or (overrides or {}).get("CRM_INSTANCE_PATH")
        or os.environ.get("CRM_INSTANCE_PATH")
        or str(Path.cwd() / "instance")
    )
    app = Flask(
        "crm_host", instance_path=str(Path(instance_path).resolve()), instance_relative_config=False
    )
    config.load(app, overrides)

    db = Database(app.config["CRM_DATABASE_URL"])
    plugins = PluginHost(
        db,
        discover_installed=app.config["CRM_DISCOVER_PLUGINS"],
        extra=app.config["CRM_EXTRA_PLUGINS"],
        poll_seconds=app.config["CRM_MODULE_POLL_SECONDS"],
        host_hooks=[builtin],
    )
    api = Api(app)
    crm = CRM(app, db, plugins, api)
    app.extensions["crm"] = crm

    # Translations: the host's plus each installed plugin's own folder.
    dirs = [str(Path(__file__).parent / "translations")]
    dirs += [str(lp.translations_dir) for lp in plugins.plugins.values() if lp.translations_dir]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(dirs)
    Babel(app, locale_selector=select_locale, timezone_selector=timezones.select_timezone)
    timezones.register(app)

    CSRFProtect(app)
    _init_login(app)

    from . import admin, host_api, web

    app.register_blueprint(web.bp)
    app.register_blueprint(admin.bp)
    for blp in host_api.blueprints():
        api.register_blueprint(blp)

    # Every installed plugin's blueprints, enabled or not: Flask cannot add them later.
    # A plugin failing here is refused for this process (a load error, shown as broken).
    with app.app_context():
        for owner, bp in plugins.collect_at_startup("crm_blueprints"):
            try:
                if isinstance(bp, _smorest_blueprint()):
                    api.register_blueprint(bp)
                    crm.api_tags_owner[bp.name] = owner
                else:
                    app.register_blueprint(bp)
                crm.blueprint_owner[bp.name] = owner
            except Exception as exc:  # a clash with another blueprint's name, usually
                plugins.plugins[
                    owner
                ].error = f"blueprint {bp.name!r} could not be registered: {exc}"
    _refuse_url_clashes(app, crm, plugins)
    plugins.start_all(app)
    plugins.app = app

    if app.config["CRM_TRUSTED_PROXIES"]:
        # Behind a load balancer: trust its X-Forwarded-* so throttling sees client addresses
        # and redirects keep https.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["CRM_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.after_request(_security_headers)
    app.register_error_handler(StaleDataError, _stale_data)
    app.before_request(_gate)
    app.teardown_appcontext(close_session)
    app.context_processor(web.template_globals)
    return app


def _security_headers(resp):
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/api/v1/"):
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def _stale_data(exc):
    """Two writers raced past check_version; the database let only one UPDATE through."""
    from flask import current_app
    from werkzeug.exceptions import Conflict

    from .db import session

    session().rollback()
    return current_app.extensions["crm"].api.handle_http_exception(
        Conflict(
            gettext(
                "This record was changed by someone else at the same moment. Reload it and "
                "apply your change again."
            )
        )
    )


def _smorest_blueprint():
    import flask_smorest

    return flask_smorest.Blueprint


def _init_login(app: Flask) -> None:
    lm = LoginManager(app)
    lm.login_view = "web.login"
    lm.session_protection = "basic"

    from .db import session
    from .models import User
    from .security import user_for_token

    @lm.user_loader
    def load_user(ident: str):
        try:
            uid, epoch = (int(x) for x in ident.split(":"))
        except ValueError:
            return None
        user = session().get(User, uid)
        if user is None or not user.is_active or user.session_epoch != epoch:
            return None
        return user

    @lm.request_loader
    def load_from_token(req):
        auth = req.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            user = user_for_token(session(), auth[7:].strip())
            if user is not None:
                g.crm_token_auth = True
            return user
        return None

    @lm.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            msg = (
                "A valid 'Authorization: Bearer <token>' header is required."
                if request.headers.get("Authorization")
                else "Sign in, or send 'Authorization: Bearer <token>'."
            )
            return problem(
                401, "Unauthorized", msg, headers={"WWW-Authenticate": 'Bearer realm="crm"'}
            )
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))


_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>")


def _refuse_url_clashes(app, crm, plugins) -> None:
    """Two modules answering one URL and method: Flask would quietly route every request to
    whichever registered first, so the other module's route could never be reached (and,
    with the first module off, its requests would hit a disabled module's 404). The later
    module is refused (shown as broken, with the URL) instead."""
    seen: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():  # in registration order: host, then plugin order
        bp = rule.endpoint.split(".")[0] if "." in rule.endpoint else ""
        owner = crm.blueprint_owner.get(bp, "host")
        shape = _PARAM.sub(lambda m: f"<{m.group(1) or 'string'}>", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            first = seen.setdefault((shape, method), owner)
            if first != owner and owner in plugins.plugins and not plugins.plugins[owner].error:
                plugins.plugins[owner].error = (
                    f"{method} {rule.rule} is already served by '{first}'; "
                    "choose another URL (e.g. under /api/v1/<module>/...)"
                )


def _gate():
    """Runs before every view: module gate (404 for disabled modules), login, CSRF."""
    from flask import current_app

    crm = current_app.extensions["crm"]
    if request.endpoint == "static" or request.endpoint == "web.healthz":
        return None
    rt = crm.runtime()
    g.crm_runtime = rt
    bp = (request.blueprint or "").split(".")[0]
    owner = crm.blueprint_owner.get(bp)
    if owner is not None and not rt.is_active(owner):
        raise NotFound()
    if request.endpoint is None:
        return None  # let Flask answer 404 / 405
    view = current_app.view_functions.get(request.endpoint)
    public = request.endpoint in PUBLIC_ENDPOINTS or getattr(view, "_crm_public", False)
    authenticated = current_user.is_authenticated  # runs the Bearer-token loader too
    if not public and not authenticated:
        return current_app.login_manager.unauthorized()
    if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and not g.get("crm_token_auth"):
        if not getattr(view, "_crm_csrf_exempt", False):
            current_app.extensions["csrf"].protect()
    return None
