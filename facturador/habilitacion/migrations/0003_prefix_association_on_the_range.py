"""The prefix association is a fact of the authorised range (core.NumberingRange.associated_software_id /
associated_on), linked to the software: the date the enablement kept moves to its range, with the software that
was active."""

from django.db import migrations


def move_to_range(apps, schema_editor):
    Enablement = apps.get_model("habilitacion", "Enablement")
    NumberingRange = apps.get_model("core", "NumberingRange")
    OperationMode = apps.get_model("einvoice", "OperationMode")
    for en in Enablement.objects.filter(prefix_associated_on__isnull=False, production_range__isnull=False):
        mode = OperationMode.objects.filter(issuer_id=en.issuer_id, active=True).first()
        if mode is not None:
            NumberingRange.objects.filter(pk=en.production_range_id).update(
                associated_software_id=mode.software_id, associated_on=en.prefix_associated_on)


class Migration(migrations.Migration):

    dependencies = [
        ("habilitacion", "0002_testsetrun_outcome_from_job"),
        ("core", "0005_numberingrange_prefix_association"),
        ("einvoice", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(move_to_range, migrations.RunPython.noop),
        migrations.RemoveField(model_name="enablement", name="prefix_associated_on"),
    ]
