"""Markdown, the one way: screens, exports and PDFs render people's text through here.

CommonMark with tables, raw HTML off (a family member's ``<b>`` stays text), links only to
the web, mail and phone (or this site), and **no images**: an image is shown as its
description. Nothing anyone writes makes a page or an export fetch anything - not a tracking
pixel on a screen, not a server-local file in a PDF (fpdf2 loads what an ``<img>`` names)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

#: Schemes a link may have; a link without a scheme stays on this site.
_SAFE_LINK = re.compile(r"^(?:https?:|mailto:|tel:|(?![a-z][a-z0-9+.-]*:))", re.IGNORECASE)


def _validate_link(url: str) -> bool:
    return bool(_SAFE_LINK.match(url.strip()))


def _image_as_text(
    self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    return str(escape(f"[{alt}]" if alt else "[]"))


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    # Someone's link: never with our Referer (it may carry an invitation), never trusted.
    tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
    return str(self.renderToken(tokens, idx, options, env))


def _make() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.add_render_rule("image", _image_as_text)
    md.add_render_rule("link_open", _link_open)
    return md


_markdown = _make()


def to_html(text: str) -> str:
    """The HTML of ``text``: everything in it escaped or built by the renderer."""
    return str(_markdown.render(text))


def render(text: str) -> Markup:
    """For templates."""
    return Markup(to_html(text))  # noqa: S704 - built by markdown-it with raw HTML off
