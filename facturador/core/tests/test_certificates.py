from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

import pytest

from facturador.core import certificates
from facturador.core.models import AuditEntry, Certificate
from facturador.core.tests.helpers import make_p12


def test_valid_p12_is_stored_encrypted_and_never_exposed(issuer_co, admin_co, api_client):
    data = make_p12("900373076", password="secreto-123")
    cert = certificates.store(issuer_co, kind="p12", password="secreto-123", p12=data, user=admin_co)
    assert cert.key_material.reveal() == data
    assert cert.password.reveal() == "secreto-123"
    assert "secreto" not in repr(cert.password)
    with connection.cursor() as cur:
        cur.execute("SELECT key_material, password FROM core_certificate WHERE id = %s", [cert.pk])
        raw_key, raw_password = (bytes(v) for v in cur.fetchone())
    assert data not in raw_key and b"secreto-123" not in raw_password
    api_client.force_authenticate(admin_co)
    body = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/certificates/").content
    assert b"secreto" not in body and b"key_material" not in body and b"password" not in body
    assert not any("secreto" in e.summary for e in AuditEntry.objects.all())


@pytest.mark.parametrize("kwargs,code", [
    (dict(password="otra"), "password"),
    (dict(nit="811111111"), "tax_id"),
    (dict(days=-1, not_before_days=-30), "expired"),
])
def test_bad_p12_is_refused_and_nothing_stored(issuer_co, kwargs, code):
    nit = kwargs.pop("nit", "900373076")
    password = kwargs.pop("password", "clave")
    data = make_p12(nit, password="clave", **kwargs)
    with pytest.raises(certificates.CertificateError) as err:
        certificates.store(issuer_co, kind="p12", password=password, p12=data)
    assert err.value.code == f"core.certificate.{code}"
    assert err.value.message
    assert not Certificate.objects.exists()


def test_p12_without_matching_key_is_refused(issuer_co):
    data = make_p12("900373076", other_key=True)
    with pytest.raises(certificates.CertificateError) as err:
        certificates.store(issuer_co, kind="p12", password="clave", p12=data)
    assert err.value.code in ("core.certificate.incomplete", "core.certificate.key_mismatch")


def test_sat_test_csd(shared, issuer_mx):
    cer = (shared / "sat/csd/EKU9003173C9.cer").read_bytes()
    key = (shared / "sat/csd/EKU9003173C9.key").read_bytes()
    cert = certificates.store(issuer_mx, kind="csd", password="12345678a", cer=cer, key=key)
    assert cert.certificate_number == "30001000000500003416"
    with pytest.raises(certificates.CertificateError) as err:
        certificates.store(issuer_mx, kind="csd", password="mala", cer=cer, key=key)
    assert err.value.code == "core.certificate.password"
    assert Certificate.objects.filter(issuer=issuer_mx).count() == 1


def test_csd_for_another_rfc_is_refused(shared, make_issuer):
    other = make_issuer("MX", tax_id="XIQB891116QE4")
    cer = (shared / "sat/csd/EKU9003173C9.cer").read_bytes()
    key = (shared / "sat/csd/EKU9003173C9.key").read_bytes()
    with pytest.raises(certificates.CertificateError) as err:
        certificates.store(other, kind="csd", password="12345678a", cer=cer, key=key)
    assert err.value.code == "core.certificate.tax_id" and "EKU9003173C9" in err.value.message


def test_replacing_keeps_one_active(issuer_co):
    certificates.store(issuer_co, kind="p12", password="clave", p12=make_p12("900373076"))
    certificates.store(issuer_co, kind="p12", password="clave", p12=make_p12("900373076"))
    assert Certificate.objects.filter(issuer=issuer_co).count() == 2
    assert Certificate.objects.filter(issuer=issuer_co, active=True).count() == 1


def test_upload_through_ui_shows_spanish_error(client_co, issuer_co):
    resp = client_co.post("/certificados/cargar/", {
        "kind": "p12", "password": "equivocada",
        "p12": SimpleUploadedFile("firma.p12", make_p12("900373076", password="clave")),
    })
    assert resp.status_code == 200
    assert "La contraseña del certificado no es correcta" in resp.content.decode()
    assert not Certificate.objects.exists()


def test_upload_through_api(api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{issuer_co.pk}/certificates/"
    bad = api_client.post(url, {"kind": "p12", "password": "x", "p12": SimpleUploadedFile("a.p12", make_p12("900373076"))},
                          format="multipart")
    assert bad.status_code == 400 and bad.json()["code"] == "core.certificate.password"
    good = api_client.post(url, {"kind": "p12", "password": "clave", "p12": SimpleUploadedFile("a.p12", make_p12("900373076"))},
                           format="multipart")
    assert good.status_code == 201
    assert set(good.json()) >= {"serial_number", "not_after"} and "password" not in good.json()
