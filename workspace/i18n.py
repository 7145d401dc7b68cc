"""Dutch first, English second. Source strings are the Dutch text; `en` translates them.

The catalogue is read from its .po file at start-up (no compiled .mo to keep in step)."""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from functools import cache

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
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext_(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


_ = gettext_


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet: the template translates it
    when it is shown, in the reader's language."""
    return message
