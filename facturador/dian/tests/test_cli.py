import json

import pytest

from facturador.dian import cli, verify
from facturador.dian.testing import make_test_pkcs12

from .conftest import REPO, xmlsec_verify

EX = REPO / "examples" / "dian"


def run(argv):
    """As the `facturador` entry point calls it: with the process environment."""
    import os

    return cli.main(argv, environ=os.environ)


@pytest.fixture
def p12(tmp_path, monkeypatch):
    path = tmp_path / "cert.p12"
    path.write_bytes(make_test_pkcs12("900373076", "s3creta"))
    monkeypatch.setenv("CERT_PASSWORD", "s3creta")
    monkeypatch.delenv("FACTURADOR_DIAN_SCHEMA_DIR", raising=False)
    return path


def test_build_then_verify(p12, tmp_path, schema_dir, capsys):
    out = tmp_path / "fv.xml"
    assert run(["build", str(EX / "invoice-iva19-withholdings.json"), "--cert", str(p12),
                     "--password-env", "CERT_PASSWORD", "--out", str(out), "--schema-dir", schema_dir]) == 0
    rc, err = xmlsec_verify(out.read_bytes(), tmp_path)
    assert rc == 0, err
    capsys.readouterr()
    assert run(["verify", str(out), "--technical-key", "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c",
                     "--pin", "12345", "--software-id", "5f1c9a0e-6b7d-4f3a-9d2e-1a2b3c4d5e6f",
                     "--schema-dir", schema_dir]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["ok"] for c in report["checks"]] == [True] * len(verify.CHECK_NAMES)
    assert report["document"]["number"] == "SETP990000101"
    # without schema dir nor keys: those checks are skipped (ok None) and the exit code is still 0
    assert run(["verify", str(out)]) == 0
    skipped = {c["name"] for c in json.loads(capsys.readouterr().out)["checks"] if c["ok"] is None}
    assert skipped == {"xsd", "cufe", "software_security_code"}
    tampered = tmp_path / "bad.xml"
    tampered.write_bytes(out.read_bytes().replace(b"Cliente Comercial", b"Cliente Comerciel"))
    assert run(["verify", str(tampered)]) == 1
    assert "ZE02" in capsys.readouterr().out


def test_build_to_stdout(p12, capsysbinary):
    assert run(["build", str(EX / "debit-note.json"), "--cert", str(p12), "--password-env", "CERT_PASSWORD"]) == 0
    assert capsysbinary.readouterr().out.startswith(b'<?xml version="1.0" encoding="UTF-8"?><DebitNote')


def test_build_input_error_in_spanish_with_field(p12, tmp_path, capsys):
    data = json.loads((EX / "invoice-iva19-withholdings.json").read_text(encoding="utf-8"))
    data["customer"]["dv"] = "7"
    src = tmp_path / "in.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    assert run(["build", str(src), "--cert", str(p12), "--password-env", "CERT_PASSWORD"]) == 1
    err = capsys.readouterr().err
    assert "customer.dv" in err and "FAK24" in err and "El DV del NIT 800199436 es 4" in err


def test_build_wrong_password(p12, monkeypatch, capsys):
    monkeypatch.setenv("CERT_PASSWORD", "otra")
    assert run(["build", str(EX / "debit-note.json"), "--cert", str(p12), "--password-env",
                     "CERT_PASSWORD"]) == 1
    assert "contraseña" in capsys.readouterr().err


def test_build_expired_certificate(tmp_path, monkeypatch, capsys):
    path = tmp_path / "old.p12"
    path.write_bytes(make_test_pkcs12("900373076", "x", expired=True))
    monkeypatch.setenv("PW", "x")
    assert run(["build", str(EX / "debit-note.json"), "--cert", str(path), "--password-env", "PW"]) == 1
    assert "cert_expired" in capsys.readouterr().err


def test_build_missing_password_env(p12, capsys):
    assert run(["build", str(EX / "debit-note.json"), "--cert", str(p12), "--password-env", "NO_SUCH_VAR_X"]) == 1
    assert "NO_SUCH_VAR_X" in capsys.readouterr().err


def test_build_invalid_json(p12, tmp_path, capsys):
    src = tmp_path / "bad.json"
    src.write_text("{ nope", encoding="utf-8")
    assert run(["build", str(src), "--cert", str(p12), "--password-env", "CERT_PASSWORD"]) == 1
    assert "no es JSON válido" in capsys.readouterr().err
