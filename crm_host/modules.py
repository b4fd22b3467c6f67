"""Module-state operations shared by the CLI, the admin screens and the API.

Every refusal raises :class:`~crm_host.plugins.ModuleError` with a message for the
administrator and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from . import audit, migrate
from .db import utcnow
from .models import KnownPermission, Module, RolePermission
from .plugins import ModuleError, bump_generation


@dataclass
class ModuleInfo:
    name: str
    version: str
    state: str  # available / enabled / disabled / broken / not installed
    stored_state: str
    description: str
    depends: tuple[str, ...]
    dependents: tuple[str, ...]
    error: str | None
    distribution: str | None
    tables: tuple[str, ...] = ()


def _host(app):
    return app.extensions["crm"].plugins


def describe(app) -> list[ModuleInfo]:
    crm = app.extensions["crm"]
    crm.ensure_ready()
    host = crm.plugins
    with crm.db.Session() as s:
        rows = {m.name: m for m in s.scalars(select(Module))}
    out = []
    names = list(host.order) + sorted(n for n in rows if n not in host.plugins)
    for name in names:
        lp = host.plugins.get(name)
        row = rows.get(name)
        stored = row.state if row else "available"
        error = (
            (lp.error if lp else None)
            or (row.error if row else None)
            or host.runtime_errors.get(name)
        )
        if lp is None:
            state = "not installed"
        elif error:
            state = "broken"
        else:
            state = stored
        dependents = tuple(n for n in host.order if name in host.plugins[n].depends)
        out.append(
            ModuleInfo(
                name=name,
                version=lp.version if lp else (row.version or "?"),
                state=state,
                stored_state=stored,
                description=lp.description if lp else "",
                depends=lp.depends if lp else (),
                dependents=dependents,
                error=error,
                distribution=lp.distribution if lp else None,
            )
        )
    return out


def info(app, name: str) -> ModuleInfo:
    for m in describe(app):
        if m.name == name:
            return m
    raise ModuleError(_unknown(app, name))


def _unknown(app, name: str) -> str:
    known = ", ".join(sorted(_host(app).plugins)) or "none"
    return f"Unknown module '{name}'. Installed modules: {known}."


def _states(crm) -> dict[str, Module]:
    with crm.db.Session() as s:
        return {m.name: m for m in s.scalars(select(Module))}


def enable(app, name: str, with_deps: bool = False, actor: str = "cli") -> list[str]:
    """Enable ``name`` (migrating first); returns the modules enabled, in order."""
    crm = app.extensions["crm"]
    crm.ensure_ready()
    host = crm.plugins
    lp = host.plugins.get(name)
    if lp is None:
        raise ModuleError(_unknown(app, name))
    if lp.error:
        raise ModuleError(
            f"Module '{name}' is broken and cannot be enabled: {lp.error.strip().splitlines()[0]}"
        )
    states = _states(crm)

    plan: list[str] = []

    def need(n: str, chain: tuple[str, ...]):
        for dep in host.plugins[n].depends:
            dlp = host.plugins.get(dep)
            if dlp is None or dlp.error:
                raise ModuleError(f"Module '{n}' requires '{dep}', which cannot be loaded.")
            if states.get(dep) is None or states[dep].state != "enabled" or states[dep].error:
                need(dep, chain + (n,))
                if dep not in plan:
                    plan.append(dep)

    need(name, ())
    if plan and not with_deps:
        raise ModuleError(
            f"Module '{name}' needs {', '.join(repr(p) for p in plan)} enabled first. "
            f"Enable {'it' if len(plan) == 1 else 'them'}, or run again with --with-deps."
        )
    plan.append(name)
    for n in plan:  # dependencies first: each one's migrations may be needed by the next
        migrate.upgrade_plugin(crm.db.engine, host.plugins[n])
    with crm.db.session_scope() as s:
        for n in plan:
            row = s.get(Module, n)
            if row is None:
                row = Module(name=n, version=host.plugins[n].version)
                s.add(row)
            before = row.state
            row.state = "enabled"
            row.error = None
            row.changed_at = utcnow()
            row.changed_by = actor
            host.runtime_errors.pop(n, None)
            row.error_kind = None
            audit.record(
                s,
                "host.module",
                row,
                "enable",
                before={"state": before},
                after={"state": "enabled"},
                actor=actor,
            )
        bump_generation(s)
    host.current(force=True)
    return plan


def disable(app, name: str, cascade: bool = False, actor: str = "cli") -> list[str]:
    """Disable ``name``; data stays. Returns the modules disabled (dependents first)."""
    crm = app.extensions["crm"]
    crm.ensure_ready()
    host = crm.plugins
    states = _states(crm)
    if name not in host.plugins and name not in states:
        raise ModuleError(_unknown(app, name))
    row = states.get(name)
    if row is None or row.state != "enabled":
        raise ModuleError(f"Module '{name}' is not enabled.")

    def enabled_dependents(n: str) -> list[str]:
        out = []
        for other in host.order:
            st = states.get(other)
            if n in host.plugins[other].depends and st is not None and st.state == "enabled":
                for d in enabled_dependents(other):
                    if d not in out:
                        out.append(d)
                if other not in out:
                    out.append(other)
        return out

    dependents = enabled_dependents(name)
    if dependents and not cascade:
        raise ModuleError(
            f"Cannot disable '{name}': {', '.join(repr(d) for d in dependents)} "
            f"depend{'s' if len(dependents) == 1 else ''} on it. Disable "
            f"{'it' if len(dependents) == 1 else 'them'} first, or run again with --cascade."
        )
    plan = [*dependents, name]
    with crm.db.session_scope() as s:
        for n in plan:
            r = s.get(Module, n)
            r.state = "disabled"
            r.changed_at = utcnow()
            r.changed_by = actor
            audit.record(
                s,
                "host.module",
                r,
                "disable",
                before={"state": "enabled"},
                after={"state": "disabled"},
                actor=actor,
            )
        bump_generation(s)
    host.current(force=True)
    return plan


def purge(app, name: str, actor: str = "cli") -> list[str]:
    """Drop a disabled module's tables and forget its state. Irreversible."""
    crm = app.extensions["crm"]
    crm.ensure_ready()
    host = crm.plugins
    lp = host.plugins.get(name)
    states = _states(crm)
    if lp is None:
        raise ModuleError(_unknown(app, name))
    row = states.get(name)
    if row is not None and row.state == "enabled":
        raise ModuleError(f"Module '{name}' is enabled; disable it before purging its data.")
    dependents = [
        n
        for n in host.order
        if name in host.plugins[n].depends
        and states.get(n) is not None
        and states[n].state != "available"
    ]
    if dependents:
        raise ModuleError(
            f"Cannot purge '{name}': {', '.join(repr(d) for d in dependents)} still keep data "
            "that points at it. Purge them first."
        )
    others = [p.table_prefix for n, p in host.plugins.items() if n != name]
    dropped = migrate.drop_plugin_tables(crm.db.engine, lp, others)
    with crm.db.session_scope() as s:
        perms = [
            p for p in s.scalars(select(KnownPermission.name).where(KnownPermission.module == name))
        ]
        if perms:
            s.execute(delete(RolePermission).where(RolePermission.permission.in_(perms)))
            s.execute(delete(KnownPermission).where(KnownPermission.name.in_(perms)))
        r = s.get(Module, name)
        if r is not None:
            r.state = "available"
            r.changed_at = utcnow()
            r.changed_by = actor
            audit.record(
                s,
                "host.module",
                r,
                "purge",
                before={"state": "disabled"},
                after={"state": "available", "dropped_tables": dropped},
                actor=actor,
            )
        bump_generation(s)
    host.current(force=True)
    return dropped
