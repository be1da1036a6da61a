"""Error classes of the CFDI library (stable ``code``, ``field``, Spanish ``message``)."""

from __future__ import annotations


class CfdiError(Exception):
    """Base error. ``message`` is Spanish (for people); ``str()`` is English (for logs)."""

    def __init__(self, code: str, message: str, *, field: str | None = None, english: str | None = None):
        super().__init__(english or message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def message_es(self) -> str:
        return self.message


class CsdError(CfdiError):
    """The CSD (.cer/.key/password) cannot be used to seal."""


class CfdiValidationError(CfdiError):
    """The document data breaks a CFDI 4.0 rule (checked before sealing)."""


class SchemaError(CfdiError):
    """The XML does not validate against SAT's XSD. ``errors`` lists lxml's messages."""

    def __init__(self, errors: list[str], *, code: str = "xsd"):
        self.errors = list(errors)
        first = self.errors[0] if self.errors else "?"
        super().__init__(code, f"El XML no cumple el esquema XSD del SAT: {first}",
                         english=f"XSD validation failed: {'; '.join(self.errors[:5])}")
