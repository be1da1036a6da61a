"""The fast path (fastlines) loads exactly what the general path would: each row it takes, compared with the line
the general path maps and formats for it; every row it leaves is one the general path handles."""

import csv
import datetime as dt
import random
from decimal import Decimal
from types import SimpleNamespace

import pytest

from facturador.imports import fastlines, loading, pipeline, staging
from facturador.tabular.mapping import Template, map_rows
from facturador.tabular.readers import open_rows

HEADER = ["Línea", "Cuenta", "Centro de costo", "Plan", "Concepto", "Minutos", "Datos (MB)", "SMS", "Valor sin IVA",
          "IVA", "Valor total", "Fecha corte"]


def telecom_mapping(**changes):
    fields = [
        {"field": "service_line", "header": "Línea", "parser": "phone"},
        {"field": "reference", "header": "Cuenta", "parser": "text", "required": True, "max_length": 48},
        {"field": "cost_center", "header": "Centro de costo"},
        {"field": "plan", "header": "Plan"},
        {"field": "concept", "header": "Concepto", "max_length": 200},
        {"field": "minutes", "header": "Minutos", "parser": "decimal", "rules": {"non_negative": True}},
        {"field": "data_mb", "header": "Datos (MB)", "parser": "decimal", "rules": {"non_negative": True}},
        {"field": "sms", "header": "SMS", "parser": "integer", "rules": {"non_negative": True}},
        {"field": "net_amount", "header": "Valor sin IVA", "parser": "decimal", "decimal_places": 2},
        {"field": "iva_amount", "header": "IVA", "parser": "decimal", "decimal_places": 2},
        {"field": "amount", "header": "Valor total", "parser": "decimal", "decimal_places": 2},
        {"field": "cut_date", "header": "Fecha corte", "parser": "date", "rules": {"period_days": 10}},
    ]
    mapping = {"fields": fields, "header_row": 1, "decimal_separator": ",", "thousands_separator": ".",
               "declared_totals": None, "checks": [{"kind": "sum", "fields": ["net_amount", "iva_amount"],
                                                    "equals": "amount", "tolerance": "1"}]}
    mapping.update(changes)
    return mapping


CLEAN = ["3001234567", "0001", "Ventas", "Plan 20GB", "Cargo básico", "120", "2048,5", "10", "10000,00", "1900,00",
         "11900,00", "30/09/2026"]
# What real files put in each column: clean values, and what a clerk's or an export's hand adds.
CHOICES = [
    ["3001234567", "300 123 4567", "+573001234568", "6017654321", "31000002", "", "abc", "3001234567 "],
    ["0001", " 0002 ", "12", "A\\B", "x" * 49, "Ñandú", "", "00" * 24],
    ["Ventas", "", "Logística", "a\tb", "x" * 121],
    ["Plan 20GB", "", "Plan\\Ilimitado"],
    ["Cargo básico", "Consumo", "", "y" * 201, "Roaming\ninternacional", "Cargo «fijo»"],
    ["120", "0", "", "12,5", "0012", "-5", "1.234", "(3)", "1e5", "abc", "99999999999999", "1,2,3"],
    ["2048,5", "0", "", "1.024,25", "-1", "12,", ",5", "9999999999999"],
    ["10", "0", "", "-2", "1,5", "1.000"],
    ["10000,00", "10.000,00", "10000", "10000,5", "-10000,00", "", "$ 10.000,00", "abc", "99999999999999,00"],
    ["1900,00", "1.900,00", "", "1900", "-1900,00", "0,00"],
    ["11900,00", "11.900,00", "11900", "11900,50", "11902,00", "", "-11900,00", "N/A", "11899,01"],
    ["30/09/2026", "2026-09-30", "31/02/2026", "", "01/01/2020", "05/10/2026", "30.09.2026"],
]


def rows(n=3000, seed=11):
    rnd = random.Random(seed)
    out = [list(CLEAN)]
    for _ in range(n):
        row = list(CLEAN)
        for k in rnd.sample(range(12), rnd.choice((0, 1, 1, 2, 3))):
            row[k] = rnd.choice(CHOICES[k])
        out.append(row)
    return out


def write_csv(path, data):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(HEADER)
        w.writerows(data)
    return path


class _Copy:
    def __init__(self):
        self.text = []

    def put(self, data):
        self.text.append(data)


def direct_loader(accounts):
    """A DirectLoader's formatting alone: its write() into a list (no database)."""
    ld = object.__new__(loading.DirectLoader)
    ld.accounts, ld._suffix, ld._concepts, ld._typed_text, ld.written = accounts, "9\t2026-09", {}, None, 0
    ld.unknown = set()
    ld._copy = _Copy()
    return ld


def general_lines(path, mapping, accounts):
    """Row number -> (COPY line, duplicate-key hash, line hash, amount) by the general path (pipeline._load's)."""
    tpl = Template.from_dict(mapping)
    src = open_rows(str(path), path.name)
    mapper = map_rows(src, tpl, period="2026-09")
    line, typed = pipeline.make_line(tpl, db_rounds=True), pipeline.make_typed(tpl)
    key_hash = staging.duplicate_hasher(SimpleNamespace(duplicate_key=[]))
    ld = direct_loader(accounts)
    ld.typed_varying, ld.typed_blank = typed.varying, typed.blank
    out = {}
    for mr in mapper:
        if mr.errors:
            continue
        try:
            ref, concept, qty, price, amount = line(mr.values)
            extra = typed(mr.values)
        except pipeline.LineError:
            continue
        ld.write([(mr.row_number, ref, concept, qty, price, amount, extra)])
        out[mr.row_number] = (ld._copy.text.pop(), key_hash(ref, concept, extra), hash(extra[0] or ref), amount)
    src.close()
    return out


def fast_lines(path, mapping, accounts):
    """Row number -> (COPY line, hashes) for the rows the fast path takes, its counts, and the references it wrote
    without an account."""
    tpl = Template.from_dict(mapping)
    src = open_rows(str(path), path.name)
    mapper = map_rows(src, tpl, period="2026-09")
    out, hashes, line_hashes = [], [], []
    key = staging.duplicate_key(SimpleNamespace(duplicate_key=[]))
    loader = direct_loader(accounts)
    take = fastlines.line_taker(tpl, mapper, loader, key, out=out, batch=20_000, flush=lambda: None,
                                add_hash=hashes.append, add_line_hash=line_hashes.append)
    assert take is not None
    taken = {}

    def spy(row, rn):
        before = len(out)
        if take(row, rn):
            taken[rn] = (out[before], hashes[-1], line_hashes[-1])
            return True
        assert len(out) == before
        return False
    mapper.take = spy
    for _ in mapper:
        pass
    src.close()
    return taken, take.counts, loader.unknown


def same_line(a: str, b: str) -> bool:
    """Two COPY lines with the same values (a number may be written «0012» or «12»)."""
    fa, fb = a.rstrip("\n").split("\t"), b.rstrip("\n").split("\t")
    if len(fa) != len(fb):
        return False
    for x, y in zip(fa, fb):
        if x != y:
            try:
                if Decimal(x) != Decimal(y):
                    return False
            except ArithmeticError:
                return False
    return True


def test_every_row_taken_is_loaded_as_the_general_path_loads_it(tmp_path):
    path = write_csv(tmp_path / "consumo.csv", rows())
    accounts = {"0001": 7, "12": 8}
    general = general_lines(path, telecom_mapping(), accounts)
    taken, (count, cents), unknown = fast_lines(path, telecom_mapping(), accounts)
    assert 2 in taken  # the clean row
    assert unknown == {t.split("\t")[0] for t, _k, _l in taken.values() if t.split("\t")[5] == "\\N"} != set()
    assert len(taken) > 1000 and len(general) > len(taken)  # the odd rows went the general way
    for rn, (text, key, line_key) in taken.items():
        assert rn in general, f"row {rn} taken but refused by the general path"
        g_text, g_key, g_line_key, _ = general[rn]
        assert same_line(text, g_text), (rn, text, g_text)
        assert (key, line_key) == (g_key, g_line_key), rn
    assert count == len(taken)
    assert Decimal(cents).scaleb(-2) == sum(general[rn][3] for rn in taken)


def test_the_clean_row_is_written_as_its_charge(tmp_path):
    path = write_csv(tmp_path / "consumo.csv", [CLEAN])
    taken, _, _ = fast_lines(path, telecom_mapping(), {"0001": 7})
    fields = taken[2][0].rstrip("\n").split("\t")
    assert fields[:7] == ["0001", "Cargo básico", "1", "11900.00", "11900.00", "7", "2"]
    assert fields[-2:] == ["9", "2026-09"]


@pytest.mark.parametrize("change", [
    {"fields": telecom_mapping()["fields"] + [{"field": "extra.zona", "header": "Plan"}]},
    {"declared_totals": {"fields": ["plan"]}},
    {"fields": [dict(f, rules={"max": 10}) if f["field"] == "minutes" else f for f in telecom_mapping()["fields"]]},
    {"fields": [dict(f, field="quantity") if f["field"] == "minutes" else f for f in telecom_mapping()["fields"]]},
    {"fields": [dict(f, decimal_places=None) if f["field"] == "amount" else f for f in telecom_mapping()["fields"]]},
])
def test_templates_it_does_not_cover_go_the_general_way(tmp_path, change):
    path = write_csv(tmp_path / "consumo.csv", [CLEAN])
    tpl = Template.from_dict(telecom_mapping(**change))
    src = open_rows(str(path), path.name)
    mapper = map_rows(src, tpl, period="2026-09")
    assert fastlines.line_taker(tpl, mapper, direct_loader({}), ["reference"], out=[], batch=20_000, flush=None,
                                add_hash=None, add_line_hash=None) is None
    src.close()


# What a spreadsheet holds instead: numbers (whole numbers read as int), dates, serial numbers.
SHEET_CHOICES = {
    0: [3001234567.0, 3001234567, 6017654321.0, 31000002.0],
    1: [12.0, 1.0, 12.5, True],
    5: [120, 0, 12.5, 0.125, 1e-05, -5.0, 1e20],
    6: [2048.5, 0.0, 1024.25, -1.0, 2.5e-07],
    7: [10, 0, 1.5, -2],
    8: [10000.0, 10000, 10000.5, 0.125, -10000.0, 1e17],
    9: [1900.0, 1900, 0.0, 1900.004],
    10: [11900.0, 11900, 11900.5, 11902.0, 11899.995, 11900.004],
    11: [dt.date(2026, 9, 30), dt.datetime(2026, 9, 30, 18, 0), dt.date(2020, 1, 1), 46295.0, 46295],
}


def sheet_rows(n=1500, seed=12):
    rnd = random.Random(seed)
    out = []
    for row in rows(n, seed):
        row = list(row)
        for k, choices in SHEET_CHOICES.items():
            if rnd.random() < 0.4:
                row[k] = rnd.choice(choices)
        out.append(row)
    return out


def test_every_spreadsheet_row_taken_is_loaded_as_the_general_path_loads_it(tmp_path):
    from facturador.tabular.tests.builders import write_xlsx

    path = write_xlsx(tmp_path / "consumo.xlsx", {"Detalle": [HEADER, *sheet_rows()]})
    accounts = {"0001": 7, "12": 8}
    general = general_lines(path, telecom_mapping(), accounts)
    taken, (count, cents), _ = fast_lines(path, telecom_mapping(), accounts)
    assert 2 in taken and len(taken) > 300 and len(general) > len(taken)
    for rn, (text, key, line_key) in taken.items():
        assert rn in general, f"row {rn} taken but refused by the general path"
        g_text, g_key, g_line_key, _ = general[rn]
        assert same_line(text, g_text), (rn, text, g_text)
        assert (key, line_key) == (g_key, g_line_key), rn
    assert Decimal(cents).scaleb(-2) == sum(general[rn][3] for rn in taken)


def test_declared_totals_count_the_rows_taken(tmp_path):
    """The footer's totals are checked against every valid row, the fast path's included."""
    data = rows(500)
    mapping = telecom_mapping(declared_totals={"fields": ["amount", "minutes", "data_mb"], "from_footer": True})
    src = open_rows(str(write_csv(tmp_path / "a.csv", data)), "a.csv")
    mapper = map_rows(src, Template.from_dict(mapping), period="2026-09")
    totals = {"amount": 0, "minutes": 0, "data_mb": 0}
    for mr in mapper:
        for name in totals:
            if mr.ok and mr.values[name] is not None:
                totals[name] += mr.values[name]
    src.close()
    total = totals["amount"]
    footer = ["TOTAL", "", "", "", "", str(totals["minutes"]).replace(".", ","), str(totals["data_mb"]).replace(".", ","),
              "", "", "", f"{total:.2f}".replace(".", ","), ""]
    path = write_csv(tmp_path / "consumo.csv", data + [footer])
    outcome = []
    for fast in (False, True):
        tpl = Template.from_dict(mapping)
        src = open_rows(str(path), path.name)
        mapper = map_rows(src, tpl, period="2026-09")
        if fast:
            mapper.take = fastlines.line_taker(tpl, mapper, direct_loader({}), ["reference"], out=[], batch=20_000,
                                               flush=lambda: None, add_hash=lambda h: None, add_line_hash=lambda h: None)
            assert mapper.take is not None
        for _ in mapper:
            pass
        outcome.append((mapper.stats.computed_totals, mapper.stats.declared_totals, mapper.stats.file_errors))
        src.close()
    assert outcome[0] == outcome[1] and outcome[1][0] == totals and outcome[1][2] == []


def test_a_batch_is_flushed_when_full(tmp_path):
    path = write_csv(tmp_path / "consumo.csv", [CLEAN] * 7)
    tpl = Template.from_dict(telecom_mapping())
    src = open_rows(str(path), path.name)
    mapper = map_rows(src, tpl, period="2026-09")
    out, sent = [], []

    def flush():
        sent.append(len(out))
        out.clear()
    mapper.take = fastlines.line_taker(tpl, mapper, direct_loader({}), ["reference"], out=out, batch=3, flush=flush,
                                       add_hash=lambda h: None, add_line_hash=lambda h: None)
    assert list(mapper) == [] and mapper.stats.data_rows == 7
    assert (sent, len(out)) == ([3, 3], 1)
    src.close()

