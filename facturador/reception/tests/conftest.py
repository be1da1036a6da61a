"""Fixtures of reception: received documents made by the product's own issuing side, and a real IMAP server.

Colombia: an issuer (NIT 900373076) invoices the buyer NIT 800199436 through the local DIAN service; the
AttachedDocument zip it delivers to the buyer is what the receiving issuer (800199436) gets. Mexico: a CFDI sealed
with the test CSD and stamped by the local PAC, addressed to the RFC URE180429TM6. Both are made once per test
session (the bytes do not depend on the database) and reused.
"""

import io
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from conftest import free_port
from facturador.einvoice.tests.conftest import INVOICE, TEST_KEY  # noqa: F401

BUYER_NIT = "800199436"
BUYER_RFC = "URE180429TM6"
_MADE: dict = {}


@pytest.fixture
def receiver_co(make_issuer):
    return make_issuer("CO", tax_id=BUYER_NIT, legal_name="Cliente Comercial Ltda.")


@pytest.fixture
def receiver_mx(make_issuer):
    return make_issuer("MX", tax_id=BUYER_RFC, legal_name="UNIVERSIDAD ROBOTICA ESPAÑOLA")


@pytest.fixture
def reception_admin(make_user, receiver_co):
    return make_user("recepcion", receiver_co, "admin")


def _issue_colombian(make_issuer, make_user, count: int) -> list[bytes]:
    """`count` delivery zips (AttachedDocument + PDF) of accepted invoices to NIT 800199436."""
    import copy

    from facturador.core import certificates
    from facturador.core.tests.helpers import make_range
    from facturador.dian.sandbox import SandboxServer
    from facturador.dian.testing import make_test_pkcs12
    from facturador.einvoice import delivery, files, services
    from facturador.einvoice.models import OperationMode
    from facturador.einvoice.pdf import render

    supplier = make_issuer("CO", tax_id="900373076", responsibilities=["O-13"])
    certificates.store(supplier, kind="p12", password="clave", p12=make_test_pkcs12(supplier.tax_id, "clave"))
    mode = OperationMode.objects.create(issuer=supplier, software_name="Facturador",
                                        software_id="5f1c9a0e-6b7d-4f3a-9d2e-1a2b3c4d5e6f", software_pin="70942",
                                        provider_nit=supplier.tax_id, environment="test")
    make_range(supplier, technical_key=TEST_KEY)
    server = SandboxServer(software={mode.software_id: "70942"}).start()
    try:
        mode.endpoint = server.url
        mode.save()
        out = []
        for _ in range(count):
            doc = services.issue(supplier, copy.deepcopy(INVOICE), send=False)
            delivery.send_and_follow(doc, poll_interval=0.01, poll_attempts=5)
            doc.refresh_from_db()
            assert doc.status == "accepted", doc.dian_message
            out.append(files.delivery_zip(doc, render(doc) if not out else b"%PDF-1.4\n% minimal\n"))
        return out
    finally:
        server.stop()


@pytest.fixture
def co_zips(make_issuer, make_user):
    """Two delivery zips (the first with the product's rendered PDF) of invoices to NIT 800199436."""
    if "co" not in _MADE:
        _MADE["co"] = _issue_colombian(make_issuer, make_user, 2)
    return _MADE["co"]


@pytest.fixture
def co_zip(co_zips):
    return co_zips[0]


def attached_xml(zip_bytes: bytes) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".xml"))
        return name, zf.read(name)


def sample_csd():
    """The test CSD (EKU9003173C9) from the shared files, or one made like it."""
    from facturador.cfdi.csd import load_csd
    from facturador.cfdi.tests.conftest import shared_dir

    if "csd" not in _MADE:
        d = shared_dir() / "sat" / "csd"
        if (d / "EKU9003173C9.cer").exists():
            cer, key = (d / "EKU9003173C9.cer").read_bytes(), (d / "EKU9003173C9.key").read_bytes()
        else:
            import datetime as dt

            from facturador.cfdi.testing import make_test_csd
            utc = dt.timezone.utc
            cer, key = make_test_csd("EKU9003173C9", "ESCUELA KEMPER URGATE", "12345678a",
                                     certificate_number="30001000000500003416",
                                     valid_from=dt.datetime(2023, 5, 18, tzinfo=utc),
                                     valid_to=dt.datetime(2027, 5, 18, 12, tzinfo=utc))
        _MADE["csd"] = load_csd(cer, key, "12345678a")
    return _MADE["csd"]


def stamp_cfdi(pac_server, folio: str = "1") -> bytes:
    """A CFDI 4.0 sealed with the test CSD and stamped by the running local PAC `pac_server`, to URE180429TM6."""
    from facturador.cfdi.build import Concepto, Emisor, Invoice, Receptor, build_invoice
    from facturador.cfdi.pac import FinkokPac

    csd = sample_csd()
    invoice = Invoice(
        emisor=Emisor.from_csd(csd, "601"), lugar_expedicion="42501", serie="R", folio=folio,
        receptor=Receptor(rfc=BUYER_RFC, nombre="UNIVERSIDAD ROBOTICA ESPAÑOLA", codigo_postal="86991",
                          regimen_fiscal="601", uso_cfdi="G03"),
        conceptos=[Concepto("84111506", "2", "E48", "Servicio de consultoría", "100.00", iva="16")])
    pac = FinkokPac("demo", "demo", pac_server.url, csd=csd, retries=0, timeout=10)
    return pac.stamp(build_invoice(invoice, csd)).xml_bytes


@pytest.fixture
def cfdi_xml():
    """A CFDI 4.0 sealed with the test CSD (EKU9003173C9) and stamped by the local PAC, to URE180429TM6."""
    if "mx" not in _MADE:
        from facturador.cfdi.sandbox import PacSandbox

        pac_server = PacSandbox().start()
        try:
            _MADE["mx"] = stamp_cfdi(pac_server)
            _MADE["mx_sat_certificate"] = pac_server.certificate_der
        finally:
            pac_server.stop()
    return _MADE["mx"]


@pytest.fixture
def cfdi_sat_certificate(cfdi_xml) -> bytes:
    """The local PAC's stamping certificate (DER) that sealed `cfdi_xml`'s TimbreFiscalDigital."""
    return _MADE["mx_sat_certificate"]


class Upload(io.BytesIO):
    """A file object with a name, as the channels give the action."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name
        self.size = len(data)


# --- a real IMAP server: Dovecot ---------------------------------------------------------------------------

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


class Dovecot:
    user = "facturas"
    password = "clave-imap-1"

    def __init__(self, root: Path, tls: tuple[bytes, bytes] | None = None):
        """`tls`: (certificate PEM, key PEM) to serve STARTTLS on `port` and implicit TLS (IMAPS) on `tls_port`."""
        self.root = root
        self.port = free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        self.proc = None

    def start(self):
        """Dovecot's "non-root" mode: every process runs as one unprivileged user. Under root (containers, CI)
        that user is Debian's `dovecot` system user, and the files live in a directory it owns."""
        import grp
        import pwd
        import tempfile

        if os.getuid() == 0:
            account = pwd.getpwnam("dovecot")
            self.root = Path(tempfile.mkdtemp(prefix="facturador-dovecot-"))
            self._cleanup = True
        else:
            account = pwd.getpwuid(os.getuid())
            self._cleanup = False
        self.account = account
        user, group = account.pw_name, grp.getgrgid(account.pw_gid).gr_name
        for d in ("run", "mail", "state"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        if self.tls:
            (self.root / "cert.pem").write_bytes(self.tls[0])
            (self.root / "key.pem").write_bytes(self.tls[1])
            ssl_conf = f"ssl = yes\nssl_cert = <{self.root / 'cert.pem'}\nssl_key = <{self.root / 'key.pem'}"
        else:
            ssl_conf = "ssl = no"
        (self.root / "passwd").write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{account.pw_uid}:{account.pw_gid}::{self.root / 'mail'}::\n")
        (self.root / "dovecot.conf").write_text(f"""
base_dir = {self.root / 'run'}
state_dir = {self.root / 'state'}
instance_name = facturador-test-{self.port}
protocols = imap
listen = 127.0.0.1
{ssl_conf}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
log_path = {self.root / 'dovecot.log'}
mail_location = maildir:{self.root / 'mail'}/Maildir
first_valid_uid = {account.pw_uid}
first_valid_gid = {account.pw_gid}
passdb {{
  driver = passwd-file
  args = {self.root / 'passwd'}
}}
userdb {{
  driver = passwd-file
  args = {self.root / 'passwd'}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""")
        if os.getuid() == 0:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     **(dict(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
                                        if os.getuid() == 0 else {}))
        deadline = time.monotonic() + 15
        import socket
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited: " + self.proc.stdout.read().decode(errors="replace") +
                                   self._log())
            with socket.socket() as s, socket.socket() as s2:
                if s.connect_ex(("127.0.0.1", self.port)) == 0 and (
                        not self.tls_port or s2.connect_ex(("127.0.0.1", self.tls_port)) == 0):
                    return self
            time.sleep(0.05)
        raise RuntimeError("dovecot did not start listening: " + self._log())

    def _log(self) -> str:
        log = self.root / "dovecot.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def logins(self, at_least: int = 0, timeout: float = 10) -> int:
        """How many login attempts with the user name Dovecot has logged (it logs each one with `user=<...>`),
        waiting up to `timeout` seconds for `at_least` of them: its log process writes after the client is answered."""
        log = self.root / "dovecot.log"
        deadline = time.monotonic() + timeout
        while True:
            count = log.read_text(errors="replace").count(f"user=<{self.user}>") if log.exists() else 0
            if count >= at_least or time.monotonic() > deadline:
                return count
            time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._cleanup:
            shutil.rmtree(self.root, ignore_errors=True)

    def client(self):
        import imaplib
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def append(self, message: bytes, folder: str = "INBOX", flags: str = "") -> None:
        conn = self.client()
        try:
            typ, data = conn.append(folder, flags or None, None, message)
            assert typ == "OK", data
        finally:
            conn.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, bytes]:
        """UID → the FLAGS response of every message of the folder."""
        import re
        conn = self.client()
        try:
            conn.select(folder, readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            out = {}
            for item in data:
                if not item:
                    continue
                m = re.search(rb"UID (\d+)", item)
                if m:
                    out[int(m.group(1))] = item
            return out
        finally:
            conn.logout()


@pytest.fixture
def dovecot(tmp_path, settings):
    """A private Dovecot IMAP server on a free 127.0.0.1 port (plaintext login, one passwd-file user, maildir in
    tmp), allowed for the platform as imap://127.0.0.1."""
    if DOVECOT is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Dovecot is not installed (the test command installs Debian's dovecot-imapd)")
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    server = Dovecot(tmp_path / "dovecot").start()
    settings.FACTURADOR_ALLOWED_ENDPOINTS = list(settings.FACTURADOR_ALLOWED_ENDPOINTS) + ["imap://127.0.0.1"]
    yield server
    server.stop()


def email_with(attachments: list[tuple[str, bytes]], *, subject="Factura electrónica", sender="proveedor@example.com",
               to="facturas@cliente.example") -> bytes:
    from email.message import EmailMessage
    from email.policy import SMTP

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = f"<{time.monotonic_ns()}@proveedor.example>"
    msg.set_content("Adjuntamos la factura electrónica.")
    for name, data in attachments:
        maintype, subtype = {"zip": ("application", "zip"), "pdf": ("application", "pdf"),
                             "jpg": ("image", "jpeg")}.get(
            name.rsplit(".", 1)[-1], ("application", "xml"))
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=SMTP)


def make_tls_certificate(host: str = "127.0.0.1") -> tuple[bytes, bytes, bytes]:
    """(server certificate PEM, its key PEM, the CA certificate PEM): a private CA and a server certificate for
    `host`, as a company's own mail server may use."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA de pruebas del correo")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (cert.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            ca.public_bytes(pem))


@pytest.fixture
def dovecot_tls(tmp_path, settings):
    """Dovecot with STARTTLS (`port`) and IMAPS (`tls_port`) under a certificate of a private CA (`ca_pem`)."""
    if DOVECOT is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Dovecot is not installed (the test command installs Debian's dovecot-imapd)")
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    cert, key, ca = make_tls_certificate()
    server = Dovecot(tmp_path / "dovecot-tls", tls=(cert, key)).start()
    server.ca_pem = ca
    settings.FACTURADOR_ALLOWED_ENDPOINTS = list(settings.FACTURADOR_ALLOWED_ENDPOINTS) + ["imap://127.0.0.1"]
    yield server
    server.stop()
