"""The tables numbering writes in bulk keep no redundant index (each one costs CPU per number)."""

import pytest
from django.db import connection

BULK_WRITTEN = {"billing_billinginvoice": ("issuer_id", "batch_id", "account_id"), "core_issueddocument": ("issuer_id",)}


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(BULK_WRITTEN))
def test_bulk_written_tables_have_no_single_column_index_a_composite_one_covers(table):
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, table)
    columns = [tuple(c["columns"]) for c in indexes.values() if (c["index"] or c["unique"]) and c["columns"]]
    for fk in BULK_WRITTEN[table]:
        assert any(cols[0] == fk for cols in columns), f"{table}.{fk} has no index for its foreign key"
        composite = any(cols[0] == fk and len(cols) > 1 for cols in columns)
        assert not (composite and (fk,) in columns), f"{table}.{fk}: a single-column index beside a composite one"
