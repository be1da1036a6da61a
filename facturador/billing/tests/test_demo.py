import pytest

pytestmark = pytest.mark.django_db


def test_the_demo_numbering_fits_its_columns():
    """`serve --seed-demo` on PostgreSQL: a value longer than its column is an error there (SQLite stores it)."""
    from facturador.core import demo
    from facturador.core.models import NumberingRange

    demo.seed()
    for rng in NumberingRange.objects.all():
        rng.full_clean()
