"""The one refusal contract of the platform.

An action (``<app>.actions``) that will not do what it was asked raises a :class:`Refusal`:

    raise Refusal("billing.batch.no_accounts", "No hay cuentas con cargos en los periodos elegidos.",
                  field="periods", details={"periods": ["2026-10"]})

- ``code`` is stable and machine-readable (``<app>.<subject>.<reason>``); clients and tests rely on it.
- ``message`` is Spanish, for people; logs use ``str(refusal)``, which is the code and the message.
- ``field`` names the input that caused it (a form field, an API body key, a CLI option), when there is one.
- ``details`` is JSON-serialisable extra data (row numbers, rule codes, ...).

Subclasses only choose the kind of refusal (``status``), which each channel maps once:
the API (``core.rest.exception_handler``) to the HTTP status, the web UI (``core.forms.add_refusal`` and
``core.middleware.RefusalMiddleware``) to a form error or a message, the CLI (``core.cli.ActionCommand``)
to exit status 2 (JSON on stderr with ``--json``). Domain refusals of an app subclass one of these with the
same signature.

The pure libraries (``dian``, ``cfdi``, ``tabular``, ``printing``, ``payments``, ``taxid``) keep their own
exception types without Django; actions translate them into refusals.
"""

from __future__ import annotations


class Refusal(Exception):
    """The action was refused because of its input or the state of the data (HTTP 400)."""

    status = 400

    def __init__(self, code: str, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}

    def __str__(self):
        return f"{self.code}: {self.message}"

    def as_dict(self) -> dict:
        """The shape every channel shows: the API body, the CLI's ``--json`` output."""
        return {"code": self.code, "detail": self.message, "field": self.field, "details": self.details}


class Invalid(Refusal):
    """Bad input (HTTP 400)."""


class Forbidden(Refusal):
    """The actor may not do this (HTTP 403)."""

    status = 403


class NotFound(Refusal):
    """The object does not exist for this issuer (HTTP 404)."""

    status = 404


class Conflict(Refusal):
    """The object's state does not allow it now (HTTP 409): already done, running, in use..."""

    status = 409


class Throttled(Refusal):
    """Too many attempts for now (HTTP 429): the client must wait (`details["retry_after"]`, seconds, when known)."""

    status = 429
