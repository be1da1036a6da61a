"""Money and dates on the pages: ``{% load money %}`` then ``{{ amount|money:current_issuer }}`` and
``{{ day|fecha }}``; quantities (minutes, MB...) with ``{{ value|cantidad:current_issuer }}``.

The rule itself is :mod:`facturador.printing.money` (one implementation for pages, PDFs, e-mails and the CLI).
The filter's argument is whatever says the country: an issuer (``current_issuer``, ``batch.issuer``), a country code
("CO", "MX") or a currency code ("COP", "MXN"); without it, Colombia's rule. ``money_plain`` leaves out the symbol
(table columns whose header names the currency).
"""

from django import template
from django.utils import timezone

from facturador.printing.money import format_date, format_money, format_quantity

register = template.Library()


@register.filter
def money(value, country="CO"):
    try:
        return format_money(value, country)
    except ValueError:
        return value


@register.filter
def money_plain(value, country="CO"):
    try:
        return format_money(value, country, symbol=False)
    except ValueError:
        return value


@register.filter
def cantidad(value, country="CO"):
    try:
        return format_quantity(value, country)
    except ValueError:
        return value


@register.filter
def fecha(value):
    """dd/mm/aaaa; an aware datetime is shown in the current time zone first."""
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        value = timezone.localtime(value)
    try:
        return format_date(value)
    except (ValueError, AttributeError):
        return value
