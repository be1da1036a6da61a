"""Test helpers: throw-away certificates shaped like Colombian e-invoicing certificates.

``make_test_pkcs12`` creates an RSA-2048 self-signed "test CA" and a leaf certificate whose subject carries
the NIT (``serialNumber`` and the CN), and returns them as a password-protected PKCS#12 (leaf key + leaf cert +
CA cert). The CA key is generated once per process; leaf keys are cached per NIT to keep tests fast.
"""

from __future__ import annotations

import datetime as dt
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


@functools.lru_cache(maxsize=None)
def _key(label: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.lru_cache(maxsize=1)
def test_ca() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The process-wide test CA (key, self-signed certificate), valid from 2000 to 2099."""
    key = _key("ca")
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Facturador Test CA"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Facturador Test CA (sin validez)")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
            .not_valid_after(dt.datetime(2099, 12, 31, tzinfo=dt.timezone.utc))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_test_certificate(nit: str, days_valid: int = 365, expired: bool = False,
                          now: dt.datetime | None = None):
    """Return (leaf key, leaf certificate, CA certificate)."""
    ca_key, ca_cert = test_ca()
    key = _key(f"leaf-{nit}")
    now = now or dt.datetime.now(dt.timezone.utc)
    if expired:
        not_before, not_after = now - dt.timedelta(days=days_valid + 1), now - dt.timedelta(days=1)
    else:
        not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=days_valid)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Empresa de pruebas NIT {nit}"),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, nit),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"EMPRESA DE PRUEBAS {nit}")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert, ca_cert


def make_test_pkcs12(nit: str, password: str, days_valid: int = 365, expired: bool = False) -> bytes:
    """PKCS#12 bytes (leaf key, leaf certificate, CA certificate) protected with ``password``."""
    key, cert, ca_cert = make_test_certificate(nit, days_valid, expired)
    return pkcs12.serialize_key_and_certificates(
        f"nit-{nit}".encode(), key, cert, [ca_cert],
        serialization.BestAvailableEncryption(password.encode("utf-8")))


def ca_pem() -> bytes:
    """PEM of the test CA (to give to ``xmlsec1 --trusted-pem``)."""
    return test_ca()[1].public_bytes(serialization.Encoding.PEM)
