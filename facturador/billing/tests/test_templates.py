"""Invoice templates: validated by rendering sample data before saving; versions; preview."""

import pytest

from facturador.billing import invoice_templates
from facturador.billing.models import InvoiceTemplate
from facturador.printing.invoice import default_template
from facturador.printing.render import TemplateError

GOOD = """#let data = json(bytes(sys.inputs.data))
#set page(paper: "a5")
= #data.issuer.name
Factura #data.document.number — Total #data.totals.total
#image(bytes(data.payment.barcode_svg), format: "svg", width: 80mm)
"""
BROKEN = GOOD.replace("= #data.issuer.name", "= #data.issuer.name\n#let x = (1, 2")
UNDEFINED = GOOD.replace("Total #data.totals.total", "Total #data.totals.total #saldo_misterioso")
MISSING_FIELD = GOOD.replace("#data.document.number", "#data.document.numero")
DIAN_ONLY = GOOD + "\nCUFE: #data.dian.cufe\n"


@pytest.mark.django_db
def test_default_template_installed_and_previewed(issuer_co, client_co):
    resp = client_co.get("/facturacion/plantillas/")
    assert resp.status_code == 200
    tpl = InvoiceTemplate.objects.get(issuer=issuer_co)
    assert tpl.is_default and tpl.version == 1 and tpl.source == default_template()
    pdf = client_co.get(f"/facturacion/plantillas/{tpl.pk}/vista-previa/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


@pytest.mark.django_db
@pytest.mark.parametrize("source, fragment, line", [
    (BROKEN, "delimitador sin cerrar", 4),
    (UNDEFINED, "variable desconocida: saldo_misterioso", 4),
    (MISSING_FIELD, "numero", 4),
    (DIAN_ONLY, "factura de ejemplo no electrónica (data.dian es none)", 7),  # works only for electronic invoices: refused (sample without DIAN data)
])
def test_bad_templates_refused_with_spanish_message_and_location(issuer_co, source, fragment, line):
    with pytest.raises(TemplateError) as info:
        invoice_templates.create_version(issuer_co, "Municipal", source)
    exc = info.value
    assert fragment in exc.message and exc.line == line and exc.column
    assert exc.message.startswith("Error en la plantilla (línea")
    assert not InvoiceTemplate.objects.filter(issuer=issuer_co, name="Municipal").exists()


@pytest.mark.django_db
def test_upload_via_ui_versions_and_errors(issuer_co, client_co):
    from django.core.files.uploadedfile import SimpleUploadedFile

    resp = client_co.post("/facturacion/plantillas/cargar/", {
        "name": "Municipal", "source_file": SimpleUploadedFile("m.typ", UNDEFINED.encode())})
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "La plantilla no se guardó" in body and "variable desconocida: saldo_misterioso" in body and "línea 4" in body
    assert not InvoiceTemplate.objects.filter(name="Municipal").exists()

    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    png = buf.getvalue()
    logo_tpl = GOOD.replace('#set page(paper: "a5")', '#set page(paper: "a5")\n#image("logo.png", width: 1cm)')
    for _ in range(2):
        resp = client_co.post("/facturacion/plantillas/cargar/", {
            "name": "Municipal", "source": logo_tpl, "logo": SimpleUploadedFile("escudo.png", png), "make_default": "on"})
        assert resp.status_code == 302, resp.content.decode().split('role="alert"')[-1][:500]
    versions = list(InvoiceTemplate.objects.filter(issuer=issuer_co, name="Municipal").order_by("version"))
    assert [t.version for t in versions] == [1, 2]
    assert versions[1].is_default and not InvoiceTemplate.objects.filter(name="Predeterminada", is_default=True).exists()
    assert versions[1].asset_dict() == {"logo.png": png}
    # a new version without a new logo keeps the previous assets
    resp = client_co.post("/facturacion/plantillas/cargar/", {"name": "Municipal", "source": logo_tpl})
    assert resp.status_code == 302
    assert InvoiceTemplate.objects.get(name="Municipal", version=3).asset_dict() == {"logo.png": png}


@pytest.mark.django_db
def test_template_api(issuer_co, admin_co, api_client):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{issuer_co.pk}/billing/templates/"
    r = api_client.post(url, {"name": "API", "source": BROKEN}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "billing.template.invalid" and r.json()["details"]["line"] == 4
    assert r.json()["field"] == "source" and "delimitador sin cerrar" in r.json()["detail"]
    r = api_client.post(url, {"name": "API", "source": GOOD}, format="json")
    assert r.status_code == 201 and r.json()["version"] == 1
    pdf = api_client.get(f"{url}{r.json()['id']}/preview/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


@pytest.mark.django_db
def test_batch_with_a_template_without_the_invoices_form_renders_each_invoice_alone(issuer_co):
    """The batch compiles 20 invoices at once only when the template allows it; this one does not."""
    import io

    import pypdfium2
    from django.conf import settings

    from facturador.billing.models import BillingInvoice
    from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range

    make_range(issuer_co)
    invoice_templates.create_version(issuer_co, "Sencilla", GOOD, make_default=True)
    batch = issue_batch_inline(issuer_co, make_accounts(issuer_co, 3))
    assert batch.status == "finished", batch.error_list
    for inv in BillingInvoice.objects.filter(batch=batch):
        pdf = pypdfium2.PdfDocument(io.BytesIO((settings.MEDIA_ROOT / str(getattr(inv.pdf, "name", inv.pdf))).read_bytes()))
        text = pdf[0].get_textpage().get_text_range()
        assert len(pdf) == 1 and f"{inv.prefix}{inv.number}" in text



@pytest.mark.django_db
def test_untouched_copy_of_an_earlier_default_is_rendered_with_todays(issuer_co, monkeypatch):
    """A stored copy of an earlier built-in template that prints the same page is rendered with today's (cheaper to
    lay out); any other source, even one differing by a character, is rendered as stored."""
    import hashlib
    import io

    import pypdfium2
    from django.conf import settings

    from facturador.billing.models import BillingInvoice
    from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range

    monkeypatch.setattr(invoice_templates, "EARLIER_DEFAULTS", {hashlib.sha256(GOOD.encode()).hexdigest()})
    make_range(issuer_co)
    tpl = invoice_templates.create_version(issuer_co, "Copia", GOOD, make_default=True)
    edited = invoice_templates.create_version(issuer_co, "Copia", GOOD + "\n")
    assert invoice_templates.render_source(tpl) == default_template()
    assert invoice_templates.render_source(edited) == GOOD + "\n"
    batch = issue_batch_inline(issuer_co, make_accounts(issuer_co, 1))
    assert batch.status == "finished" and batch.template == tpl, batch.error_list
    inv = BillingInvoice.objects.get(batch=batch)
    pdf = pypdfium2.PdfDocument(io.BytesIO((settings.MEDIA_ROOT / str(getattr(inv.pdf, "name", inv.pdf))).read_bytes()))
    assert "Cupón de pago para el banco" in pdf[0].get_textpage().get_text_range()
