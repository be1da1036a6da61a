"""CUFE / CUDE / SoftwareSecurityCode (Anexo Técnico 1.9 §11).

Callers pass the very strings written into the XML; amounts are formatted the way DIAN's validator does
(``TruncateDecimal(x, 2).ToString("F2")``), which is the identity for values already written with 2 decimals.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_DOWN, Decimal, InvalidOperation

TAX_CODES = ("01", "04", "03")  # IVA, INC, ICA - fixed order in the CUFE string


def dian_amount(value) -> str:
    """Format an amount as DIAN's validator does: 2 decimals, truncated, dot separator, '0.00' if empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "0.00"
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    return str(d.quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def cufe_string(number: str, issue_date: str, issue_time: str, line_extension, iva, inc, ica, payable,
                supplier_nit: str, customer_id: str, key: str, environment: str) -> str:
    """The concatenated string hashed by CUFE/CUDE (``key`` = technical key or software PIN)."""
    return (f"{number}{issue_date}{issue_time}{dian_amount(line_extension)}"
            f"01{dian_amount(iva)}04{dian_amount(inc)}03{dian_amount(ica)}"
            f"{dian_amount(payable)}{supplier_nit}{customer_id}{key}{environment}")


def cufe(number: str, issue_date: str, issue_time: str, line_extension, iva, inc, ica, payable,
         supplier_nit: str, customer_id: str, technical_key: str, environment: str) -> str:
    """CUFE of an invoice (types 01, 02, 04): SHA-384 hex of the CUFE string with the range's technical key."""
    s = cufe_string(number, issue_date, issue_time, line_extension, iva, inc, ica, payable,
                    supplier_nit, customer_id, technical_key, environment)
    return hashlib.sha384(s.encode("utf-8")).hexdigest()


def cude(number: str, issue_date: str, issue_time: str, line_extension, iva, inc, ica, payable,
         supplier_nit: str, customer_id: str, software_pin: str, environment: str) -> str:
    """CUDE of a credit note (91), debit note (92) or contingency invoice (03): the software PIN replaces the key."""
    s = cufe_string(number, issue_date, issue_time, line_extension, iva, inc, ica, payable,
                    supplier_nit, customer_id, software_pin, environment)
    return hashlib.sha384(s.encode("utf-8")).hexdigest()


def software_security_code(software_id: str, pin: str, number: str) -> str:
    """SHA-384 hex of SoftwareID + PIN + full document number (cbc:ID)."""
    return hashlib.sha384(f"{software_id}{pin}{number}".encode("utf-8")).hexdigest()
