"""Exception carrying a stable code, the offending field and a Spanish message."""

from __future__ import annotations


class DianError(ValueError):
    """Base error. ``code`` is a stable identifier (often a DIAN rule code), ``field`` the path of the
    offending field, ``message`` a Spanish sentence for people; ``str()`` is English for logs."""

    def __init__(self, code: str, field: str, message: str, english: str | None = None):
        super().__init__(english or f"{code} {field}: {message}")
        self.code = code
        self.field = field
        self.message = message
        self.message_es = message


class DianInputError(DianError):
    """Malformed or inconsistent input data (JSON or model)."""


class SigningError(DianError):
    """Certificate or signing problem (wrong password, expired certificate, ...)."""
