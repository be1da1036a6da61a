"""UI: queue with filters, scheduling form, detail, error report downloads, reconciliation, operators, templates."""

import csv
import io
import json

import pytest
import python_calamine as pc
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from facturador.core.actors import Actor
from facturador.core.models import AuditEntry, Job
from facturador.imports import actions, pipeline
from facturador.imports.models import ImportJob, ImportTemplate, Operator
from facturador.imports.tests import files
from facturador.imports.tests.conftest import run_now, schedule

ROWS = files.sample_rows(4)


@pytest.mark.django_db
def test_queue_filters(client_co, issuer_co, operator, template):
    pending = schedule(issuer_co, operator, template, "pendiente.csv", files.csv_bytes(ROWS))
    run_now(schedule(issuer_co, operator, template, "hecho.csv", files.csv_bytes(files.sample_rows(2, start=50))))
    deleted = schedule(issuer_co, operator, template, "borrado.csv", files.csv_bytes(ROWS), period="2026-08")
    actions.delete_import(issuer_co, Actor.cli(), imp=deleted)
    url = reverse("imports:queue")
    page = client_co.get(url).content.decode()  # default: pending and in process
    assert "pendiente.csv" in page and "hecho.csv" not in page and "Pendientes y en proceso" in page
    for state, present, absent in [("pending", "pendiente.csv", "hecho.csv"), ("running", None, "pendiente.csv"),
                                   ("finished", "hecho.csv", "pendiente.csv"), ("deleted", "borrado.csv", "hecho.csv")]:
        html = client_co.get(url, {"state": state}).content.decode()
        if present:
            assert present in html, state
        assert absent not in html, state
    html = client_co.get(url, {"state": "pending"}).content.decode()
    assert 'class="job-progress status-pending"' in html and reverse("imports:delete", args=[pending.pk]) in html


@pytest.mark.django_db
def test_schedule_form_creates_queue_entry(client_co, issuer_co, operator, template):
    data = {"operator": operator.pk, "template": template.pk, "period": "2026-10", "file_type": "consumption",
            "when": "now", "file": SimpleUploadedFile("detalle.csv", files.csv_bytes(ROWS))}
    r = client_co.post(reverse("imports:schedule"), data)
    assert r.status_code == 302 and r["Location"] == reverse("imports:queue")
    imp = ImportJob.objects.get()
    assert imp.original_name == "detalle.csv" and imp.job.status == Job.Status.PENDING and imp.created_by.username == "admin_co"
    run_now(imp)
    [entry] = AuditEntry.objects.filter(action="import.schedule")
    assert (entry.channel, entry.user.username, entry.object_id) == ("web", "admin_co", str(imp.pk))
    data["file"] = SimpleUploadedFile("detalle.csv", files.csv_bytes(ROWS))
    r = client_co.post(reverse("imports:schedule"), data)
    assert r.status_code == 200 and "ya se importó" in r.content.decode()
    [error] = r.context["form"].errors.as_data()["file"]
    assert error.code == "imports.import.duplicate"
    data.update(file=SimpleUploadedFile("x.csv", files.csv_bytes(ROWS)), period="2026-13", when="at", run_at="")
    html = client_co.post(reverse("imports:schedule"), data).content.decode()
    assert "AAAA-MM" in html and "Indique la fecha y hora" in html
    assert ImportJob.objects.count() == 1


@pytest.mark.django_db
def test_schedule_at_a_date(client_co, issuer_co, operator, template):
    data = {"operator": operator.pk, "template": template.pk, "period": "2026-10", "file_type": "consumption",
            "when": "at", "run_at": "2099-01-02T08:30", "file": SimpleUploadedFile("d.csv", files.csv_bytes(ROWS))}
    assert client_co.post(reverse("imports:schedule"), data).status_code == 302
    imp = ImportJob.objects.get()
    assert imp.scheduled_for.year == 2099 and imp.job.run_after == imp.scheduled_for


@pytest.mark.django_db
def test_detail_error_reports_and_reconciliation(client_co, issuer_co, operator, template):
    rows = [list(r) for r in ROWS]
    rows[1][4] = "=HYPERLINK()"
    imp = run_now(schedule(issuer_co, operator, template, "d.csv", files.csv_bytes(rows)))
    html = client_co.get(reverse("imports:detail", args=[imp.pk])).content.decode()
    assert "Con errores" in html and "Fila 3" in html
    r = client_co.get(reverse("imports:error_report", args=[imp.pk, "csv"]))
    text = b"".join(r.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert lines[0] == ["Fila"] + files.HEADER + ["Errores"]
    assert lines[1][:5] == ["3", "00000002", "Consumo", "3", "1002,50"] and lines[1][5] == "'=HYPERLINK()"
    assert "Fila 3" in lines[1][6] and len(lines) == 2
    r = client_co.get(reverse("imports:error_report", args=[imp.pk, "xlsx"]))
    path = io.BytesIO(b"".join(r.streaming_content))
    sheet = pc.CalamineWorkbook.from_filelike(path).get_sheet_by_index(0).to_python()
    assert sheet[0][0] == "Fila" and sheet[1][1] == "00000002" and "Fila 3" in sheet[1][-1]
    html = client_co.get(reverse("imports:reconciliation", args=[imp.pk])).content.decode()
    assert "Totales de control" in html and "Referencias que no están en el registro de cuentas: 3" in html
    r = client_co.get(reverse("imports:reconciliation_export", args=[imp.pk]))
    assert r["Content-Type"].startswith("text/csv") and "Referencias desconocidas;3" in r.content.decode("utf-8-sig")


@pytest.mark.django_db
def test_cancel_and_delete_views(client_co, issuer_co, operator, template):
    imp = schedule(issuer_co, operator, template, "d.csv", files.csv_bytes(ROWS))
    r = client_co.post(reverse("imports:delete", args=[imp.pk]), {"next": "https://example.com/"})
    assert r["Location"] == reverse("imports:queue")  # only pages of this site
    imp.job.refresh_from_db()
    assert imp.job.status == Job.Status.DELETED
    r = client_co.post(reverse("imports:delete", args=[imp.pk]), follow=True)
    assert "Solo se pueden eliminar importaciones pendientes" in r.content.decode()
    r = client_co.post(reverse("imports:cancel", args=[imp.pk]), follow=True)
    assert "no se puede cancelar" in r.content.decode()
    queue = "http://testserver" + reverse("imports:queue")
    r = client_co.post(reverse("imports:cancel", args=[imp.pk]), HTTP_REFERER=queue, follow=True)
    assert r.redirect_chain[0][0] == queue and "no se puede cancelar" in r.content.decode()
    assert set(AuditEntry.objects.filter(action__startswith="import.").values_list("action", "channel")) == {
        ("import.schedule", "cli"), ("import.delete", "web")}


@pytest.mark.django_db
def test_other_issuer_cannot_see_imports(client, make_user, make_issuer, issuer_co, operator, template):
    imp = schedule(issuer_co, operator, template, "d.csv", files.csv_bytes(ROWS))
    other = make_user("otro", make_issuer("CO"), "admin")
    client.force_login(other)
    assert client.get(reverse("imports:detail", args=[imp.pk])).status_code == 404
    assert client.post(reverse("imports:delete", args=[imp.pk])).status_code == 404
    assert "d.csv" not in client.get(reverse("imports:queue")).content.decode()


@pytest.mark.django_db
def test_readonly_cannot_schedule(client, make_user, issuer_co, operator, template):
    client.force_login(make_user("lector", issuer_co, "readonly"))
    assert client.get(reverse("imports:schedule")).status_code == 403


@pytest.mark.django_db
def test_operator_and_versioned_template(client_co, issuer_co):
    r = client_co.post(reverse("imports:operator_new"), {"code": "agua", "name": "Acueducto", "active": "on"})
    assert r.status_code == 302
    op = Operator.objects.get(code="AGUA")
    r = client_co.post(reverse("imports:operator_new"), {"code": "AGUA ", "name": "Otro", "active": "on"})
    [error] = r.context["form"].errors.as_data()["code"]
    assert error.code == "imports.operator.code_taken" and Operator.objects.count() == 1
    mapping = json.dumps(pipeline.DEFAULT_MAPPING)
    form = {"operator": op.pk, "name": "Consumos", "file_type": "consumption", "change_threshold": "20", "mapping": mapping}
    # Test on a sample file: preview of the mapped rows, nothing saved.
    sample = files.csv_bytes(files.sample_rows(60))
    r = client_co.post(reverse("imports:template_new"), {**form, "test": "1",
                                                          "sample": SimpleUploadedFile("m.csv", sample)})
    html = r.content.decode()
    assert r.status_code == 200 and "primeras 50 filas mapeadas" in html and "00000050" in html and "00000051" not in html
    assert not ImportTemplate.objects.exists()
    assert client_co.post(reverse("imports:template_new"), {**form, "save": "1"}).status_code == 302
    v1 = ImportTemplate.objects.get()
    assert v1.version == 1 and v1.change_threshold == 20
    bad = {**form, "mapping": json.dumps({"fields": [{"field": "color", "header": "Color"}]}), "save": "1"}
    r = client_co.post(reverse("imports:template_edit", args=[v1.pk]), bad)
    assert "Campos desconocidos" in r.content.decode()
    assert r.context["form"].errors.as_data()["mapping"][0].code == "imports.mapping.unknown_fields"
    assert client_co.post(reverse("imports:template_edit", args=[v1.pk]), {**form, "all_or_nothing": "on", "save": "1"}).status_code == 302
    versions = list(ImportTemplate.objects.filter(name="Consumos").order_by("version"))
    assert [(v.version, v.all_or_nothing) for v in versions] == [(1, False), (2, True)]
    assert list(ImportTemplate.latest_versions(issuer_co)) == [versions[1]]
    html = client_co.get(reverse("imports:template_versions", args=[v1.pk])).content.decode()
    assert "v1" in html and "v2" in html


@pytest.mark.django_db
def test_template_test_reports_missing_columns(client_co, issuer_co, operator):
    form = {"operator": operator.pk, "name": "X", "file_type": "consumption", "change_threshold": "20",
            "mapping": json.dumps(pipeline.DEFAULT_MAPPING), "test": "1",
            "sample": SimpleUploadedFile("m.csv", files.csv_bytes(ROWS, header=["Ref", "Concepto", "Cantidad", "Valor unitario", "Valor"]))}
    html = client_co.post(reverse("imports:template_new"), form).content.decode()
    assert "Faltan columnas" in html and "«Referencia»" in html


@pytest.mark.django_db
def test_visual_mapper_sample_period_is_a_month_picker(client_co):
    html = client_co.get("/importaciones/plantillas/mapear/").content.decode()
    assert 'type="month" name="period"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["imports:schedule", "imports:mapper"])
def test_schedule_and_mapper_link_the_sample_consumption_file(client_co, page):
    html = client_co.get(reverse(page)).content.decode()
    link = reverse("billing:sample_file", args=["consumo"])
    assert f'href="{link}"' in html
    r = client_co.get(link)
    assert r.status_code == 200 and "detalle-consumo-ejemplo.xlsx" in r["Content-Disposition"]
