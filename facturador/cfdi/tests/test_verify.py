import base64
import json
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from facturador.cfdi import xml as cx
from facturador.cfdi.build import build_invoice
from facturador.cfdi.verify import verify_cfdi

from .conftest import make_pac


@pytest.fixture()
def stamped(invoice, csd, sandbox):
    return make_pac("finkok", sandbox.url).stamp(build_invoice(invoice, csd))


def test_tampered_stamp_detected(stamped, sandbox):
    assert verify_cfdi(stamped.xml_bytes, [sandbox.certificate_der]).ok
    forged = stamped.xml_bytes.replace(stamped.uuid.encode(), b"00000000-0000-4000-8000-000000000000")
    res = verify_cfdi(forged, [sandbox.certificate_der])
    assert res.sello_ok and res.sello_sat_ok is False and not res.ok


def test_tampered_amount_detected(stamped, sandbox):
    doc = etree.fromstring(stamped.xml_bytes)
    doc.find("cfdi:Conceptos/cfdi:Concepto", cx.NS).set("Descripcion", "Otra cosa")
    res = verify_cfdi(etree.tostring(doc), [sandbox.certificate_der])
    assert res.xsd_ok and not res.sello_ok and not res.ok


def test_without_pac_certificate_stamp_is_unchecked(stamped):
    res = verify_cfdi(stamped.xml_bytes)
    assert res.stamped and res.sello_sat_ok is None and not res.ok


def test_require_stamp(invoice, csd):
    sealed = build_invoice(invoice, csd)
    assert verify_cfdi(sealed).ok
    res = verify_cfdi(sealed, require_stamp=True)
    assert not res.ok and "sin timbre fiscal digital" in res.errors


@pytest.mark.skipif(not shutil.which("openssl") or not shutil.which("xsltproc"), reason="openssl/xsltproc not installed")
def test_seal_with_openssl_and_xsltproc(stamped, tmp_path):
    """A third implementation: xsltproc builds the cadena, openssl checks the RSA-SHA256 seal."""
    xml = tmp_path / "cfdi.xml"
    xml.write_bytes(stamped.xml_bytes)
    cadena = subprocess.run(["xsltproc", cx.sat_file(cx.XSLT_CFDI40), str(xml)], check=True, capture_output=True).stdout
    assert cadena == cx.cadena_original(stamped.xml_bytes).encode()
    doc = etree.fromstring(stamped.xml_bytes)
    cert = x509.load_der_x509_certificate(base64.b64decode(doc.get("Certificado")))
    (tmp_path / "pub.pem").write_bytes(cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(doc.get("Sello")))
    (tmp_path / "cadena.txt").write_bytes(cadena)
    out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                          str(tmp_path / "sig.bin"), str(tmp_path / "cadena.txt")], capture_output=True, text=True)
    assert out.returncode == 0 and "Verified OK" in out.stdout


def test_oversized_input_is_refused_before_parsing():
    res = verify_cfdi(b"<cfdi:Comprobante>" + b" " * (21 * 2**20) + b"</cfdi:Comprobante>")
    assert not res.ok and res.errors[0].startswith("xml_demasiado_grande")
    res = verify_cfdi(b"<a/>", max_bytes=3)
    assert res.errors[0].startswith("xml_demasiado_grande")


def test_dtd_and_entities_are_refused(invoice, csd):
    xml = build_invoice(invoice, csd)
    assert verify_cfdi(xml).sello_ok
    decl = xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0
    with_dtd = xml[:decl] + b'<!DOCTYPE cfdi:Comprobante [<!ENTITY e "x">]>' + xml[decl:]
    res = verify_cfdi(with_dtd)
    assert not res.ok and res.errors == ["xml_con_dtd: el CFDI declara un DOCTYPE o entidades; no se admiten."]


# ---------------------------------------------------------------- issue 16: versions, addenda, the stamp, the CLI
ADDENDA = (b'<cfdi:Addenda><x:Pedido xmlns:x="urn:acme:pedidos" Numero="4500012345"><x:Entrega Almacen="7"/>'
           b'</x:Pedido></cfdi:Addenda></cfdi:Comprobante>')


def test_cfdi_33_is_an_unsupported_version_not_a_bad_seal(invoice, csd):
    xml = build_invoice(invoice, csd)
    v33 = xml.replace(cx.NS_CFDI.encode(), b"http://www.sat.gob.mx/cfd/3").replace(b'Version="4.0"', b'Version="3.3"')
    res = verify_cfdi(v33)
    assert not res.ok and res.version == "3.3"
    assert len(res.errors) == 1 and res.errors[0].startswith("version_no_soportada") and "3.3" in res.errors[0]
    assert not any(e.startswith("sello") for e in res.errors)


def test_addenda_is_outside_the_seal_and_reported_apart(stamped, sandbox):
    with_addenda = stamped.xml_bytes.replace(b"</cfdi:Comprobante>", ADDENDA)
    res = verify_cfdi(with_addenda, [sandbox.certificate_der])
    assert res.xsd_ok and res.sello_ok and res.sello_sat_ok, res.errors
    assert res.ok and res.addenda == ["Pedido"]
    # the rest is still validated: a broken Comprobante with an addenda fails the XSD
    broken = with_addenda.replace(b'Exportacion="01"', b'Exportacion="99"')
    assert broken != with_addenda and not verify_cfdi(broken, [sandbox.certificate_der]).xsd_ok


def test_stamp_without_pac_certificate_says_why(stamped):
    res = verify_cfdi(stamped.xml_bytes)
    number = etree.fromstring(stamped.xml_bytes).find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS) \
        .get("NoCertificadoSAT")
    assert res.sello_sat_ok is None and number in res.stamp_note and "--pac-cert" in res.stamp_note
    assert any(e.startswith("timbre_no_verificado") for e in res.errors)


def test_cli_cfdi_verify(stamped, sandbox, tmp_path, capsys):
    from facturador.cli import main

    xml = tmp_path / "cfdi.xml"
    xml.write_bytes(stamped.xml_bytes)
    certs = tmp_path / "pac"
    certs.mkdir()
    (certs / "pac.cer").write_bytes(sandbox.certificate_der)
    assert main(["cfdi", "verify", str(xml), "--pac-cert", str(certs / "pac.cer"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["sello_sat_ok"] is True and out["uuid"] == stamped.uuid
    assert main(["cfdi", "verify", str(xml), "--pac-cert", str(certs)]) == 0  # a directory of certificates
    assert "VÁLIDO" in capsys.readouterr().out
    assert main(["cfdi", "verify", str(xml)]) == 1  # stamped, no PAC certificate: says why
    assert "--pac-cert" in capsys.readouterr().out
    assert main(["cfdi", "verify", str(tmp_path / "missing.xml")]) == 2


def test_cli_cfdi_verify_runs_without_django(stamped, tmp_path):
    import subprocess
    import sys
    xml = tmp_path / "cfdi.xml"
    xml.write_bytes(stamped.xml_bytes)
    code = ("import sys; from facturador.cli import main; rc = main(['cfdi', 'verify', sys.argv[1], '--json']); "
            "assert 'django' not in sys.modules; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, str(xml)], capture_output=True, text=True, timeout=120,
                       env={k: v for k, v in __import__("os").environ.items() if k != "DJANGO_SETTINGS_MODULE"})
    assert r.returncode == 1, r.stderr  # stamped without the PAC certificate
    assert json.loads(r.stdout)["stamped"] is True
