"""A whole file checked against a template without writing anything (no Django): the dry run.

:func:`validate_file` maps every row with the template's parsers and rules (``tabular.rules``) and answers
one JSON-ready dict: ``rows_read`` (data rows), ``rows_valid``, ``errors`` (``tabular.errors.error_dict``
shape, file-level problems included, at most ``max_listed``; ``errors_total`` counts them all) and
``totals``: the sum of each numeric field over the valid rows, as decimal strings. ``extra_check`` lets
the caller add its own checks of the rows that passed the template's (``(values, row_number) -> [RowError]``;
an error without a column gets its field's).

>>> import io
>>> from facturador.tabular.mapping import Template
>>> t = Template.from_dict({"fields": [
...     {"field": "reference", "header": "Cuenta", "required": True},
...     {"field": "minutes", "header": "Minutos", "parser": "decimal", "rules": {"non_negative": True}}]})
>>> data = io.BytesIO("Cuenta;Minutos\\n001;10\\n002;-3\\n;4\\n".encode())
>>> r = validate_file(data, "consumo.csv", t)
>>> r["rows_read"], r["rows_valid"], r["totals"], [(e["row"], e["column"], e["code"]) for e in r["errors"]]
(3, 1, {'minutes': '10'}, [(3, 'B', 'negative'), (4, 'A', 'required')])
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from .errors import error_dict
from .limits import Limits
from .mapping import Template, map_rows, open_for_template

__all__ = ["validate_file"]


def validate_file(path: Any, filename: str | None, template: Template, *, period: str | None = None,
                  limits: Limits | None = None, max_listed: int = 1000,
                  extra_check: Callable[[dict, int], list] | None = None) -> dict:
    """Dry run of ``template`` over the file (ImportFileError for file-level refusals; see the module doc)."""
    numeric = [f.field for f in template.fields if f.parser in ("decimal", "integer")]
    totals = {name: Decimal(0) for name in numeric}
    errors: list = []
    errors_total = rows = valid = 0
    with open_for_template(path, filename, template, limits=limits) as src:
        mapper = map_rows(src, template, period=period)

        def add(errs):
            nonlocal errors_total
            for e in errs:
                errors_total += 1
                if len(errors) < max_listed:
                    errors.append(error_dict(e, mapper.header_of(e.column)))

        columns = {p.name: p.col for p in mapper._plan}
        for mr in mapper:
            rows += 1
            errs = mr.errors
            if not errs and extra_check is not None:
                errs = extra_check(mr.values, mr.row_number)
                for e in errs:  # the caller's checks name the field; the column is the mapper's
                    e.column = e.column or columns.get(e.field)
            if errs:
                add(errs)
                continue
            valid += 1
            for name in numeric:
                v = mr.values.get(name)
                if v is not None:
                    totals[name] += v
        add(mapper.stats.file_errors)
    return {"rows_read": rows, "rows_valid": valid, "errors": errors, "errors_total": errors_total,
            "totals": {k: str(v) for k, v in totals.items()}, "header": list(mapper.header),
            "sheet": src.sheet_name, "warnings": list(mapper.stats.warnings),
            "subtotal_rows": list(mapper.stats.subtotal_rows)}


