"""Fixtures for the mailing tests: issued invoices with real PDF / XML / zip files, SMTP helpers."""

import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from facturador.core.actors import Actor

ACTOR = Actor(channel="cli", name="pruebas")  # who performs the actions of a test


def real_pdf(seed: int) -> bytes:
    """A real one-page PDF (pdfium), its page width varying with `seed`."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    pdf.new_page(200 + seed % 300, 120)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def invoice_xml(number: str, customer: str, total: Decimal) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
        'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        f"<cbc:ID>{number}</cbc:ID><cbc:Note>{customer}</cbc:Note>"
        f"<cbc:PayableAmount currencyID=\"COP\">{total}</cbc:PayableAmount></Invoice>\n"
    ).encode()


def attached_zip(number: str, pdf: bytes, xml: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"ad{number}.xml", xml)
        z.writestr(f"fv{number}.pdf", pdf)
    return buf.getvalue()


@pytest.fixture
def make_docs():
    """make_docs(issuer, count, prefix="FE", start=1, emails=None, with_zip=False) -> list[IssuedDocument]."""
    from facturador.core.models import IssuedDocument

    def make(issuer, count, prefix="FE", start=1, emails=None, with_zip=False, issue_date=date(2026, 10, 31),
             country=None, document_type="invoice"):
        docs = []
        for i in range(count):
            number = start + i
            full = f"{prefix}{number}"
            email = emails[i] if emails is not None else f"cliente{number}@example.com"
            total = Decimal("100000.00") + number
            name = f"Cliente {number} & Hijos <Ltda>"
            doc = IssuedDocument(
                issuer=issuer, source="tests.mailing", source_id=f"{issuer.pk}-{full}", country=country or issuer.country,
                document_type=document_type, prefix=prefix, number=number, issue_date=issue_date,
                due_date=issue_date + timedelta(days=15), period="2026-10", customer_name=name,
                customer_tax_id=str(800000000 + number), customer_email=email or "", total=total,
                currency="COP" if issuer.country == "CO" else "MXN", uuid=f"cufe{number:060d}",
            )
            pdf, xml = real_pdf(number), invoice_xml(full, name, total)
            doc.pdf.save(f"{full}.pdf", ContentFile(pdf), save=False)
            doc.xml.save(f"{full}.xml", ContentFile(xml), save=False)
            if with_zip:
                doc.attachment.save(f"z{full}.zip", ContentFile(attached_zip(full, pdf, xml)), save=False)
            doc.save()
            docs.append(doc)
        return docs

    return make


@pytest.fixture
def mail_settings(settings):
    """Fast engine settings for in-process runs (workers get the same through the environment)."""
    settings.MAILING_RATE_PER_SECOND = 0
    settings.MAILING_RATE_PER_HOUR = 0
    settings.MAILING_RETRY_BASE_SECONDS = 0.2
    settings.MAILING_CHUNK_SIZE = 20
    settings.MAILING_CONCURRENCY = 1  # the test's transaction is only visible to this thread
    return settings


FAST_ENV = {"FACTURADOR_MAIL_RATE_PER_SECOND": "0", "FACTURADOR_MAIL_RATE_PER_HOUR": "0",
            "FACTURADOR_MAIL_RETRY_BASE_SECONDS": "0.2", "FACTURADOR_MAIL_CHUNK_SIZE": "5",
            "FACTURADOR_MAIL_CONCURRENCY": "2"}


def inbox_by_message_id(inbox) -> dict:
    out = {}
    for m in inbox.messages:
        out.setdefault(m["Message-ID"], []).append(m)
    return out
