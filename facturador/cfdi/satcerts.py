"""SAT's public certificate repository (RCCF): where the certificate named by a ``NoCertificado`` or a TFD's
``NoCertificadoSAT`` is published, and reading what comes back.

SAT publishes every CSD and its own stamping certificates under ``https://rdc.sat.gob.mx/rccf/``, in folders
cut from the 20-digit number (6 / 6 / 2 / 2 / 2 digits) and the file ``<number>.cer`` (DER):

>>> rccf_path("00001000000208380591")
'000010/000002/08/38/05/00001000000208380591.cer'
>>> rccf_url("https://rdc.sat.gob.mx/rccf", "00001000000208380591")
'https://rdc.sat.gob.mx/rccf/000010/000002/08/38/05/00001000000208380591.cer'
>>> rccf_path("123")
Traceback (most recent call last):
...
ValueError: not a 20-digit SAT certificate number: '123'

:func:`load_certificate` reads DER or PEM and returns the certificate only when its own number is the one asked
for (a repository or a folder answering another certificate is not trusted for this number). No Django here.
"""

from __future__ import annotations

import re

from cryptography import x509

from .csd import certificate_number

__all__ = ["OFFICIAL_URL", "rccf_path", "rccf_url", "load_certificate", "is_certificate_number"]

#: SAT's public certificate repository
OFFICIAL_URL = "https://rdc.sat.gob.mx/rccf/"
#: a .cer is about 1.5 KB; anything much larger is not a certificate
MAX_CERTIFICATE_BYTES = 64 * 1024
_NUMBER = re.compile(r"\d{20}")


def is_certificate_number(number: str) -> bool:
    """Twenty digits, nothing else (the number also becomes a path).

    >>> is_certificate_number("30001000000500003416"), is_certificate_number("../etc/passwd")
    (True, False)
    """
    return bool(_NUMBER.fullmatch(number or ""))


def rccf_path(number: str) -> str:
    """The certificate's path inside the repository."""
    if not is_certificate_number(number):
        raise ValueError(f"not a 20-digit SAT certificate number: {number!r}")
    n = number
    return f"{n[0:6]}/{n[6:12]}/{n[12:14]}/{n[14:16]}/{n[16:18]}/{n}.cer"


def rccf_url(base_url: str, number: str) -> str:
    return base_url.rstrip("/") + "/" + rccf_path(number)


def load_certificate(data: bytes, number: str) -> x509.Certificate | None:
    """The certificate in ``data`` (DER or PEM) if it is certificate ``number``; else None.

    >>> load_certificate(b"not a certificate", "30001000000500003416") is None
    True
    """
    if not data or len(data) > MAX_CERTIFICATE_BYTES:
        return None
    try:
        cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----BEGIN")
                else x509.load_der_x509_certificate(data))
    except ValueError:
        return None
    return cert if certificate_number(cert) == number else None
