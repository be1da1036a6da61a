import copy
import json
import os
import pathlib

import pytest

from facturador.dian import ubl
from facturador.dian.jsonio import document_from_json
from facturador.dian.testing import make_test_pkcs12
from facturador.dian.xades import load_pkcs12, sign

REPO = pathlib.Path(__file__).resolve().parents[4]
EXAMPLES = REPO / "examples" / "dian"
SHARED = pathlib.Path(os.environ.get("FACTURADOR_SHARED_DIR") or REPO.parent / "shared")
SCHEMA_DIR = SHARED / "dian" / "xsd"
SUPPLIER_NIT = "900373076"
HAB_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"  # dian.md §1.1: habilitación technical key
PASSWORD = "clave-de-prueba"


def example(name: str) -> dict:
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"example {path} not found")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def signer():
    return load_pkcs12(make_test_pkcs12(SUPPLIER_NIT, PASSWORD), PASSWORD)


@pytest.fixture(scope="session")
def software_id():
    return example("invoice-iva19-withholdings.json")["software"]["id"]


@pytest.fixture(scope="session")
def pin():
    return example("invoice-iva19-withholdings.json")["software"]["pin"]


@pytest.fixture
def sandbox(software_id, pin):
    from facturador.dian.sandbox import SandboxServer
    srv = SandboxServer(software={software_id: pin}, test_sets={"set-hab-1": {"invoices": 2, "credit_notes": 1,
                                                                              "debit_notes": 1}})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(sandbox, signer):
    from facturador.dian.ws import DianClient
    return DianClient(sandbox.url, signer, timeout=10, retries=0)


def invoice_json(number: int, prefix: str = "SETP", technical_key: str = HAB_KEY, environment: str = "2",
                 **range_overrides) -> dict:
    data = copy.deepcopy(example("invoice-iva19-withholdings.json"))
    data["environment"] = environment
    data["numbering"].update({"prefix": prefix, "number": number, "technical_key": technical_key},
                             **range_overrides)
    return data


def build_signed(data: dict, signer) -> bytes:
    return sign(ubl.build_xml(document_from_json(data)), signer)


def note_json(kind: str, number: int, invoice_number: str, invoice_cufe: str, invoice_date: str) -> dict:
    data = copy.deepcopy(example("credit-note-with-reference.json" if kind == "credit_note" else "debit-note.json"))
    data["numbering"]["number"] = number
    data["billing_reference"].update({"number": invoice_number, "uuid": invoice_cufe, "issue_date": invoice_date})
    return data


CUSTOMER_NIT = "800199436"  # the buyer of the example invoice
_NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
       "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"}


def build_event(code: str, invoice_xml: bytes, signer, *, sender_nit: str = CUSTOMER_NIT, number: str = "1",
                cude: str | None = None) -> bytes:
    """A signed RADIAN event (ApplicationResponse) about ``invoice_xml``, sent by ``sender_nit`` (the buyer for
    030-033, the supplier for 034). The CUDE is a made-up SHA-384 unless given."""
    import datetime as dt
    import hashlib

    from lxml import etree

    inv = etree.fromstring(invoice_xml)
    cbc, cac = (f"{{{_NS[p]}}}" for p in ("cbc", "cac"))
    supplier = inv.findtext(f"{cac}AccountingSupplierParty/{cac}Party/{cac}PartyTaxScheme/{cbc}CompanyID")
    customer = inv.findtext(f"{cac}AccountingCustomerParty/{cac}Party/{cac}PartyTaxScheme/{cbc}CompanyID")
    receiver = supplier if sender_nit != supplier else customer
    ns_ar = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
    root = etree.Element(f"{{{ns_ar}}}ApplicationResponse", nsmap={None: ns_ar, **_NS})

    def e(parent, tag, text=None, **attrib):
        el = etree.SubElement(parent, tag, attrib)
        el.text = text
        return el
    etree.SubElement(root, f"{{{_NS['ext']}}}UBLExtensions")
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=-5)))
    cufe = inv.findtext(f"{cbc}UUID")
    for tag, value in (("UBLVersionID", "UBL 2.1"), ("CustomizationID", "1"), ("ProfileID", "DIAN 2.1: "
                       "ApplicationResponse de la Factura Electrónica de Venta"), ("ProfileExecutionID", "2"),
                       ("ID", number)):
        e(root, cbc + tag, value)
    e(root, cbc + "UUID", cude or hashlib.sha384(f"{number}{code}{cufe}{sender_nit}".encode()).hexdigest(),
      schemeID="2", schemeName="CUDE-SHA384")
    e(root, cbc + "IssueDate", now.strftime("%Y-%m-%d"))
    e(root, cbc + "IssueTime", now.strftime("%H:%M:%S-05:00"))
    for tag, nit in (("SenderParty", sender_nit), ("ReceiverParty", receiver)):
        pts = e(e(root, cac + tag), cac + "PartyTaxScheme")
        e(pts, cbc + "RegistrationName", f"Empresa {nit}")
        e(pts, cbc + "CompanyID", nit, schemeAgencyID="195", schemeID="4", schemeName="31")
        ts = e(e(pts, cbc + "TaxLevelCode", "O-13").getparent(), cac + "TaxScheme")
        e(ts, cbc + "ID", "01")
        e(ts, cbc + "Name", "IVA")
    dr = e(root, cac + "DocumentResponse")
    r = e(dr, cac + "Response")
    e(r, cbc + "ResponseCode", code)
    e(r, cbc + "Description", {"030": "Acuse de recibo", "031": "Reclamo", "032": "Recibo del bien",
                                "033": "Aceptación expresa", "034": "Aceptación tácita"}.get(code, "Evento"))
    ref = e(dr, cac + "DocumentReference")
    e(ref, cbc + "ID", inv.findtext(f"{cbc}ID"))
    e(ref, cbc + "UUID", cufe, schemeName="CUFE-SHA384")
    e(ref, cbc + "DocumentTypeCode", "01")
    return sign(root, signer, role="third party")
