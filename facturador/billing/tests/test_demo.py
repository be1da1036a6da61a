import pytest

from facturador.billing import samples
from facturador.core.actors import Actor

pytestmark = pytest.mark.django_db


def test_the_demo_numbering_fits_its_columns():
    """`serve --seed-demo` on PostgreSQL: a value longer than its column is an error there (SQLite stores it)."""
    from facturador.core import demo
    from facturador.core.models import NumberingRange

    demo.seed()
    for rng in NumberingRange.objects.all():
        rng.full_clean()


@pytest.fixture
def demo(settings, tmp_path, issuer_co):
    """The billing and imports parts of the demo (`core.demo.seed` calls them for the demo's Colombian issuer)."""
    from facturador.billing import demo

    settings.DATA_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "files"
    demo.seed(issuer_co, None)
    from facturador.imports import demo as imports_demo  # the operator and template of manual 001

    imports_demo.seed(issuer_co, None)
    return issuer_co


def test_the_demo_writes_the_manuals_sample_files_to_the_data_dir(demo, tmp_path):
    names = sorted(p.name for p in (tmp_path / "ejemplos").iterdir())
    assert names == ["cuentas-ejemplo.xlsx", "detalle-consumo-ejemplo.xlsx", "plantilla-factura-ejemplo.typ",
                     "referencias-ejemplo.txt"]


def test_the_demo_operator_template_reads_the_sample_consumption_file_without_errors(demo, tmp_path):
    from facturador.billing import samples
    from facturador.core.actors import Actor
    from facturador.imports import actions as import_actions
    from facturador.imports.models import ImportTemplate

    tpl = ImportTemplate.objects.select_related("operator").get(operator__code="MOVIL", name="Detalle de consumo")
    fields = {f["field"] for f in tpl.mapping["fields"]}
    assert {"reference", "service_line", "cost_center", "plan", "minutes", "net_amount", "iva_amount",
            "amount", "cut_date"} <= fields
    path = tmp_path / "ejemplos" / "detalle-consumo-ejemplo.xlsx"
    report = import_actions.dry_run_import(demo, Actor.cli(), operator=tpl.operator, template=tpl,
                                           period=samples.last_period(), path=str(path), filename=path.name)
    assert report["errors"] == [] and report["rows_valid"] == report["rows_read"] > 10


def test_the_sample_accounts_file_imports_without_errors(demo, tmp_path):
    from facturador.billing import actions
    from facturador.core.actors import Actor

    issuer = demo
    path = tmp_path / "ejemplos" / "cuentas-ejemplo.xlsx"
    report = actions.import_accounts(issuer, Actor.cli(), path=path, filename=path.name, dry_run=True)
    assert report.errors == [] and report.rows_valid == 8 and report.ignored_columns == []


def test_sample_files_are_offered_for_download(demo, client_co):
    client = client_co
    resp = client.get("/facturacion/ejemplos/cuentas/")
    assert resp.status_code == 200 and resp["Content-Disposition"].endswith('"cuentas-ejemplo.xlsx"')
    assert client.get("/facturacion/ejemplos/nada/").status_code == 404


def test_the_sample_references_and_template_files_are_accepted_by_a_batch(demo, tmp_path):
    from facturador.billing import actions
    from facturador.billing.selection import parse_references

    folder = tmp_path / "ejemplos"
    actions.upload_template(demo, Actor.cli(), name="Ejemplo", source=(folder / "plantilla-factura-ejemplo.typ").read_text())
    preview = actions.preview_batch(demo, periods=[samples.last_period()], template="Ejemplo",
                                    references=parse_references((folder / "referencias-ejemplo.txt").read_bytes()))
    assert preview.plan.count == 10
