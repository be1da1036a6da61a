import json
from decimal import Decimal as D

import pytest

from facturador.dian import jsonio, totals, ubl, validate, verify, xades, xsd
from facturador.dian.errors import DianInputError
from facturador.dian.model import CONSUMIDOR_FINAL

from .conftest import REPO, xmlsec_verify

EXAMPLES = sorted((REPO / "examples" / "dian").glob("*.json"))


def load(name):
    return json.loads((REPO / "examples" / "dian" / name).read_text(encoding="utf-8"))


def test_there_are_four_examples():
    names = {p.name for p in EXAMPLES}
    assert {"invoice-iva19-withholdings.json", "invoice-consumidor-final.json", "credit-note-with-reference.json",
            "debit-note.json"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_builds_signs_validates_and_verifies(path, signer, schema_dir, tmp_path):
    data = json.loads(path.read_text(encoding="utf-8"))
    doc = jsonio.document_from_json(data)
    assert validate.rejections(validate.prevalidate(doc, schema_dir=schema_dir)) == []
    signed = xades.sign(ubl.build_xml(doc), signer)
    assert xsd.validate_xsd(signed, schema_dir) == []
    rc, err = xmlsec_verify(signed, tmp_path)
    assert rc == 0, err
    report = verify.verify_document(signed, technical_key=data["numbering"].get("technical_key"),
                                    pin=data["software"]["pin"], schema_dir=schema_dir)
    assert report.ok and all(c.ok for c in report.checks), report.dumps()


def test_credit_and_debit_note_examples_reference_the_invoice_cufe():
    inv = ubl.build_xml(jsonio.document_from_json(load("invoice-iva19-withholdings.json")))
    cufe = inv.findtext("{%s}UUID" % ubl.NS["cbc"])
    for name in ("credit-note-with-reference.json", "debit-note.json"):
        assert load(name)["billing_reference"]["uuid"] == cufe


def test_invoice_example_amounts_hand_computed():
    doc = jsonio.document_from_json(load("invoice-iva19-withholdings.json"))
    t = totals.compute(doc)
    # 10 x 150000 - 50000 = 1450000 (IVA 19 % = 275500); 2 x 85000 = 170000 (IVA 5 % = 8500); 3 x 4200 = 12600 (0 %)
    assert t.line_extension == 1632600
    assert t.tax_amount("01") == 284000
    assert t.payable == 1632600 + 284000 + 20000  # + freight charge; withholdings are not subtracted
    # ReteIVA 15 % of 284000; ReteFuente 4 % of 1632600; ReteICA 0.966 % of 1632600 = 15770.916
    assert {w.scheme: w.amount for w in t.withholdings} == {"05": D("42600.00"), "06": D("65304.00"),
                                                            "07": D("15770.92")}


def test_consumidor_final():
    doc = jsonio.document_from_json(load("invoice-consumidor-final.json"))
    assert doc.customer.id_number == CONSUMIDOR_FINAL and doc.customer.id_type == "13"
    assert not doc.customer.legal_person


def _error(data) -> DianInputError:
    with pytest.raises(DianInputError) as exc:
        jsonio.document_from_json(data)
    return exc.value


def _fields(err):
    return {(e.field, e.code) for e in err.errors}


def test_bad_tax_rate_names_the_path():
    data = load("invoice-iva19-withholdings.json")
    data["lines"][2]["taxes"][0]["rate"] = "diecinueve"
    err = _error(data)
    assert (err.field, err.code) == ("lines[2].taxes[0].rate", "type")
    assert "número" in err.message
    data = load("invoice-iva19-withholdings.json")
    data["lines"][1]["tax"]["rate"] = "16"
    assert ("lines[1].tax.rate", "FAX14") in _fields(_error(data))


def test_wrong_nit_dv():
    data = load("invoice-iva19-withholdings.json")
    data["customer"]["dv"] = "5"
    err = _error(data)
    assert (err.field, err.code) == ("customer.dv", "FAK24")
    assert "El DV del NIT 800199436 es 4" in err.message
    data = load("invoice-iva19-withholdings.json")
    data["supplier"]["dv"] = "1"
    assert ("supplier.dv", "FAJ24") in _fields(_error(data))


def test_negative_amounts():
    data = load("invoice-iva19-withholdings.json")
    data["lines"][0]["unit_price"] = "-1"
    data["lines"][1]["quantity"] = "0"
    data["allowance_charges"][0]["amount"] = "-5"
    assert {("lines[0].unit_price", "VLR01"), ("lines[1].quantity", "VLR01"),
            ("allowance_charges[0].amount", "VLR01")} <= _fields(_error(data))


def test_note_without_reference():
    data = load("credit-note-with-reference.json")
    del data["billing_reference"]
    err = _error(data)
    assert (err.field, err.code) == ("billing_reference", "CBG02")
    data = load("debit-note.json")
    del data["billing_reference"]
    assert ("billing_reference", "DBG02") in _fields(_error(data))
    # without reference but with the invoiced period it is a valid CustomizationID 22 note
    data = load("credit-note-with-reference.json")
    del data["billing_reference"]
    data["invoice_period"] = {"start": "2026-11-01", "end": "2026-11-30"}
    doc = jsonio.document_from_json(data)
    assert doc.operation_type == "22"


def test_missing_and_malformed_fields():
    data = load("invoice-iva19-withholdings.json")
    del data["numbering"]["technical_key"]
    data["issue_date"] = "20/11/2026"
    data["lines"][0]["description"] = ""
    data["supplier"]["responsibilities"] = ["O-99"]
    data["numbering"]["number"] = 996000000
    fields = _fields(_error(data))
    assert {("numbering.technical_key", "required"), ("issue_date", "date"), ("lines[0].description", "required"),
            ("supplier.responsibilities[0]", "FAJ26"), ("numbering.number", "FAD05e")} <= fields
    assert _error([]).field == "$"
    assert _error({**load("debit-note.json"), "kind": "receipt"}).field == "kind"


def test_note_dated_before_its_invoice():
    data = load("credit-note-with-reference.json")
    data["issue_date"] = "2026-11-19"
    assert ("billing_reference.issue_date", "CBG06") in _fields(_error(data))
