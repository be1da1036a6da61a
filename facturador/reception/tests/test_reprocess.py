"""Reprocesar: a stored failed arrival read again through the same intake (action, web button, API, CLI)."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from facturador.core.actors import Actor
from facturador.core.cli import RefusedCommand
from facturador.core.errors import Conflict
from facturador.core.models import AuditEntry
from facturador.reception import actions, services
from facturador.reception.models import Intake, ReceivedDocument

from .conftest import BUYER_NIT


def _failed(issuer, data: bytes, name="z.zip") -> Intake:
    """An arrival stored and then broken by an unexpected error (as the mailbox poller records it)."""
    intake = services.record_intake(issuer, source="imap", name=name, data=data)
    Intake.objects.filter(pk=intake.pk).update(status="failed", errors=1, error_code="reception.intake.unexpected",
                                               error_message="error inesperado")
    return intake


def test_reprocess_files_the_documents_of_a_failed_arrival(receiver_co, co_zip):
    intake = _failed(receiver_co, co_zip)
    done = actions.reprocess_intake(receiver_co, Actor.cli(), intake_id=intake.pk)
    assert (done.status, done.documents, done.error_code) == ("processed", 1, "")
    assert ReceivedDocument.objects.get(issuer=receiver_co).intake_id == intake.pk
    assert AuditEntry.objects.filter(action="reception.intake.reprocess").count() == 1


def test_reprocess_counts_a_document_filed_meanwhile_as_duplicate(receiver_co, co_zip):
    intake = _failed(receiver_co, co_zip)
    services.process_intake(services.record_intake(receiver_co, source="upload", name="z.zip", data=co_zip))
    done = actions.reprocess_intake(receiver_co, Actor.cli(), intake_id=intake.pk)
    assert (done.documents, done.duplicates) == (0, 1)
    assert ReceivedDocument.objects.get(issuer=receiver_co).arrivals == 2


def test_a_partly_failed_arrival_read_again_does_not_count_its_own_documents_twice(receiver_co, co_zip):
    intake = services.process_intake(services.record_intake(receiver_co, source="upload", name="z.zip", data=co_zip))
    Intake.objects.filter(pk=intake.pk).update(status="partial")
    done = actions.reprocess_intake(receiver_co, Actor.cli(), intake_id=intake.pk)
    assert done.duplicates == 1
    assert ReceivedDocument.objects.get(issuer=receiver_co).arrivals == 1


def test_only_failed_arrivals_with_a_stored_copy_are_reprocessed(receiver_co, co_zip, make_issuer):
    ok = services.process_intake(services.record_intake(receiver_co, source="upload", name="z.zip", data=co_zip))
    with pytest.raises(Conflict) as exc:
        actions.reprocess_intake(receiver_co, Actor.cli(), intake_id=ok.pk)
    assert exc.value.code == "reception.intake.not_failed"
    big = _failed(receiver_co, b"", name="mensaje-9.eml")  # too large: never downloaded
    with pytest.raises(Conflict) as exc:
        actions.reprocess_intake(receiver_co, Actor.cli(), intake_id=big.pk)
    assert exc.value.code == "reception.intake.no_copy"
    other = make_issuer("CO", tax_id="901234567")
    with pytest.raises(Exception) as exc:
        actions.reprocess_intake(other, Actor.cli(), intake_id=ok.pk)
    assert exc.value.code == "reception.intake.not_found"


def test_reprocess_button_on_the_arrival_page(client, reception_admin, receiver_co, co_zip):
    intake = _failed(receiver_co, co_zip)
    client.force_login(reception_admin)
    page = client.get(reverse("reception:intake", args=[intake.pk])).content.decode()
    assert 'id="reprocess"' in page and "Reprocesar" in page
    resp = client.post(reverse("reception:reprocess", args=[intake.pk]), follow=True)
    assert "reprocesada" in resp.content.decode()
    assert 'id="reprocess"' not in resp.content.decode()  # processed now: no button
    assert ReceivedDocument.objects.filter(issuer=receiver_co).count() == 1


def test_reprocess_api_and_refusal(api_client, reception_admin, receiver_co, co_zip):
    intake = _failed(receiver_co, co_zip)
    api_client.force_authenticate(reception_admin)
    url = f"/api/v1/issuers/{receiver_co.pk}/received-intakes/{intake.pk}/reprocess/"
    resp = api_client.post(url)
    assert resp.status_code == 200 and resp.json()["status"] == "processed"
    again = api_client.post(url)
    assert again.status_code == 409 and again.json()["code"] == "reception.intake.not_failed"


def test_reprocess_cli(receiver_co, co_zip, capsys):
    intake = _failed(receiver_co, co_zip)
    call_command("reception", "reprocess", str(intake.pk), "--issuer", BUYER_NIT, "--json")
    assert json.loads(capsys.readouterr().out)["documents"] == 1
    with pytest.raises(RefusedCommand):
        call_command("reception", "reprocess", str(intake.pk), "--issuer", BUYER_NIT)
