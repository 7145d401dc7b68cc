"""Dutch first, English second. Source strings are the Dutch text; `en` translates them.

The catalogue is read from the .po files at start-up (no compiled .mo to keep in step). A
locale's catalogue may be split over several files in its LC_MESSAGES folder (one per area,
e.g. ``messages.po`` and ``meetings.po``), so areas built side by side don't edit one file."""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from workspace.config import ROOT

LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
LOCALE_DIR = ROOT / "workspace" / "locale"

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
