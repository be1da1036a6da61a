import datetime as dt
import threading

import pytest
from django.db import close_old_connections, connection, transaction

from facturador.core import numbering
from facturador.core.models import NumberingRange
from facturador.core.tests.helpers import make_range


def take(rng, on=None):
    with transaction.atomic():
        return numbering.allocate(rng, on=on)


def test_allocates_consecutive_numbers(issuer_co):
    rng = make_range(issuer_co)
    got = [take(rng).number for _ in range(5)]
    assert got == [990000000 + i for i in range(5)]
    assert take(rng).full == "SETP990000005"


def test_rolled_back_document_gives_its_number_back(issuer_co):
    rng = make_range(issuer_co)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            numbering.allocate(rng)
            raise RuntimeError("document insert failed")
    assert take(rng).number == 990000000


@pytest.mark.django_db(transaction=True)
def test_allocate_outside_transaction_is_refused(issuer_co):
    rng = make_range(issuer_co)
    with pytest.raises(RuntimeError):
        numbering.allocate(rng)


def test_exhausted_and_expired_ranges_give_clear_errors(issuer_co):
    rng = make_range(issuer_co, prefix="FE", range_from=1, range_to=2)
    take(rng), take(rng)
    with pytest.raises(numbering.NumberingError) as err:
        take(rng)
    assert err.value.code == "core.numbering.exhausted" and "agotada" in err.value.message
    old = make_range(issuer_co, prefix="OLD", range_from=1, range_to=10, valid_to=dt.date(2020, 1, 1))
    with pytest.raises(numbering.NumberingError) as err:
        take(old, on=dt.date(2021, 1, 1))
    assert err.value.code == "core.numbering.expired" and "venció" in err.value.message
    assert NumberingRange.objects.get(pk=old.pk).next_number == 1


def test_warnings_at_90_percent_and_30_days(issuer_co):
    today = dt.date(2026, 11, 22)
    rng = make_range(issuer_co, prefix="W", range_from=1, range_to=10, next_number=10, valid_to=today + dt.timedelta(days=20))
    text = " ".join(numbering.warnings(rng, on=today))
    assert "90 %" in text or "90%" in text
    assert "vence" in text


def test_overlap_detection(issuer_co):
    make_range(issuer_co, prefix="FE", range_from=1, range_to=1000)
    assert numbering.overlapping(issuer_co, "invoice", "test", "FE", 900, 2000) is not None
    assert numbering.overlapping(issuer_co, "invoice", "test", "FE", 1001, 2000) is None
    assert numbering.overlapping(issuer_co, "invoice", "test", "FV", 1, 10) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocation_has_no_duplicates_and_no_gaps(issuer_co):
    """8 workers take 2,000 numbers at once; some of their transactions roll back."""
    rng = make_range(issuer_co, prefix="CC", range_from=1, range_to=1_000_000)
    workers, per_worker = 8, 250
    committed, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def work(wid):
        try:
            barrier.wait()
            mine = []
            i = 0
            while len(mine) < per_worker:
                i += 1
                try:
                    with transaction.atomic():
                        n = numbering.allocate(NumberingRange.objects.get(pk=rng.pk)).number
                        if i % 17 == 0:  # the "document" fails: the number must come back
                            raise ValueError("simulated failure")
                except ValueError:
                    continue
                mine.append(n)
            with lock:
                committed.extend(mine)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(committed) == workers * per_worker
    assert len(set(committed)) == len(committed), "duplicate numbers"
    assert sorted(committed) == list(range(1, workers * per_worker + 1)), "gap in the numbering"
    assert NumberingRange.objects.get(pk=rng.pk).next_number == workers * per_worker + 1


def test_block_allocation_is_consecutive_and_all_or_nothing(issuer_co):
    rng = make_range(issuer_co, prefix="BL", range_from=1, range_to=10)
    with transaction.atomic():
        assert numbering.allocate_block(rng, 4) == 1
    assert take(rng).number == 5
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            assert numbering.allocate_block(rng, 3) == 6
            raise RuntimeError("bulk insert failed")
    with pytest.raises(numbering.NumberingError) as err:  # 5 left: a block of 6 is refused whole
        with transaction.atomic():
            numbering.allocate_block(rng, 6)
    assert err.value.code == "core.numbering.exhausted" and "solo tiene 5" in err.value.message
    with transaction.atomic():
        assert numbering.allocate_block(rng, 5) == 6
    assert NumberingRange.objects.get(pk=rng.pk).next_number == 11


@pytest.mark.postgres_only
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent transactions: PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_batch_blocks_and_8_concurrent_single_issues(issuer_co):
    """A batch takes blocks of 100 (one rolled back) while 8 workers issue single invoices: the numbers of
    every committed document are unique and without gaps, and each block is consecutive."""
    rng = make_range(issuer_co, prefix="MX", range_from=1, range_to=1_000_000)
    singles, per_single, blocks, block = 8, 60, 12, 100
    committed, batch_blocks, errors = [], [], []
    lock = threading.Lock()
    barrier = threading.Barrier(singles + 1)

    def single(wid):
        try:
            barrier.wait()
            mine = []
            for _ in range(per_single):
                with transaction.atomic():
                    mine.append(numbering.allocate(NumberingRange.objects.get(pk=rng.pk)).number)
            with lock:
                committed.extend(mine)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    def batch():
        try:
            barrier.wait()
            for k in range(blocks):
                try:
                    with transaction.atomic():
                        first = numbering.allocate_block(NumberingRange.objects.get(pk=rng.pk), block)
                        if k == 5:
                            raise ValueError("bulk insert failed: the block goes back")
                except ValueError:
                    continue
                with lock:
                    batch_blocks.append(first)
                    committed.extend(range(first, first + block))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=single, args=(w,)) for w in range(singles)] + [threading.Thread(target=batch)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    total = singles * per_single + (blocks - 1) * block
    assert len(batch_blocks) == blocks - 1
    assert sorted(committed) == list(range(1, total + 1)), "duplicate or missing numbers"
    assert NumberingRange.objects.get(pk=rng.pk).next_number == total + 1
