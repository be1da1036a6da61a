# Charge keeps only the indexes that queries use (issue 5 §9: every imported row maintains each index).
# issuer_id and account_id are the leading columns of the composite indexes (issuer, period, reference) and
# (account, period), which serve the cascade/protect lookups and every filter on them; tariff_id is set only
# on tariff charges, so a partial index serves Tariff's SET_NULL and FK checks without touching imported rows.
# Only the single-column indexes are dropped (DROP INDEX, same names on every backend); the foreign keys are
# left alone, so no re-validation of the table.

import django.db.models.deletion
from django.db import migrations, models

DROPPED = ["billing_charge_account_id_c4951418", "billing_charge_issuer_id_5faa88eb", "billing_charge_tariff_id_0e8078de"]


def _index_sql(field):
    return f'CREATE INDEX IF NOT EXISTS "{{name}}" ON "billing_charge" ("{field}_id")'


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0002_electronic'),
        ('core', '0002_issued_document'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='charge',
                    name='account',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='charges', to='billing.account'),
                ),
                migrations.AlterField(
                    model_name='charge',
                    name='issuer',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.issuer'),
                ),
                migrations.AlterField(
                    model_name='charge',
                    name='tariff',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='billing.tariff'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in DROPPED],
                    [_index_sql(field).format(name=name) for name, field in zip(DROPPED, ["account", "issuer", "tariff"])],
                ),
            ],
        ),
        migrations.AddIndex(
            model_name='charge',
            index=models.Index(condition=models.Q(('tariff__isnull', False)), fields=['tariff'], name='billing_charge_tariff_set'),
        ),
    ]
