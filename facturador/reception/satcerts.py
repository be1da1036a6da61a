"""SAT's stamping certificates at run time, to verify the TimbreFiscalDigital (SelloSAT) of received CFDI.

The TFD names its certificate (``NoCertificadoSAT``). `lookup` finds it, in order:

1. this process's memory (certificates found, and for a few minutes numbers not found);
2. ``settings.FACTURADOR_SAT_CERTIFICATES_DIR`` — a folder of ``<number>.cer`` files (DER or PEM) that the
   deployment keeps (an installation without Internet access);
3. the cache in the data directory (``DATA_DIR/sat-certificates/<number>.cer``), filled by step 4;
4. SAT's public certificate repository, ``settings.FACTURADOR_SAT_CERTIFICATES_URL`` (default
   ``https://rdc.sat.gob.mx/rccf/``; the demo points it at the local PAC, which publishes its stamping
   certificate the same way; empty: never downloaded), through the outbound guard (`core.outbound`: https to
   SAT's host, or an address the deployment allows), without redirects, size-capped.

A certificate is used only when its own serial number is the number asked for (`cfdi.satcerts.load_certificate`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from facturador.cfdi import satcerts
from facturador.core import outbound
from facturador.core.errors import Refusal

logger = logging.getLogger(__name__)

TIMEOUT = 10.0
#: seconds a number that could not be found is not asked for again by this process
MISS_SECONDS = 300.0

_lock = threading.Lock()
_found: dict[str, x509.Certificate] = {}
_missed: dict[str, float] = {}


def cache_dir() -> Path:
    return Path(settings.DATA_DIR) / "sat-certificates"


def clear_memory() -> None:
    """Forget what this process found or missed (tests; a changed configuration)."""
    with _lock:
        _found.clear()
        _missed.clear()


def _from_file(path: Path, number: str) -> x509.Certificate | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return satcerts.load_certificate(data, number)


def _download(number: str) -> x509.Certificate | None:
    base = settings.FACTURADOR_SAT_CERTIFICATES_URL
    if not base:
        return None
    try:
        url = outbound.check_endpoint(satcerts.rccf_url(base, number), service="sat_certificates",
                                      field="FACTURADOR_SAT_CERTIFICATES_URL")
    except Refusal as exc:
        logger.warning("SAT certificate %s: repository address refused: %s", number, exc.message)
        return None
    try:
        with requests.get(url, timeout=TIMEOUT, allow_redirects=False, stream=True) as resp:
            if resp.status_code != 200:
                logger.warning("SAT certificate %s: the repository answered HTTP %s", number, resp.status_code)
                return None
            data = resp.raw.read(satcerts.MAX_CERTIFICATE_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        logger.warning("SAT certificate %s: repository not reachable: %s", number, exc)
        return None
    cert = satcerts.load_certificate(data, number)
    if cert is None:
        logger.warning("SAT certificate %s: the repository's answer is not that certificate", number)
        return None
    _store(number, cert)
    return cert


def _store(number: str, cert: x509.Certificate) -> None:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(cert.public_bytes(serialization.Encoding.DER))
        os.replace(tmp, folder / f"{number}.cer")
    except OSError as exc:  # the certificate is still used; only the cache is missing
        logger.warning("SAT certificate %s: could not be cached in %s: %s", number, folder, exc)


def remember(cert: x509.Certificate) -> None:
    """Keep a certificate known by other means (e.g. the demo's local PAC) in the data directory's cache."""
    from facturador.cfdi.csd import certificate_number

    _store(certificate_number(cert), cert)


def forget_miss(number: str) -> None:
    """Look for `number` again at the next lookup (a person asked to check again)."""
    with _lock:
        _missed.pop(number, None)


def recheck_stamp(document) -> None:
    """Verify a received CFDI again now that SAT's certificate may be available (the repository was unreachable,
    or the deployment added the certificate to its folder): its findings, verification and report are replaced."""
    from facturador.reception import intake as reader

    with document.xml.open("rb") as fh:
        xml = fh.read()
    root = reader.parse(xml)
    tfd = root.find(f".//{{{reader.TFD_NS}}}TimbreFiscalDigital")
    if tfd is not None:
        forget_miss(tfd.get("NoCertificadoSAT") or "")
    cand = reader.read_mexican("", xml, root, pac_certificates=lookup)
    document.findings, document.report = cand.findings, cand.report
    document.verification = reader.verdict(cand.findings)
    document.save(update_fields=["findings", "report", "verification"])


def lookup(number: str) -> x509.Certificate | None:
    """SAT's certificate `number`, or None when it is not available (logged in English)."""
    if not satcerts.is_certificate_number(number):
        return None
    with _lock:
        if number in _found:
            return _found[number]
        if _missed.get(number, 0) > time.monotonic():
            return None
    cert = None
    if settings.FACTURADOR_SAT_CERTIFICATES_DIR:
        cert = _from_file(Path(settings.FACTURADOR_SAT_CERTIFICATES_DIR) / f"{number}.cer", number)
    if cert is None:
        cert = _from_file(cache_dir() / f"{number}.cer", number)
    if cert is None:
        cert = _download(number)
    with _lock:
        if cert is None:
            _missed[number] = time.monotonic() + MISS_SECONDS
        else:
            _found[number] = cert
    return cert
