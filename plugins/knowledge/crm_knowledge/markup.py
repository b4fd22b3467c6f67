"""Markdown to safe HTML: markdown-it-py renders (raw HTML off), nh3 sanitises.

Raw HTML in a post is shown as text by the renderer already; nh3 is the second wall that
keeps only an allow-list of tags and attributes (no ``<script>``, no ``on*=``, no
``javascript:`` links), whatever the renderer lets through.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)

TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}


def render(text: str) -> str:
    html = _md.render(text or "")
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


def excerpt(text: str, length: int = 160) -> str:
    """Plain text for lists and notifications (markup stripped)."""
    plain = nh3.clean(_md.render(text or ""), tags=set())
    import html as _html

    plain = " ".join(_html.unescape(plain).split())
    return plain if len(plain) <= length else plain[: length - 1] + "…"
