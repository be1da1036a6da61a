"""Receiving many arrivals at once (a folder on the CLI; `services.import_batch`): filed per batch with the same
guarantees as one arrival at a time."""

import io
import json

import pytest
from django.core.management import call_command

from facturador.core.actors import Actor
from facturador.core.models import AuditEntry
from facturador.reception import actions, services
from facturador.reception.models import Intake, ReceivedDocument

from .conftest import BUYER_NIT, Upload, attached_xml


def import_files(issuer, files):
    return actions.import_files(issuer, Actor.cli(), uploads=[Upload(data, name) for name, data in files])


def bare_invoices(zips) -> list[tuple[str, bytes]]:
    """The invoices of delivery zips on their own: filed with a file of their own (their XML), unlike a document
    in a container, which is read from its arrival's copy."""
    from facturador.dian.attached import extract

    return [(f"fv{i}.xml", extract(attached_xml(z)[1])[0]) for i, z in enumerate(zips)]


def document_files(issuer) -> list[str]:
    from django.core.files.storage import default_storage

    root = f"issuers/{issuer.pk}/reception/documents"
    if not default_storage.exists(root):
        return []
    out = []
    for folder in default_storage.listdir(root)[0]:
        out += default_storage.listdir(f"{root}/{folder}")[1]
    return out


def test_each_file_is_an_arrival_and_all_are_filed(receiver_co, co_zips):
    intakes = import_files(receiver_co, [("a.zip", co_zips[0]), ("b.zip", co_zips[1])])
    assert [(i.original_name, i.status, i.documents) for i in intakes] == [("a.zip", "processed", 1),
                                                                          ("b.zip", "processed", 1)]
    assert ReceivedDocument.objects.filter(issuer=receiver_co, verification="ok").count() == 2
    stored = Intake.objects.get(pk=intakes[1].pk)  # the outcome is stored, not only on the instances
    assert (stored.status, stored.documents, stored.results[0]["outcome"]) == ("processed", 1, "filed")


def test_same_document_twice_in_one_batch_is_filed_once_and_counted(receiver_co, co_zip):
    first, second = import_files(receiver_co, [("a.zip", co_zip), ("b.zip", co_zip)])
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    assert (first.documents, second.documents, second.duplicates) == (1, 0, 1)
    assert second.results[0]["document"] == doc.pk and doc.arrivals == 2 and doc.intake_id == first.pk


def test_document_filed_before_is_a_duplicate_in_a_batch(receiver_co, co_zip):
    import_files(receiver_co, [("a.zip", co_zip)])
    (again,) = import_files(receiver_co, [("b.zip", co_zip)])
    assert (again.documents, again.duplicates) == (0, 1)
    assert ReceivedDocument.objects.get(issuer=receiver_co).arrivals == 2


def test_bad_files_fail_alone_with_their_reason(receiver_co, co_zip, settings):
    settings.FACTURADOR_RECEPTION_MAX_BYTES = len(co_zip) + 10
    intakes = import_files(receiver_co, [("roto.zip", b"PK\x03\x04 not a zip"), ("vacio.xml", b""),
                                         ("grande.zip", b"PK" + b"0" * (len(co_zip) + 20)), ("a.zip", co_zip)])
    assert [(i.status, i.error_code) for i in intakes] == [
        ("failed", "reception.file.bad_zip"), ("failed", "reception.file.empty"),
        ("failed", "reception.file.too_large"), ("processed", "")]
    assert ReceivedDocument.objects.filter(issuer=receiver_co).count() == 1
    assert not Intake.objects.get(pk=intakes[2].pk).file  # over the cap: listed, its content not kept


def test_reader_that_breaks_fails_that_arrival_only(receiver_co, co_zips, monkeypatch):
    real = services.reader.read_arrival

    def read(name, data, **kw):
        if name == "a.zip":
            raise RuntimeError("boom")
        return real(name, data, **kw)

    monkeypatch.setattr(services.reader, "read_arrival", read)
    broken, good = import_files(receiver_co, [("a.zip", co_zips[0]), ("b.zip", co_zips[1])])
    assert (broken.status, broken.error_code) == ("failed", "reception.intake.unexpected")
    assert Intake.objects.get(pk=broken.pk).file  # kept for Reprocesar
    assert (good.status, good.documents) == ("processed", 1)


def test_crash_while_filing_keeps_the_arrivals_and_no_stray_files(receiver_co, co_zips, monkeypatch, settings,
                                                                  tmp_path):
    settings.MEDIA_ROOT = tmp_path
    def crash(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(services.ReceivedDocument.objects, "bulk_create", crash)
    with pytest.raises(RuntimeError):
        import_files(receiver_co, bare_invoices(co_zips))
    assert list(Intake.objects.filter(issuer=receiver_co).values_list("status", flat=True)) == ["received"] * 2
    assert not ReceivedDocument.objects.exists() and document_files(receiver_co) == []


def test_arrivals_left_unread_by_a_crash_are_filed_once_when_read_again(receiver_co, co_zips, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(services.ReceivedDocument.objects, "bulk_create", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            import_files(receiver_co, [("a.zip", co_zips[0]), ("b.zip", co_zips[1])])
    left = list(Intake.objects.filter(issuer=receiver_co, status="received").order_by("pk"))
    services.process_intakes(left, [co_zips[0], co_zips[1]])
    again = import_files(receiver_co, [("a.zip", co_zips[0])])
    assert ReceivedDocument.objects.filter(issuer=receiver_co).count() == 2
    assert again[0].duplicates == 1


def test_document_filed_meanwhile_by_another_arrival_falls_back_to_one_by_one(receiver_co, co_zips, monkeypatch,
                                                                             settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    invoices = bare_invoices(co_zips)
    import_files(receiver_co, invoices[:1])
    monkeypatch.setattr(services, "_known_documents", lambda issuer, uuids: {})  # as if filed after the lookup
    first, second = import_files(receiver_co, invoices)
    assert (first.status, first.duplicates, second.documents) == ("processed", 1, 1)
    assert ReceivedDocument.objects.filter(issuer=receiver_co).count() == 2
    assert len(document_files(receiver_co)) == 2  # an XML each; none of the rolled-back batch stays


def test_more_arrivals_than_a_batch(receiver_co, co_zips, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    intakes = import_files(receiver_co, [("a.zip", co_zips[0]), ("b.zip", co_zips[1]), ("c.zip", co_zips[0])])
    assert [(i.documents, i.duplicates) for i in intakes] == [(1, 0), (1, 0), (0, 1)]


def test_cli_imports_a_folder_with_one_audit_entry(receiver_co, co_zips, tmp_path):
    for i, data in enumerate(co_zips):
        (tmp_path / f"z{i}.zip").write_bytes(data)
    (tmp_path / "notas.txt").write_bytes(b"nada")
    out = io.StringIO()
    call_command("reception", "import", str(tmp_path), "--issuer", BUYER_NIT, "--json", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["file"], r["status"]) for r in lines] == [("notas.txt", "failed"), ("z0.zip", "processed"),
                                                         ("z1.zip", "processed")]
    assert ReceivedDocument.objects.filter(issuer=receiver_co).count() == 2
    assert AuditEntry.objects.filter(action="reception.import", issuer=receiver_co).count() == 1
