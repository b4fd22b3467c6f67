"""Plugin discovery, dependency order, module states and broken-plugin isolation.

Life of a plugin in one process:

1. :func:`discover` finds entry points in the ``crm.plugins`` group (plus any modules named in
   ``CRM_EXTRA_PLUGINS``, which tests use) and imports each one in isolation.
2. :func:`resolve` checks manifests, host-contract versions, missing dependencies and cycles,
   and orders the rest by dependency, then name. A plugin that fails any check carries an
   ``error`` naming the cause and is never registered; everything else carries on.
3. :class:`PluginHost` builds a pluggy ``PluginManager`` holding the host's own hooks and the
   plugins that are *enabled* in the database, healthy, and whose dependencies are active.
   A module-state change bumps ``host_state.generation``; each process notices within
   ``CRM_MODULE_POLL_SECONDS`` and swaps in a fresh :class:`Runtime` whole, so a request in
   flight finishes with the one it started with.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from . import HOOK_API_VERSION, PROJECT, hookspecs
from .contract import Plugin

try:  # Python 3.10+ has a good enough stdlib version; prefer the backport when installed.
    import importlib_metadata as metadata
except ImportError:  # pragma: no cover
    from importlib import metadata  # type: ignore[no-redef]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "crm.plugins"
HOST = "host"  # the name under which the host registers its own hook implementations
STATES = ("available", "enabled", "disabled")


class ModuleError(Exception):
    """A refused module operation; the message is meant for the administrator."""


@dataclass
class LoadedPlugin:
    name: str
    version: str = "0"
    description: str = ""
    depends: tuple[str, ...] = ()
    requires_host: str = ""
    distribution: str | None = None
    module: ModuleType | None = None
    manifest: Plugin | None = None
    error: str | None = None
    blueprint_names: list[str] = field(default_factory=list)

    @property
    def table_prefix(self) -> str:
        if self.manifest and self.manifest.table_prefix:
            return self.manifest.table_prefix
        return f"{self.name}_"

    @property
    def package_dir(self) -> Path | None:
        if self.module is None or not getattr(self.module, "__file__", None):
            return None
        return Path(self.module.__file__).resolve().parent

    @property
    def migrations_dir(self) -> Path | None:
        d = self.package_dir
        if d is not None and (d / "migrations" / "env.py").exists():
            return d / "migrations"
        return None

    @property
    def translations_dir(self) -> Path | None:
        d = self.package_dir
        if d is not None and (d / "translations").is_dir():
            return d / "translations"
        return None


# --- Discovery ---------------------------------------------------------------------------


def _entry_points(discover_installed: bool, extra: dict[str, str] | None):
    found: list[tuple[str, str, str | None, str | None]] = []  # name, target, dist, version
    if discover_installed:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            found.append(
                (ep.name, ep.value, dist.name if dist else None, dist.version if dist else None)
            )
    for name, target in (extra or {}).items():
        found.append((name, target, None, None))
    return found


def discover(discover_installed: bool = True, extra: dict[str, str] | None = None):
    """Import every plugin; failures become ``LoadedPlugin(error=...)``, never exceptions."""
    plugins: dict[str, LoadedPlugin] = {}
    for name, target, dist, version in _entry_points(discover_installed, extra):
        if name in plugins:
            # Two distributions claiming one name: keep the first, refuse the second loudly.
            plugins[name].error = (
                f"two installed distributions declare the plugin '{name}' "
                f"({plugins[name].distribution} and {dist}); uninstall one"
            )
            continue
        lp = LoadedPlugin(name=name, distribution=dist, version=version or "0+local")
        plugins[name] = lp
        if name == HOST or not name.isidentifier():
            lp.error = f"'{name}' is not a valid plugin name (use a lower-case identifier)"
            continue
        try:
            module_name = target.split(":")[0]
            lp.module = importlib.import_module(module_name)
        except Exception:
            lp.error = "import failed:\n" + traceback.format_exc(limit=8)
            log.error("plugin %s failed to import", name, exc_info=True)
            continue
        manifest = getattr(lp.module, "plugin", None)
        if not isinstance(manifest, Plugin):
            lp.error = (
                f"module {module_name} has no manifest: define "
                "`plugin = crm_host.Plugin(description=..., depends=[...])`"
            )
            continue
        lp.manifest = manifest
        lp.description = str(manifest.description)
        lp.depends = tuple(manifest.depends)
        lp.requires_host = manifest.requires_host
    return plugins


def resolve(plugins: dict[str, LoadedPlugin]) -> list[str]:
    """Check versions and dependencies; return every plugin name in load order.

    Order: a plugin comes after everything it depends on; ties are broken by name, so the
    order is the same on every machine. Plugins with an error are still listed (so
    ``crm modules list`` shows them) but are never loaded.
    """
    host_version = Version(HOOK_API_VERSION)
    for lp in plugins.values():
        if lp.error:
            continue
        try:
            if host_version not in SpecifierSet(lp.requires_host):
                lp.error = (
                    f"needs host contract {lp.requires_host}, this host provides {HOOK_API_VERSION}"
                )
        except InvalidSpecifier:
            lp.error = f"invalid requires_host specifier {lp.requires_host!r}"

    # Cycles first, so a cycle is reported as such rather than as a broken dependency.
    for cycle in _find_cycles(plugins):
        text = " → ".join([*cycle, cycle[0]])
        for n in cycle:
            if not plugins[n].error:
                plugins[n].error = f"dependency cycle: {text}"

    changed = True
    while changed:  # propagate: a plugin whose dependency is missing or broken is refused
        changed = False
        for lp in plugins.values():
            if lp.error:
                continue
            for dep in lp.depends:
                if dep not in plugins:
                    lp.error = f"requires '{dep}', which is not installed"
                elif plugins[dep].error:
                    lp.error = f"requires '{dep}', which cannot be loaded ({_first_line(plugins[dep].error)})"
                else:
                    continue
                changed = True
                break

    ordered: list[str] = []
    placed: set[str] = set()
    remaining = sorted(plugins)
    while remaining:
        progress = False
        for n in list(remaining):
            deps = [d for d in plugins[n].depends if d in plugins]
            if all(d in placed for d in deps) or plugins[n].error:
                ordered.append(n)
                placed.add(n)
                remaining.remove(n)
                progress = True
                break  # restart from the smallest name: deterministic order
        if not progress:  # pragma: no cover - cycles were all marked above
            ordered.extend(remaining)
            break
    return ordered


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text else ""


def _find_cycles(plugins: dict[str, LoadedPlugin]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str):
        state[n] = 1
        stack.append(n)
        for d in sorted(plugins[n].depends):
            if d not in plugins:
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d) :])
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(plugins):
        if n not in state:
            visit(n)
    return cycles


# --- Runtime -----------------------------------------------------------------------------


@dataclass
class Runtime:
    """One generation of the plugin world: an immutable snapshot a request uses whole."""

    generation: int
    pm: pluggy.PluginManager
    active: tuple[str, ...]  # host first, then plugins in load order
    host: PluginHost
    entities: dict[str, Any] = field(default_factory=dict)
    permissions: dict[str, Any] = field(default_factory=dict)
    permission_owner: dict[str, str] = field(default_factory=dict)
    menu_items: list[Any] = field(default_factory=list)
    channels: dict[str, Any] = field(default_factory=dict)
    notification_kinds: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)

    def is_active(self, name: str) -> bool:
        return name in self.active

    def collect(self, hook_name: str, **kwargs) -> list:
        return [r for _, r in self.collect_with_owner(hook_name, **kwargs)]

    def collect_with_owner(self, hook_name: str, **kwargs) -> list[tuple[str, Any]]:
        """Call a collecting hook in the documented order, isolating each plugin.

        A plugin whose implementation raises is marked broken (for every process, through
        the database) and simply contributes nothing to this call.
        """
        caller = getattr(self.pm.hook, hook_name, None)
        if caller is None:
            return []
        impls = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
        out: list[tuple[str, Any]] = []
        for name in self.active:
            impl = impls.get(name)
            if impl is None:
                continue
            try:
                args = [kwargs[a] for a in impl.argnames]
            except KeyError as exc:  # the caller's mistake, not the plugin's
                raise TypeError(f"{hook_name}() called without argument {exc}") from None
            try:
                res = impl.function(*args)
            except Exception:
                if name == HOST:
                    raise
                self.host.mark_broken(
                    name, f"hook {hook_name} raised:\n{traceback.format_exc(limit=8)}"
                )
                continue
            if res is None:
                continue
            if isinstance(res, (list, tuple)):
                out.extend((name, r) for r in res)
            else:
                out.append((name, res))
        return out

    def first(self, hook_name: str, **kwargs):
        """The first non-None answer (for hooks meant to have one answer)."""
        for _, r in self.collect_with_owner(hook_name, **kwargs):
            if r is not None:
                return r
        return None


class PluginHost:
    """Owns the installed plugins of one process and the current :class:`Runtime`."""

    def __init__(
        self,
        db,
        *,
        discover_installed=True,
        extra=None,
        poll_seconds=2.0,
        host_hooks: Iterable[ModuleType] = (),
    ):
        self.db = db
        self.poll_seconds = poll_seconds
        self.host_hooks = list(host_hooks)
        self.plugins = discover(discover_installed, extra)
        self.order = resolve(self.plugins)
        # Errors that could not be written to the database (it may be what failed).
        self.runtime_errors: dict[str, str] = {}
        self.app = None
        self._runtime: Runtime | None = None
        self._checked_at = 0.0
        self._lock = threading.RLock()

    # -- states in the database ----------------------------------------------------------

    def sync_installed(self) -> None:
        """Record every installed plugin and its load error (or clear a stale load error).

        A *runtime* error (a hook raised) is left alone: only an administrator re-enabling
        the module clears it, so one process restarting cannot quietly revive a plugin that
        is failing in the others."""
        from .models import HostState, Module

        with self.db.session_scope() as s:
            if s.get(HostState, 1) is None:
                s.add(HostState(id=1, generation=0))
            rows = {m.name: m for m in s.query(Module)}
            changed = False
            for name in self.order:
                lp = self.plugins[name]
                row = rows.get(name)
                kind = "load" if lp.error else None
                if row is None:
                    s.add(
                        Module(
                            name=name,
                            state="available",
                            version=lp.version,
                            error=lp.error,
                            error_kind=kind,
                        )
                    )
                    changed = True
                    continue
                if row.version != lp.version:
                    row.version = lp.version
                if lp.error and row.error != lp.error:
                    row.error, row.error_kind = lp.error, "load"
                    changed = True
                elif not lp.error and row.error and row.error_kind != "runtime":
                    row.error, row.error_kind = None, None
                    changed = True
            if changed:
                bump_generation(s)

    def mark_broken(self, name: str, error: str) -> None:
        """Record a runtime failure in the database, so every process drops the plugin at
        its next poll, and this one at once."""
        log.error("plugin %s marked broken: %s", name, error)
        from .models import Module

        try:
            with self.db.session_scope() as s:
                row = s.get(Module, name)
                if row is not None:
                    row.error, row.error_kind = error, "runtime"
                bump_generation(s)
        except Exception:  # the database may be the thing failing; memory still knows
            log.exception("could not record broken plugin %s", name)
            self.runtime_errors[name] = error
        with self._lock:
            self._checked_at = 0.0  # rebuild at the next chance

    def stored_states(self) -> tuple[int, dict[str, tuple[str, str | None]]]:
        from .models import HostState, Module

        with self.db.Session() as s:
            hs = s.get(HostState, 1)
            gen = hs.generation if hs else 0
            states = {m.name: (m.state, m.error) for m in s.query(Module)}
        return gen, states

    def current_generation(self) -> int:
        from .models import HostState

        with self.db.Session() as s:
            hs = s.get(HostState, 1)
            return hs.generation if hs else 0

    # -- runtime ---------------------------------------------------------------------------

    def current(self, force: bool = False) -> Runtime:
        """The runtime for this moment: rebuilt when the stored generation moved."""
        now = time.monotonic()
        rt = self._runtime
        if rt is not None and not force and now - self._checked_at < self.poll_seconds:
            return rt
        with self._lock:
            rt = self._runtime
            if (
                rt is not None
                and not force
                and time.monotonic() - self._checked_at < self.poll_seconds
            ):
                return rt
            gen = self.current_generation()
            self._checked_at = time.monotonic()
            if rt is None or gen != rt.generation or force:
                self._runtime = self._build(*self.stored_states())
            return self._runtime

    def _new_pm(self) -> pluggy.PluginManager:
        pm = pluggy.PluginManager(PROJECT)
        pm.add_hookspecs(hookspecs)
        for mod in self.host_hooks:
            pm.register(mod, name=HOST if mod is self.host_hooks[0] else f"{HOST}.{mod.__name__}")
        return pm

    def _build(self, generation: int, states: dict[str, tuple[str, str | None]]) -> Runtime:
        wanted = []
        for name in self.order:
            lp = self.plugins[name]
            state, error = states.get(name, ("available", None))
            if lp.error or error or self.runtime_errors.get(name):
                continue
            if state != "enabled":
                continue
            if any(d not in wanted for d in lp.depends):
                continue  # a dependency is off or broken: stay off, data untouched
            wanted.append(name)

        while True:
            pm, refused = self._register(wanted)
            if not refused:
                break
            for name, err in refused.items():
                self.mark_broken(name, err)
            wanted = [
                n
                for n in wanted
                if n not in refused and not any(d in refused for d in self.plugins[n].depends)
            ]

        host_names = [HOST] + [f"{HOST}.{m.__name__}" for m in self.host_hooks[1:]]
        rt = Runtime(generation=generation, pm=pm, active=tuple(host_names + wanted), host=self)
        with self._app_context():
            self._collect_static(rt)
        self._seed(rt)
        return rt

    def _app_context(self):
        """Hooks are promised an application context; give them one when none is active."""
        import contextlib

        from flask import has_app_context

        if self.app is None or has_app_context():
            return contextlib.nullcontext()
        return self.app.app_context()

    def _register(self, names: list[str]):
        """Register ``names`` on a fresh manager; return it and plugins refused (with why)."""
        pm = self._new_pm()
        refused: dict[str, str] = {}
        for name in names:
            lp = self.plugins[name]
            try:
                for spec in lp.manifest.hookspecs:
                    pm.add_hookspecs(spec)
                pm.register(lp.module, name=name)
            except Exception as exc:
                refused[name] = f"registration failed: {exc}"
        # A misspelled hook implementation must fail loudly (pm.check_pending, per plugin).
        for hook_name in dir(pm.hook):
            if hook_name.startswith("_"):
                continue
            caller = getattr(pm.hook, hook_name)
            if caller.spec is not None:
                continue
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    refused.setdefault(
                        impl.plugin_name,
                        f"implements unknown hook '{hook_name}' (misspelled, or published by "
                        "a plugin it does not depend on; mark optional ones "
                        "@hookimpl(optionalhook=True))",
                    )
        # Two plugins declaring one entity, permission, menu id or channel: refuse the later.
        if not refused:
            probe = Runtime(generation=-1, pm=pm, active=tuple([HOST, *names]), host=self)
            seen: dict[tuple[str, str], str] = {}
            for hook, key in (
                ("crm_entities", "name"),
                ("crm_permissions", "name"),
                ("crm_menu_items", "id"),
                ("crm_notification_channels", "name"),
                ("crm_scheduled_jobs", "name"),
                ("crm_notification_kinds", "name"),
                ("crm_cli_commands", "name"),
            ):
                for owner, item in probe.collect_with_owner(hook):
                    ident = (hook, getattr(item, key))
                    if ident in seen and seen[ident] != owner:
                        refused.setdefault(
                            owner,
                            f"{hook}: '{ident[1]}' is already declared by '{seen[ident]}'",
                        )
                    else:
                        seen[ident] = owner
        return pm, refused

    def _collect_static(self, rt: Runtime) -> None:
        for _owner, e in rt.collect_with_owner("crm_entities"):
            rt.entities[e.name] = e
        for owner, p in rt.collect_with_owner("crm_permissions"):
            rt.permissions[p.name] = p
            rt.permission_owner[p.name] = owner
        rt.menu_items = sorted(
            rt.collect("crm_menu_items"), key=lambda m: (m.section, m.order, m.id)
        )
        for c in rt.collect("crm_notification_channels"):
            rt.channels[c.name] = c
        for k in rt.collect("crm_notification_kinds"):
            rt.notification_kinds[k.name] = k
        for j in rt.collect("crm_scheduled_jobs"):
            rt.jobs[j.name] = j

    def _seed(self, rt: Runtime) -> None:
        """Grant permissions seen for the first time to their default roles."""
        from .security import seed_permissions

        try:
            seed_permissions(self.db, rt)
        except Exception:  # a race with another process seeding the same rows is harmless
            log.warning("permission seeding skipped", exc_info=True)

    def start_all(self, app) -> None:
        """Run ``crm_startup(app)`` for every loadable plugin, once, while the app is being
        created (Flask accepts wiring only then). A plugin that raises is refused (broken)."""
        full = self.full_pm()
        caller = full.pm.hook.crm_startup
        impls = {i.plugin_name: i for i in caller.get_hookimpls()}
        for name in full.active:
            impl = impls.get(name)
            if impl is None or name == HOST or name.startswith(HOST + "."):
                continue
            try:
                with app.app_context():
                    impl.function(app=app)
            except Exception:
                self.plugins[name].error = "crm_startup raised:\n" + traceback.format_exc(limit=8)
                log.error("plugin %s failed to start", name, exc_info=True)
        resolve(self.plugins)  # dependents of a plugin that failed to start are refused too

    def collect_at_startup(self, hook_name: str, **kwargs) -> list[tuple[str, Any]]:
        """Call a hook on every loadable plugin while the app is created. A plugin that
        raises gets a load error (broken in ``crm modules list``) instead of a runtime one."""
        full = self.full_pm()
        caller = getattr(full.pm.hook, hook_name)
        impls = {i.plugin_name: i for i in caller.get_hookimpls()}
        out: list[tuple[str, Any]] = []
        for name in full.active:
            impl = impls.get(name)
            if impl is None or name == HOST or name.startswith(HOST + "."):
                continue
            try:
                res = impl.function(**{a: kwargs[a] for a in impl.argnames})
            except Exception:
                self.plugins[name].error = f"{hook_name} raised:\n" + traceback.format_exc(limit=8)
                log.error("plugin %s failed in %s", name, hook_name, exc_info=True)
                continue
            out.extend((name, r) for r in (res or []))
        resolve(self.plugins)
        return out

    def all_loaded(self) -> list[str]:
        """Plugins that imported and resolved, enabled or not (their blueprints are served)."""
        return [n for n in self.order if not self.plugins[n].error]

    def full_pm(self) -> Runtime:
        """A runtime with every loadable plugin, for collecting blueprints and CLI commands
        at start-up. Never used to serve requests."""
        names = self.all_loaded()
        pm, refused = self._register(names)
        for name, err in refused.items():
            self.plugins[name].error = err
        names = [n for n in names if n not in refused]
        if refused:
            pm, _ = self._register(names)
        host_names = [HOST] + [f"{HOST}.{m.__name__}" for m in self.host_hooks[1:]]
        return Runtime(generation=-1, pm=pm, active=tuple(host_names + names), host=self)


def bump_generation(session) -> None:
    from sqlalchemy import update

    from .models import HostState

    res = session.execute(
        update(HostState).where(HostState.id == 1).values(generation=HostState.generation + 1)
    )
    if res.rowcount == 0:
        session.add(HostState(id=1, generation=1))


def current_runtime() -> Runtime:
    """The runtime of the current request (or a fresh look outside requests)."""
    from flask import current_app, g

    rt = g.get("crm_runtime")
    return rt if rt is not None else current_app.extensions["crm"].runtime()


def is_active(name: str) -> bool:
    """Whether the module ``name`` is enabled and healthy right now (for optional
    integrations: "show the knowledge search only when knowledge is on")."""
    return current_runtime().is_active(name)
