"""Tax identifiers: Colombian NIT (with DIAN check digit) and Mexican RFC.

Pure Python (no Django), built on python-stdnum.

>>> nit_check_digit("800197268")
'4'
>>> validate_nit("800.197.268-4")
('800197268', '4')
>>> validate_rfc("eku9003173c9")
'EKU9003173C9'
>>> validate_rfc("XAXX010101000")
'XAXX010101000'
"""

from __future__ import annotations

from stdnum import exceptions as stdnum_exceptions
from stdnum.co import nit as co_nit
from stdnum.mx import rfc as mx_rfc

GENERIC_RFCS = {"XAXX010101000": "público en general", "XEXX010101000": "residente en el extranjero"}
CONSUMIDOR_FINAL_NIT = "222222222222"


class TaxIdError(ValueError):
    """Invalid tax id. `message` is Spanish, for people; str() is English, for logs."""

    def __init__(self, code: str, message: str, english: str):
        super().__init__(english)
        self.code = code
        self.message = message


def _digits(value: str) -> str:
    return "".join(ch for ch in str(value) if not ch.isspace() and ch not in ".,")


def nit_check_digit(nit: str) -> str:
    """Return DIAN's check digit (DV) for a NIT given without it."""
    nit = _digits(nit)
    if not nit.isdigit() or not 1 <= len(nit) <= 15:
        raise TaxIdError("nit_format", "El NIT debe tener solo dígitos (sin el dígito de verificación).",
                         f"NIT must be 1-15 digits, got {nit!r}")
    return co_nit.calc_check_digit(nit)


def validate_nit(value: str, dv: str | None = None) -> tuple[str, str]:
    """Validate a NIT written as 'NNNNNNNNN-D' (or NIT plus a separate `dv`); return (nit, dv)."""
    raw = _digits(value)
    if dv is None:
        if "-" not in raw:
            raise TaxIdError("nit_dv_missing",
                             "Escriba el NIT con su dígito de verificación, por ejemplo 800197268-4.",
                             f"NIT {value!r} has no check digit")
        raw, dv = raw.rsplit("-", 1)
    dv = str(dv).strip()
    expected = nit_check_digit(raw)
    if dv != expected:
        raise TaxIdError("nit_dv", f"El dígito de verificación del NIT {raw} es {expected}, no {dv or '(vacío)'}.",
                         f"NIT {raw}: check digit is {expected}, got {dv!r}")
    try:
        co_nit.validate(raw + dv)
    except stdnum_exceptions.ValidationError as exc:  # length limits
        raise TaxIdError("nit_format", "El NIT no tiene una longitud válida.", f"NIT {raw}: {exc}") from exc
    return raw, dv


def validate_rfc(value: str) -> str:
    """Validate an RFC (persona física 13, moral 12 characters) with its check digit."""
    rfc = str(value).strip().upper().replace(" ", "").replace("-", "")
    if rfc in GENERIC_RFCS:
        return rfc
    if len(rfc) not in (12, 13):
        raise TaxIdError("rfc_length", "El RFC debe tener 12 caracteres (persona moral) o 13 (persona física).",
                         f"RFC {rfc!r} has {len(rfc)} characters")
    try:
        return mx_rfc.validate(rfc, validate_check_digits=True)
    except stdnum_exceptions.InvalidChecksum as exc:
        raise TaxIdError("rfc_check_digit", f"El dígito verificador del RFC {rfc} no es correcto.",
                         f"RFC {rfc}: invalid check digit") from exc
    except stdnum_exceptions.ValidationError as exc:
        raise TaxIdError("rfc_format", f"El RFC {rfc} no tiene el formato válido (letras, fecha AAMMDD y homoclave).",
                         f"RFC {rfc}: {exc}") from exc


def is_generic_rfc(rfc: str) -> bool:
    return rfc.strip().upper() in GENERIC_RFCS


def validate(country: str, tax_id: str, check_digit: str = "") -> tuple[str, str]:
    """Validate an issuer's tax id by country; return (tax_id, check_digit) — the latter empty for an RFC.

    >>> validate("CO", "800197268", "4")
    ('800197268', '4')
    >>> validate("CO", "800197268-4")
    ('800197268', '4')
    >>> validate("MX", "EKU9003173C9")
    ('EKU9003173C9', '')
    """
    if country == "CO":
        return validate_nit(tax_id, check_digit or None)
    return validate_rfc(tax_id), ""
