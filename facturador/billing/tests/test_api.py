"""Billing API: accounts (NIT check digit), charges, batches (create, cancel, download), tenancy."""

import io
import zipfile

import pytest

from facturador.billing.models import Account, Batch
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range
from facturador.core.models import Job


@pytest.fixture
def api(api_client, admin_co):
    api_client.force_authenticate(admin_co)
    return api_client


@pytest.mark.django_db
def test_accounts_crud_and_nit_check_digit(issuer_co, api):
    url = f"/api/v1/issuers/{issuer_co.pk}/billing/accounts/"
    bad = api.post(url, {"reference": "0001", "holder_name": "Ferretería", "id_type": "NIT", "id_number": "800197268",
                         "check_digit": "5"}, format="json")
    assert bad.status_code == 400 and "dígito de verificación" in bad.json()["detail"]
    assert (bad.json()["code"], bad.json()["field"]) == ("billing.account.invalid", "check_digit")
    ok = api.post(url, {"reference": "0001", "holder_name": "Ferretería", "id_type": "NIT", "id_number": "800197268",
                        "check_digit": "4", "stratum": "3"}, format="json")
    assert ok.status_code == 201, ok.json()
    assert Account.objects.get(reference="0001").check_digit == "4"  # leading zeros kept
    dup = api.post(url, {"reference": "0001", "holder_name": "Otro"}, format="json")
    assert dup.status_code == 400 and "Ya existe" in dup.json()["detail"]
    assert (dup.json()["code"], dup.json()["field"]) == ("billing.account.duplicate_reference", "reference")
    assert api.get(url, {"reference": "0001"}).json()["results"][0]["holder_name"] == "Ferretería"


@pytest.mark.django_db
def test_other_issuer_gets_404_and_readonly_cannot_write(issuer_co, make_issuer, make_user, api_client):
    other = make_issuer("CO")
    api_client.force_authenticate(make_user("intruso", other, "admin"))
    assert api_client.get(f"/api/v1/issuers/{issuer_co.pk}/billing/accounts/").status_code == 404
    api_client.force_authenticate(make_user("lector", issuer_co, "readonly"))
    r = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/billing/accounts/", {"reference": "9", "holder_name": "x"},
                        format="json")
    assert r.status_code == 403


@pytest.mark.django_db
def test_charges_batches_cancel_and_download(issuer_co, api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    make_range(issuer_co)
    accounts = make_accounts(issuer_co, 4)
    base = f"/api/v1/issuers/{issuer_co.pk}/billing/"
    charges = api.get(base + "charges/", {"period": "2026-09", "reference": "000002"}).json()["results"]
    assert [c["concept"] for c in charges] == ["Alumbrado público", "Aseo"]

    r = api.post(base + "batches/", {"periods": ["2026-09"], "issue_date": "2026-10-01", "due_date": "2026-10-20",
                                     "filters": {"stratum": "2"}}, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["account_count"] == 1 and r.json()["job"]["status"] == "pending"  # only 000001 has stratum 2
    pending = r.json()["id"]
    c = api.post(f"{base}batches/{pending}/cancel/")
    assert c.status_code == 200 and c.json()["job"]["status"] == Job.Status.CANCELLED
    assert c.json()["status"] == Batch.Status.CANCELLED
    again = api.post(f"{base}batches/{pending}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "billing.batch.not_running"
    assert "ya terminó" in again.json()["detail"]
    assert api.get(f"{base}batches/{pending}/download/").status_code == 404

    done = issue_batch_inline(issuer_co, accounts[1:])
    d = api.get(f"{base}batches/{done.pk}/download/", {"file": "impresion"})
    assert d.status_code == 200 and b"".join(d.streaming_content).startswith(b"%PDF")
    z = api.get(f"{base}batches/{done.pk}/download/", {"file": "zip"})
    assert z.status_code == 200 and z["Content-Disposition"] == f'attachment; filename="lote-{done.pk}-todo.zip"'
    with zipfile.ZipFile(io.BytesIO(b"".join(z.streaming_content))) as zf:
        assert len([n for n in zf.namelist() if n.startswith("facturas/")]) == 3
    parts = api.get(f"{base}batches/{done.pk}/parts/").json()
    assert [(p["index"], p["ready"], p["pages"], p["file"]) for p in parts] == [(1, True, 3, "parte-1")]
    p1 = api.get(f"{base}batches/{done.pk}/download/", {"file": "parte-1"})
    assert p1.status_code == 200 and b"".join(p1.streaming_content).startswith(b"%PDF")
    m = api.get(f"{base}batches/{done.pk}/download/", {"file": "manifiesto"})
    lines = b"".join(m.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("parte;orden_en_parte;numero") and len(lines) == 4 and lines[1].startswith("1;1;")
    assert api.get(f"{base}batches/{done.pk}/download/", {"file": "parte-2"}).status_code == 404
    inv = api.get(f"{base}batches/{done.pk}/invoices/").json()
    assert len(inv["results"]) == 3 and inv["results"][0]["barcode"].startswith("(415)7709998000001(8020)0000000002")
    assert api.get(f"{base}batches/{done.pk}/").json()["status"] == Batch.Status.FINISHED


@pytest.mark.django_db
def test_tariffs_api(issuer_co, api):
    make_accounts(issuer_co, 3, periods=("2026-10",))
    base = f"/api/v1/issuers/{issuer_co.pk}/billing/tariffs/"
    r = api.post(base, {"period": "2026-10", "concept": "Alumbrado", "kind": "fixed", "value": "6500"}, format="json")
    assert r.status_code == 201, r.json()
    bad = api.post(base + "apply/", {"period": "2026-13"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "core.period.invalid" and bad.json()["field"] == "period"
    r = api.post(base + "apply/", {"period": "2026-10"}, format="json")
    assert r.json() == {"period": "2026-10", "charges": 3}
    charges = api.get(f"/api/v1/issuers/{issuer_co.pk}/billing/charges/", {"period": "2026-10", "source": "tariff"})
    assert sorted(c["amount"] for c in charges.json()["results"] if c["concept"] == "Alumbrado") == ["6500.00"] * 3


@pytest.mark.django_db
def test_applying_tariffs_with_a_body_that_is_not_an_object_is_a_refusal(issuer_co, api):
    resp = api.post(f"/api/v1/issuers/{issuer_co.pk}/billing/tariffs/apply/", [1], format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "core.period.invalid"


@pytest.mark.django_db
def test_the_schema_says_what_applying_tariffs_answers(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    ok = schema["paths"]["/api/v1/issuers/{issuer_pk}/billing/tariffs/apply/"]["post"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TariffApplyResult"}
    assert set(schema["components"]["schemas"]["TariffApplyResult"]["properties"]) == {"period", "charges"}


def test_manifest_writes_a_malicious_holder_name_as_text(issuer_co):
    from facturador.billing.outputs import MANIFEST_COLUMNS
    from facturador.tabular.sheets import stream_csv

    text = b"".join(stream_csv(MANIFEST_COLUMNS, [[1, 1, "LA1", "=cmd|' /C calc'!A0", "@SUM(1+1)", 100, None, ""]]))
    assert ";'=cmd|' /C calc'!A0;'@SUM(1+1);" in text.decode("utf-8-sig")
