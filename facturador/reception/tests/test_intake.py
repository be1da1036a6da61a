"""Receiving files through the one action (web, API and CLI call it): Colombian zips, CFDI, emails, bad input."""

import io
import zipfile

import pytest

from facturador.core.actors import Actor
from facturador.core.errors import Invalid
from facturador.reception import actions
from facturador.reception.models import Intake, ReceivedDocument

from .conftest import BUYER_NIT, Upload, attached_xml, email_with


def receive(issuer, data, name):
    return actions.import_file(issuer, Actor.cli(), upload=Upload(data, name))


def test_colombian_zip_is_verified_and_filed(receiver_co, co_zip):
    intake = receive(receiver_co, co_zip, "z0900373076.zip")
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    assert (intake.status, intake.documents) == ("processed", 1)
    assert (doc.supplier_tax_id, doc.buyer_tax_id, doc.country, doc.kind) == ("900373076", BUYER_NIT, "CO", "invoice")
    assert doc.verification == "ok", doc.findings
    assert doc.dian_validation == "accepted" and doc.has_pdf and doc.has_container and doc.has_application_response
    assert doc.total > 0 and len(doc.uuid) == 96


def test_second_arrival_is_counted_not_stored_twice(receiver_co, co_zip):
    receive(receiver_co, co_zip, "a.zip")
    again = receive(receiver_co, co_zip, "b.zip")
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    assert (again.documents, again.duplicates, doc.arrivals) == (0, 1, 2)


def test_document_for_another_nit_is_set_aside_with_reason(make_issuer, co_zip):
    other = make_issuer("CO", tax_id="901234567")
    receive(other, co_zip, "a.zip")
    doc = ReceivedDocument.objects.get(issuer=other)
    assert doc.status == "set_aside" and BUYER_NIT in doc.set_aside_reason and "901234567" in doc.set_aside_reason


def test_broken_member_is_refused_naming_it_and_nothing_filed(receiver_co):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ad0900373076.xml", b"<AttachedDocument><roto")
    with pytest.raises(Invalid) as exc:
        receive(receiver_co, buf.getvalue(), "z1.zip")
    assert "z1.zip/ad0900373076.xml" in exc.value.message and exc.value.code == "reception.xml.malformed"
    assert not ReceivedDocument.objects.exists()
    assert Intake.objects.get(issuer=receiver_co).status == "failed"  # the arrival stays listed with its error


def test_zip_with_too_many_members_is_refused_before_reading(receiver_co, settings):
    settings.FACTURADOR_RECEPTION_MAX_MEMBERS = 3
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(4):
            zf.writestr(f"f{i}.xml", b"<x/>")
    with pytest.raises(Invalid) as exc:
        receive(receiver_co, buf.getvalue(), "muchos.zip")
    assert exc.value.code == "reception.file.too_many_members"


def test_zip_bomb_member_is_refused_by_real_size(receiver_co, settings):
    settings.FACTURADOR_RECEPTION_MAX_UNPACKED_BYTES = 2**20
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomba.xml", b"<a>" + b" " * (3 * 2**20) + b"</a>")
    with pytest.raises(Invalid) as exc:
        receive(receiver_co, buf.getvalue(), "bomba.zip")
    assert exc.value.code == "reception.file.too_large_unpacked"


def test_oversized_upload_is_refused_before_storing(receiver_co, settings):
    settings.FACTURADOR_RECEPTION_MAX_BYTES = 1000
    with pytest.raises(Invalid) as exc:
        receive(receiver_co, b"<x>" + b"0" * 2000 + b"</x>", "grande.xml")
    assert exc.value.code == "reception.file.too_large" and not Intake.objects.exists()


def test_bare_attached_document_xml_is_received(receiver_co, co_zips):
    name, xml = attached_xml(co_zips[1])
    receive(receiver_co, xml, name)
    assert ReceivedDocument.objects.get(issuer=receiver_co).dian_validation == "accepted"


def test_email_with_zip_attachment_is_received(receiver_co, co_zip):
    intake = receive(receiver_co, email_with([("z.zip", co_zip)]), "factura.eml")
    assert intake.documents == 1


def test_files_of_a_document_from_an_email_are_read_from_the_stored_message(receiver_co, co_zip):
    from facturador.reception import files

    receive(receiver_co, email_with([("z.zip", co_zip)]), "factura.eml")
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    with zipfile.ZipFile(io.BytesIO(co_zip)) as zf:
        sent_pdf = zf.read(next(n for n in zf.namelist() if n.endswith(".pdf")))
    assert files.download(doc, "contenedor")[0] == attached_xml(co_zip)[1]
    assert files.download(doc, "pdf")[0] == sent_pdf


def test_a_download_unpacks_the_arrival_only_up_to_its_document(receiver_co, co_zips, monkeypatch):
    """A supplier's zip of many documents: one document's file is read without inflating the members after it."""
    from facturador.reception import files, intake

    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("primera.zip", co_zips[0])
        zf.writestr("segunda.zip", co_zips[1])
    receive(receiver_co, outer.getvalue(), "lote.zip")
    first = ReceivedDocument.objects.filter(issuer=receiver_co).order_by("pk").first()
    inflated = []
    real = intake.inflate_member

    def counting(fh, zf, info, **kw):
        inflated.append(info.filename)
        return real(fh, zf, info, **kw)

    monkeypatch.setattr(intake, "inflate_member", counting)
    assert files.download(first, "contenedor")[0] == attached_xml(co_zips[0])[1]
    assert "primera.zip" in inflated and "segunda.zip" not in inflated


def test_a_file_no_longer_in_the_stored_arrival_is_not_found(receiver_co, co_zip):
    from django.core.files.base import ContentFile

    from facturador.core.errors import NotFound
    from facturador.reception import files

    intake = receive(receiver_co, co_zip, "z.zip")
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    name, container = attached_xml(co_zip)
    stored = Intake.objects.get(pk=intake.pk)
    stored.file.storage.delete(stored.file.name)
    stored.file.storage.save(stored.file.name, ContentFile(container))  # the copy is no longer the zip that was read
    with pytest.raises(NotFound):
        files.download(doc, "contenedor")


def test_cfdi_is_verified_and_filed(receiver_mx, cfdi_xml):
    receive(receiver_mx, cfdi_xml, "cfdi.xml")
    doc = ReceivedDocument.objects.get(issuer=receiver_mx)
    assert (doc.country, doc.kind, doc.supplier_tax_id, doc.number, doc.currency) == (
        "MX", "cfdi_ingreso", "EKU9003173C9", "R1", "MXN")
    assert doc.verification == "ok", doc.findings
    assert str(doc.total) == "232.00"


def test_rejected_dian_answer_keeps_rule_codes(receiver_co, co_zips):
    name, xml = attached_xml(co_zips[1])
    from facturador.dian.attached import extract
    doc_xml, ar = extract(xml)
    ar = ar.replace(b"<cbc:ResponseCode>02</cbc:ResponseCode>", b"<cbc:ResponseCode>04</cbc:ResponseCode>", 1)
    ar = ar.replace(b"<cbc:ResponseCode>0000</cbc:ResponseCode>", b"<cbc:ResponseCode>FAD06</cbc:ResponseCode>", 1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fv.xml", doc_xml)
        zf.writestr("ar.xml", ar)
    receive(receiver_co, buf.getvalue(), "suelto.zip")
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    assert doc.dian_validation == "rejected" and doc.verification == "failed"
    assert [r["code"] for r in doc.dian_rules] == ["FAD06"]


def test_document_in_a_container_stores_no_file_of_its_own(receiver_co, co_zip):
    """The container and the PDF are read from the arrival's stored copy, the XML and DIAN's ApplicationResponse
    extracted from the container: byte for byte, nothing written again on arrival."""
    from facturador.dian.attached import extract
    from facturador.reception import files

    receive(receiver_co, co_zip, "z.zip")
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    assert not (doc.xml or doc.application_response or doc.container or doc.pdf)
    _, container = attached_xml(co_zip)
    invoice, answer = extract(container)
    assert files.download(doc, "contenedor")[0] == container
    assert files.download(doc, "xml")[:2] == (invoice, f"{doc.number}.xml")
    assert files.download(doc, "respuesta")[:2] == (answer, f"ApplicationResponse-{doc.number}.xml")
    assert files.download(doc, "pdf")[0].startswith(b"%PDF")


def test_summary_pdf_of_a_document_in_a_container_reads_its_xml(receiver_co, co_zips):
    from facturador.reception import files

    name, container = attached_xml(co_zips[1])
    receive(receiver_co, container, name)  # the bare AttachedDocument: no PDF came
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    assert not doc.has_pdf and not doc.xml
    content, filename, _ = files.download(doc, "pdf")
    assert content.startswith(b"%PDF") and filename == f"resumen-{doc.number}.pdf"
