"""Bad files: each gives a clear Spanish error naming what is wrong, and leaves no data behind."""

import io

import pytest

from facturador.billing.models import Charge
from facturador.core.errors import Invalid
from facturador.core.models import Job
from facturador.imports import pipeline
from facturador.imports.models import ImportedLine
from facturador.imports.tests import files
from facturador.imports.tests.conftest import make_template

ROWS = files.sample_rows(5)


def assert_failed_clean(imp, *words):
    assert imp.job.status == Job.Status.FAILED, (imp.job.status, imp.job.error)
    for w in words:
        assert w in imp.job.error, imp.job.error
    assert not Charge.objects.exists()
    assert not ImportedLine.objects.exists()
    assert imp.loaded_at is None and imp.phase == "rejected"


@pytest.mark.django_db
def test_truncated_xlsx(do_import):
    data = files.xlsx_bytes(ROWS)
    imp = do_import("detalle.xlsx", data[: len(data) // 2])
    assert_failed_clean(imp, "detalle.xlsx", "incompleto")


@pytest.mark.django_db
def test_corrupt_xlsx(do_import):
    imp = do_import("detalle.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50)
    assert_failed_clean(imp, "detalle.xlsx")


@pytest.mark.django_db
def test_password_protected_xlsx(do_import):
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml", reason="msoffcrypto-tool (test extra) not installed")
    out = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(files.xlsx_bytes(ROWS))).encrypt("clave123", out)
    imp = do_import("detalle.xlsx", out.getvalue())
    assert_failed_clean(imp, "contraseña")


@pytest.mark.django_db
def test_wrong_sheet(issuer_co, operator, do_import):
    mapping = pipeline.normalize_mapping(dict(pipeline.DEFAULT_MAPPING, sheet="Consumos"))
    tpl = make_template(issuer_co, operator, "Hoja", mapping=mapping)
    other = ["Cuenta", "Descripción", "Unidades", "Precio", "Total"]
    imp = do_import("detalle.xlsx", files.xlsx_bytes(ROWS, other, sheet="Detalle"), tpl=tpl)
    assert_failed_clean(imp, "«Consumos»", "«Detalle»")


@pytest.mark.django_db
def test_renamed_sheet_with_the_template_headers_is_read_with_a_warning(issuer_co, operator, do_import):
    mapping = pipeline.normalize_mapping(dict(pipeline.DEFAULT_MAPPING, sheet="Consumo septiembre"))
    tpl = make_template(issuer_co, operator, "Hoja", mapping=mapping)
    imp = do_import("detalle.xlsx", files.xlsx_bytes(ROWS, sheet="Consumo octubre", extra_sheets=["Portada"]),
                    tpl=tpl)
    assert imp.job.status == Job.Status.FINISHED, imp.job.error
    assert Charge.objects.count() == 5
    assert any("«Consumo octubre»" in w for w in imp.reconciliation["warnings"])


@pytest.mark.django_db
def test_subtotal_rows_inside_the_data_are_skipped_and_shown_as_a_warning(issuer_co, client_co, do_import):
    rows = [*ROWS[:2], ["Subtotal cuenta 1", "", "", "", "3.000"], *ROWS[2:]]
    imp = do_import("detalle.csv", files.csv_bytes(rows))
    assert imp.job.status == Job.Status.FINISHED, imp.job.error
    assert Charge.objects.count() == 5 and imp.rows_invalid == 0
    page = client_co.get(f"/importaciones/{imp.pk}/").content.decode()
    assert "Se omitió 1 fila de subtotal (fila 4)." in page


@pytest.mark.django_db
def test_missing_columns(do_import):
    header = ["Referencia", "Concepto", "Cantidad", "Valor unitario", "Importe"]
    imp = do_import("detalle.csv", files.csv_bytes(ROWS, header=header))
    assert_failed_clean(imp, "Faltan columnas", "«Valor»", "«Importe»")


@pytest.mark.django_db
def test_empty_file(do_import):
    with pytest.raises(Invalid) as ei:
        do_import("vacio.csv", b"")
    assert ei.value.code == "imports.file.empty" and ei.value.field == "file" and "vacío" in ei.value.message
    imp = do_import("vacio.csv", b"\r\n\r\n")
    assert_failed_clean(imp, "vacío")


@pytest.mark.django_db
def test_header_only(do_import):
    imp = do_import("detalle.csv", files.csv_bytes([]))
    assert_failed_clean(imp, "no tiene filas de datos")


@pytest.mark.django_db
def test_empty_rows_are_skipped(do_import):
    data = files.csv_bytes(ROWS[:2]) + b";;;;\r\n\r\n" + files.csv_bytes(ROWS[2:], header=None)
    imp = do_import("detalle.csv", data)
    assert imp.job.status == Job.Status.FINISHED
    assert Charge.objects.count() == 5 and imp.reconciliation["empty_rows"] == 2


@pytest.mark.django_db
def test_invalid_bytes_in_declared_utf8(issuer_co, operator, do_import):
    mapping = pipeline.normalize_mapping(dict(pipeline.DEFAULT_MAPPING, encoding="utf-8"))
    tpl = make_template(issuer_co, operator, "UTF8", mapping=mapping)
    data = files.csv_bytes(ROWS[:2]) + "00000099;Energía;1;1,00;1,00\r\n".encode("latin-1")
    imp = do_import("detalle.csv", data, tpl=tpl)
    assert_failed_clean(imp, "fila 4", "UTF-8")


@pytest.mark.django_db
def test_unsupported_extension_refused_at_scheduling(do_import):
    with pytest.raises(Invalid) as ei:
        do_import("detalle.pdf", b"%PDF-1.4")
    assert ei.value.code == "imports.file.unsupported_type" and "no es de un tipo admitido" in ei.value.message
    assert not Charge.objects.exists()


@pytest.mark.django_db
def test_row_errors_name_row_column_value(do_import):
    rows = [list(r) for r in ROWS]
    rows[1][4] = "doce mil"
    rows[3][0] = ""
    imp = do_import("detalle.csv", files.csv_bytes(rows))
    assert imp.job.status == Job.Status.FINISHED_WITH_ERRORS
    assert imp.rows_valid == 3 and imp.rows_invalid == 2 and imp.job.errors == 2
    errors = {e.row_number: e for e in imp.row_errors.all()}
    assert set(errors) == {3, 5}  # header is row 1
    assert errors[3].column == "E" and errors[3].value == "doce mil" and "Fila 3" in errors[3].message
    assert errors[5].column == "A" and "obligatorio" in errors[5].message
    assert errors[3].original == rows[1]
    assert Charge.objects.count() == 3


@pytest.mark.django_db
def test_all_or_nothing_loads_nothing(issuer_co, operator, do_import):
    tpl = make_template(issuer_co, operator, "Estricta", all_or_nothing=True)
    rows = [list(r) for r in ROWS]
    rows[2][4] = "x"
    imp = do_import("detalle.csv", files.csv_bytes(rows), tpl=tpl)
    assert_failed_clean(imp, "todo o nada", "1 errores")
    assert imp.rows_invalid == 1 and imp.row_errors.count() == 1


@pytest.mark.django_db
def test_merged_cells_and_formulas_without_value(tmp_path, do_import):
    import xlsxwriter

    path = tmp_path / "m.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Detalle")
    ws.write_row(0, 0, files.HEADER)
    ws.write_row(1, 0, ["00000001", "Consumo", 1, 10, 10])
    ws.merge_range(2, 0, 3, 0, "00000002")  # reference merged over two rows
    ws.write_row(2, 1, ["Consumo", 1, 10, 10])
    ws.write_row(3, 1, ["Consumo", 1, 10, 10])
    ws.write_string(4, 0, "00000003")
    ws.write_row(4, 1, ["Consumo", 1, 10])
    ws.write_formula(4, 4, "=C5*D5", None, "")  # formula saved without a cached value
    wb.close()
    imp = do_import("detalle.xlsx", path.read_bytes())
    assert imp.job.status == Job.Status.FINISHED_WITH_ERRORS
    msgs = {e.row_number: e.message for e in imp.row_errors.all()}
    assert "combinadas A3:A4" in msgs[4]
    assert "fórmula" in msgs[5]
    assert Charge.objects.count() == 2


@pytest.mark.django_db
def test_rows_over_the_import_cap_fail_the_import_cleanly(do_import, settings):
    settings.FACTURADOR_IMPORT_MAX_ROWS = 3
    imp = do_import("detalle.csv", files.csv_bytes(ROWS))
    assert_failed_clean(imp, "filas")


@pytest.mark.django_db
def test_upload_over_the_size_cap_is_refused_before_it_is_stored(issuer_co, operator, template, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from facturador.core.actors import Actor
    from facturador.imports import actions
    from facturador.imports.models import ImportJob

    settings.FACTURADOR_UPLOAD_MAX_BYTES = 100
    upload = SimpleUploadedFile("detalle.csv", files.csv_bytes(ROWS))
    with pytest.raises(Invalid) as err:
        actions.schedule_import(issuer_co, Actor.worker(), operator=operator, template=template, period="2026-10",
                                upload=upload)
    assert (err.value.code, err.value.field) == ("imports.file.too_large", "file")
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_hostile_sample_is_refused_by_the_isolated_preview(issuer_co, operator, template):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from facturador.core.actors import Actor
    from facturador.imports import actions
    from facturador.tabular.tests.test_limits import _ods, _value

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = _ods(Path(tmp) / "bomba.ods",
                    f'<table:table-row table:number-rows-repeated="1048576">{_value(1024)}</table:table-row>')
        sample = SimpleUploadedFile("bomba.ods", path.read_bytes())
    with pytest.raises(Invalid) as err:
        actions.preview_template(issuer_co, Actor.worker(), mapping=template.mapping, sample=sample)
    assert err.value.code == "imports.sample.unreadable" and err.value.field == "sample"
