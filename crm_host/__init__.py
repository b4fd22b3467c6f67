"""crm_host: the small Flask host every CRM module plugs into.

Plugin authors import from here: the ``hookimpl`` marker, the ``Plugin`` manifest and the
small value types hooks return. Everything else lives in the submodules named for what they
hold (``db``, ``security``, ``notify``, ``numbering``, ``audit``, ``api``).
"""

import pluggy

__version__ = "0.1.0"

#: Version of the hook contract in :mod:`crm_host.hookspecs`. A plugin states the range it
#: supports in ``Plugin(requires_host=...)``; the minor number grows when hooks are added,
#: the major number when a hook is removed or changes its signature (after a release of
#: deprecation).
HOOK_API_VERSION = "1.0"

PROJECT = "crm"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

from .validation_i18n import install as _install_validation_messages  # noqa: E402

# marshmallow's messages in the user's language; before any schema (host or plugin) exists.
_install_validation_messages()

from .contract import (  # noqa: E402  (the markers above must exist first)
    Channel,
    DashboardWidget,
    Entity,
    Job,
    MenuItem,
    NotificationKind,
    Panel,
    Permission,
    Plugin,
    SearchResult,
)

__all__ = [
    "HOOK_API_VERSION",
    "Channel",
    "DashboardWidget",
    "Entity",
    "Job",
    "MenuItem",
    "NotificationKind",
    "Panel",
    "Permission",
    "Plugin",
    "SearchResult",
    "hookimpl",
    "hookspec",
]
