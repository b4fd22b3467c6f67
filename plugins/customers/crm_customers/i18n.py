"""The business rules' messages in the reader's language.

``_l("The code %(code)s is taken.", code=code)`` is a lazy string: it is translated when it is
turned into text (``str(exc)``), during a request in the signed-in user's language. Outside a
request it reads in the organisation's default language (English unless
CRM_DEFAULT_LOCALE says otherwise), or in the recipient's under ``force_locale``.

``_`` translates at once, the same way. ``N_`` only marks a text for the catalog; whoever
shows it translates it (the channels module does so with the audience's labels).

Placeholders are named (``%(code)s``), never positional, so a translation can move them.
"""

from __future__ import annotations

from flask import has_app_context
from flask_babel import gettext as _babel_gettext
from flask_babel.speaklater import LazyString


def gettext(string: str, **variables) -> str:
    """``string`` translated into the reader's language (the request's; the recipient's
    under ``flask_babel.force_locale``, as the notification bus does; the default one in the
    CLI), its ``%(name)s`` placeholders filled from ``variables``."""
    if has_app_context():
        return _babel_gettext(string, **variables)
    return string % variables if variables else string


def lazy_gettext(string: str, **variables) -> LazyString:
    """Like :func:`gettext`, but translated only when turned into text."""
    return LazyString(gettext, string, **variables)


def N_(string: str) -> str:  # noqa: N802 - the marker pybabel looks for
    return string


_ = gettext
_l = lazy_gettext

__all__ = ["N_", "_", "_l", "gettext", "lazy_gettext"]
