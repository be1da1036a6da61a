# The staging table (ImportedLine) becomes UNLOGGED on PostgreSQL: no WAL for the COPY of a million lines,
# their cleanup or hint bits. Safe for the import guarantees: staged lines are never the only copy of
# anything (the file is), billing never reads them, and a crash of the database empties an unlogged table,
# which is exactly what a re-run does first (an import whose swap committed has its charges in the logged
# billing_charge table and `loaded_at` set). Other backends: no change.

from django.db import migrations


def set_logged(logged):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE imports_importedline SET {'LOGGED' if logged else 'UNLOGGED'}")
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("imports", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(set_logged(False), set_logged(True), elidable=False),
    ]
