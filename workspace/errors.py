"""A small exception hierarchy, mapped to status codes in one handler (workspace/web.py)."""

from __future__ import annotations

from workspace.i18n import N_


class KringError(Exception):
    status_code = 400
    #: Dutch message key shown to the user; the English exception text is for logs only.
    user_message = N_("Er ging iets mis met je verzoek.")


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

    def __init__(self, minutes: int) -> None:
        super().__init__(f"too many attempts; retry in {minutes} min")
        self.minutes = minutes
        self.user_message = (
            f"Te veel mislukte pogingen. Probeer het over {minutes} minuten opnieuw."
        )
