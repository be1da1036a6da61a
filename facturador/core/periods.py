"""Billing periods (AAAA-MM): the one pattern and its checks, for models, actions and channels."""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils import timezone

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


def current_period(today: dt.date | None = None) -> str:
    """This month as AAAA-MM (in the active time zone)."""
    return f"{(today or timezone.localdate()):%Y-%m}"


def offered_periods(with_data, *, include_current: bool = True, limit: int = 24) -> list[str]:
    """The periods a month picker offers: those that have data (``with_data``, any iterable of AAAA-MM), plus this
    month; newest first, valid ones only, at most ``limit``."""
    periods = {p for p in with_data if p and PERIOD_RE.match(p)}
    if include_current:
        periods.add(current_period())
    return sorted(periods, reverse=True)[:limit]
