import datetime as dt
from contextlib import contextmanager

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


# --- the demo, as `facturador serve --seed-demo` starts it ------------------------------------------------------

class SeededDemo:
    """What `serve --seed-demo` gives a first-time user: the demo data (`core.demo.seed`, which runs every app's
    demo), the local DIAN service and the local PAC on the demo's ports, and the habilitación demo wiring."""

    def __init__(self, co, mx, dian, pac):
        self.co, self.mx, self.dian, self.pac = co, mx, dian, pac


@contextmanager
def seeded_demo_services(settings):
    """`serve --seed-demo` in a test (with free ports): yields a `SeededDemo`; stops the services afterwards."""
    from conftest import free_port
    from facturador.cfdi.sandbox import PacSandbox
    from facturador.core import demo as core_demo
    from facturador.core.models import Issuer
    from facturador.dian.sandbox import SandboxServer
    from facturador.einvoice.demo import sandbox_config
    from facturador.habilitacion import demo as habilitacion_demo

    settings.FACTURADOR_DIAN_SANDBOX_PORT = free_port()
    settings.FACTURADOR_PAC_SANDBOX_PORT = free_port()
    core_demo.seed()
    dian = SandboxServer(port=settings.FACTURADOR_DIAN_SANDBOX_PORT, async_pending_polls=0, **sandbox_config()).start()
    pac = PacSandbox(port=settings.FACTURADOR_PAC_SANDBOX_PORT)
    pac.start()
    habilitacion_demo.connect_local_dian(dian.sandbox, dian.url)
    try:
        yield SeededDemo(Issuer.objects.get(country="CO", tax_id="900373076"),
                         Issuer.objects.get(country="MX", tax_id="EKU9003173C9"), dian, pac)
    finally:
        habilitacion_demo.disconnect_local_dian()
        pac.stop()
        dian.stop()
