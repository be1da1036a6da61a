"""Previews of untrusted files run in a limited child process (tabular.isolated)."""

import pytest

from facturador.tabular import ImportFileError
from facturador.tabular.isolated import preview_isolated
from facturador.tabular.limits import Limits
from facturador.tabular.tests.test_limits import _ods, _value

TEMPLATE = {"header_row": 1, "fields": [{"field": "reference", "position": "A"}]}


def test_preview_in_a_child_process_gives_the_rows(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("Ref;Valor\n001;10\n002;20\n", encoding="utf-8")
    result = preview_isolated(str(path), "m.csv", {"header_row": 1, "delimiter": ";",
                                                   "fields": [{"field": "reference", "header": "Ref"}]})
    assert [r.values["reference"] for r in result.rows] == ["001", "002"]


def test_reader_refusal_comes_back_as_the_same_error(tmp_path):
    path = _ods(tmp_path / "bomba.ods",
                f'<table:table-row table:number-rows-repeated="1048576">{_value(1024)}</table:table-row>')
    with pytest.raises(ImportFileError) as err:
        preview_isolated(str(path), "bomba.ods", TEMPLATE)
    assert err.value.code in ("too_many_rows", "too_many_cells")


def test_memory_ceiling_stops_the_child_not_the_caller(tmp_path):
    # Without limits the reader would materialise ~1e9 cells; the child's address space is capped instead.
    path = _ods(tmp_path / "bomba.ods",
                f'<table:table-row table:number-rows-repeated="1048576">{_value(1024)}</table:table-row>')
    with pytest.raises(ImportFileError) as err:
        preview_isolated(str(path), "bomba.ods", TEMPLATE, limits=Limits(None, None, None),
                         memory_limit=300 * 2**20)
    assert err.value.code in ("preview_memory", "corrupt_file")


def test_time_limit_kills_the_child(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("Ref\n001\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as err:  # not even the interpreter starts in 10 ms
        preview_isolated(str(path), "m.csv", TEMPLATE, timeout=0.01)
    assert err.value.code == "preview_timeout"
