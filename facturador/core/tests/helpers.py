import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from facturador.core.models import NumberingRange


def make_range(issuer, **kw):
    data = dict(document_type="invoice", environment="test", prefix="SETP", range_from=990000000, range_to=995000000,
                valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19), resolution_number="18760000001")
    data.update(kw)
    data.setdefault("next_number", data["range_from"])
    return NumberingRange.objects.create(issuer=issuer, **data)


def make_p12(nit, password="clave", days=365, not_before_days=-1, key=None, other_key=False):
    """A self-signed PKCS#12 whose subject carries the NIT (as Colombian CAs do in serialNumber)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "EMPRESA DE PRUEBA S.A.S."),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, nit),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
    ])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=not_before_days))
            .not_valid_after(now + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    pkey = rsa.generate_private_key(public_exponent=65537, key_size=2048) if other_key else key
    enc = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(b"test", pkey if not other_key else None, cert, None, enc) if other_key else \
        pkcs12.serialize_key_and_certificates(b"test", key, cert, None, enc)
