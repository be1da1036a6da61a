"""Self-made CSD-like certificates for tests and demos (no fiscal validity).

A real CSD comes from SAT; this one has the same shape — certificate number in the serial
number, "RFC / CURP" in x500UniqueIdentifier, digitalSignature + nonRepudiation key usage — so the
whole sealing and stamping chain can run against the local PAC without SAT's files.
"""

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def make_test_csd(rfc: str, legal_name: str, password: str, *, certificate_number: str = "30001000000599999999",
                  days_valid: int = 730, valid_from: dt.datetime | None = None,
                  valid_to: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """Return (.cer DER, .key PKCS#8 DER encrypted with `password`). Valid from yesterday for
    ``days_valid`` days, unless ``valid_from`` / ``valid_to`` (aware datetimes) say otherwise."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, legal_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, legal_name),
        x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, f"{rfc} / "),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, " / "),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "MX"),
    ])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AC DE PRUEBAS FACTURADOR (SIN VALIDEZ)")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(int.from_bytes(certificate_number.encode("ascii"), "big"))
        .not_valid_before(valid_from or now - dt.timedelta(days=1))
        .not_valid_after(valid_to or now + dt.timedelta(days=days_valid))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(password.encode()))
    return cert.public_bytes(serialization.Encoding.DER), key_der
