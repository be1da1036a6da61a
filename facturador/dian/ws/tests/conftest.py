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


def build_event(code: str, invoice_xml: bytes, signer, *, sender_nit: str = CUSTOMER_NIT, number: str = "1",
                claim_reason: str | None = None, pin: str | None = None, issue_date=None) -> bytes:
    """A signed RADIAN event (``dian.events``) about ``invoice_xml``, sent by ``sender_nit`` (the buyer for
    030-033, the supplier for 034), with the example software's id and PIN (``pin`` overrides the PIN)."""
    import datetime as dt

    from lxml import etree

    from facturador.dian import events
    from facturador.dian.model import COT, Party, Software
    from facturador.dian.ns import NS

    inv = etree.fromstring(invoice_xml)
    tax = "cac:{}/cac:Party/cac:PartyTaxScheme/cbc:{}"
    supplier = inv.findtext(tax.format("AccountingSupplierParty", "CompanyID"), namespaces=NS)
    customer = inv.findtext(tax.format("AccountingCustomerParty", "CompanyID"), namespaces=NS)
    receiver = supplier if sender_nit != supplier else customer
    sw = example("invoice-iva19-withholdings.json")["software"]
    now = dt.datetime.now(COT).replace(microsecond=0)
    ev = events.Event(code, number, issue_date or now.date(), now.time(), "2",
                      Software(sw["id"], pin or sw["pin"], sender_nit),
                      Party(sender_nit, f"Empresa {sender_nit}"), Party(receiver, f"Empresa {receiver}"),
                      inv.findtext("cbc:ID", namespaces=NS), inv.findtext("cbc:UUID", namespaces=NS),
                      claim_reason=claim_reason or ("01" if code == "031" else None),
                      person=events.Person("1020304050", "Ana", "Pérez", "Almacenista"))
    return events.sign_event(ev, signer, signing_time=now)
