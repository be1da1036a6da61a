"""Helpers shared by the billing CLI commands."""


from django.core.management.base import CommandError

from facturador.core.models import Issuer


def issuer_from(value: str) -> Issuer:
    raw = (value or "").strip().replace(".", "")
    nit = raw.split("-")[0]
    qs = Issuer.objects.filter(tax_id__in={raw, nit})
    if raw.isdigit() and len(raw) < 9:
        qs = qs | Issuer.objects.filter(pk=int(raw))
    issuers = list(qs.distinct())
    if len(issuers) != 1:
        raise CommandError(f"No se encontró el emisor «{value}» (use el NIT sin dígito de verificación).")
    return issuers[0]


