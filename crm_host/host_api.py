"""The host's REST endpoints under /api/v1: tokens, me, users, departments, roles,
permissions, modules, numbering rules, audit trail and deliveries."""

from __future__ import annotations

from datetime import date

from flask import current_app, g, request
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from . import modules as module_ops
from . import numbering, people
from .api import Blueprint, abort, page_schema, paginate, public, refusals, require
from .db import check_version
from .db import session as db_session
from .models import ApiToken, AuditEntry, Department, NumberingRule, OutboxMessage, Role, User
from .plugins import ModuleError
from .schemas import (
    AuditFilter,
    AuditSchema,
    DepartmentSchema,
    GrantRequest,
    MeSchema,
    ModuleAction,
    ModuleSchema,
    NumberingRuleSchema,
    NumberingRuleUpdate,
    OutboxFilter,
    OutboxSchema,
    PermissionSchema,
    RoleSchema,
    TokenCreated,
    TokenRequest,
    TokenSchema,
    UserCreate,
    UserFilter,
    UserSchema,
    UserUpdate,
)
from .security import authenticate, create_token, grants_for

auth = Blueprint("Auth", __name__, url_prefix="/api/v1/auth", description="Personal API tokens")
people_api = Blueprint(
    "people_api",
    __name__,
    url_prefix="/api/v1",
    description="Users, departments, roles and permissions",
)
admin_api = Blueprint(
    "admin_api",
    __name__,
    url_prefix="/api/v1",
    description="Modules, numbering rules, audit trail, deliveries",
)


def blueprints():
    return [auth, people_api, admin_api]


def refused_as_422(session):
    return refusals(session, people.PeopleError)


# --- Tokens ------------------------------------------------------------------------------


@auth.route("/tokens", methods=["POST"])
@auth.arguments(TokenRequest)
@auth.response(201, TokenCreated)
def create_api_token(args):
    """Exchange email and password for a personal API token (shown once)."""
    s = db_session()
    user, reason = authenticate(s, args["email"], args["password"], request.remote_addr)
    if reason == "throttled":
        abort(429, message="Too many failed sign-ins. Wait a few minutes and try again.")
    if user is None:
        abort(401, message="Wrong email or password.")
    days = args.get("days") or current_app.config["CRM_TOKEN_DAYS"]
    tok, secret = create_token(s, user, args["name"], days)
    s.commit()
    return {"token": secret, "id": tok.id, "name": tok.name, "expires_at": tok.expires_at}


create_api_token._crm_public = True
create_api_token._crm_csrf_exempt = True  # password-authenticated, never cookie-authenticated


@auth.route("/tokens", methods=["GET"])
@auth.response(200, TokenSchema(many=True))
def list_tokens():
    """Your active tokens (secrets are never shown again)."""
    return (
        db_session()
        .scalars(
            select(ApiToken)
            .where(ApiToken.user_id == current_user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        )
        .all()
    )


@auth.route("/tokens/<int:token_id>", methods=["DELETE"])
@auth.response(204)
def revoke_token(token_id):
    """Revoke one of your tokens."""
    from .db import utcnow

    s = db_session()
    tok = s.get(ApiToken, token_id)
    if tok is None or tok.user_id != current_user.id or tok.revoked_at is not None:
        abort(404, message="No such token.")
    tok.revoked_at = utcnow()
    s.commit()


@people_api.route("/me", methods=["GET"])
@people_api.response(200, MeSchema)
def me():
    """The signed-in user with their effective permissions and record scope."""
    gr = grants_for(current_user)
    rt = g.crm_runtime
    perms = sorted(rt.permissions) if gr.superuser else sorted(gr.allowed & set(rt.permissions))
    from types import SimpleNamespace

    fields = {k: getattr(current_user, k) for k in UserSchema().fields if k != "roles"}
    return SimpleNamespace(
        **fields,
        roles=current_user.role_names,
        permissions=perms,
        scope=gr.scope,
        superuser=gr.superuser,
    )


# --- Users -------------------------------------------------------------------------------


@people_api.route("/users", methods=["GET"])
@people_api.arguments(UserFilter, location="query")
@people_api.response(200, page_schema(UserSchema))
def list_users(args):
    """List users (any signed-in user may look colleagues up, e.g. to pick an owner)."""
    stmt = select(User)
    if args.get("q"):
        like = f"%{args['q'].lower()}%"
        stmt = stmt.where(func.lower(User.name).like(like) | func.lower(User.email).like(like))
    if "department_id" in args:
        stmt = stmt.where(User.department_id == args["department_id"])
    if "is_active" in args:
        stmt = stmt.where(User.is_active.is_(args["is_active"]))
    if args.get("role"):
        stmt = stmt.where(User.roles.any(Role.name == args["role"]))
    return paginate(
        db_session(),
        stmt,
        args,
        sortable={
            "name": User.name,
            "email": User.email,
            "id": User.id,
            "created_at": User.created_at,
        },
        default_sort=[User.name],
        tiebreak=User.id,
    )


@people_api.route("/users", methods=["POST"])
@people_api.arguments(UserCreate)
@people_api.response(201, UserSchema)
def create_user(args):
    require("admin.users")
    s = db_session()
    with refused_as_422(s):
        user = people.create_user(s, **args)
    s.commit()
    return user


@people_api.route("/users/<int:user_id>", methods=["GET"])
@people_api.response(200, UserSchema)
def get_user(user_id):
    user = db_session().get(User, user_id)
    if user is None:
        abort(404, message="No such user.")
    return user


@people_api.route("/users/<int:user_id>", methods=["PATCH"])
@people_api.arguments(UserUpdate)
@people_api.response(200, UserSchema)
def update_user(args, user_id):
    """Change a user; send the ``version`` you read (409 when someone changed it since)."""
    require("admin.users")
    s = db_session()
    user = s.get(User, user_id)
    if user is None:
        abort(404, message="No such user.")
    check_version(user, args.pop("version"))
    if user.id == current_user.id and args.get("is_active") is False:
        abort(
            422,
            message="You cannot deactivate yourself.",
            errors={"is_active": ["You cannot deactivate yourself."]},
        )
    with refused_as_422(s):
        people.update_user(s, user, **args)
    s.commit()
    return user


# --- Departments and roles ---------------------------------------------------------------


@people_api.route("/departments", methods=["GET"])
@people_api.response(200, DepartmentSchema(many=True))
def list_departments():
    return db_session().scalars(select(Department).order_by(Department.id)).all()


@people_api.route("/departments", methods=["POST"])
@people_api.arguments(DepartmentSchema)
@people_api.response(201, DepartmentSchema)
def create_department(args):
    require("admin.users")
    s = db_session()
    with refused_as_422(s):
        d = people.create_department(s, args["name"], args.get("parent_id"), args.get("leader_id"))
    s.commit()
    return d


@people_api.route("/roles", methods=["GET"])
@people_api.response(200, RoleSchema(many=True))
def list_roles():
    return db_session().scalars(select(Role).order_by(Role.id)).all()


@people_api.route("/roles/<name>/grants", methods=["PUT"])
@people_api.arguments(GrantRequest)
@people_api.response(200, RoleSchema)
def set_grant(args, name):
    """Allow, deny or clear one permission for a role."""
    require("admin.roles")
    s = db_session()
    role = s.scalar(select(Role).where(Role.name == name))
    if role is None:
        abort(404, message=f"No role named '{name}'.")
    effect = None if args["effect"] in (None, "none") else args["effect"]
    with refused_as_422(s):
        people.set_grant(s, role, args["permission"], effect, set(g.crm_runtime.permissions))
    flag_modified(role, "label")
    s.commit()
    s.refresh(role)
    return role


@people_api.route("/permissions", methods=["GET"])
@people_api.response(200, PermissionSchema(many=True))
def list_permissions():
    """Every permission the enabled modules declare."""
    return sorted(g.crm_runtime.permissions.values(), key=lambda p: p.name)


# --- Modules -----------------------------------------------------------------------------


@admin_api.route("/modules", methods=["GET"])
@admin_api.response(200, ModuleSchema(many=True))
def list_modules():
    require("admin.modules")
    return module_ops.describe(current_app)


@admin_api.route("/modules/<name>", methods=["GET"])
@admin_api.response(200, ModuleSchema)
def module_info(name):
    require("admin.modules")
    try:
        return module_ops.info(current_app, name)
    except ModuleError as exc:
        abort(404, message=str(exc))


@admin_api.route("/modules/<name>/<any(enable,disable):action>", methods=["POST"])
@admin_api.arguments(ModuleAction)
@admin_api.response(200, ModuleSchema(many=True))
def module_action(args, name, action):
    """Enable (``with_deps``) or disable (``cascade``) a module; refusals are 409."""
    require("admin.modules")
    try:
        if action == "enable":
            done = module_ops.enable(
                current_app, name, with_deps=args["with_deps"], actor=current_user.email
            )
        else:
            done = module_ops.disable(
                current_app, name, cascade=args["cascade"], actor=current_user.email
            )
    except ModuleError as exc:
        code = 404 if str(exc).startswith("Unknown module") else 409
        abort(code, message=str(exc))
    return [module_ops.info(current_app, n) for n in done]


# --- Numbering ---------------------------------------------------------------------------


@admin_api.route("/numbering-rules", methods=["GET"])
@admin_api.response(200, NumberingRuleSchema(many=True))
def list_numbering_rules():
    require("admin.numbering")
    s = db_session()
    out = {}
    for e in g.crm_runtime.entities.values():
        if e.numbering_kind:
            out[e.numbering_kind] = e.default_number_pattern or numbering.DEFAULT_PATTERN
    for kind, rule in numbering.rules(s).items():
        out[kind] = rule.pattern
    today = date.today()
    return [
        {"kind": k, "pattern": p, "preview": numbering.render(p, 1, today)}
        for k, p in sorted(out.items())
    ]


@admin_api.route("/numbering-rules/<kind>", methods=["PUT"])
@admin_api.arguments(NumberingRuleUpdate)
@admin_api.response(200, NumberingRuleSchema)
def put_numbering_rule(args, kind):
    require("admin.numbering")
    if len(kind) > 64:
        abort(422, message="Kind is too long.", errors={"kind": ["At most 64 characters."]})
    try:
        numbering.validate_pattern(args["pattern"])
    except numbering.PatternError as exc:
        abort(422, message=str(exc), errors={"pattern": [str(exc)]})
    s = db_session()
    rule = s.get(NumberingRule, kind)
    if rule is None:
        s.add(NumberingRule(kind=kind, pattern=args["pattern"]))
    else:
        rule.pattern = args["pattern"]
    s.commit()
    return {
        "kind": kind,
        "pattern": args["pattern"],
        "preview": numbering.render(args["pattern"], 1, date.today()),
    }


# --- Audit and deliveries ----------------------------------------------------------------


@admin_api.route("/audit", methods=["GET"])
@admin_api.arguments(AuditFilter, location="query")
@admin_api.response(200, page_schema(AuditSchema))
def list_audit(args):
    require("admin.audit")
    stmt = select(AuditEntry)
    for key in ("entity", "record_id", "user_id"):
        if key in args:
            stmt = stmt.where(getattr(AuditEntry, key) == args[key])
    return paginate(
        db_session(),
        stmt,
        args,
        sortable={"at": AuditEntry.at, "id": AuditEntry.id},
        default_sort=[AuditEntry.id.desc()],
    )


@admin_api.route("/notifications/outbox", methods=["GET"])
@admin_api.arguments(OutboxFilter, location="query")
@admin_api.response(200, page_schema(OutboxSchema))
def list_outbox(args):
    require("admin.notifications")
    stmt = select(OutboxMessage)
    for key in ("status", "kind"):
        if key in args:
            stmt = stmt.where(getattr(OutboxMessage, key) == args[key])
    return paginate(
        db_session(),
        stmt,
        args,
        sortable={"id": OutboxMessage.id, "created_at": OutboxMessage.created_at},
        default_sort=[OutboxMessage.id.desc()],
    )


# Token creation must be reachable without a session (scripts) — see the gate in app.py.
public(create_api_token)
