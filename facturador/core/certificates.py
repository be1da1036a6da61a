"""Certificate vault: validate an uploaded PKCS#12 (DIAN) or CSD (SAT) and store it encrypted.

Validation before anything is stored: the password opens the key, the key matches the
certificate, the certificate is valid today, and the NIT/RFC in the certificate is the issuer's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.db import transaction
from django.utils import timezone

from facturador.core.errors import Invalid
from facturador.core.models import Certificate

OID_X500_UNIQUE_IDENTIFIER = x509.ObjectIdentifier("2.5.4.45")


class CertificateError(Invalid):
    """The certificate (or its password) cannot be used (codes `core.certificate.<reason>`)."""


@dataclass
class CertInfo:
    subject: str
    serial_number: str
    certificate_number: str
    not_before: dt.datetime
    not_after: dt.datetime
    certificate_pem: str
    identifiers: list[str]


def _subject_values(cert: x509.Certificate) -> list[str]:
    return [str(attr.value) for attr in cert.subject]


def _info(cert: x509.Certificate) -> CertInfo:
    serial_hex = format(cert.serial_number, "x")
    # SAT's certificate number is the ASCII text hidden in the serial number's hex digits.
    try:
        as_text = bytes.fromhex(serial_hex if len(serial_hex) % 2 == 0 else "0" + serial_hex).decode("ascii")
        certificate_number = as_text if as_text.isdigit() else ""
    except (ValueError, UnicodeDecodeError):
        certificate_number = ""
    return CertInfo(
        subject=cert.subject.rfc4514_string()[:500],
        serial_number=serial_hex,
        certificate_number=certificate_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        identifiers=_subject_values(cert),
    )


def _check_dates(info: CertInfo, now=None):
    now = now or timezone.now()
    if info.not_after <= now:
        raise CertificateError("core.certificate.expired", f"El certificado venció el {info.not_after:%d/%m/%Y}.")
    if info.not_before > now:
        raise CertificateError("core.certificate.not_yet_valid", f"El certificado solo es válido desde el {info.not_before:%d/%m/%Y}.")


def _same_key(private_key, cert) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return private_key.public_key().public_bytes(enc, fmt) == cert.public_key().public_bytes(enc, fmt)


def inspect_pkcs12(data: bytes, password: str, nit: str) -> CertInfo:
    try:
        key, cert, _chain = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError as exc:
        text = str(exc).lower()
        if "password" in text or "mac" in text or "decrypt" in text:
            raise CertificateError("core.certificate.password", "La contraseña del certificado no es correcta.") from exc
        raise CertificateError("core.certificate.format", "El archivo no es un certificado PKCS#12 (.p12 / .pfx) válido.") from exc
    if key is None or cert is None:
        raise CertificateError("core.certificate.incomplete", "El archivo .p12 no contiene la llave privada y el certificado.")
    if not _same_key(key, cert):
        raise CertificateError("core.certificate.key_mismatch", "La llave privada no corresponde al certificado.")
    info = _info(cert)
    _check_dates(info)
    if not any(re.sub(r"\D", "", v).startswith(nit) or nit in v for v in info.identifiers):
        raise CertificateError("core.certificate.tax_id", f"El certificado no pertenece al NIT {nit} (titular: {info.subject}).")
    return info


def inspect_csd(cer: bytes, key: bytes, password: str, rfc: str) -> CertInfo:
    try:
        cert = x509.load_der_x509_certificate(cer)
    except ValueError:
        try:
            cert = x509.load_pem_x509_certificate(cer)
        except ValueError as exc:
            raise CertificateError("core.certificate.format", "El archivo .cer no es un certificado válido.") from exc
    try:
        private_key = serialization.load_der_private_key(key, password.encode())
    except (ValueError, TypeError) as exc:
        raise CertificateError("core.certificate.password", "La contraseña de la llave privada (.key) no es correcta o el archivo no es una llave válida.") from exc
    if not _same_key(private_key, cert):
        raise CertificateError("core.certificate.key_mismatch", "La llave privada (.key) no corresponde al certificado (.cer).")
    info = _info(cert)
    _check_dates(info)
    unique = [str(a.value) for a in cert.subject.get_attributes_for_oid(OID_X500_UNIQUE_IDENTIFIER)]
    rfcs = {part.strip().upper() for value in unique for part in value.split("/")}
    if rfc.upper() not in rfcs:
        raise CertificateError("core.certificate.tax_id", f"El certificado pertenece al RFC {', '.join(sorted(rfcs)) or '(desconocido)'}, no a {rfc}.")
    return info


@transaction.atomic
def store(issuer, *, kind, password, p12=None, cer=None, key=None, user=None) -> Certificate:
    """Validate and store a certificate; the previous one of the same kind is deactivated (replaced)."""
    if kind == Certificate.Kind.PKCS12:
        if issuer.country != "CO":
            raise CertificateError("core.certificate.country", "Los certificados .p12 de la DIAN son para emisores de Colombia.")
        info = inspect_pkcs12(p12, password, issuer.tax_id)
        material = p12
    elif kind == Certificate.Kind.CSD:
        if issuer.country != "MX":
            raise CertificateError("core.certificate.country", "Los CSD del SAT son para emisores de México.")
        info = inspect_csd(cer, key, password, issuer.tax_id)
        material = key
    else:
        raise CertificateError("core.certificate.kind", "Tipo de certificado desconocido.")
    Certificate.objects.filter(issuer=issuer, kind=kind, active=True).update(active=False)
    cert = Certificate.objects.create(
        issuer=issuer, kind=kind, subject=info.subject, serial_number=info.serial_number,
        certificate_number=info.certificate_number, not_before=info.not_before, not_after=info.not_after,
        certificate_pem=info.certificate_pem, key_material=material, password=password, uploaded_by=user,
    )
    return cert


def active_certificate(issuer, kind) -> Certificate | None:
    return Certificate.objects.filter(issuer=issuer, kind=kind, active=True).first()
