"""TestSetRun's stored `outcome` goes: the processing state is its job's, DIAN's acceptance is `accepted_at`."""

from django.db import migrations, models


def keep_acceptance(apps, schema_editor):
    """A run marked accepted keeps that fact in `accepted_at` (set together with it; this is only a guard)."""
    TestSetRun = apps.get_model("habilitacion", "TestSetRun")
    for run in TestSetRun.objects.filter(outcome="accepted", accepted_at__isnull=True).select_related("job"):
        run.accepted_at = (run.job.finished_at if run.job_id else None) or run.created_at
        run.save(update_fields=["accepted_at"])


class Migration(migrations.Migration):

    dependencies = [
        ("habilitacion", "0001_initial"),
        ("core", "0002_issued_document"),
    ]

    operations = [
        migrations.RunPython(keep_acceptance, migrations.RunPython.noop),
        migrations.RemoveField(model_name="testsetrun", name="outcome"),
        migrations.AlterField(
            model_name="testsetrun", name="accepted_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="aceptado por la DIAN"),
        ),
        migrations.AlterField(
            model_name="testsetrun", name="dian_message",
            field=models.CharField(blank=True, max_length=500, verbose_name="respuesta de la DIAN sobre el set"),
        ),
    ]
