"""People, permissions and record scopes.

How permission answers combine (decided once, before any plugin was written):

* a role flagged ``is_superuser`` (the built-in *admin*) holds every permission;
* otherwise a user holds a permission when one of their roles *allows* it and **none**
  of their roles *denies* it: an explicit deny always wins;
* a user's record scope is the widest scope among their roles.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from flask import abort, current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from .contract import SCOPES
from .db import utcnow
from .models import (
    ApiToken,
    Department,
    KnownPermission,
    LoginAttempt,
    Role,
    RolePermission,
    User,
    user_roles,
)

DEFAULT_ROLES = (
    # name, label, scope, superuser
    ("admin", "Administrator", "all", True),
    ("leader", "Leader", "department_tree", False),
    ("sales", "Sales", "own", False),
    ("service", "Service", "own", False),
    ("staff", "Staff", "own", False),
)

# The default roles' labels for the translation catalogs: pages show a role as
# ``_(role.label)``, so the built-in ones read in the user's language (renamed ones as typed).
DEFAULT_ROLE_LABELS = (
    _l("Administrator"),
    _l("Leader"),
    _l("Sales"),
    _l("Service"),
    _l("Staff"),
)

MIN_PASSWORD_LENGTH = 8


# --- Passwords ---------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify_password(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash:
        # Spend the same time as a real check so timing does not reveal which emails exist.
        check_password_hash(_DUMMY_HASH, password or "")
        return False
    return check_password_hash(user.password_hash, password or "")


_DUMMY_HASH = generate_password_hash("not-a-real-password")


def validate_password(password: str) -> str | None:
    """Return an error message, or None when the password is acceptable."""
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > 256:
        return "Password must be at most 256 characters."
    return None


# --- Roles and permissions ---------------------------------------------------------------


def ensure_default_roles(session) -> None:
    existing = {r.name for r in session.scalars(select(Role))}
    for name, label, scope, superuser in DEFAULT_ROLES:
        if name not in existing:
            session.add(
                Role(name=name, label=label, scope=scope, is_superuser=superuser, builtin=True)
            )
    session.flush()


def seed_permissions(db, runtime) -> None:
    """Grant each newly seen permission to its default roles (once; admins own it after)."""
    with db.session_scope() as s:
        known = set(s.scalars(select(KnownPermission.name)))
        new = [p for name, p in runtime.permissions.items() if name not in known]
        if not new:
            return
        roles = {r.name: r for r in s.scalars(select(Role))}
        for p in new:
            s.add(KnownPermission(name=p.name, module=runtime.permission_owner.get(p.name, "")))
            for rname in p.default_roles:
                role = roles.get(rname)
                if role is not None and s.get(RolePermission, (role.id, p.name)) is None:
                    s.add(RolePermission(role_id=role.id, permission=p.name, effect="allow"))
        try:
            s.flush()
        except IntegrityError:  # another process seeded first
            s.rollback()


@dataclass
class Grants:
    superuser: bool
    allowed: frozenset[str]
    scope: str


def load_grants(session, user: User) -> Grants:
    roles = list(user.roles)
    if any(r.is_superuser for r in roles):
        return Grants(True, frozenset(), "all")
    role_ids = [r.id for r in roles]
    allow, deny = set(), set()
    if role_ids:
        for perm, effect in session.execute(
            select(RolePermission.permission, RolePermission.effect).where(
                RolePermission.role_id.in_(role_ids)
            )
        ):
            (deny if effect == "deny" else allow).add(perm)
    scope = max((r.scope for r in roles), key=SCOPES.index, default="own")
    return Grants(False, frozenset(allow - deny), scope)


def grants_for(user: User) -> Grants:
    """The user's grants, computed once per request."""
    cache = g.setdefault("_crm_grants", {})
    if user.id not in cache:
        from .db import session

        cache[user.id] = load_grants(session(), user)
    return cache[user.id]


def has_permission(user, permission: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    gr = grants_for(user)
    if gr.superuser:
        return True
    return permission in gr.allowed


def permission_holders(user_id_col, permission: str):
    """SQL condition on a user-id column: that user holds ``permission`` (a superuser role, or
    an allow on one of their roles and a deny on none): :func:`has_permission`'s rule, for
    choosing whom to notify or list without loading every user. Inactive users are not
    excluded here."""
    from sqlalchemy import and_

    superusers = (
        select(user_roles.c.user_id)
        .join(Role, Role.id == user_roles.c.role_id)
        .where(Role.is_superuser.is_(True))
    )

    def granted(effect):
        return (
            select(user_roles.c.user_id)
            .join(RolePermission, RolePermission.role_id == user_roles.c.role_id)
            .where(RolePermission.permission == permission, RolePermission.effect == effect)
        )

    return or_(
        user_id_col.in_(superusers),
        and_(user_id_col.in_(granted("allow")), user_id_col.not_in(granted("deny"))),
    )


def permission_required(*permissions: str):
    """View decorator: 403 unless the user holds every permission named."""

    def deco(fn):
        @wraps(fn)
        def wrapper(*a, **kw):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            for p in permissions:
                if not has_permission(current_user, p):
                    abort(403, description=f"You need the permission '{p}'.")
            return fn(*a, **kw)

        return wrapper

    return deco


# --- Record scopes -----------------------------------------------------------------------


def department_subtree(session, root_id: int) -> set[int]:
    rows = session.execute(select(Department.id, Department.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for did, pid in rows:
        children.setdefault(pid, []).append(did)
    out, todo = set(), [root_id]
    while todo:
        d = todo.pop()
        if d in out:
            continue
        out.add(d)
        todo.extend(children.get(d, []))
    return out


def subordinates(session, user_id: int) -> set[int]:
    """The user and everyone below them through the supervisor chain."""
    rows = session.execute(select(User.id, User.supervisor_id)).all()
    reports: dict[int | None, list[int]] = {}
    for uid, sid in rows:
        reports.setdefault(sid, []).append(uid)
    out, todo = set(), [user_id]
    while todo:
        u = todo.pop()
        if u in out:
            continue
        out.add(u)
        todo.extend(reports.get(u, []))
    return out


def scope_filter(
    user: User, owner_col, department_col=None, scope: str | None = None, *, wide: bool = False
):
    """A SQL condition limiting a query to the records ``user`` may see.

    ``owner_col`` is the record's owner (a user id column); ``department_col`` the record's
    department column, if it has one; otherwise the owner's department counts. Returns
    ``None`` when no limit applies (scope *all*). Use it everywhere::

        cond = scope_filter(user, Customer.owner_id, Customer.department_id)
        stmt = select(Customer) if cond is None else select(Customer).where(cond)

    ``wide=True`` says the query will match many rows (a list whose capped count hit the cap,
    see :func:`crm_host.api.page_of`): SQLite then gets a hint to walk the sort order instead
    of the owner/department indexes.
    """
    from .db import session as current_session

    s = current_session()
    scope = scope or grants_for(user).scope
    if scope == "all":
        return None
    if scope == "own":
        return owner_col == user.id
    if user.department_id is None and scope != "own_subordinates":
        return owner_col == user.id
    # With many matches SQLite would gather every one through the owner/department indexes
    # and sort them all for "newest first" (a second at a million rows); ``col + 0`` keeps
    # those indexes out of the plan, so it walks the sort order and stops after one page.
    # With few matches the same hint would scan the whole table, hence only when ``wide``.
    # PostgreSQL's cost-based planner needs no hint.
    hint = (lambda c: c + 0) if wide and s.bind.dialect.name == "sqlite" else (lambda c: c)
    if scope == "own_subordinates":
        return hint(owner_col).in_(sorted(subordinates(s, user.id)))
    if scope == "department":
        depts = {user.department_id}
    else:  # department_tree
        depts = department_subtree(s, user.department_id)
    # The owners are resolved here, not as a sub-select: planners estimate
    # ``owner_id IN (SELECT ...)`` badly and cannot combine it with other indexes
    # (PostgreSQL's BitmapOr), so a leader of an empty team waited half a second.
    owners = {user.id, *_members(s, depts)}
    conds = [hint(owner_col).in_(sorted(owners))]
    if department_col is not None:
        conds.append(hint(department_col).in_(sorted(depts)))
    return or_(*conds)


def _members(s, depts: set[int]) -> list[int]:
    """Ids of the users in these departments (remembered for the request)."""
    key = ("crm_dept_members", tuple(sorted(depts)))
    cache = g.setdefault("crm_scope_cache", {}) if has_request_context() else {}
    if key not in cache:
        cache[key] = list(s.scalars(select(User.id).where(User.department_id.in_(key[1]))))
    return cache[key]


def apply_scope(stmt, user: User, owner_col, department_col=None, *, wide: bool = False):
    cond = scope_filter(user, owner_col, department_col, wide=wide)
    return stmt if cond is None else stmt.where(cond)


def in_scope(user: User, record, owner_attr="owner_id", department_attr=None) -> bool:
    """Whether a loaded record is within the user's scope (for detail pages and PATCH)."""
    model = type(record)
    cond = scope_filter(
        user,
        getattr(model, owner_attr),
        getattr(model, department_attr) if department_attr else None,
    )
    if cond is None:
        return True
    from .db import session as current_session

    pk = model.__mapper__.primary_key[0]
    return (
        current_session().scalar(
            select(func.count()).select_from(model).where(pk == getattr(record, pk.key), cond)
        )
        == 1
    )


def get_scoped_or_404(model, ident, user, owner_attr="owner_id", department_attr=None):
    """Load a record the user may see; anything else (missing or out of scope) is a 404,
    so a stranger cannot even learn that the record exists."""
    from .db import session as current_session

    obj = current_session().get(model, ident)
    if obj is None or not in_scope(user, obj, owner_attr, department_attr):
        abort(404)
    return obj


# --- API tokens --------------------------------------------------------------------------

TOKEN_PREFIX = "crm_"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session, user: User, name: str, days: int | None = 90) -> tuple[ApiToken, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tok = ApiToken(
        user_id=user.id,
        name=name[:120] or "API token",
        token_hash=_hash_token(secret),
        prefix=secret[:10],
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    session.add(tok)
    session.flush()
    return tok, secret


def user_for_token(session, secret: str) -> User | None:
    if not secret or len(secret) > 200:
        return None
    # One round trip for the token, its user and their roles: this runs on every API call.
    tok = session.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.user).selectinload(User.roles))
        .where(ApiToken.token_hash == _hash_token(secret))
    )
    now = utcnow()
    if tok is None or tok.revoked_at is not None:
        return None
    if tok.expires_at is not None and tok.expires_at <= now:
        return None
    user = tok.user
    if not user.is_active:
        return None
    # Write last-use at most once a minute: a busy script must not turn reads into writes.
    if tok.last_used_at is None or now - tok.last_used_at > timedelta(minutes=1):
        tok.last_used_at = now
        session.commit()
    return user


# --- Login throttling --------------------------------------------------------------------


def login_throttled(session, email: str, ip: str | None) -> bool:
    cfg = current_app.config
    window = utcnow() - timedelta(seconds=cfg["CRM_LOGIN_WINDOW_SECONDS"])
    by_email = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.email == email.lower(),
            LoginAttempt.ok.is_(False),
            LoginAttempt.at >= window,
        )
    )
    if by_email >= cfg["CRM_LOGIN_MAX_FAILURES"]:
        return True
    if ip:
        by_ip = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.ip == ip, LoginAttempt.ok.is_(False), LoginAttempt.at >= window)
        )
        if by_ip >= cfg["CRM_LOGIN_MAX_FAILURES_PER_IP"]:
            return True
    return False


def record_login(session, email: str, ip: str | None, ok: bool) -> None:
    session.add(LoginAttempt(email=email.lower()[:255], ip=ip, ok=ok))


def authenticate(
    session, email: str, password: str, ip: str | None
) -> tuple[User | None, str | None]:
    """Check credentials with throttling. Returns (user, None) or (None, reason)."""
    email = (email or "").strip().lower()
    if login_throttled(session, email, ip):
        return None, "throttled"
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if not verify_password(user, password) or not user.is_active:
        record_login(session, email, ip, ok=False)
        session.commit()
        return None, "invalid"
    record_login(session, email, ip, ok=True)
    user.last_login_at = datetime.now().astimezone()
    session.commit()
    return user, None
