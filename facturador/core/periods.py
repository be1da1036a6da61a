"""Billing periods (AAAA-MM): the one pattern and its checks, for models, actions and channels."""

import re

from django.core.exceptions import ValidationError

from facturador.core.errors import Invalid

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _message(value) -> str:
    return f"El periodo «{value}» no es válido: use AAAA-MM (por ejemplo 2026-09)."


def clean_period(value, *, field: str = "period") -> str:
    """The period, stripped, or a refusal `core.period.invalid` naming `field`."""
    period = (value or "").strip()
    if not PERIOD_RE.match(period):
        raise Invalid("core.period.invalid", _message(period), field=field, details={"value": period})
    return period


def validate_period(value: str):
    """Model field validator."""
    if not PERIOD_RE.match(value or ""):
        raise ValidationError(_message(value), code="period_format")
