"""Resource limits of the XML verification path (issue 13): size cap, no DTD/entities, no huge_tree."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from facturador.dian import _read, cli
from facturador.dian.verify import verify_document

from .conftest import REPO


def test_cli_verify_dev_zero_reads_at_most_the_cap():
    # Used to read /dev/zero until memory ran out (8 GB in 20 s): now N + 1 bytes, exit 2.
    code = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (600 * 2**20, 600 * 2**20))
        from facturador.dian import cli
        sys.exit(cli.main(["verify", "/dev/zero"]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert "máximo admitido es 20,971,520 bytes" in proc.stderr


def test_cli_max_bytes_option(tmp_path, capsys):
    path = tmp_path / "big.xml"
    path.write_bytes(b"<Invoice>" + b" " * 2000 + b"</Invoice>")
    assert cli.main(["verify", str(path), "--max-bytes", "1000"]) == 2
    assert "1,000 bytes" in capsys.readouterr().err
    assert cli.main(["verify", str(path), "--max-bytes", "5000"]) == 1  # read; not an invoice
    report = json.loads(capsys.readouterr().out)
    assert "máximo" not in report["checks"][0]["message"]


def test_read_xml_stops_after_n_plus_one_bytes(tmp_path):
    path = tmp_path / "x.xml"
    path.write_bytes(b"<a/>" + b" " * 100)
    assert _read.read_xml(path, 104) == b"<a/>" + b" " * 100
    with pytest.raises(_read.XmlInputError) as ei:
        _read.read_xml(path, 103)
    assert ei.value.code == "xml.too_large"


def test_verify_document_refuses_oversized_input_without_parsing():
    big = b"<Invoice>" + b"<x/>" * (6 * 2**20) + b"</Invoice>"  # 24 MB > 20 MB default
    report = verify_document(big)
    assert report.checks[0].ok is False and "máximo admitido" in report.checks[0].message
    assert all(c.ok is None for c in report.checks[1:])
    assert not report.ok
    # the caller may raise the cap
    assert verify_document(b"<Invoice/>", max_bytes=5).checks[0].ok is False


def test_entity_declarations_are_refused_not_expanded():
    xml = (b'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY a "valor">]>'
           b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><x>&a;</x></Invoice>')
    with pytest.raises(_read.XmlInputError) as ei:
        _read.parse(xml)
    assert ei.value.code == "xml.dtd"
    report = verify_document(xml)
    assert report.checks[0].ok is False and "DOCTYPE" in report.checks[0].message


def test_billion_laughs_is_refused_quickly():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY a0 "' + b"x" * 1000 + b'">'
              + b"".join(b'<!ENTITY a%d "%s">' % (i + 1, b"&a%d;" % i * 10) for i in range(9))
              + b']><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&a9;</Invoice>')
    report = verify_document(laughs)
    assert report.checks[0].ok is False and not report.ok


def test_external_entities_are_not_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRETO")
    xml = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY s SYSTEM "file://{secret}">]><r>&s;</r>').encode()
    with pytest.raises(_read.XmlInputError):
        _read.parse(xml)


def test_huge_text_nodes_are_not_allowed():
    # libxml2's default limits stay on (no huge_tree): a single 11 MB text node is malformed input.
    from lxml import etree
    with pytest.raises(etree.XMLSyntaxError):
        _read.parse(b"<a>" + b"x" * 11_000_000 + b"</a>")


# ---------------------------------------------------------------- issue 16: entities and DTDs with the XSD check on
def _with_doctype(signed: bytes, doctype: bytes) -> bytes:
    return signed.replace(b"?>", b"?>" + doctype, 1).replace(b"<cbc:ID>SETP", b"<cbc:ID>&a;", 1)


@pytest.fixture(scope="module")
def signed_small(signer):
    from facturador.dian import xades

    from .conftest import make_invoice
    return xades.sign_document(make_invoice(), signer)


@pytest.mark.parametrize("doctype", [b'<!DOCTYPE Invoice [<!ENTITY a "SETP">]>', b'<!DOCTYPE Invoice SYSTEM "x.dtd">'])
def test_entity_reference_with_xsd_on_is_zb01_never_an_internal_error(signed_small, schema_dir, doctype):
    from facturador.dian import xsd
    data = _with_doctype(signed_small, doctype)
    errors = xsd.validate_xsd(data, schema_dir)  # used to raise XMLSchemaValidateError ("Internal error")
    assert errors and "DOCTYPE" in errors[0]
    report = verify_document(data, schema_dir=schema_dir)
    assert (report.checks[0].name, report.checks[0].ok, report.checks[0].rule) == ("xsd", False, "ZB01")
    assert not report.ok


def test_external_dtd_is_reported_by_name(signed_small, schema_dir):
    report = verify_document(_with_doctype(signed_small, b'<!DOCTYPE Invoice SYSTEM "http://evil.example/x.dtd">'),
                             schema_dir=schema_dir)
    first = report.checks[0]
    assert first.ok is False and first.rule == "ZB01"
    assert "DTD externa" in first.message and "http://evil.example/x.dtd" in first.message


def test_unusable_schema_dir_is_a_check_that_could_not_run(signed_small, tmp_path):
    report = verify_document(signed_small, schema_dir=str(tmp_path))  # used to raise SchemaDirError
    xsd_check = report.check("xsd")
    assert xsd_check.ok is None and str(tmp_path) in xsd_check.message
