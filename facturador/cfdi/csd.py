"""Loading a SAT CSD (Certificado de Sello Digital): .cer (DER) + .key (DER PKCS#8, encrypted).

>>> csd = load_csd(cer_bytes, key_bytes, "12345678a")          # doctest: +SKIP
>>> csd.rfc, csd.legal_name, csd.certificate_number             # doctest: +SKIP
('EKU9003173C9', 'ESCUELA KEMPER URGATE', '30001000000500003416')

``csd.signer`` is a :class:`satcfdi.models.Signer` (what satcfdi's ``Comprobante.sign`` needs).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from OpenSSL import crypto
from satcfdi.models import Signer

from .errors import CsdError

__all__ = ["Csd", "CsdError", "load_csd", "certificate_number"]


def certificate_number(cert: x509.Certificate) -> str:
    """SAT's 20-digit NoCertificado: the ASCII digits stored in the X.509 serial number."""
    raw = format(cert.serial_number, "x")
    if len(raw) % 2:
        raw = "0" + raw
    try:
        text = bytes.fromhex(raw).decode("ascii")
    except UnicodeDecodeError:
        text = ""
    return text if text.isdigit() else str(cert.serial_number)


@dataclass(frozen=True)
class Csd:
    rfc: str
    legal_name: str
    certificate_number: str
    not_before: dt.datetime
    not_after: dt.datetime
    certificate: x509.Certificate = field(repr=False)
    private_key: rsa.RSAPrivateKey = field(repr=False)
    signer: Signer = field(repr=False)

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def certificate_base64(self) -> str:
        return base64.b64encode(self.certificate_der).decode("ascii")

    def sign_sha256(self, data: bytes) -> str:
        """Base64 RSA-PKCS#1 v1.5 / SHA-256 signature (the CFDI ``Sello``)."""
        sig = self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(sig).decode("ascii")

    def is_valid_at(self, when: dt.datetime) -> bool:
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return self.not_before <= when <= self.not_after

    def pem_certificate(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def pem_private_key(self, password: bytes | str | None = None) -> bytes:
        """PEM private key; encrypted with ``password`` when given (PACs such as Finkok want that)."""
        if isinstance(password, str):
            password = password.encode()
        enc = (serialization.BestAvailableEncryption(password) if password
               else serialization.NoEncryption())
        return self.private_key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.TraditionalOpenSSL, enc)


def _load_cert(cer_bytes: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(cer_bytes)
    except ValueError:
        try:
            return x509.load_pem_x509_certificate(cer_bytes)
        except ValueError as exc:
            raise CsdError("csd_cer_invalido", "El archivo .cer no es un certificado válido (se esperaba DER o PEM).",
                           field="cer", english=f"cannot parse certificate: {exc}") from exc


def _load_key(key_bytes: bytes, password: bytes) -> rsa.RSAPrivateKey:
    loaders = (serialization.load_der_private_key, serialization.load_pem_private_key)
    last: Exception | None = None
    for loader in loaders:
        try:
            key = loader(key_bytes, password=password or None)
        except (ValueError, TypeError) as exc:
            last = exc
            msg = str(exc).lower()
            if "password" in msg or "decrypt" in msg or "bad decrypt" in msg:
                raise CsdError("csd_password", "La contraseña de la llave privada (.key) no es correcta.",
                               field="password", english="wrong private key password") from exc
            continue
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CsdError("csd_key_invalida", "La llave privada no es RSA; un CSD del SAT siempre es RSA.",
                           field="key", english="private key is not RSA")
        return key
    raise CsdError("csd_key_invalida", "El archivo .key no es una llave privada válida (se esperaba DER PKCS#8 del SAT).",
                   field="key", english=f"cannot parse private key: {last}")


def load_csd(cer_bytes: bytes, key_bytes: bytes, password: str | bytes, *,
             at: dt.datetime | None = None, check_validity: bool = True) -> Csd:
    """Load and check a CSD. Raises :class:`CsdError` with codes:

    ``csd_cer_invalido``, ``csd_key_invalida``, ``csd_password`` (wrong password),
    ``csd_no_corresponde`` (key does not match certificate), ``csd_vencido`` (expired at ``at``,
    default now), ``csd_no_vigente_aun`` (not yet valid), ``csd_es_fiel`` (an e.firma, not a CSD).
    """
    if isinstance(password, str):
        password = password.encode("utf-8")
    cert = _load_cert(cer_bytes)
    key = _load_key(key_bytes, password)
    pub_a = key.public_key().public_numbers()
    cert_pub = cert.public_key()
    if not isinstance(cert_pub, rsa.RSAPublicKey) or cert_pub.public_numbers() != pub_a:
        raise CsdError("csd_no_corresponde", "La llave privada (.key) no corresponde al certificado (.cer).",
                       field="key", english="private key does not match the certificate")
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    if check_validity:
        when = at or dt.datetime.now(dt.timezone.utc)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        if when > not_after:
            raise CsdError("csd_vencido",
                           f"El certificado venció el {not_after:%d/%m/%Y}; solicite un CSD nuevo al SAT.",
                           field="cer", english=f"certificate expired on {not_after:%Y-%m-%d}")
        if when < not_before:
            raise CsdError("csd_no_vigente_aun",
                           f"El certificado es válido a partir del {not_before:%d/%m/%Y}.",
                           field="cer", english=f"certificate not valid before {not_before:%Y-%m-%d}")
    signer = Signer(crypto.X509.from_cryptography(cert), key, check=False)
    # A CSD has KeyUsage digitalSignature+nonRepudiation only; an e.firma (FIEL) also has
    # dataEncipherment/keyAgreement. satcfdi classifies it for us.
    try:
        from satcfdi.models.certificate import CertificateType
        if signer.type == CertificateType.Fiel:
            raise CsdError("csd_es_fiel",
                           "El certificado es de e.firma (FIEL); para sellar facturas se necesita el CSD.",
                           field="cer", english="certificate is a FIEL, not a CSD")
    except CsdError:
        raise
    except Exception:  # classification is best effort
        pass
    rfc = str(signer.rfc or "")
    name = str(signer.legal_name or "")
    return Csd(rfc=rfc, legal_name=name, certificate_number=certificate_number(cert),
               not_before=not_before, not_after=not_after, certificate=cert, private_key=key,
               signer=signer)
