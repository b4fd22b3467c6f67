"""Administration pages: modules, users, departments, roles, numbering, deliveries, audit."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from . import modules as module_ops
from . import numbering, people
from .db import check_version
from .db import session as db_session
from .forms import DepartmentForm, NumberingForm, RoleForm, UserForm
from .i18n import LANGUAGES
from .models import (
    AuditEntry,
    DeliveryAttempt,
    Department,
    KnownPermission,
    NumberingRule,
    OutboxMessage,
    Role,
    RolePermission,
    User,
)
from .plugins import ModuleError
from .security import permission_required

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50


def _rt():
    return g.get("crm_runtime") or current_app.extensions["crm"].runtime()


def _page() -> int:
    return max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))


# --- Modules -----------------------------------------------------------------------------


@bp.get("/modules")
@permission_required("admin.modules")
def modules():
    return render_template("crm/admin/modules.html", modules=module_ops.describe(current_app))


@bp.post("/modules/<name>/<action>")
@permission_required("admin.modules")
def module_action(name, action):
    actor = current_user.email
    try:
        if action == "enable":
            done = module_ops.enable(
                current_app, name, with_deps=bool(request.form.get("with_deps")), actor=actor
            )
            flash(_("Enabled: %(names)s", names=", ".join(done)), "success")
        elif action == "disable":
            done = module_ops.disable(
                current_app, name, cascade=bool(request.form.get("cascade")), actor=actor
            )
            flash(_("Disabled: %(names)s. Their data is kept.", names=", ".join(done)), "success")
        elif action == "purge":
            if request.form.get("confirm") != name:
                flash(_("Type the module name to confirm the purge."), "danger")
                return redirect(url_for("admin.modules")), 303
            dropped = module_ops.purge(current_app, name, actor=actor)
            flash(_("Purged %(name)s: %(n)s tables dropped.", name=name, n=len(dropped)), "success")
        else:
            abort(404)
    except ModuleError as exc:
        flash(str(exc), "danger")
    return redirect(url_for("admin.modules")), 303


# --- Users -------------------------------------------------------------------------------


def _user_choices(form, s, exclude_id=None):
    depts = s.scalars(select(Department).order_by(Department.name)).all()
    form.department_id.choices = [(0, "—")] + [(d.id, d.name) for d in depts]
    users = s.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name)).all()
    form.supervisor_id.choices = [(0, "—")] + [(u.id, u.name) for u in users if u.id != exclude_id]
    form.roles.choices = [(r.name, r.label) for r in s.scalars(select(Role).order_by(Role.id))]
    form.locale.choices = [("", "—")] + list(LANGUAGES.items())


@bp.get("/users")
@permission_required("admin.users")
def users():
    s = db_session()
    q = (request.args.get("q") or "").strip()[:100]
    stmt = select(User)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(func.lower(User.email).like(like) | func.lower(User.name).like(like))
    total = s.scalar(select(func.count()).select_from(stmt.subquery()))
    page = _page()
    rows = s.scalars(
        stmt.order_by(User.name, User.id).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    depts = {d.id: d.name for d in s.scalars(select(Department))}
    return render_template(
        "crm/admin/users.html",
        users=rows,
        q=q,
        page=page,
        total=total,
        per_page=PER_PAGE,
        depts=depts,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required("admin.users")
def user_form(user_id=None):
    s = db_session()
    user = s.get(User, user_id) if user_id else None
    if user_id and user is None:
        abort(404)
    form = UserForm(obj=user)
    _user_choices(form, s, exclude_id=user_id)
    if request.method == "GET" and user is not None:
        form.roles.data = user.role_names
        form.department_id.data = user.department_id or 0
        form.supervisor_id.data = user.supervisor_id or 0
        form.locale.data = user.locale or ""
        form.version.data = user.version
    status = 200
    if form.validate_on_submit():
        data = {
            "email": form.email.data,
            "name": form.name.data,
            "phone": form.phone.data,
            "department_id": form.department_id.data or None,
            "supervisor_id": form.supervisor_id.data or None,
            "roles": form.roles.data,
            "locale": form.locale.data or None,
        }
        try:
            if user is None:
                if not form.password.data:
                    raise people.PeopleError(_("Set an initial password."), "password")
                user = people.create_user(s, password=form.password.data, **data)
            else:
                check_version(user, form.version.data)
                if user.id == current_user.id and not form.is_active.data:
                    raise people.PeopleError(_("You cannot deactivate yourself."), "is_active")
                people.update_user(
                    s,
                    user,
                    is_active=form.is_active.data,
                    password=form.password.data or None,
                    **data,
                )
            s.commit()
            flash(_("User saved."), "success")
            return redirect(url_for("admin.users")), 303
        except people.PeopleError as exc:
            s.rollback()
            getattr(form, exc.field or "email").errors.append(str(exc))
            status = 400
    elif request.method == "POST":
        status = 400
    return render_template("crm/admin/user_form.html", form=form, user=user), status


# --- Departments -------------------------------------------------------------------------


@bp.route("/departments", methods=["GET", "POST"])
@bp.route("/departments/<int:dept_id>", methods=["GET", "POST"])
@permission_required("admin.users")
def departments(dept_id=None):
    s = db_session()
    dept = s.get(Department, dept_id) if dept_id else None
    if dept_id and dept is None:
        abort(404)
    all_depts = s.scalars(select(Department).order_by(Department.name)).all()
    form = DepartmentForm(obj=dept)
    form.parent_id.choices = [(0, "—")] + [(d.id, d.name) for d in all_depts if d is not dept]
    form.leader_id.choices = [(0, "—")] + [
        (u.id, u.name)
        for u in s.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name))
    ]
    if request.method == "GET" and dept is not None:
        form.parent_id.data = dept.parent_id or 0
        form.leader_id.data = dept.leader_id or 0
        form.version.data = dept.version
    status = 200
    if form.validate_on_submit():
        try:
            if dept is None:
                people.create_department(
                    s, form.name.data, form.parent_id.data or None, form.leader_id.data or None
                )
            else:
                check_version(dept, form.version.data)
                people.update_department(
                    s,
                    dept,
                    form.name.data,
                    form.parent_id.data or None,
                    form.leader_id.data or None,
                )
            s.commit()
            flash(_("Department saved."), "success")
            return redirect(url_for("admin.departments")), 303
        except people.PeopleError as exc:
            s.rollback()
            getattr(form, exc.field or "name").errors.append(str(exc))
            status = 400
    elif request.method == "POST":
        status = 400
    counts = dict(
        s.execute(select(User.department_id, func.count()).group_by(User.department_id)).all()
    )
    users = {u.id: u.name for u in s.scalars(select(User))}
    children = defaultdict(list)
    for d in all_depts:
        children[d.parent_id].append(d)

    def walk(parent, depth):
        for d in children.get(parent, []):
            yield d, depth
            yield from walk(d.id, depth + 1)

    return render_template(
        "crm/admin/departments.html",
        tree=list(walk(None, 0)),
        form=form,
        dept=dept,
        counts=counts,
        users=users,
    ), status


# --- Roles -------------------------------------------------------------------------------


@bp.get("/roles")
@permission_required("admin.roles")
def roles():
    s = db_session()
    rows = s.scalars(select(Role).order_by(Role.id)).all()
    counts = dict(
        s.execute(
            select(RolePermission.role_id, func.count()).group_by(RolePermission.role_id)
        ).all()
    )
    return render_template("crm/admin/roles.html", roles=rows, counts=counts, form=RoleForm())


@bp.post("/roles")
@permission_required("admin.roles")
def role_create():
    s = db_session()
    form = RoleForm()
    if form.validate_on_submit():
        try:
            role = people.create_role(s, form.name.data, form.label.data, form.scope.data)
            s.commit()
            return redirect(url_for("admin.role_edit", role_id=role.id)), 303
        except people.PeopleError as exc:
            s.rollback()
            flash(str(exc), "danger")
    else:
        for field, errs in form.errors.items():
            flash(f"{field}: {'; '.join(map(str, errs))}", "danger")
    return redirect(url_for("admin.roles")), 303


def _permission_groups(rt, s):
    known = {k.name: k.module for k in s.scalars(select(KnownPermission))}
    groups = defaultdict(list)
    for name, p in sorted(rt.permissions.items()):
        groups[name.split(".")[0]].append(p)
    return groups, set(known) | set(rt.permissions)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
@permission_required("admin.roles")
def role_edit(role_id):
    s = db_session()
    role = s.get(Role, role_id)
    if role is None:
        abort(404)
    rt = _rt()
    groups, known = _permission_groups(rt, s)
    if request.method == "POST":
        try:
            check_version(role, request.form.get("version"))
        except Exception as exc:
            flash(getattr(exc, "description", str(exc)), "danger")
            return redirect(url_for("admin.role_edit", role_id=role.id)), 303
        scope = request.form.get("scope", role.scope)
        label = (request.form.get("label") or role.label).strip()[:120]
        from .contract import SCOPES

        if scope not in SCOPES:
            abort(400)
        role.scope, role.label = scope, label
        current = {g.permission: g.effect for g in role.grants}
        for name in rt.permissions:
            effect = request.form.get(f"perm:{name}") or None
            if effect == "none":
                effect = None
            if current.get(name) != effect:
                people.set_grant(s, role, name, effect, known)
        flag_modified(role, "label")  # grant changes bump the role's version too
        s.commit()
        flash(_("Role saved."), "success")
        return redirect(url_for("admin.role_edit", role_id=role.id)), 303
    grants = {g.permission: g.effect for g in role.grants}
    host = current_app.extensions["crm"].plugins
    labels = {"admin": _("Administration")}
    for name, lp in host.plugins.items():
        labels.setdefault(name, f"{name} · {lp.description}" if lp.description else name)
    return render_template(
        "crm/admin/role_edit.html", role=role, groups=groups, grants=grants, labels=labels
    )


# --- Numbering ---------------------------------------------------------------------------


@bp.route("/numbering", methods=["GET", "POST"])
@permission_required("admin.numbering")
def numbering_rules():
    s = db_session()
    rt = _rt()
    form = NumberingForm()
    status = 200
    if form.validate_on_submit():
        kind = form.kind.data.strip()
        rule = s.get(NumberingRule, kind)
        if rule is None:
            s.add(NumberingRule(kind=kind, pattern=form.pattern.data.strip()))
        else:
            rule.pattern = form.pattern.data.strip()
        s.commit()
        flash(_("Numbering rule saved."), "success")
        return redirect(url_for("admin.numbering_rules")), 303
    elif request.method == "POST":
        status = 400
    stored = numbering.rules(s)
    kinds = {}
    for e in rt.entities.values():
        if e.numbering_kind:
            kinds[e.numbering_kind] = (e.label, e.default_number_pattern)
    for k in stored:
        kinds.setdefault(k, (k, None))
    rows = []
    for kind, (label, default) in sorted(kinds.items()):
        pattern = stored[kind].pattern if kind in stored else (default or numbering.DEFAULT_PATTERN)
        rows.append(
            {
                "kind": kind,
                "label": label,
                "pattern": pattern,
                "default": default,
                "preview": numbering.render(pattern, 1, date.today()),
            }
        )
    return render_template("crm/admin/numbering.html", rows=rows, form=form), status


# --- Deliveries and audit ----------------------------------------------------------------


@bp.get("/notifications")
@permission_required("admin.notifications")
def notifications():
    s = db_session()
    status = request.args.get("status") or None
    stmt = select(OutboxMessage)
    if status in ("pending", "sent", "dead"):
        stmt = stmt.where(OutboxMessage.status == status)
    page = _page()
    rows = s.scalars(
        stmt.order_by(OutboxMessage.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    attempts = defaultdict(list)
    if rows:
        for a in s.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.outbox_id.in_([r.id for r in rows]))
            .order_by(DeliveryAttempt.id)
        ):
            attempts[a.outbox_id].append(a)
    totals = dict(
        s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    )
    users = (
        {
            u.id: u
            for u in s.scalars(
                select(User).where(User.id.in_({r.recipient_id for r in rows if r.recipient_id}))
            )
        }
        if rows
        else {}
    )
    return render_template(
        "crm/admin/notifications.html",
        rows=rows,
        attempts=attempts,
        totals=totals,
        status=status,
        page=page,
        users=users,
    )


@bp.get("/audit")
@permission_required("admin.audit")
def audit_log():
    s = db_session()
    stmt = select(AuditEntry)
    entity = (request.args.get("entity") or "").strip()[:64]
    record = (request.args.get("record") or "").strip()[:64]
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if record:
        stmt = stmt.where(AuditEntry.record_id == record)
    page = _page()
    rows = s.scalars(
        stmt.order_by(AuditEntry.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "crm/admin/audit.html", rows=rows, entity=entity, record=record, page=page
    )
