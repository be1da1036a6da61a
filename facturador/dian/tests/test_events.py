"""RADIAN events built by ``dian.events``: XSD-valid, signed (xmlsec1 agrees), and the verifier recomputes
their CUDE."""
import datetime as dt

import pytest

from facturador.dian import events, verify
from facturador.dian.model import Party, Software

from .conftest import PIN, SOFTWARE_ID, xmlsec_verify

CUFE = "8bb918b19ba22a694f1da11c643b5e9de39adf60311cf179179e9b33381030bcd4c3c3f156c506ed5908f9276f5bd9b4"


@pytest.fixture(scope="module")
def buyer():
    from facturador.dian.testing import make_test_pkcs12
    from facturador.dian.xades import load_pkcs12
    return load_pkcs12(make_test_pkcs12("800199436", "clave"), "clave")


def make(code="030", **kw):
    args = dict(code=code, number="EV1", issue_date=dt.date.today(), issue_time=dt.time(10, 30, 0),
                environment="2", software=Software(SOFTWARE_ID, PIN, "800199436"),
                sender=Party("800199436", "Cliente Comercial Ltda."),
                receiver=Party("900373076", "Empresa de Pruebas S.A.S."),
                invoice_number="SETP990000101", invoice_cufe=CUFE,
                person=events.Person("1020304050", "Ana", "Pérez", "Almacenista", "Compras"))
    args.update(kw)
    return events.Event(**args)


@pytest.mark.parametrize("code", ["030", "031", "032", "033", "034"])
def test_each_event_is_xsd_valid_signed_and_its_cude_verifies(code, buyer, signer, schema_dir):
    ev = make(code, claim_reason="02" if code == "031" else None)
    if code == "034":  # the supplier's
        ev.sender, ev.receiver, ev.person = ev.receiver, ev.sender, None
    xml = events.sign_event(ev, signer if code == "034" else buyer)
    report = verify.verify_document(xml, pin=PIN, schema_dir=schema_dir)
    assert report.ok, [(c.name, c.message) for c in report.checks if c.ok is False]
    assert report.check("cude").ok is True and report.check("xsd").ok is True
    assert report.document["uuid"] == events.event_cude_of(ev)


def test_event_signature_verifies_with_xmlsec1(buyer, tmp_path):
    code, err = xmlsec_verify(events.sign_event(make("032"), buyer), tmp_path)
    assert code == 0, err


def test_claim_carries_its_reason_and_needs_one():
    root = events.build_event(make("031", claim_reason="04"))
    f = events.event_fields(root)
    assert (f["code"], f["claim_reason"]) == ("031", "04")
    with pytest.raises(ValueError, match="concepto de reclamo"):
        events.build_event(make("031"))
    with pytest.raises(ValueError, match="persona"):
        events.build_event(make("032", person=None))


def test_a_wrong_pin_or_altered_field_breaks_the_cude(buyer):
    xml = events.sign_event(make("033"), buyer)
    assert verify.verify_document(xml, pin="99999").check("cude").rule == "AAD06"
    f = events.event_fields(events.build_event(make("033")))
    assert events.recompute_cude(f, PIN) == f["cude"]
    assert events.recompute_cude({**f, "reference_id": "SETP990000102"}, PIN) != f["cude"]
