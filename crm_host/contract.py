"""Value types that plugins hand to the host through hooks.

They are plain frozen dataclasses so a plugin can build them without touching Flask and the
host can validate them in one place (:mod:`crm_host.plugins`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

SCOPES = ("own", "own_subordinates", "department", "department_tree", "all")


@dataclass(frozen=True)
class Plugin:
    """The manifest a plugin module exposes as ``plugin = Plugin(...)``.

    The name comes from the entry point, the version from the distribution.
    ``depends`` lists other plugins by name; ``requires_host`` is a PEP 440 specifier
    matched against :data:`crm_host.HOOK_API_VERSION`.
    """

    description: str = ""
    depends: Sequence[str] = ()
    requires_host: str = ">=1.0,<2"
    #: Table-name prefix the plugin owns; defaults to ``<name>_``. Purge drops these tables.
    table_prefix: str | None = None
    #: Extra hookspec module(s) the plugin publishes for other plugins.
    hookspecs: Sequence[Any] = ()


@dataclass(frozen=True)
class Permission:
    """A permission ``<module>.<action>`` and the roles that get it on first sight."""

    name: str
    label: str
    default_roles: Sequence[str] = ()


@dataclass(frozen=True)
class MenuItem:
    """A navigation entry. ``section`` groups items (``main``, ``admin``, ``user``,
    ``header``: an icon in the top bar)."""

    id: str
    label: str
    endpoint: str
    permission: str | None = None
    section: str = "main"
    order: int = 100
    icon: str = "circle"
    #: Optional callable ``(user) -> int | None`` for a badge (e.g. unread count).
    badge: Callable[[Any], int | None] | None = None


@dataclass(frozen=True)
class DashboardWidget:
    """A dashboard card. ``render()`` returns HTML (already escaped / safe)."""

    id: str
    title: str
    render: Callable[[], str]
    permission: str | None = None
    order: int = 100
    width: int = 6  # Bootstrap columns out of 12 on a desktop screen


@dataclass(frozen=True)
class Panel:
    """A panel on a record's detail page (e.g. the customer 360° page)."""

    id: str
    title: str
    render: Callable[[], str]
    order: int = 100
    count: int | None = None


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    kind: str
    subtitle: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class Entity:
    """Describes a model to the generic machinery (audit, search, import/export, scopes).

    ``owner_attr`` / ``department_attr`` name the columns the record-scope helper filters on.
    ``searchable`` lists attribute names that make up the search text.
    """

    name: str  # "<module>.<thing>", e.g. "customers.customer"
    model: Any
    label: str
    label_plural: str = ""
    schema: Any = None
    permission_prefix: str = ""  # defaults to the module name
    owner_attr: str | None = "owner_id"
    department_attr: str | None = None
    searchable: Sequence[str] = ()
    numbering_kind: str | None = None
    default_number_pattern: str | None = None
    detail_endpoint: str | None = None
    import_export: bool = True


@dataclass(frozen=True)
class NotificationKind:
    """A kind of notification users can route to channels (``pipeline.urge``...)."""

    name: str
    label: str
    default_channels: Sequence[str] = ("inbox", "log")


@dataclass
class Message:
    """What a channel's ``send`` receives: one notification for one recipient."""

    id: int
    kind: str
    subject: str
    body: str
    data: dict
    recipient: Any  # crm_host.models.User or None
    address: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class Channel:
    """A delivery channel. ``send(message)`` raises on failure; the bus retries with backoff."""

    name: str
    label: str
    send: Callable[[Message], None]
    #: Max attempts before the message is marked dead.
    max_attempts: int = 6
    #: Whether people may choose it for their own notifications (the preferences page).
    #: False for channels that reach addresses rather than people (fax, webhook, a log).
    personal: bool = True
    #: Whether it is set up right now (an SMTP server configured ...); None: always. People's
    #: notifications skip a channel that is not ready (their other channels still reach them)
    #: instead of queueing messages that can only fail.
    ready: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Job:
    """A scheduled job the worker runs every ``every_seconds``. ``run(session, now)``."""

    name: str
    every_seconds: int
    run: Callable[[Any, Any], Any]
    label: str = ""
    extra: dict = field(default_factory=dict)
