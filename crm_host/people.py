"""Business rules for users, departments and roles, shared by the CLI, pages and API."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from . import audit
from .contract import SCOPES
from .models import Department, Role, RolePermission, User
from .security import hash_password, validate_password

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class PeopleError(ValueError):
    """Invalid input; ``field`` names the offending field when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def find_user(session, email: str) -> User | None:
    return session.scalar(
        select(User).where(func.lower(User.email) == (email or "").strip().lower())
    )


def roles_by_name(session, names) -> list[Role]:
    names = [n for n in names if n]
    roles = list(session.scalars(select(Role).where(Role.name.in_(names)))) if names else []
    missing = sorted(set(names) - {r.name for r in roles})
    if missing:
        known = ", ".join(sorted(session.scalars(select(Role.name))))
        raise PeopleError(f"Unknown role(s): {', '.join(missing)}. Roles: {known}.", "roles")
    return roles


def _check_tree(session, user: User | None, department_id, supervisor_id):
    if department_id is not None and session.get(Department, department_id) is None:
        raise PeopleError("No such department.", "department_id")
    if supervisor_id is not None:
        sup = session.get(User, supervisor_id)
        if sup is None:
            raise PeopleError("No such supervisor.", "supervisor_id")
        if user is not None:
            # Walk up from the new supervisor: finding the user would make a loop.
            seen, cur = set(), sup
            while cur is not None and cur.id not in seen:
                if cur.id == user.id:
                    raise PeopleError(
                        "A user cannot report to themselves or their own reports.", "supervisor_id"
                    )
                seen.add(cur.id)
                cur = cur.supervisor


def create_user(
    session,
    email: str,
    name: str,
    password: str | None,
    roles=("staff",),
    department_id=None,
    supervisor_id=None,
    locale=None,
    phone=None,
) -> User:
    email = (email or "").strip().lower()
    if not EMAIL.match(email) or len(email) > 255:
        raise PeopleError("Enter a valid email address.", "email")
    if find_user(session, email) is not None:
        raise PeopleError(f"A user with the email {email} already exists.", "email")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise PeopleError("A name of 1 to 120 characters is required.", "name")
    if password is not None:
        err = validate_password(password)
        if err:
            raise PeopleError(err, "password")
    _check_tree(session, None, department_id, supervisor_id)
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        department_id=department_id,
        supervisor_id=supervisor_id,
        locale=locale,
        phone=phone,
        roles=roles_by_name(session, roles),
    )
    session.add(user)
    session.flush()
    audit.record(session, "host.user", user, "create")
    return user


def update_user(session, user: User, **changes) -> User:
    before = audit.snapshot(user)
    before_roles = user.role_names
    if "email" in changes:
        email = (changes["email"] or "").strip().lower()
        if not EMAIL.match(email):
            raise PeopleError("Enter a valid email address.", "email")
        other = find_user(session, email)
        if other is not None and other.id != user.id:
            raise PeopleError(f"A user with the email {email} already exists.", "email")
        user.email = email
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name or len(name) > 120:
            raise PeopleError("A name of 1 to 120 characters is required.", "name")
        user.name = name
    if "department_id" in changes or "supervisor_id" in changes:
        _check_tree(
            session,
            user,
            changes.get("department_id", user.department_id),
            changes.get("supervisor_id", user.supervisor_id),
        )
        user.department_id = changes.get("department_id", user.department_id)
        user.supervisor_id = changes.get("supervisor_id", user.supervisor_id)
    for key in ("locale", "phone", "timezone"):
        if key in changes:
            setattr(user, key, changes[key] or None)
    if "roles" in changes:
        user.roles = roles_by_name(session, changes["roles"])
    if "is_active" in changes and bool(changes["is_active"]) != user.is_active:
        user.is_active = bool(changes["is_active"])
        user.session_epoch += 1
    if changes.get("password"):
        set_password(session, user, changes["password"], audit_it=False)
    # Role changes live in another table; still, every edit must move the user's version.
    flag_modified(user, "updated_at")
    session.flush()
    entry = audit.record(session, "host.user", user, "update", before=before)
    if before_roles != user.role_names:
        entry.before = {**(entry.before or {}), "roles": before_roles}
        entry.after = {**(entry.after or {}), "roles": user.role_names}
    return user


def set_password(session, user: User, password: str, audit_it: bool = True) -> None:
    err = validate_password(password)
    if err:
        raise PeopleError(err, "password")
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    if audit_it:
        audit.record(
            session, "host.user", user, "password", before={}, after={"password": "changed"}
        )


def create_department(session, name: str, parent_id=None, leader_id=None) -> Department:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise PeopleError("A name of 1 to 120 characters is required.", "name")
    if parent_id is not None and session.get(Department, parent_id) is None:
        raise PeopleError("No such parent department.", "parent_id")
    if leader_id is not None and session.get(User, leader_id) is None:
        raise PeopleError("No such user.", "leader_id")
    clash = session.scalar(
        select(Department).where(
            Department.name == name,
            Department.parent_id.is_(parent_id)
            if parent_id is None
            else Department.parent_id == parent_id,
        )
    )
    if clash is not None:
        raise PeopleError("A department with this name already exists here.", "name")
    d = Department(name=name, parent_id=parent_id, leader_id=leader_id)
    session.add(d)
    session.flush()
    audit.record(session, "host.department", d, "create")
    return d


def update_department(session, dept: Department, name=None, parent_id=None, leader_id=None):
    before = audit.snapshot(dept)
    if name is not None:
        name = name.strip()
        if not name or len(name) > 120:
            raise PeopleError("A name of 1 to 120 characters is required.", "name")
        dept.name = name
    # Parent and leader are always given in full by the callers.
    cur = session.get(Department, parent_id) if parent_id else None
    if parent_id and cur is None:
        raise PeopleError("No such parent department.", "parent_id")
    while cur is not None:
        if cur.id == dept.id:
            raise PeopleError("A department cannot sit inside itself.", "parent_id")
        cur = cur.parent
    dept.parent_id = parent_id
    if leader_id is not None and session.get(User, leader_id) is None:
        raise PeopleError("No such user.", "leader_id")
    dept.leader_id = leader_id
    session.flush()
    audit.record(session, "host.department", dept, "update", before=before)
    return dept


def create_role(session, name: str, label: str, scope: str = "own") -> Role:
    if scope not in SCOPES:
        raise PeopleError(f"Scope must be one of {', '.join(SCOPES)}.", "scope")
    if session.scalar(select(Role).where(Role.name == name)) is not None:
        raise PeopleError(f"The role '{name}' already exists.", "name")
    role = Role(name=name, label=label, scope=scope)
    session.add(role)
    session.flush()
    audit.record(session, "host.role", role, "create")
    return role


def set_grant(session, role: Role, permission: str, effect: str | None, known: set[str]):
    """Set a role's grant for one permission: ``allow``, ``deny`` or None (no grant)."""
    if permission not in known:
        raise PeopleError(f"Unknown permission '{permission}'.", "permission")
    if effect not in (None, "allow", "deny"):
        raise PeopleError("Effect must be allow, deny or none.", "effect")
    row = session.get(RolePermission, (role.id, permission))
    before = {"permission": permission, "effect": row.effect if row else None}
    if effect is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(RolePermission(role_id=role.id, permission=permission, effect=effect))
    else:
        row.effect = effect
    audit.record(
        session,
        "host.role",
        role,
        "grant",
        before=before,
        after={"permission": permission, "effect": effect},
    )
