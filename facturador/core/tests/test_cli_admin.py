"""Issuers, certificates and numbering from the CLI: bad input is refused and stores nothing."""

import pytest
from django.core.management import CommandError, call_command

from facturador.core.models import Certificate, Issuer, NumberingRange
from facturador.core.tests.helpers import make_p12


def test_issuer_create_validates_the_nit(db, capsys):
    with pytest.raises(CommandError) as err:
        call_command("issuer", "create", "--country", "CO", "--tax-id", "800197268-5", "--name", "X")
    assert "es 4, no 5" in str(err.value)
    assert not Issuer.objects.exists()
    call_command("issuer", "create", "--country", "CO", "--tax-id", "800197268-4", "--name", "DIAN de prueba",
                 "--municipality", "11001")
    assert Issuer.objects.get().check_digit == "4"


def test_certificate_upload_wrong_password(issuer_co, tmp_path, monkeypatch):
    path = tmp_path / "firma.p12"
    path.write_bytes(make_p12("900373076", password="buena"))
    monkeypatch.setenv("CLAVE", "mala")
    with pytest.raises(CommandError) as err:
        call_command("certificate", "upload", "--issuer", "900373076", "--p12", str(path), "--password-env", "CLAVE")
    assert "contraseña" in str(err.value)
    assert not Certificate.objects.exists()
    monkeypatch.setenv("CLAVE", "buena")
    call_command("certificate", "upload", "--issuer", "900373076", "--p12", str(path), "--password-env", "CLAVE")
    assert Certificate.objects.filter(issuer=issuer_co, active=True).count() == 1


def test_numbering_add_overlap_refused(issuer_co, monkeypatch):
    monkeypatch.setenv("CLAVE_TEC", "abc123")
    args = ["numbering", "add", "--issuer", "900373076", "--prefix", "FE", "--from", "1", "--to", "1000",
            "--valid-from", "2026-01-01", "--valid-to", "2027-01-01", "--technical-key-env", "CLAVE_TEC"]
    call_command(*args)
    with pytest.raises(CommandError) as err:
        call_command(*[{"1": "500", "1000": "1500"}.get(a, a) for a in args])
    assert "se cruza" in str(err.value)
    assert NumberingRange.objects.get().technical_key.reveal() == "abc123"
