"""HTML pages of the channels module: thin views over the services."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm_host import timezones
from crm_host.api import csrf_exempt, public
from crm_host.db import session
from crm_host.notify import current_runtime, notify
from crm_host.security import has_permission, permission_required

from . import agenda, mailings, services
from . import settings as cfg
from .models import InboxMessage

bp = Blueprint("channels", __name__, url_prefix="/channels", template_folder="templates")
public_bp = Blueprint(
    "channels_public", __name__, url_prefix="/channels", template_folder="templates"
)
Err = services.ChannelsError
PER_PAGE = 25

KIND_LABELS = {
    "meeting": _l("Meeting"),
    "reminder": _l("Reminder"),
    "appointment": _l("Appointment"),
    "task": _l("Task"),
    "other": _l("Other"),
}
STATUS_LABELS = {
    "draft": _l("Draft"),
    "scheduled": _l("Scheduled"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "cancelled": _l("Cancelled"),
    "failed": _l("Failed"),
    "queued": _l("Queued"),
    "unsubscribed": _l("Unsubscribed"),
    "invalid": _l("Invalid address"),
}


# Labels other modules hand over as plain strings (audiences, merge fields, filters): shown
# through gettext, so they are marked here for the catalog.
_MARKERS = (
    _l("Team members (every active user)"),
    _l("Customers matching a filter"),
    _l("Recipient's name"),
    _l("Recipient's email"),
    _l("Unsubscribe link"),
    _l("Customer name"),
    _l("Customer code"),
    _l("Contact name"),
    _l("Contact's job title"),
    _l("Account owner's name"),
    _l("Account owner's email"),
    _l("Search"),
    _l("Grade"),
    _l("Lifecycle stage"),
    _l("Region"),
    _l("City"),
    _l("Industry"),
    _l("Tag"),
    _l("Contacts"),
    _l("Primary contact"),
    _l("Every contact with an email"),
)


def _abort_for(exc: Err):
    abort(exc.status if exc.status in (400, 403, 404, 409) else 422, description=str(exc))


def _page() -> int:
    return max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))


# --- Inbox -------------------------------------------------------------------------------


@bp.get("/inbox")
@permission_required("channels.inbox")
def inbox():
    s = session()
    box = request.args.get("box", "inbox")
    if box not in services.BOXES:
        box = "inbox"
    page = _page()
    rows = s.scalars(
        services.inbox_query(current_user, box)
        .order_by(InboxMessage.created_at.desc(), InboxMessage.id.desc())
        .limit(PER_PAGE + 1)
        .offset((page - 1) * PER_PAGE)
    ).all()
    selected = None
    if request.args.get("m", type=int):
        try:
            selected = services.get_message(s, current_user, request.args.get("m", type=int))
        except Err:
            abort(404)
        if selected.read_at is None:
            services.set_read(selected)
            s.commit()
    return render_template(
        "crm_channels/inbox.html",
        rows=rows[:PER_PAGE],
        more=len(rows) > PER_PAGE,
        page=page,
        box=box,
        counts=services.box_counts(s, current_user),
        selected=selected,
        kind_labels={k: v.label for k, v in current_runtime().notification_kinds.items()},
    )


@bp.post("/inbox/<int:message_id>/<action>")
@permission_required("channels.inbox")
def inbox_action(message_id, action):
    s = session()
    try:
        msg = services.get_message(s, current_user, message_id)
    except Err:
        abort(404)
    if action == "read":
        services.set_read(msg, True)
    elif action == "unread":
        services.set_read(msg, False)
    elif action == "archive":
        services.set_archived(msg, True)
        flash(_("Message archived."), "success")
    elif action == "restore":
        services.set_archived(msg, False)
        flash(_("Message moved back to the inbox."), "success")
    else:
        abort(404)
    s.commit()
    box = request.form.get("box") or "inbox"
    keep = action in ("read", "unread")
    return redirect(url_for("channels.inbox", box=box, m=msg.id if keep else None), 303)


@bp.post("/inbox/read-all")
@permission_required("channels.inbox")
def inbox_read_all():
    s = session()
    n = services.mark_all_read(s, current_user)
    s.commit()
    flash(_("%(n)s messages marked read.", n=n), "success")
    return redirect(url_for("channels.inbox"), 303)


# --- Calendar ----------------------------------------------------------------------------


def _day_arg() -> date:
    raw = request.args.get("day") or ""
    try:
        return date.fromisoformat(raw) if raw else timezones.local_today()
    except ValueError:
        return timezones.local_today()


def _entry_form_data(form) -> dict:
    all_day = form.get("all_day") == "on"
    day = (form.get("date") or "").strip()
    start_t = (form.get("start_time") or "09:00").strip()
    end_t = (form.get("end_time") or "").strip()
    end_day = (form.get("end_date") or "").strip() or day
    start = f"{day}T{'00:00' if all_day else start_t}" if day else ""
    end = ""
    if all_day and end_day and end_day != day:
        end = (
            f"{(date.fromisoformat(end_day) + timedelta(days=1)).isoformat()}T00:00"
            if _is_date(end_day)
            else end_day
        )
    elif not all_day and end_t and day:
        end = f"{end_day}T{end_t}"
    return {
        "title": form.get("title"),
        "kind": form.get("kind") or "meeting",
        "start": start,
        "end": end,
        "all_day": all_day,
        "location": form.get("location"),
        "description": form.get("description"),
        "remind_minutes": form.get("remind_minutes"),
    }


def _entry_day(e) -> date:
    """The calendar day an entry is on, for the reader (all-day entries have no zone)."""
    return e.start_at.date() if e.all_day else timezones.to_local(e.start_at).date()


def _is_date(v: str) -> bool:
    try:
        date.fromisoformat(v)
        return True
    except ValueError:
        return False


@bp.route("/calendar", methods=["GET", "POST"])
@permission_required("channels.calendar")
def calendar():
    s = session()
    view = request.args.get("view", "month")
    if view not in agenda.VIEWS:
        view = "month"
    day = _day_arg()
    errors: dict = {}
    form_values = {}
    if request.method == "POST":
        form_values = request.form.to_dict()
        try:
            data = _entry_form_data(request.form)
            entry_id = request.form.get("entry_id", type=int)
            if entry_id:
                e = agenda.get_entry(s, current_user, entry_id)
                agenda.update_entry(s, current_user, e, data)
            else:
                e = agenda.create_entry(s, current_user, data)
            s.commit()
            flash(_("Saved: %(t)s", t=e.title), "success")
            return redirect(url_for("channels.calendar", view=view, day=_entry_day(e)), 303)
        except Err as exc:
            s.rollback()
            if exc.status == 404:
                abort(404)
            errors = {exc.field or "title": [str(exc)]}
    first, last = agenda.span(view, day)
    # The reader's days: from their local midnight to local midnight.
    start, end = timezones.from_local(first), timezones.from_local(last)
    evs = agenda.events(s, current_runtime(), current_user, start, end)
    days = agenda.by_day(evs, first, last, timezones.user_zone())
    prev_day, next_day = agenda.nav(view, day)
    token = agenda.feed_token(s, current_user, create=False)
    edit = None
    if request.args.get("edit", type=int):
        try:
            edit = agenda.get_entry(s, current_user, request.args.get("edit", type=int))
        except Err:
            abort(404)
    return render_template(
        "crm_channels/calendar.html",
        view=view,
        day=day,
        today=timezones.local_today(),
        days=days,
        first=first,
        last=last,
        prev_day=prev_day,
        next_day=next_day,
        kinds=KIND_LABELS,
        errors=errors,
        form=form_values,
        edit=edit,
        feed_url=(mailings.base_url() + url_for("channels_public.feed", token=token))
        if token
        else None,
        timedelta=timedelta,
    ), 422 if errors else 200


@bp.post("/calendar/entries/<int:entry_id>/delete")
@permission_required("channels.calendar")
def calendar_delete(entry_id):
    s = session()
    try:
        e = agenda.get_entry(s, current_user, entry_id)
    except Err:
        abort(404)
    day = _entry_day(e)
    agenda.delete_entry(s, current_user, e)
    s.commit()
    flash(_("Calendar entry deleted."), "success")
    return redirect(
        url_for("channels.calendar", view=request.form.get("view", "month"), day=day), 303
    )


@bp.post("/calendar/feed")
@permission_required("channels.calendar")
def calendar_feed():
    s = session()
    if request.form.get("reset"):
        agenda.reset_feed(s, current_user)
        flash(_("A new feed address was made; the old one no longer works."), "success")
    else:
        agenda.feed_token(s, current_user)
    s.commit()
    return redirect(
        url_for("channels.calendar", view=request.form.get("view", "month")) + "#feed", 303
    )


@public_bp.get("/calendar/feed/<token>.ics")
@public
def feed(token):
    """The secret iCalendar feed: no login, the token is the key."""
    s = session()
    user = agenda.user_for_feed(s, token)
    if user is None:
        abort(404)
    now = datetime.now(timezone.utc)
    evs = agenda.events(
        s, current_runtime(), user, now - timedelta(days=60), now + timedelta(days=330)
    )
    body = agenda.ical(evs, f"CRM · {user.name}", request.host_url)
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": 'inline; filename="calendar.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )


def agenda_widget_html() -> str:
    s = session()
    now = datetime.now(timezone.utc)
    evs = agenda.events(
        s, current_runtime(), current_user, now - timedelta(hours=1), now + timedelta(days=7)
    )
    unread = (
        services.unread_count(s, current_user)
        if has_permission(current_user, "channels.inbox")
        else None
    )
    return render_template(
        "crm_channels/_agenda_widget.html", events=evs[:6], unread=unread, kinds=KIND_LABELS
    )


# --- Mailings ----------------------------------------------------------------------------


@bp.get("/mailings")
@permission_required("channels.mailing")
def mailings_index():
    s = session()
    page = _page()
    rows = s.scalars(
        mailings.list_query(current_user).limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)
    ).all()
    totals = {m.id: mailings.totals(s, m.id) for m in rows[:PER_PAGE]}
    return render_template(
        "crm_channels/mailings.html",
        rows=rows[:PER_PAGE],
        more=len(rows) > PER_PAGE,
        page=page,
        totals=totals,
        labels=STATUS_LABELS,
    )


def _audience_params(audience: mailings.Audience | None, form) -> dict:
    if audience is None:
        return {}
    keys = getattr(audience, "params", None) or {}
    return {k: form.get(f"p_{k}").strip() for k in keys if (form.get(f"p_{k}") or "").strip()}


@bp.route("/mailings/new", methods=["GET", "POST"])
@permission_required("channels.mailing")
def mailing_new():
    s = session()
    rt = current_runtime()
    auds = mailings.audiences(rt, current_user)
    src = request.form if request.method == "POST" else request.args
    audience_name = src.get("audience") or next(iter(auds))
    audience = auds.get(audience_name)
    params = _audience_params(audience, src)
    data = {
        "name": src.get("name", ""),
        "audience": audience_name,
        "params": params,
        "subject": src.get("subject", ""),
        "body": src.get("body", ""),
        "rate_per_minute": src.get("rate_per_minute") or None,
        "send_at": src.get("send_at") or None,
    }
    errors: dict = {}
    preview = None
    action = request.form.get("action") if request.method == "POST" else None
    if action:
        try:
            if action == "preview":
                preview = mailings.preview(s, rt, current_user, data)
            else:
                m = mailings.create(s, rt, current_user, data, send=(action == "send"))
                s.commit()
                if action == "send":
                    flash(
                        _(
                            "Mailing scheduled: it goes out at the chosen time, at most "
                            "%(n)s messages a minute.",
                            n=m.rate_per_minute,
                        ),
                        "success",
                    )
                else:
                    flash(_("Draft saved."), "success")
                return redirect(url_for("channels.mailing_detail", mailing_id=m.id), 303)
        except Err as exc:
            s.rollback()
            errors = {exc.field or "_schema": [str(exc)]}
    return render_template(
        "crm_channels/mailing_form.html",
        audiences=auds,
        audience=audience,
        data=data,
        params=params,
        errors=errors,
        preview=preview,
        fields=mailings.merge_fields(audience) if audience else mailings.BASE_FIELDS,
        default_rate=cfg.load().mailing_rate,
    ), 422 if errors else 200


@bp.get("/mailings/<int:mailing_id>")
@permission_required("channels.mailing")
def mailing_detail(mailing_id):
    s = session()
    try:
        m = mailings.visible(s, current_user, mailing_id)
    except Err:
        abort(404)
    status = request.args.get("status") or None
    page = _page()
    rows = mailings.recipients(s, m.id, status, PER_PAGE + 1, (page - 1) * PER_PAGE)
    auds = mailings.audiences(current_runtime(), current_user)
    return render_template(
        "crm_channels/mailing_detail.html",
        m=m,
        text=mailings.split_body(m)[0],
        totals=mailings.totals(s, m.id),
        rows=rows[:PER_PAGE],
        more=len(rows) > PER_PAGE,
        page=page,
        status=status,
        labels=STATUS_LABELS,
        audience=auds.get(m.audience),
    )


@bp.post("/mailings/<int:mailing_id>/<action>")
@permission_required("channels.mailing")
def mailing_action(mailing_id, action):
    s = session()
    try:
        m = mailings.visible(s, current_user, mailing_id)
        if action == "send":
            mailings.schedule(s, current_user, m)
            flash(_("Mailing scheduled."), "success")
        elif action == "cancel":
            mailings.cancel(s, current_user, m)
            flash(_("Mailing cancelled."), "success")
        else:
            abort(404)
        s.commit()
    except Err as exc:
        s.rollback()
        if exc.status == 404:
            abort(404)
        flash(str(exc), "warning")
    return redirect(url_for("channels.mailing_detail", mailing_id=mailing_id), 303)


@public_bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf_exempt  # the signed token is the authority; mail clients post here (RFC 8058)
def unsubscribe(token):
    """The link in every mailing: works without login; a changed token is refused."""
    s = session()
    try:
        _mid, email = mailings.read_token(token)
    except Err as exc:
        return render_template(
            "crm_channels/unsubscribe.html", error=str(exc), done=False, email=None
        ), 400
    done = False
    if request.method == "POST":
        mailings.unsubscribe(s, token)
        s.commit()
        done = True
    return render_template("crm_channels/unsubscribe.html", error=None, done=done, email=email)


# --- Administration ----------------------------------------------------------------------

SETTING_GROUPS = [
    (
        _l("Email (SMTP)"),
        "envelope",
        [
            ("smtp_host", _l("Server"), "text"),
            ("smtp_port", _l("Port"), "number"),
            ("smtp_security", _l("Security"), "security"),
            ("smtp_user", _l("User name"), "text"),
            ("smtp_password", _l("Password"), "secret"),
            ("smtp_sender", _l("Sender address"), "email"),
        ],
    ),
    (
        _l("Text messages (HTTP gateway)"),
        "phone",
        [
            ("sms_url", _l("Gateway URL"), "text"),
            ("sms_method", _l("Method"), "text"),
            ("sms_content_type", _l("Content type"), "text"),
            ("sms_body", _l("Body template ({to}, {text})"), "text"),
            ("sms_auth_header", _l("Auth header (Name: value)"), "secret"),
        ],
    ),
    (
        _l("Fax (email-to-fax gateway)"),
        "printer",
        [
            ("fax_address", _l("Gateway address, e.g. {number}@fax.example"), "text"),
        ],
    ),
    (
        _l("Webhooks and mailings"),
        "broadcast",
        [
            ("webhook_secret", _l("Webhook signing secret"), "secret"),
            ("mailing_rate", _l("Mailing rate (messages per minute)"), "number"),
            ("public_url", _l("Public address of this CRM (for links in emails)"), "text"),
        ],
    ),
]


@bp.route("/admin/settings", methods=["GET", "POST"])
@permission_required("channels.manage")
def settings():
    s = session()
    errors: dict = {}
    if request.method == "POST":
        action = request.form.get("action", "save")
        if action == "test":
            to = (request.form.get("test_to") or current_user.email).strip()
            from .senders import valid_email

            if not valid_email(to):
                errors["test_to"] = [_("Not a valid email address.")]
            else:
                notify(
                    s,
                    "host.test",
                    _("Test message from the CRM"),
                    _("If you can read this, email delivery works."),
                    addresses=[("email", to)],
                )
                s.commit()
                flash(
                    _(
                        "A test email to %(to)s is queued; its result shows under "
                        "Administration → Delivery log.",
                        to=to,
                    ),
                    "success",
                )
                return redirect(url_for("channels.settings"), 303)
        else:
            changes = {k: (request.form.get(k) or "").strip() for k in cfg.FIELDS}
            if changes["smtp_security"] and changes["smtp_security"] not in cfg.SECURITY:
                errors["smtp_security"] = [_("Choose STARTTLS, SSL or none.")]
            for k in ("smtp_port", "mailing_rate"):
                if changes[k] and not changes[k].isdigit():
                    errors[k] = [_("A whole number.")]
            if changes["smtp_sender"]:
                from .senders import valid_email

                if not valid_email(changes["smtp_sender"]):
                    errors["smtp_sender"] = [_("Not a valid email address.")]
            if not errors:
                cfg.save(s, changes)
                for k in cfg.SECRETS:
                    if request.form.get(f"clear_{k}"):
                        cfg.clear_secret(s, k)
                s.commit()
                cfg.invalidate()
                flash(_("Channel settings saved."), "success")
                return redirect(url_for("channels.settings"), 303)
    current = cfg.load(s, use_cache=False)
    stored = cfg.stored(s)
    return render_template(
        "crm_channels/settings.html",
        groups=SETTING_GROUPS,
        current=current.values,
        stored=stored,
        secrets=cfg.SECRETS,
        errors=errors,
        form=request.form,
        smtp_ok=current.smtp_configured,
    ), 422 if errors else 200


@bp.route("/admin/defaults", methods=["GET", "POST"])
@permission_required("channels.manage")
def defaults():
    s = session()
    rt = current_runtime()
    channels = sorted(rt.channels.values(), key=lambda c: c.name)
    if request.method == "POST":
        try:
            for k in rt.notification_kinds:
                if request.form.get(f"reset|{k}"):
                    services.set_default(s, rt, k, None)
                    continue
                chosen = [c.name for c in channels if request.form.get(f"{k}|{c.name}") == "on"]
                declared = list(rt.notification_kinds[k].default_channels)
                if (
                    sorted(chosen) == sorted(c for c in declared if c in rt.channels)
                    and services.admin_default(s, k) is None
                ):
                    continue
                services.set_default(s, rt, k, chosen)
            s.commit()
            flash(_("Notification defaults saved."), "success")
        except Err as exc:
            s.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("channels.defaults"), 303)
    return render_template(
        "crm_channels/defaults.html", rows=services.defaults(s, rt), channels=channels
    )
