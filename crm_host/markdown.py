"""Markdown to safe HTML, for every module that lets people write (forum posts, knowledge
articles, ticket replies): markdown-it-py renders with raw HTML off, then nh3 keeps only an
allow-list of tags and attributes (no ``<script>``, no ``on*=``, no ``javascript:`` links),
whatever the renderer lets through.

Single newlines become ``<br>`` (``breaks``): people type into a text box, not a file.
"""

from __future__ import annotations

import html as _html

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)

TAGS = frozenset(
    {
        "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip


def render(text: str | None, *, images: bool = True, alignment: bool = True) -> str:
    """Sanitised HTML. ``images=False`` drops pictures (replies mailed to customers);
    ``alignment=False`` drops the table cells' ``text-align``."""
    tags = set(TAGS) | ({"img"} if images else set())
    attributes = {"a": {"href", "title"}, "ol": {"start"}}
    if images:
        attributes["img"] = {"src", "alt", "title"}
    if alignment:
        attributes["th"] = attributes["td"] = {"style"}
    return nh3.clean(
        _md.render(text or ""),
        tags=tags,
        attributes=attributes,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"} if alignment else None,
    )


def plain(text: str | None) -> str:
    """The text without markup, whitespace collapsed (search tokens, snippets)."""
    return " ".join(_html.unescape(nh3.clean(_md.render(text or ""), tags=set())).split())


def excerpt(text: str | None, length: int = 160) -> str:
    """Plain text cut to ``length`` characters (lists, notifications)."""
    out = plain(text)
    return out if len(out) <= length else out[: length - 1] + "…"
