"""The business rules' messages in the reader's language.

``_l("The code %(code)s is taken.", code=code)`` is a lazy string: it is translated when it is
turned into text (``str(exc)``), during a request in the signed-in user's language. Outside a
request (the CLI, the worker, demo data) it reads in English: Flask-Babel's own lazy strings
would ask the host's locale selector there, which needs a request.

``_`` translates at once, the same way. ``N_`` only marks a text for the catalog; whoever
shows it translates it (the channels module does so with the audience's labels).

Placeholders are named (``%(code)s``), never positional, so a translation can move them.
"""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext as _babel_gettext
from flask_babel.speaklater import LazyString


def gettext(string: str, **variables) -> str:
    """``string`` translated into the request's language (English outside a request), its
    ``%(name)s`` placeholders filled from ``variables``."""
    if has_request_context():
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


# --- Messages in the recipient's language ------------------------------------------------

_catalogs: dict = {}


def in_language(locale: str | None, string: str, **variables) -> str:
    """``string`` (marked with ``N_``) in ``locale``, from this module's own catalog: for
    notifications, which are read by someone else than the person whose request wrote them,
    and by the worker outside any request. Thread-safe (no change to Flask-Babel's state)."""
    from pathlib import Path

    from babel.support import NullTranslations, Translations

    if locale not in _catalogs:
        try:
            _catalogs[locale] = Translations.load(
                str(Path(__file__).parent / "translations"), [locale or "en"]
            )
        except Exception:  # an unknown locale: English
            _catalogs[locale] = NullTranslations()
    text = _catalogs[locale].gettext(string)
    return text % variables if variables else text


def user_locale(user) -> str:
    from flask import current_app

    loc = getattr(user, "locale", None)
    if loc in ("en", "zh_Hant", "zh_Hans"):
        return loc
    return current_app.config.get("CRM_DEFAULT_LOCALE", "en")
