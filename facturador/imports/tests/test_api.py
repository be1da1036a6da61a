"""REST API: operators, versioned templates, schedule (multipart), list/filter, progress, cancel, delete, reports."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from facturador.core.models import AuditEntry, Job
from facturador.imports import pipeline
from facturador.imports.models import ImportJob, Operator
from facturador.imports.tests import files
from facturador.imports.tests.conftest import make_template, run_now

ROWS = files.sample_rows(4)


@pytest.fixture
def api(api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    api_client.base = f"/api/v1/issuers/{issuer_co.pk}/imports"
    return api_client


@pytest.mark.django_db
def test_operators_and_template_versions(api):
    r = api.post(f"{api.base}/operators/", {"code": "telco", "name": "Telco"}, format="json")
    assert r.status_code == 201 and r.data["code"] == "TELCO"
    assert api.post(f"{api.base}/operators/", {"code": "TELCO", "name": "x"}, format="json").status_code == 400
    body = {"operator": r.data["id"], "name": "Detalle", "file_type": "consumption", "mapping": pipeline.DEFAULT_MAPPING}
    t1 = api.post(f"{api.base}/templates/", body, format="json")
    assert t1.status_code == 201 and t1.data["version"] == 1
    t2 = api.patch(f"{api.base}/templates/{t1.data['id']}/", {"all_or_nothing": True}, format="json")
    assert t2.status_code == 200 and t2.data["version"] == 2 and t2.data["id"] != t1.data["id"]
    listed = api.get(f"{api.base}/templates/").data["results"]
    assert [(t["version"], t["all_or_nothing"]) for t in listed] == [(2, True)]
    assert len(api.get(f"{api.base}/templates/", {"all_versions": "1"}).data["results"]) == 2
    bad = api.post(f"{api.base}/templates/", {**body, "mapping": {"fields": []}}, format="json")
    assert bad.status_code == 400 and bad.data["field"] == "mapping" and "no tiene campos" in bad.data["detail"]
    sample = SimpleUploadedFile("m.csv", files.csv_bytes(ROWS))
    prev = api.post(f"{api.base}/templates/{t1.data['id']}/test/", {"file": sample}, format="multipart")
    assert prev.status_code == 200 and prev.data["valid"] == 4 and prev.data["rows"][0]["values"]["reference"] == "00000001"


@pytest.mark.django_db
def test_schedule_follow_reports(api, issuer_co, operator, template):
    up = lambda: SimpleUploadedFile("d.csv", files.csv_bytes(ROWS + [["", "", "", "", "x"]]))  # noqa: E731
    body = {"operator": operator.pk, "template": template.pk, "period": "2026-10", "file": up()}
    r = api.post(f"{api.base}/jobs/", body, format="multipart")
    assert r.status_code == 201 and r.data["status"] == "pending" and r.data["status_display"] == "Pendiente"
    pk = r.data["id"]
    run_now(ImportJob.objects.get(pk=pk))
    d = api.get(f"{api.base}/jobs/{pk}/").data
    assert d["status"] == "finished_errors" and d["percent"] == 100 and d["rows_valid"] == 4 and d["rows_invalid"] == 1
    assert d["job"]["done"] == d["job"]["total"]
    again = api.post(f"{api.base}/jobs/", {**body, "file": up()}, format="multipart")
    assert again.status_code == 409 and again.data["code"] == "imports.import.duplicate"
    assert again.data["field"] == "file" and again.data["details"] == {"import_id": pk} and "ya se importó" in again.data["detail"]
    err = api.get(f"{api.base}/jobs/{pk}/errors/", {"fmt": "csv"})
    text = b"".join(err.streaming_content).decode("utf-8-sig")
    assert err.status_code == 200 and "Fila;Referencia" in text and "obligatorio" in text
    xl = api.get(f"{api.base}/jobs/{pk}/errors/", {"fmt": "xlsx"})
    assert b"".join(xl.streaming_content)[:2] == b"PK"
    rec = api.get(f"{api.base}/jobs/{pk}/reconciliation/").data
    assert rec["control"]["rows"] == 4 and rec["unknown_references"]["count"] == 4
    assert "Totales de control" in api.get(f"{api.base}/jobs/{pk}/reconciliation/", {"fmt": "csv"}).content.decode("utf-8-sig")
    assert [j["id"] for j in api.get(f"{api.base}/jobs/", {"state": "finished"}).data["results"]] == [pk]
    assert api.get(f"{api.base}/jobs/", {"state": "pending"}).data["results"] == []
    r = api.post(f"{api.base}/jobs/{pk}/cancel/")
    assert r.status_code == 409 and r.data["code"] == "imports.import.not_cancellable" and "no se puede" in r.data["detail"]
    r = api.delete(f"{api.base}/jobs/{pk}/")
    assert r.status_code == 409 and r.data["code"] == "imports.import.not_pending"


@pytest.mark.django_db
def test_cancel_and_delete_pending(api, issuer_co, operator, template):
    body = {"operator": operator.pk, "template": template.pk, "period": "2026-10"}
    a = api.post(f"{api.base}/jobs/", {**body, "file": SimpleUploadedFile("a.csv", files.csv_bytes(ROWS))}, format="multipart").data
    b = api.post(f"{api.base}/jobs/", {**body, "period": "2026-11", "file": SimpleUploadedFile("b.csv", files.csv_bytes(ROWS))},
                 format="multipart").data
    assert api.delete(f"{api.base}/jobs/{a['id']}/").status_code == 204
    assert Job.objects.get(import_job__pk=a["id"]).status == Job.Status.DELETED
    r = api.post(f"{api.base}/jobs/{b['id']}/cancel/")
    assert r.status_code == 200 and r.data["status"] == "cancelled"
    assert [j["id"] for j in api.get(f"{api.base}/jobs/", {"state": "deleted"}).data["results"]] == [a["id"]]


@pytest.mark.django_db
def test_bad_period_and_non_member(api, api_client, make_user, make_issuer, issuer_co, operator, template):
    r = api.post(f"{api.base}/jobs/", {"operator": operator.pk, "template": template.pk, "period": "10-2026",
                                       "file": SimpleUploadedFile("a.csv", files.csv_bytes(ROWS))}, format="multipart")
    assert r.status_code == 400 and r.data["code"] == "core.period.invalid" and r.data["field"] == "period"
    assert "AAAA-MM" in r.data["detail"]
    api.force_authenticate(make_user("ajeno", make_issuer("CO"), "admin"))
    assert api.get(f"{api.base}/jobs/").status_code == 404


@pytest.mark.django_db
def test_schedule_refusals_answer_code_field_and_status(api, issuer_co, operator, template):
    other = Operator.objects.create(issuer=issuer_co, code="AGUA", name="Acueducto")
    body = {"operator": operator.pk, "template": template.pk, "period": "2026-10"}
    cases = [
        ({"template": make_template(issuer_co, other).pk}, 400, "imports.template.wrong_operator", "template"),
        ({"operator": 999_999}, 404, "imports.operator.not_found", "operator"),
        ({"template": 999_999}, 404, "imports.template.not_found", "template"),
        ({"name": "informe.pdf"}, 400, "imports.file.unsupported_type", "file"),
        ({"content": b""}, 400, "imports.file.empty", "file"),
    ]
    for change, status, code, field in cases:
        upload = SimpleUploadedFile(change.pop("name", "d.csv"), change.pop("content", files.csv_bytes(ROWS)))
        r = api.post(f"{api.base}/jobs/", {**body, **change, "file": upload}, format="multipart")
        assert (r.status_code, r.data["code"], r.data["field"]) == (status, code, field), r.data
        assert r.data["detail"] and r.data["details"] == {}
    assert not ImportJob.objects.exists() and not AuditEntry.objects.filter(action="import.schedule").exists()


@pytest.mark.django_db
def test_schedule_is_audited_once_for_the_api_user(api, admin_co, operator, template):
    r = api.post(f"{api.base}/jobs/", {"operator": operator.pk, "template": template.pk, "period": "2026-10",
                                       "file": SimpleUploadedFile("d.csv", files.csv_bytes(ROWS))}, format="multipart")
    [entry] = AuditEntry.objects.filter(action="import.schedule")
    assert (entry.channel, entry.user, entry.object_id) == ("api", admin_co, str(r.data["id"]))


@pytest.mark.django_db
def test_operator_and_template_refusals(api, issuer_co, operator, template):
    r = api.delete(f"{api.base}/operators/{operator.pk}/")
    assert r.status_code == 409 and r.data["code"] == "imports.operator.in_use"
    r = api.patch(f"{api.base}/operators/{operator.pk}/", {"code": "telco", "name": "Nuevo nombre"}, format="json")
    assert r.status_code == 200 and r.data["name"] == "Nuevo nombre"
    other = api.post(f"{api.base}/operators/", {"code": "agua", "name": "Acueducto"}, format="json").data
    r = api.patch(f"{api.base}/operators/{other['id']}/", {"code": "TELCO"}, format="json")
    assert (r.status_code, r.data["code"], r.data["field"]) == (400, "imports.operator.code_taken", "code")
    r = api.patch(f"{api.base}/templates/{template.pk}/", {"operator": other["id"]}, format="json")
    assert (r.status_code, r.data["code"], r.data["field"]) == (400, "imports.template.operator_changed", "operator")
    r = api.post(f"{api.base}/templates/", {"operator": operator.pk, "name": "X", "file_type": "consumption",
                                            "mapping": {"fields": [{"field": "color", "header": "Color"}]}}, format="json")
    assert (r.status_code, r.data["code"]) == (400, "imports.mapping.unknown_fields")
    assert r.data["details"] == {"fields": ["color"]}
    assert api.delete(f"{api.base}/operators/{other['id']}/").status_code == 204
    assert {e.action for e in AuditEntry.objects.filter(channel="api")} == {"import_operator.save",
                                                                            "import_operator.delete"}


@pytest.mark.django_db
def test_template_test_refusals(api, template):
    url = f"{api.base}/templates/{template.pk}/test/"
    r = api.post(url, {}, format="multipart")
    assert r.status_code == 400 and "file" in r.data
    header = ["Ref", "Concepto", "Cantidad", "Valor unitario", "Valor"]
    r = api.post(url, {"file": SimpleUploadedFile("m.csv", files.csv_bytes(ROWS, header=header))}, format="multipart")
    assert (r.status_code, r.data["code"], r.data["field"]) == (400, "imports.sample.missing_columns", "sample")
    assert r.data["details"]["missing_columns"] == ["Referencia"] and "Ref" in r.data["details"]["available_columns"]
    r = api.post(url, {"file": SimpleUploadedFile("m.xlsx", b"no es un libro")}, format="multipart")
    assert (r.status_code, r.data["code"]) == (400, "imports.sample.unreadable") and "m.xlsx" in r.data["detail"]
