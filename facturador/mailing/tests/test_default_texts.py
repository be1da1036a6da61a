"""The default subject and message fit each document type: what it is called, its due date only when it has one,
and what is really attached."""

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from facturador.core import models as core_models
from facturador.mailing import services
from facturador.mailing.forms import DEFAULT_BODY, DEFAULT_SUBJECT
from facturador.mailing.tests.conftest import attached_zip, invoice_xml, real_pdf

pytestmark = pytest.mark.django_db


def body_for(doc, issuer):
    return services.render(DEFAULT_BODY, services.context_for(doc, issuer))


def test_electronic_invoice_with_pdf_and_xml(issuer_co, make_docs):
    doc = make_docs(issuer_co, 1)[0]
    body = body_for(doc, issuer_co)
    assert "Le enviamos la factura electrónica FE1 del 31/10/2026" in body
    assert "Adjuntamos el documento en PDF y XML." in body


def test_plain_pdf_invoice_is_not_called_electronic_nor_said_to_carry_xml(issuer_co, make_docs):
    doc = make_docs(issuer_co, 1)[0]
    doc.xml, doc.uuid = "", ""
    doc.save()
    body = body_for(doc, issuer_co)
    assert "Le enviamos la factura FE1" in body and "electrónica" not in body
    assert "Adjuntamos el documento en PDF." in body and "XML" not in body


def test_plain_pdf_invoice_subject(issuer_co, make_docs):
    doc = make_docs(issuer_co, 1)[0]
    doc.xml, doc.uuid = "", ""
    assert services.render(DEFAULT_SUBJECT, services.context_for(doc, issuer_co)).startswith("Factura FE1 de ")


def test_credit_note_without_due_date(issuer_co, make_docs):
    doc = make_docs(issuer_co, 1, prefix="NC", document_type="credit_note")[0]
    doc.due_date = None
    doc.save()
    body = body_for(doc, issuer_co)
    assert "Le enviamos la nota crédito NC1 del 31/10/2026 por " in body
    assert "vencimiento" not in body


def test_with_due_date_the_message_gives_it(issuer_co, make_docs):
    doc = make_docs(issuer_co, 1)[0]
    assert ", con vencimiento el 15/11/2026." in body_for(doc, issuer_co)


def test_zip_attachment_is_described(issuer_co, make_docs):
    doc = make_docs(issuer_co, 1, prefix="NC", document_type="credit_note", with_zip=True)[0]
    assert "Adjuntamos el archivo zip de la DIAN" in body_for(doc, issuer_co)


@pytest.fixture
def zip_written_on_demand():
    """An owning app that writes a note's files (the DIAN zip) only when they are first needed."""

    def write(doc):
        pdf, xml = real_pdf(doc.number), invoice_xml(doc.full_number, doc.customer_name, doc.total)
        doc.attachment.save(f"z{doc.full_number}.zip", ContentFile(attached_zip(doc.full_number, pdf, xml)), save=False)
        doc.pdf.save(f"{doc.full_number}.pdf", ContentFile(pdf), save=False)
        doc.save()

    core_models.register_files_provider("tests.lazy", write)
    yield
    core_models._FILES_PROVIDERS.pop("tests.lazy", None)


def test_preview_lists_the_zip_of_a_note_whose_files_are_not_written_yet(client_co, issuer_co, make_docs,
                                                                         zip_written_on_demand):
    doc = make_docs(issuer_co, 1, prefix="NC", document_type="credit_note")[0]
    doc.source, doc.pdf, doc.xml, doc.attachment = "tests.lazy", "", "", ""
    doc.save()
    form = {"name": "", "ranges": "NC1-NC1", "recipients": "all", "subject": DEFAULT_SUBJECT, "body": DEFAULT_BODY,
            "legally_required": "on", "max_consecutive_failures": "10", "date_from": "", "date_to": "", "reply_to": ""}
    html = client_co.post(reverse("mailing:preview"), form, HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r"<dt>Adjuntos</dt><dd>zNC1[^<]*\.zip</dd>", html)  # the storage may add a suffix
