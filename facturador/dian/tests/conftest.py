import datetime as dt
import os
import pathlib
from decimal import Decimal as D

import pytest

from facturador.dian.model import (Address, AllowanceCharge, BillingReference, Document, Line, Numbering, Party,
                                   Payment, Prepayment, Software, Tax, Withholding)

REPO = pathlib.Path(__file__).resolve().parents[3]
SHARED = pathlib.Path(os.environ.get("FACTURADOR_SHARED_DIR") or REPO.parent / "shared")
SCHEMA_DIR = SHARED / "dian" / "xsd"
TECH_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"
PIN = "12345"
SOFTWARE_ID = "5f1c9a0e-6b7d-4f3a-9d2e-1a2b3c4d5e6f"


@pytest.fixture
def schema_dir():
    if not (SCHEMA_DIR / "maindoc" / "UBL-Invoice-2.1.xsd").is_file():
        pytest.skip(f"DIAN XSDs not found in {SCHEMA_DIR} (set FACTURADOR_SHARED_DIR)")
    return str(SCHEMA_DIR)


def supplier():
    return Party(id_number="900373076", name="Empresa de Pruebas S.A.S.", responsibilities=["O-13", "O-15"],
                 tax_scheme="01", email="facturas@pruebas.example",
                 address=Address("11001", "Bogotá, D.C.", "Bogotá", "Calle 100 # 10-20"))


def customer():
    return Party(id_number="800199436", name="Cliente Comercial Ltda.", responsibilities=["O-23"],
                 tax_scheme="01", email="compras@cliente.example",
                 address=Address("05001", "Medellín", "Antioquia", "Carrera 43A # 1-50"))


def numbering(number=990000101):
    return Numbering("SETP", number, "18760000001", 990000000, 995000000, dt.date(2019, 1, 19),
                     dt.date(2030, 1, 19), TECH_KEY)


def software():
    return Software(SOFTWARE_ID, PIN, "900373076")


def make_invoice(n_lines=3, **kw):
    lines = []
    rates = [D("19"), D("5"), D("0"), None]
    for i in range(n_lines):
        rate = rates[i % 4]
        lines.append(Line(f"Producto {i + 1}", D(i + 1), D("1234.56") + i, code=f"P{i:03d}",
                          taxes=[Tax("01", rate)] if rate is not None else [],
                          allowance_charges=[AllowanceCharge(D("100"), reason="Descuento", reason_code="01")]
                          if i == 0 else []))
    args = dict(kind="invoice", numbering=numbering(), software=software(), supplier=supplier(),
                customer=customer(), lines=lines, issue_date=dt.date(2026, 11, 20),
                issue_time=dt.time(9, 15, 23),
                payment=Payment("2", "42", dt.date(2026, 12, 20)),
                withholdings=[Withholding("06", D("2.5")), Withholding("05", D("15"))],
                allowance_charges=[AllowanceCharge(D("50"), reason="Pronto pago", reason_code="00"),
                                   AllowanceCharge(D("20"), charge=True, reason="Flete")],
                prepayments=[Prepayment(D("1000"), dt.date(2026, 11, 1))])
    args.update(kw)
    return Document(**args)


def make_note(kind="credit_note", with_reference=True, **kw):
    args = dict(kind=kind, numbering=Numbering("NC" if kind == "credit_note" else "ND", 17),
                software=software(), supplier=supplier(), customer=customer(),
                lines=[Line("Devolución", D("1"), D("5000"), taxes=[Tax("01", D("19"))])],
                issue_date=dt.date(2026, 11, 21), issue_time=dt.time(7, 0, 0),
                discrepancy_code="1" if kind == "credit_note" else "4", discrepancy_description="Ajuste")
    if with_reference:
        args["billing_reference"] = BillingReference("SETP990000101", "a" * 96, dt.date(2026, 11, 20))
    else:
        args["invoice_period"] = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    args.update(kw)
    return Document(**args)


XMLSEC_ID_ATTRS = ["--id-attr:Id", "http://www.w3.org/2000/09/xmldsig#:KeyInfo",
                   "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties"]


def xmlsec_verify(data: bytes, tmp_path) -> tuple[int, str]:
    """Verify with the independent xmlsec1 tool, trusting only the test CA. Returns (exit code, stderr)."""
    import shutil
    import subprocess

    from facturador.dian.testing import ca_pem

    if not shutil.which("xmlsec1"):
        pytest.skip("xmlsec1 not installed (Debian package xmlsec1)")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(ca_pem())
    doc = tmp_path / "signed.xml"
    doc.write_bytes(data)
    r = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(ca), *XMLSEC_ID_ATTRS, str(doc)],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr


@pytest.fixture(scope="session")
def signer():
    from facturador.dian.testing import make_test_pkcs12
    from facturador.dian.xades import load_pkcs12
    return load_pkcs12(make_test_pkcs12("900373076", "clave-de-prueba"), "clave-de-prueba")
