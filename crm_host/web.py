"""The host's own pages: sign-in, dashboard, search, language, profile and tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select, text
from werkzeug.exceptions import HTTPException

from . import notify as notify_bus
from . import timezones
from .api import public
from .db import session as db_session
from .db import utcnow
from .forms import LoginForm, PasswordForm, ProfileForm, TokenForm
from .i18n import LANGUAGES, html_lang
from .models import ApiToken, NotificationPreference
from .security import (
    authenticate,
    create_token,
    has_permission,
    hash_password,
    verify_password,
)

bp = Blueprint("web", __name__)
SEARCH_LIMIT = 10  # results shown per plugin in the global search


def runtime():
    rt = g.get("crm_runtime")
    return rt if rt is not None else current_app.extensions["crm"].runtime()


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.dashboard")


@bp.get("/healthz")
@public
def healthz():
    try:
        db_session().execute(text("SELECT 1"))
    except Exception:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    if form.validate_on_submit():
        user, reason = authenticate(
            db_session(), form.email.data, form.password.data, request.remote_addr
        )
        if user is not None:
            if user.timezone is None and timezones.is_valid(form.tz.data):
                user.timezone = form.tz.data  # the browser's zone, until they choose another
                db_session().commit()
            session.clear()
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(form.next.data))
        if reason == "throttled":
            flash(_("Too many failed sign-ins. Wait a few minutes and try again."), "danger")
            status = 429
        else:
            flash(_("Wrong email or password."), "danger")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("crm/login.html", form=form), status


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("web.login"))


@bp.post("/language/<code>")
@public
def set_language(code):
    if code not in LANGUAGES:
        return render_error_page(_http(400, _("Unknown language.")))
    session["locale"] = code
    if current_user.is_authenticated:
        current_user.locale = code
        db_session().commit()
    nxt = request.form.get("next")
    if not nxt and request.referrer:
        ref = urlsplit(request.referrer)
        nxt = ref.path + (f"?{ref.query}" if ref.query else "")
    return redirect(_safe_next(nxt))


@bp.get("/")
def dashboard():
    rt = runtime()
    widgets = [
        w
        for w in rt.collect("crm_dashboard_widgets", user=current_user)
        if not w.permission or has_permission(current_user, w.permission)
    ]
    widgets.sort(key=lambda w: (w.order, w.id))
    rendered = []
    for w in widgets:
        try:
            rendered.append((w, w.render()))
        except Exception:
            current_app.logger.exception("widget %s failed", w.id)
            rendered.append((w, None))
    return render_template("crm/dashboard.html", widgets=rendered)


@bp.get("/search")
def search():
    q = (request.args.get("q") or "").strip()[:200]
    groups: dict[str, list] = {}
    if q:
        per_plugin: dict[str, list] = {}
        for owner, r in runtime().collect_with_owner(
            "crm_search", query=q, user=current_user, limit=SEARCH_LIMIT
        ):
            per_plugin.setdefault(owner, []).append(r)
        for results in per_plugin.values():  # a plugin answering too much is cut, best first
            for r in sorted(results, key=lambda r: -r.score)[:SEARCH_LIMIT]:
                groups.setdefault(str(r.kind), []).append(r)
    return render_template("crm/search.html", q=q, groups=groups)


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    s = db_session()
    form = ProfileForm(obj=current_user)
    form.locale.choices = list(LANGUAGES.items())
    form.timezone.choices = [("", _("Organisation default (%(tz)s)", tz=timezones.default_name()))]
    form.timezone.choices += [(n, n.replace("_", " ")) for n in timezones.choices()]
    pw_form = PasswordForm(prefix="pw")
    token_form = TokenForm(prefix="tok")
    new_token = None
    action = request.form.get("action")
    if request.method == "POST":
        if action == "profile" and form.validate():
            current_user.name = form.name.data.strip()
            current_user.phone = (form.phone.data or "").strip() or None
            current_user.locale = form.locale.data
            current_user.timezone = form.timezone.data or None
            session["locale"] = form.locale.data
            s.commit()
            flash(_("Profile saved."), "success")
            return redirect(url_for("web.profile"))
        if action == "password" and pw_form.validate():
            if not verify_password(current_user, pw_form.current.data):
                pw_form.current.errors.append(_("Wrong password."))
            else:
                current_user.password_hash = hash_password(pw_form.new.data)
                current_user.session_epoch += 1  # signs out every other session
                s.commit()
                login_user(current_user)
                flash(_("Password changed. Other sessions were signed out."), "success")
                return redirect(url_for("web.profile"))
        if action == "token" and token_form.validate():
            tok, new_token = create_token(
                s, current_user, token_form.name.data.strip(), token_form.days.data
            )
            s.commit()
            flash(_("Token created. Copy it now: it will not be shown again."), "success")
        if action == "revoke":
            tok = s.get(ApiToken, request.form.get("token_id", type=int) or 0)
            if tok is None or tok.user_id != current_user.id:
                return render_error_page(_http(404))
            tok.revoked_at = utcnow()
            s.commit()
            flash(_("Token revoked."), "success")
            return redirect(url_for("web.profile"))
    tokens = s.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == current_user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    ).all()
    status = 400 if request.method == "POST" and not new_token else 200
    return render_template(
        "crm/profile.html",
        form=form,
        pw_form=pw_form,
        token_form=token_form,
        tokens=tokens,
        new_token=new_token,
        now=utcnow(),
    ), status


@bp.route("/profile/notifications", methods=["GET", "POST"])
def notification_settings():
    s = db_session()
    rt = runtime()
    kinds = sorted(rt.notification_kinds.values(), key=lambda k: k.name)
    channels = sorted((c for c in rt.channels.values() if c.personal), key=lambda c: c.name)
    prefs = {
        (p.kind, p.channel): p.enabled
        for p in s.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == current_user.id)
        )
    }
    if request.method == "POST":
        for k in kinds:
            for c in channels:
                on = request.form.get(f"{k.name}|{c.name}") == "on"
                row = s.get(NotificationPreference, (current_user.id, k.name, c.name))
                if row is None:
                    s.add(
                        NotificationPreference(
                            user_id=current_user.id, kind=k.name, channel=c.name, enabled=on
                        )
                    )
                else:
                    row.enabled = on
        s.commit()
        flash(_("Notification settings saved."), "success")
        return redirect(url_for("web.notification_settings"))

    def checked(kind, channel):
        kind_has_prefs = any(k == kind.name for k, _c in prefs)
        if kind_has_prefs:
            return prefs.get((kind.name, channel.name), False)
        if kind.name not in defaults:
            defaults[kind.name] = notify_bus.default_channels(s, rt, kind.name)
        return channel.name in defaults[kind.name]

    defaults: dict[str, list[str]] = {}

    return render_template(
        "crm/notification_settings.html", kinds=kinds, channels=channels, checked=checked
    )


# --- Shared helpers ----------------------------------------------------------------------


def _http(code: int, description: str | None = None) -> HTTPException:
    from werkzeug.exceptions import default_exceptions

    exc = default_exceptions[code]()
    if description:
        exc.description = description
    return exc


def render_error_page(error: HTTPException):
    code = error.code or 500
    if code == 401:
        return current_app.login_manager.unauthorized()
    try:
        return render_template("crm/error.html", error=error, code=code), code
    except Exception:  # never fail while reporting a failure
        return f"{code} {error.name}", code


def visible_menu(section: str):
    if not current_user.is_authenticated:
        return []
    items = [
        m
        for m in runtime().menu_items
        if m.section == section and (not m.permission or has_permission(current_user, m.permission))
    ]
    out = []
    for m in items:
        try:
            href = url_for(m.endpoint)
        except Exception:  # a plugin's menu pointing nowhere must not break every page
            current_app.logger.warning(
                "menu item %s points to unknown endpoint %s", m.id, m.endpoint
            )
            continue
        badge = None
        if m.badge is not None:
            try:
                badge = m.badge(current_user)
            except Exception:
                badge = None
        out.append({"item": m, "href": href, "badge": badge})
    return out


def template_globals():
    locale = str(get_locale() or "en")
    return {
        "menu": visible_menu,
        "languages": LANGUAGES,
        "current_locale": locale,
        "html_lang": html_lang(locale),
        "site_name": current_app.config.get("CRM_SITE_NAME", "CRM"),
        "has_permission": lambda p: has_permission(current_user, p),
    }
