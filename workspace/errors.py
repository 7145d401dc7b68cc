"""A small exception hierarchy, mapped to status codes in one handler (workspace/web.py)."""

from __future__ import annotations

from workspace.i18n import N_, template_gettext


class KringError(Exception):
    status_code = 400
    #: Dutch message key shown to the user; the English exception text is for logs only.
    user_message = N_("Er ging iets mis met je verzoek.")
    #: Values for ``%(name)s`` in ``user_message``.
    user_params: dict[str, str] = {}  # noqa: RUF012 - read only; instances set their own

    def message(self) -> str:
        """The user's message in their language, with its values filled in."""
        return template_gettext(self.user_message, **self.user_params)


class NotFound(KringError):
    """Missing, or not yours to see: the two must look the same (don't reveal that it exists)."""

    status_code = 404
    user_message = N_("Deze pagina bestaat niet, of je hebt er geen toegang toe.")


class Forbidden(NotFound):
    """Denied by access rules. Deliberately a NotFound, so the answer is the same 404."""


class CsrfError(KringError):
    status_code = 403
    user_message = N_("Dit formulier is verlopen. Laad de pagina opnieuw en probeer het nog eens.")


class NotSignedIn(KringError):
    status_code = 401
    user_message = N_("Log eerst in.")


class Conflict(KringError):
    status_code = 409
    user_message = N_("Iemand anders heeft dit intussen veranderd. Bekijk de nieuwe versie.")


class ValidationError(KringError):
    """Bad form input: one Dutch message per field; the form comes back with what was typed."""

    status_code = 422
    user_message = N_("Niet alles is goed ingevuld. Kijk bij de velden met een melding.")

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid input in fields: " + ", ".join(sorted(errors)))
        self.errors = errors


class Throttled(KringError):
    status_code = 429

    def __init__(self, seconds: int) -> None:
        super().__init__(f"too many failed attempts; retry in {seconds} s")
        self.seconds = seconds
        minutes = -(-seconds // 60)
        if seconds < 60:
            self.user_message = N_(
                "Te veel mislukte pogingen. Wacht %(n)s seconden en probeer het dan opnieuw."
            )
            self.user_params = {"n": str(seconds)}
        elif minutes == 1:
            self.user_message = N_(
                "Te veel mislukte pogingen. Wacht een minuut en probeer het dan opnieuw."
            )
        else:
            self.user_message = N_(
                "Te veel mislukte pogingen. Wacht %(n)s minuten en probeer het dan opnieuw."
            )
            self.user_params = {"n": str(minutes)}
