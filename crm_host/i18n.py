"""Languages: English, Traditional Chinese and Simplified Chinese."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user

LANGUAGES = {
    "en": "English",
    "zh_Hant": "繁體中文",
    "zh_Hans": "简体中文",
}

# Browser language tags → our locales (zh-TW / zh-HK write Traditional, zh-CN / zh-SG Simplified)
_BROWSER = {
    "en": "en",
    "zh-tw": "zh_Hant",
    "zh-hk": "zh_Hant",
    "zh-mo": "zh_Hant",
    "zh-hant": "zh_Hant",
    "zh-cn": "zh_Hans",
    "zh-sg": "zh_Hans",
    "zh-hans": "zh_Hans",
    "zh": "zh_Hans",
}


def select_locale() -> str:
    if not has_request_context():
        # The CLI, the worker, start-up: no reader to ask; lazy strings read in the default.
        return current_app.config.get("CRM_DEFAULT_LOCALE", "en")
    if getattr(current_user, "is_authenticated", False) and current_user.locale in LANGUAGES:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in LANGUAGES:
        return chosen
    if request:
        best = request.accept_languages.best_match(list(_BROWSER))
        if best:
            return _BROWSER[best.lower()]
    return current_app.config.get("CRM_DEFAULT_LOCALE", "en")


def gettext(text: str, **variables) -> str:
    """``text`` in the reader's language during a request, else English, with its named
    ``%(x)s`` placeholders filled: for messages of code that also runs in the CLI/worker."""
    if has_request_context():
        from flask_babel import gettext as babel_gettext

        return babel_gettext(text, **variables)
    return text % variables if variables else text


def html_lang(locale: str) -> str:
    return {"zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans"}.get(locale, "en")


__all__ = ["LANGUAGES", "select_locale", "html_lang", "gettext", "_l"]
