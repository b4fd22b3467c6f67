"""Pages of the forum: thin views over services."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup

from crm_host import storage
from crm_host.api import csrf_exempt, public
from crm_host.db import session
from crm_host.models import Department, Role, User
from crm_host.security import has_permission, permission_required

from . import services
from .api import file_storage, read_upload
from .i18n import _
from .models import Attachment, Category, Report

bp = Blueprint("forum", __name__, url_prefix="/forum", template_folder="templates")
#: Administration pages live outside /forum/ so the menu marks only one item as current.
admin_bp = Blueprint(
    "forum_admin", __name__, url_prefix="/admin/forum", template_folder="templates"
)
Err = services.ForumError


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _topic_or_404(topic_id):
    try:
        return services.get_topic(session(), current_user, topic_id)
    except Err:
        abort(404)


def _names(ids):
    return {i: u.name for i, u in services.users_by_id(session(), ids).items()}


def _back(topic_id, anchor=""):
    return redirect(url_for("forum.topic", topic_id=topic_id) + anchor, 303)


def _refuse(exc, s):
    s.rollback()
    if exc.status == 404:
        abort(404)
    if exc.status == 403:
        abort(403, description=str(exc))
    flash(str(exc), "danger")


# --- Browse ------------------------------------------------------------------------------


@bp.get("/")
@permission_required("forum.view")
def index():
    s = session()
    args = request.args
    f = services.Filters(
        category_id=_int(args.get("category_id")),
        author_id=_int(args.get("author_id")),
        q=(args.get("q") or "").strip()[:200] or None,
        unread=args.get("unread") == "1",
        following=args.get("following") == "1",
    )
    page = max(_int(args.get("page")) or 1, 1)
    items, total, exact = services.list_topics(s, current_user, f, page, 25)
    cats = services.readable_categories(s, current_user)
    author = s.get(User, f.author_id) if f.author_id else None
    return render_template(
        "crm_forum/index.html",
        topics=items,
        total=total,
        exact=exact,
        page=page,
        filters=f,
        categories=cats,
        author=author,
        names=_names([t.author_id for t in items] + [t.last_post_by for t in items]),
        can_post=bool(services.postable_categories(s, current_user)),
        reports=services.open_reports(s, current_user),
    )


@bp.post("/read-all")
@permission_required("forum.view")
def read_all():
    s = session()
    services.mark_all_read(s, current_user)
    s.commit()
    flash(_("All topics are marked as read."), "success")
    return redirect(url_for("forum.index"), 303)


def _link_choices():
    return [{"name": e.name, "label": str(e.label)} for e in services.linkable_entities()]


def _form_data():
    f = request.form
    return {
        "category_id": _int(f.get("category_id")),
        "title": f.get("title", ""),
        "body": f.get("body", ""),
        "link_entity": f.get("link_entity") or None,
        "link_id": _int(f.get("link_id")),
    }


@bp.route("/new", methods=["GET", "POST"])
@permission_required("forum.post")
def new():
    s = session()
    cats = services.postable_categories(s, current_user)
    data = {
        "category_id": _int(request.args.get("category_id")),
        "title": "",
        "body": "",
        "link_entity": request.args.get("link_entity"),
        "link_id": _int(request.args.get("link_id")),
    }
    errors = {}
    if request.method == "POST":
        data = _form_data()
        try:
            t = services.create_topic(s, current_user, data)
            got = read_upload()
            if got:
                services.add_attachment(s, current_user, t, got[0], got[1], file_storage())
            s.commit()
            flash(_("Topic posted."), "success")
            return _back(t.id)
        except (Err, storage.UploadError) as exc:
            s.rollback()
            errors[getattr(exc, "field", None) or "_"] = str(exc)
            status = exc.status if exc.status in (403, 413) else 422
            flash(str(exc), "danger")
    link_label = None
    found = services.visible_record(s, current_user, data.get("link_entity"), data.get("link_id"))
    if found:
        link_label = services.record_label(*found)
    return render_template(
        "crm_forum/form.html",
        topic=None,
        data=data,
        categories=cats,
        errors=errors,
        links=_link_choices(),
        link_label=link_label,
    ), (status if errors else 200)


@bp.get("/lookup")
@permission_required("forum.post")
def lookup():
    """Records a topic may be linked to, for the form's picker (JSON)."""
    return jsonify(
        services.lookup_records(
            session(), current_user, request.args.get("entity", ""), request.args.get("q", "")
        )
    )


# --- A topic -----------------------------------------------------------------------------


def _linked(s, t):
    found = services.visible_record(s, current_user, t.link_entity, t.link_id)
    if not found:
        return None
    ent, rec = found
    url = None
    if ent.detail_endpoint:
        from flask import current_app

        rules = current_app.url_map._rules_by_endpoint.get(ent.detail_endpoint, [])
        if rules and len(rules[0].arguments) == 1:
            url = url_for(ent.detail_endpoint, **{next(iter(rules[0].arguments)): rec.id})
    return {"label": services.record_label(ent, rec), "kind": str(ent.label), "url": url}


@bp.get("/t/<int:topic_id>")
@permission_required("forum.view")
def topic(topic_id):
    s = session()
    t = _topic_or_404(topic_id)
    reps = services.replies(s, current_user, t)
    atts = services.attachments_of(s, t)
    quote = None
    if request.args.get("quote"):
        try:
            quote = services.get_reply(s, current_user, t, _int(request.args["quote"]) or 0)
        except Err:
            quote = None
    services.mark_read(s, current_user, t)
    s.commit()
    t = _topic_or_404(topic_id)
    return render_template(
        "crm_forum/topic.html",
        topic=t,
        replies=reps,
        quote=quote,
        attachments={
            None: [a for a in atts if a.reply_id is None],
            **{r.id: [a for a in atts if a.reply_id == r.id] for r in reps},
        },
        names=_names(
            [t.author_id]
            + [r.author_id for r in reps]
            + [r.quote_of.author_id for r in reps if r.quote_of]
        ),
        following=services.is_following(s, current_user, t),
        can_reply=services.can_post(current_user, t.category) and not t.locked,
        may_post=services.can_post(current_user, t.category),
        can_moderate=services.can_moderate(current_user),
        categories=services.readable_categories(s, current_user),
        linked=_linked(s, t),
        revision_count=len(services.revisions(s, t)),
    )


@bp.post("/t/<int:topic_id>/reply")
@permission_required("forum.view")
def reply(topic_id):
    s = session()
    t = _topic_or_404(topic_id)
    try:
        r = services.add_reply(
            s,
            current_user,
            t,
            {"body": request.form.get("body", ""), "quote_of": _int(request.form.get("quote_of"))},
        )
        got = read_upload()
        if got:
            services.add_attachment(s, current_user, t, got[0], got[1], file_storage(), r)
        s.commit()
        return _back(topic_id, f"#reply-{r.id}")
    except (Err, storage.UploadError) as exc:
        if isinstance(exc, Err) and exc.status in (403, 404):
            _refuse(exc, s)
        s.rollback()
        flash(str(exc), "danger")
    return _back(topic_id, "#reply-form")


@bp.route("/t/<int:topic_id>/edit", methods=["GET", "POST"])
@permission_required("forum.view")
def edit(topic_id):
    s = session()
    t = _topic_or_404(topic_id)
    if t.author_id != current_user.id and not services.can_moderate(current_user):
        abort(403)
    data = {"title": t.title, "body": t.body, "version": t.version}
    errors = {}
    if request.method == "POST":
        data = {
            "title": request.form.get("title", ""),
            "body": request.form.get("body", ""),
            "version": _int(request.form.get("version")),
        }
        try:
            services.update_topic(s, current_user, t, data)
            s.commit()
            flash(_("Topic saved."), "success")
            return _back(t.id)
        except Err as exc:
            s.rollback()
            t = _topic_or_404(topic_id)
            errors[exc.field or "_"] = str(exc)
            flash(str(exc), "danger")
    return render_template(
        "crm_forum/form.html",
        topic=t,
        data=data,
        categories=[],
        errors=errors,
        links=[],
        link_label=None,
    ), 422 if errors else 200


@bp.route("/t/<int:topic_id>/replies/<int:reply_id>/edit", methods=["GET", "POST"])
@permission_required("forum.view")
def edit_reply(topic_id, reply_id):
    s = session()
    t = _topic_or_404(topic_id)
    try:
        r = services.get_reply(s, current_user, t, reply_id)
    except Err:
        abort(404)
    if r.author_id != current_user.id and not services.can_moderate(current_user):
        abort(403)
    data = {"body": r.body, "version": r.version}
    errors = {}
    if request.method == "POST":
        data = {"body": request.form.get("body", ""), "version": _int(request.form.get("version"))}
        try:
            services.update_reply(s, current_user, t, r, data)
            s.commit()
            return _back(t.id, f"#reply-{r.id}")
        except Err as exc:
            s.rollback()
            errors[exc.field or "_"] = str(exc)
            flash(str(exc), "danger")
    return render_template(
        "crm_forum/reply_form.html", topic=t, reply=r, data=data, errors=errors
    ), 422 if errors else 200


@bp.get("/t/<int:topic_id>/history")
@permission_required("forum.view")
def history(topic_id):
    s = session()
    t = _topic_or_404(topic_id)
    revs = services.revisions(s, t)
    from sqlalchemy import select

    from .models import Revision

    reply_revs = list(
        s.scalars(
            select(Revision)
            .where(Revision.topic_id == t.id, Revision.reply_id.is_not(None))
            .order_by(Revision.id.desc())
        )
    )
    return render_template(
        "crm_forum/history.html",
        topic=t,
        revisions=revs,
        reply_revisions=reply_revs,
        names=_names([r.editor_id for r in revs + reply_revs]),
    )


@bp.post("/t/<int:topic_id>/follow")
@permission_required("forum.view")
def toggle_follow(topic_id):
    s = session()
    t = _topic_or_404(topic_id)
    if services.is_following(s, current_user, t):
        services.unfollow(s, current_user.id, t.id)
        flash(_("You no longer follow this topic."), "info")
    else:
        services.follow(s, current_user, t)
        flash(_("You follow this topic: replies will be sent to you."), "success")
    s.commit()
    return _back(t.id)


@bp.post("/t/<int:topic_id>/moderate")
@permission_required("forum.moderate")
def moderate(topic_id):
    s = session()
    t = _topic_or_404(topic_id)
    action = request.form.get("action", "")
    flags = {
        "pin": ("pinned", True),
        "unpin": ("pinned", False),
        "lock": ("locked", True),
        "unlock": ("locked", False),
        "hide": ("hidden", True),
        "unhide": ("hidden", False),
    }
    data = {"version": t.version}
    if action in flags:
        data[flags[action][0]] = flags[action][1]
    elif action == "move":
        data["category_id"] = _int(request.form.get("category_id"))
    else:
        abort(400)
    try:
        services.update_topic(s, current_user, t, data)
        s.commit()
        flash(_("Done."), "success")
    except Err as exc:
        _refuse(exc, s)
    return _back(topic_id)


@bp.post("/t/<int:topic_id>/replies/<int:reply_id>/hide")
@permission_required("forum.moderate")
def hide_reply(topic_id, reply_id):
    s = session()
    t = _topic_or_404(topic_id)
    try:
        r = services.get_reply(s, current_user, t, reply_id)
        services.update_reply(s, current_user, t, r, {"version": r.version, "hidden": not r.hidden})
        s.commit()
    except Err as exc:
        _refuse(exc, s)
    return _back(topic_id, f"#reply-{reply_id}")


@bp.post("/t/<int:topic_id>/report")
@permission_required("forum.view")
def report(topic_id):
    s = session()
    t = _topic_or_404(topic_id)
    try:
        services.report(
            s, current_user, t, request.form.get("reason", ""), _int(request.form.get("reply_id"))
        )
        s.commit()
        flash(_("Thank you: the moderators have been told."), "success")
    except Err as exc:
        _refuse(exc, s)
    return _back(topic_id)


@bp.post("/reports/<int:report_id>/resolve")
@permission_required("forum.moderate")
def resolve_report(report_id):
    s = session()
    rep = s.get(Report, report_id)
    if rep is None:
        abort(404)
    _topic_or_404(rep.topic_id)
    services.resolve_report(s, current_user, report_id)
    s.commit()
    return redirect(url_for("forum.index"), 303)


@bp.get("/attachments/<int:attachment_id>")
@permission_required("forum.view")
def attachment(attachment_id):
    s = session()
    a = s.get(Attachment, attachment_id)
    if a is None:
        abort(404)
    _topic_or_404(a.topic_id)
    try:
        fh = file_storage().open(a.storage_key)
    except FileNotFoundError:
        abort(404)
    inline = a.content_type.startswith("image/") or a.content_type == "application/pdf"
    resp = send_file(
        fh, mimetype=a.content_type, as_attachment=not inline, download_name=a.filename
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return resp


@bp.route("/unfollow/<token>", methods=["GET", "POST"])
@public
@csrf_exempt  # the signed token is the authority; the page works signed out
def unfollow_link(token):
    """The link in every reply notification stops following, even signed out. Opening it
    only asks (mail scanners and link previews fetch links); the button posts. The token is
    signed with the application's secret, so it cannot be forged."""
    s = session()
    try:
        user_id, topic_id = services.read_unfollow_token(token)
    except Err as exc:
        return render_template(
            "crm_forum/unfollow.html", error=str(exc), topic=None, done=False
        ), 400
    done = request.method == "POST"
    if done:
        services.unfollow(s, user_id, topic_id)
        s.commit()
    t = s.get(services.Topic, topic_id)
    return render_template(
        "crm_forum/unfollow.html",
        error=None,
        done=done,
        topic=t
        if t is not None and current_user.is_authenticated and current_user.id == user_id
        else None,
    )


# --- Interest profile --------------------------------------------------------------------


@bp.route("/profile", methods=["GET", "POST"])
@permission_required("forum.view")
def profile():
    s = session()
    data = services.profile(s, current_user)
    errors = {}
    if request.method == "POST":
        data = {
            "mode": request.form.get("mode", "instant"),
            "category_ids": [i for i in map(_int, request.form.getlist("category_ids")) if i],
            "keywords": request.form.get("keywords", ""),
        }
        try:
            services.save_profile(s, current_user, data)
            s.commit()
            flash(_("Your interests are saved."), "success")
            return redirect(url_for("forum.profile"), 303)
        except Err as exc:
            s.rollback()
            errors[exc.field or "_"] = str(exc)
            flash(str(exc), "danger")
    kw = data.get("keywords")
    return render_template(
        "crm_forum/profile.html",
        data=data,
        keywords=kw if isinstance(kw, str) else ", ".join(kw or []),
        categories=services.readable_categories(s, current_user),
        errors=errors,
    ), 422 if errors else 200


# --- Categories (administration) ---------------------------------------------------------


@admin_bp.route("/categories", methods=["GET", "POST"])
@permission_required("forum.admin")
def categories():
    s = session()
    if request.method == "POST":
        cid = _int(request.form.get("id"))
        cat = s.get(Category, cid) if cid else None
        data = {
            "name": request.form.get("name", ""),
            "description": request.form.get("description", ""),
            "position": _int(request.form.get("position")) or 100,
        }
        for key in ("read_roles", "read_departments", "post_roles", "post_departments"):
            data[key] = [i for i in map(_int, request.form.getlist(key)) if i]
        try:
            services.save_category(s, current_user, data, cat)
            s.commit()
            flash(_("Category saved."), "success")
            return redirect(url_for("forum_admin.categories"), 303)
        except Err as exc:
            s.rollback()
            flash(str(exc), "danger")
    from sqlalchemy import select

    cats = services.categories(s)
    return render_template(
        "crm_forum/categories.html",
        categories=cats,
        rules={c.id: services.category_rules(c) for c in cats},
        roles=list(s.scalars(select(Role).order_by(Role.name))),
        departments=list(s.scalars(select(Department).order_by(Department.name))),
    )


# --- Hook renderings ---------------------------------------------------------------------


def latest_widget_html() -> str:
    s = session()
    items = services.latest_topics(s, current_user, 6)
    return render_template(
        "crm_forum/_widget_latest.html", topics=items, names=_names([t.last_post_by for t in items])
    )


def linked_panel_html(entity, record, topics) -> Markup:
    return Markup(
        render_template(
            "crm_forum/_panel.html",
            topics=topics,
            entity=entity,
            record=record,
            can_post=has_permission(current_user, "forum.post"),
            names=_names([t.author_id for t in topics]),
        )
    )
