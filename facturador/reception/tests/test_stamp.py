"""The TimbreFiscalDigital of a received CFDI checked with SAT's certificate, found by its NoCertificadoSAT in a
local folder, the data directory's cache or SAT's certificate repository (here the local PAC, which publishes its
stamping certificate at the repository's paths)."""

import re

import pytest
from cryptography.hazmat.primitives import serialization

from facturador.cfdi.sandbox import PacSandbox
from facturador.cfdi.satcerts import rccf_path
from facturador.core.actors import Actor
from facturador.reception import actions, satcerts
from facturador.reception.models import ReceivedDocument

from .conftest import Upload, stamp_cfdi


def receive(issuer, data, name="cfdi.xml"):
    actions.import_file(issuer, Actor.cli(), upload=Upload(data, name))
    return ReceivedDocument.objects.filter(issuer=issuer).latest("id")


def sat_number(xml: bytes) -> str:
    return re.search(rb'NoCertificadoSAT="(\d+)"', xml).group(1).decode()


@pytest.fixture
def own_data_dir(settings, tmp_path):
    """A data directory of this test's own, so no certificate cached by another test is found."""
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def pac_server():
    server = PacSandbox().start()
    yield server
    server.stop()


def test_stamp_verified_with_certificate_from_local_folder(receiver_mx, cfdi_xml, cfdi_sat_certificate, settings,
                                                           own_data_dir, tmp_path):
    folder = tmp_path / "sat"
    folder.mkdir()
    (folder / f"{sat_number(cfdi_xml)}.cer").write_bytes(cfdi_sat_certificate)
    settings.FACTURADOR_SAT_CERTIFICATES_DIR = str(folder)
    doc = receive(receiver_mx, cfdi_xml)
    assert (doc.stamp_check, doc.get_stamp_check_display(), doc.verification) == ("verified", "Verificado", "ok"), \
        doc.findings


def test_stamp_verified_end_to_end_from_the_certificate_repository(receiver_mx, pac_server, settings, own_data_dir):
    settings.FACTURADOR_SAT_CERTIFICATES_URL = pac_server.url + "/rccf/"
    xml = stamp_cfdi(pac_server, folio="71")
    doc = receive(receiver_mx, xml)
    assert doc.stamp_check == "verified", doc.findings
    assert doc.findings == []


def test_downloaded_certificate_is_cached_in_the_data_directory(receiver_mx, pac_server, settings, own_data_dir):
    settings.FACTURADOR_SAT_CERTIFICATES_URL = pac_server.url + "/rccf/"
    number = pac_server.certificate_number
    assert satcerts.lookup(number) is not None
    pac_server.stop()
    satcerts.clear_memory()  # another worker process: only the data directory is shared
    cached = satcerts.lookup(number)
    assert cached is not None and cached.public_bytes(serialization.Encoding.DER) == pac_server.certificate_der
    assert (own_data_dir / "sat-certificates" / f"{number}.cer").exists()


def test_local_pac_publishes_its_certificate_at_the_repository_path(pac_server):
    import requests

    number = pac_server.certificate_number
    resp = requests.get(f"{pac_server.url}/rccf/{rccf_path(number)}", timeout=10)
    assert (resp.status_code, resp.content) == (200, pac_server.certificate_der)


def test_tampered_sat_seal_is_not_valid(receiver_mx, cfdi_xml, cfdi_sat_certificate, settings, own_data_dir,
                                        tmp_path):
    (tmp_path / f"{sat_number(cfdi_xml)}.cer").write_bytes(cfdi_sat_certificate)
    settings.FACTURADOR_SAT_CERTIFICATES_DIR = str(tmp_path)
    seal = re.search(rb'SelloSAT="([^"]+)"', cfdi_xml).group(1)
    forged = seal[:10] + (b"A" if seal[10:11] != b"A" else b"B") + seal[11:]
    doc = receive(receiver_mx, cfdi_xml.replace(seal, forged))
    assert (doc.stamp_check, doc.get_stamp_check_display(), doc.verification) == (
        "invalid", "Sello del SAT no válido", "failed")
    assert any(f["severity"] == "error" and f["message"].startswith("Sello del SAT no válido") for f in doc.findings)


def test_unknown_certificate_is_not_available(receiver_mx, cfdi_xml, pac_server, settings, own_data_dir):
    # the repository answers, but not for this number (it publishes another stamping certificate)
    settings.FACTURADOR_SAT_CERTIFICATES_URL = pac_server.url + "/rccf/"
    doc = receive(receiver_mx, cfdi_xml)
    assert (doc.stamp_check, doc.get_stamp_check_display()) == ("unavailable", "Certificado del SAT no disponible")
    assert doc.verification == "ok"  # not checked is not a failure: the page says which check could not be done
    assert [f["severity"] for f in doc.findings] == ["info"]
    assert doc.findings[0]["message"].startswith("Certificado del SAT no disponible")


def test_file_holding_another_certificate_is_not_used(receiver_mx, cfdi_xml, pac_server, settings, own_data_dir,
                                                      tmp_path):
    (tmp_path / f"{sat_number(cfdi_xml)}.cer").write_bytes(pac_server.certificate_der)  # another number inside
    settings.FACTURADOR_SAT_CERTIFICATES_DIR = str(tmp_path)
    assert receive(receiver_mx, cfdi_xml).stamp_check == "unavailable"


def test_repository_at_a_private_address_is_refused(cfdi_xml, settings, own_data_dir, caplog):
    settings.FACTURADOR_SAT_CERTIFICATES_URL = "http://10.1.2.3/rccf/"
    assert satcerts.lookup(sat_number(cfdi_xml)) is None
    assert "repository address refused" in caplog.text


def test_detail_page_shows_the_stamp_check(client, make_user, receiver_mx, cfdi_xml, cfdi_sat_certificate, settings,
                                           own_data_dir, tmp_path):
    (tmp_path / f"{sat_number(cfdi_xml)}.cer").write_bytes(cfdi_sat_certificate)
    settings.FACTURADOR_SAT_CERTIFICATES_DIR = str(tmp_path)
    doc = receive(receiver_mx, cfdi_xml)
    client.force_login(make_user("revisor", receiver_mx, "readonly"))
    page = client.get(f"/recepcion/{doc.pk}/").content.decode()
    assert re.search(r'id="stamp-check">Verificado<', page)


def test_stamp_verified_when_received_in_a_batch(receiver_mx, cfdi_xml, cfdi_sat_certificate, settings, own_data_dir,
                                                 tmp_path):
    """A folder on the CLI files its arrivals in batches (`services.import_batch`): the stamp is checked there too."""
    from facturador.reception import services

    (tmp_path / f"{sat_number(cfdi_xml)}.cer").write_bytes(cfdi_sat_certificate)
    settings.FACTURADOR_SAT_CERTIFICATES_DIR = str(tmp_path)
    services.import_batch(receiver_mx, source="cli", arrivals=[("cfdi.xml", cfdi_xml)])
    assert ReceivedDocument.objects.get(issuer=receiver_mx).stamp_check == "verified"


def test_stamp_checked_again_once_the_certificate_is_available(receiver_mx, cfdi_xml, cfdi_sat_certificate, settings,
                                                               own_data_dir, tmp_path, client, make_user):
    """SAT's repository did not answer when the CFDI arrived; "Verificar de nuevo" on its page checks it now."""
    doc = receive(receiver_mx, cfdi_xml)
    assert doc.stamp_check == "unavailable"
    (tmp_path / f"{sat_number(cfdi_xml)}.cer").write_bytes(cfdi_sat_certificate)  # now the deployment has it
    settings.FACTURADOR_SAT_CERTIFICATES_DIR = str(tmp_path)
    client.force_login(make_user("compras", receiver_mx, "billing"))
    client.post(f"/recepcion/{doc.pk}/timbre/")
    doc.refresh_from_db()
    assert (doc.stamp_check, doc.verification, doc.findings) == ("verified", "ok", [])


def test_stamp_check_again_through_the_api(receiver_mx, cfdi_xml, cfdi_sat_certificate, settings, own_data_dir,
                                           tmp_path, api_client, make_user):
    doc = receive(receiver_mx, cfdi_xml)
    (tmp_path / f"{sat_number(cfdi_xml)}.cer").write_bytes(cfdi_sat_certificate)
    settings.FACTURADOR_SAT_CERTIFICATES_DIR = str(tmp_path)
    api_client.force_authenticate(make_user("api", receiver_mx, "billing"))
    resp = api_client.post(f"/api/v1/issuers/{receiver_mx.pk}/received/{doc.pk}/stamp-check/")
    assert resp.status_code == 200 and resp.json()["stamp_check"] == "verified"
