"""Dutch first, English second. Source strings are the Dutch text; `en` translates them.

The catalogue is read from the .po files at start-up (no compiled .mo to keep in step). A
locale's catalogue may be split over several files in its LC_MESSAGES folder (one per area,
e.g. ``messages.po`` and ``meetings.po``), so areas built side by side don't edit one file."""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from workspace.config import PACKAGE

LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
LOCALE_DIR = PACKAGE / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    if locale == DEFAULT_LOCALE or locale not in LOCALES:
        return gettext.NullTranslations()
    catalog = load_catalog(locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def catalog_files(locale: str) -> list[Path]:
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


def load_catalog(locale: str) -> Catalog:
    """Every .po file of ``locale`` merged into one catalogue (later files don't override)."""
    merged = Catalog(locale=locale)
    for path in catalog_files(locale):
        with path.open("rb") as fh:
            part = read_po(fh, locale=locale)
        for message in part:
            if message.id and message.id not in merged:
                merged[message.id] = message
    return merged


def gettext_(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


_ = gettext_


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet: the template translates it
    when it is shown, in the reader's language."""
    return message


def template_gettext(message: str, /, **variables: Any) -> str:
    """``_()`` in templates: translated, with ``%(name)s`` filled in, as plain text.

    Never Markup: Jinja's own (newstyle) gettext marks its result safe, so a message that is
    really a person's words - a section title, a question, an agenda point - would reach the
    page as HTML. Plain text is escaped when it is printed, like any other value."""
    text = gettext_(message)
    return text % variables if variables else text


def template_ngettext(singular: str, plural: str, n: int, /, **variables: Any) -> str:
    text = ngettext_(singular, plural, n)
    return text % {"num": n, **variables}


@dataclass(frozen=True)
class Label:
    """A thing's name as shown: either a catalogue message, translated in the reader's language
    when shown and with ``params`` filled in, or words a person wrote (``message=False``),
    shown exactly as typed and never looked up in the catalogue. ``str()`` gives plain text
    (templates escape it), so user text can never become markup."""

    text: str
    params: Mapping[str, str] = field(default_factory=dict)
    message: bool = True

    @classmethod
    def user(cls, text: str) -> Label:
        return cls(text, {}, message=False)

    def __str__(self) -> str:
        if not self.message:
            return self.text
        return template_gettext(self.text, **self.params)

    def stored(self) -> dict[str, Any]:
        """For frozen JSON (minutes): enough to show it again in any reader's language."""
        return {"title": self.text, "params": dict(self.params), "message": self.message}

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], known: frozenset[str]) -> Label:
        """Read back what ``stored()`` wrote. Rows written before ``message`` existed count as
        a catalogue message only when their text is one of ``known`` (the catalogue's own)."""
        text = str(data.get("title", ""))
        params = {str(k): str(v) for k, v in (data.get("params") or {}).items()}
        message = data.get("message")
        if message is None:
            message = text in known
        return cls(text, params, bool(message))
