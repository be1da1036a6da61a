"""Accounts UI: create/edit with NIT check digit, file upload (checked first, all or nothing)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from facturador.billing.models import Account
from facturador.billing.tests.helpers import web_step


@pytest.mark.django_db
def test_create_edit_account_with_nit(issuer_co, client_co):
    data = {"reference": "000450", "holder_name": "Panadería La Espiga", "id_type": "NIT", "id_number": "800197268",
            "check_digit": "7", "service_class": "comercial", "stratum": "", "state": "active"}
    resp = client_co.post("/facturacion/cuentas/nueva/", data)
    assert resp.status_code == 200 and "El dígito de verificación del NIT 800197268 es 4" in resp.content.decode()
    data["check_digit"] = "4"
    assert client_co.post("/facturacion/cuentas/nueva/", data).status_code == 302
    acc = Account.objects.get(issuer=issuer_co)
    assert (acc.reference, acc.check_digit) == ("000450", "4")
    dup = client_co.post("/facturacion/cuentas/nueva/", dict(data, holder_name="Otra"))
    assert "Ya existe una cuenta con la referencia 000450" in dup.content.decode()
    data["holder_name"] = "Panadería La Espiga S.A.S."
    assert client_co.post(f"/facturacion/cuentas/{acc.pk}/", data).status_code == 302
    acc.refresh_from_db()
    assert acc.holder_name.endswith("S.A.S.")
    listing = client_co.get("/facturacion/cuentas/", {"q": "espiga"})
    assert "000450" in listing.content.decode()


@pytest.mark.django_db
def test_a_cedula_with_letters_is_refused_on_the_form(issuer_co, client_co):
    data = {"reference": "000451", "holder_name": "Rosa", "id_type": "CC", "id_number": "52I11222", "check_digit": "",
            "service_class": "residencial", "stratum": "", "state": "active"}
    resp = client_co.post("/facturacion/cuentas/nueva/", data)
    assert "Un número de cédula de ciudadanía solo lleva dígitos" in resp.content.decode()
    assert not Account.objects.filter(issuer=issuer_co).exists()


@pytest.mark.django_db
def test_accounts_page_counts_the_accounts_once(issuer_co, client_co):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    Account.objects.bulk_create([Account(issuer=issuer_co, reference=f"{i:04d}", holder_name="Titular")
                                 for i in range(60)])
    with CaptureQueriesContext(connection) as queries:
        page = client_co.get("/facturacion/cuentas/")
    assert "60 cuentas." in page.content.decode()
    assert sum("COUNT(" in q["sql"].upper() for q in queries.captured_queries) == 1


@pytest.mark.django_db
def test_csv_upload_all_or_nothing(issuer_co, client_co, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    Account.objects.create(issuer=issuer_co, reference="0007", holder_name="Antiguo")
    bad = ("referencia;titular;tipo_id;numero_id;dv;estrato;clase\n"
           "0001;Ana Ruiz;CC;52111222;;2;residencial\n"
           "0002;Ferretería;NIT;800197268;9;;comercial\n"
           "0001;Repetida;CC;1;;;\n")
    resp = web_step(client_co, "/facturacion/cuentas/cargar/", {"file": SimpleUploadedFile("c.csv", bad.encode())})
    problems = resp.context["report"]["errors"]
    assert [(p["row"], p["code"]) for p in problems] == [(3, "nit_dv"), (4, "duplicate_reference")]
    assert "dígito de verificación" in problems[0]["message"]
    refused = client_co.post(resp.request["PATH_INFO"], {"confirm": "1"}, follow=True)
    assert "no se importó ninguna cuenta" in refused.content.decode()
    assert Account.objects.count() == 1
    good = ("referencia;titular;tipo_id;numero_id;dv;estrato;clase;estado\n"
            "0001;Ana Ruiz;CC;52111222;;2;residencial;activa\n"
            "0002;Ferretería;NIT;800197268;4;;comercial;activa\n"
            "0007;Antiguo Renombrado;CC;3;;;;retirada\n").encode("latin-1")
    resp = web_step(client_co, "/facturacion/cuentas/cargar/", {"file": SimpleUploadedFile("c.csv", good)})
    assert resp.context["report"]["errors"] == [] and Account.objects.count() == 1
    resp = web_step(client_co, resp.request["PATH_INFO"], {"confirm": "1"})
    assert resp.context["job"].status == "finished"
    got = {a.reference: (a.holder_name, a.state) for a in Account.objects.all()}
    assert got == {"0001": ("Ana Ruiz", "active"), "0002": ("Ferretería", "active"),
                   "0007": ("Antiguo Renombrado", "retired")}


@pytest.mark.django_db
def test_billing_settings_gln_checked(issuer_co, client_co):
    from facturador.billing.models import BillingSettings

    data = {"gln": "7709998000002", "ref_width": "12", "amount_width": "14", "numbering_prefix": "",
            "numbering_environment": "production", "monthly_interest_rate": "1.5", "document_title": "Factura",
            "payment_tolerance": "0.99", "due_days": "15", "extra_glns": ""}
    resp = client_co.post("/facturacion/configuracion/", data)
    assert "dígito de verificación del GLN" in resp.content.decode()
    data["gln"] = "7709998013711"
    assert client_co.post("/facturacion/configuracion/", data).status_code == 302
    conf = BillingSettings.for_issuer(issuer_co)
    assert (conf.gln, conf.ref_width, conf.amount_width) == ("7709998013711", 12, 14)


@pytest.mark.django_db
def test_a_checked_file_is_imported_once(issuer_co, client_co, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    good = "referencia;titular;tipo_id;numero_id\n0001;Ana Ruiz;CC;52111222\n".encode()
    check = web_step(client_co, "/facturacion/cuentas/cargar/", {"file": SimpleUploadedFile("c.csv", good)})
    assert check.context["can_confirm"]
    web_step(client_co, check.request["PATH_INFO"], {"confirm": "1"})
    again = client_co.get(check.request["PATH_INFO"])
    assert not again.context["can_confirm"] and again.context["confirmed"]
    refused = client_co.post(check.request["PATH_INFO"], {"confirm": "1"}, follow=True)
    assert "ya se importó" in refused.content.decode()
