"""Same content for the same operator+period is refused unless forced; a re-import replaces atomically."""

from decimal import Decimal

import pytest

from facturador.billing.models import Charge
from facturador.core.errors import Conflict
from facturador.core.models import Job
from facturador.imports import staging
from facturador.imports.models import ImportedLine
from facturador.imports.tests import files
from facturador.imports.tests.conftest import schedule

FIRST = files.sample_rows(6)
SECOND = files.sample_rows(4, start=100)


@pytest.mark.django_db
def test_same_file_refused_then_forced_replaces(issuer_co, operator, template, do_import):
    first = do_import("a.csv", files.csv_bytes(FIRST))
    assert first.job.status == Job.Status.FINISHED and Charge.objects.count() == 6
    with pytest.raises(Conflict) as ei:
        do_import("otro-nombre.csv", files.csv_bytes(FIRST))
    assert ei.value.code == "imports.import.duplicate" and ei.value.details == {"import_id": first.pk} and f"#{first.pk}" in ei.value.message and "forzar" in ei.value.message
    forced = do_import("a.csv", files.csv_bytes(FIRST), force=True)
    assert forced.job.status == Job.Status.FINISHED
    assert forced.replaced_charges == 6 and forced.replaced_import_id == first.pk
    assert set(Charge.objects.values_list("source_import_id", flat=True)) == {forced.pk}
    assert Charge.objects.count() == 6


@pytest.mark.django_db
def test_reimport_of_other_content_replaces_the_period(issuer_co, operator, template, do_import):
    do_import("a.csv", files.csv_bytes(FIRST))
    do_import("a.csv", files.csv_bytes(FIRST), period="2026-09")
    second = do_import("b.csv", files.csv_bytes(SECOND))
    assert second.job.status == Job.Status.FINISHED
    oct_refs = sorted(Charge.objects.filter(period="2026-10").values_list("reference", flat=True))
    assert oct_refs == [r[0] for r in SECOND]
    assert Charge.objects.filter(period="2026-09").count() == 6  # other period untouched
    # Manual charges of the same period are not the operator's imported data: kept.
    assert second.replaced_charges == 6


@pytest.mark.django_db
def test_other_operator_same_period_not_touched(issuer_co, operator, template, do_import):
    from facturador.imports.models import Operator
    from facturador.imports.tests.conftest import import_file, make_template

    other = Operator.objects.create(issuer=issuer_co, code="AGUA", name="Acueducto")
    tpl2 = make_template(issuer_co, other)
    import_file(issuer_co, other, tpl2, "agua.csv", files.csv_bytes(SECOND))
    do_import("a.csv", files.csv_bytes(FIRST))
    do_import("b.csv", files.csv_bytes(FIRST[:2]))
    assert Charge.objects.filter(source_operator="AGUA").count() == 4
    assert Charge.objects.filter(source_operator="TELCO").count() == 2


@pytest.mark.django_db
def test_duplicate_detected_at_run_time(issuer_co, operator, template, do_import):
    """Two identical files queued (the second forced at scheduling, then loaded first) — the run checks again."""
    queued = schedule(issuer_co, operator, template, "a.csv", files.csv_bytes(FIRST))
    do_import("a.csv", files.csv_bytes(FIRST), force=True)
    from facturador.imports.tests.conftest import run_now

    imp = run_now(queued)
    assert imp.job.status == Job.Status.FAILED and "ya se importó" in imp.job.error
    assert Charge.objects.count() == 6


@pytest.mark.django_db
def test_dry_run_validates_without_storing(issuer_co, operator, template, do_import):
    do_import("a.csv", files.csv_bytes(FIRST))
    rows = [list(r) for r in SECOND]
    rows[0][4] = "abc"
    dry = do_import("b.csv", files.csv_bytes(rows), dry_run=True)
    assert dry.job.status == Job.Status.FINISHED_WITH_ERRORS
    assert dry.rows_valid == 3 and dry.rows_invalid == 1 and dry.phase == "validated" and dry.loaded_at is None
    assert dry.reconciliation["control"]["rows"] == 3
    assert sorted(Charge.objects.values_list("reference", flat=True)) == sorted(r[0] for r in FIRST)
    assert not ImportedLine.objects.exists()
    # A dry run does not count as "already imported".
    again = do_import("b.csv", files.csv_bytes(SECOND))
    assert again.job.status == Job.Status.FINISHED


@pytest.mark.django_db
def test_swap_is_atomic_when_insert_fails(issuer_co, operator, template, do_import, monkeypatch):
    """If the swap transaction fails half-way, the previous charges are still there (rollback)."""
    first = do_import("a.csv", files.csv_bytes(FIRST))
    imp = schedule(issuer_co, operator, template, "b.csv", files.csv_bytes(SECOND))
    original = staging.ImportJob.objects.filter

    def exploding_update(*a, **kw):
        qs = original(*a, **kw)
        if kw.get("pk") == imp.pk:
            class Boom:
                def update(self, **values):
                    if "loaded_at" in values:
                        raise RuntimeError("disk full")
                    return qs.update(**values)
            return Boom()
        return qs

    monkeypatch.setattr(staging.ImportJob.objects, "filter", exploding_update)
    from facturador.imports.tests.conftest import run_now

    imp = run_now(imp)
    monkeypatch.undo()
    assert imp.job.status == Job.Status.FAILED
    assert set(Charge.objects.values_list("source_import_id", flat=True)) == {first.pk}
    assert Charge.objects.count() == 6 and not ImportedLine.objects.exists()
    assert Charge.objects.aggregate(s=__import__("django.db.models", fromlist=["Sum"]).Sum("amount"))["s"] == \
        Decimal(files.total_of(FIRST))
