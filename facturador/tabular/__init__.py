"""Pure-Python (no Django) reading and mapping engine for billing data imports, and the one spreadsheet
writer of every export (:mod:`.sheets`: xlsx or csv, typed columns, one formula-injection policy).

Typical use from a background job::

    from facturador.tabular import Template, open_for_template, map_rows, write_error_report

    template = Template.from_dict(stored_json)
    with open_for_template(path, original_filename, template) as src:
        mapper = map_rows(src, template)          # raises ImportFileError for file-level problems
        for row in mapper:                        # MappedRow(row_number, values, errors, raw)
            ...                                   # progress: src.progress / src.total_rows_estimate
        mapper.stats                              # counts, totals check, file-level errors

Mapping a new file (the visual mapper, ``import template suggest``, the accounts register)::

    sample = read_sample(path, name)              # or tabular.isolated.sample_isolated for uploads
    proposal = suggest(sample, catalog)           # catalog: [FieldSpec(name, label, parser, synonyms, rules)]
    template = Template.from_dict(proposal.template(name="..."))
    report = validate_file(path, name, template, period="2026-10")   # dry run: rows, errors, totals
"""

from .errors import ImportFileError, RowError, column_index, column_letter, error_dict
from .mapping import (FieldMapping, MappedRow, MapStats, PreviewResult, RowMapper, Template, TotalsCheck,
                      map_rows, normalize_header, open_for_template, preview)
from .limits import DEFAULT_LIMITS, PREVIEW_LIMITS, Limits
from .readers import RowSource, open_rows
from .reports import write_error_report
from .sheets import Column, TableWriter, table_bytes, write_table
from .suggest import FieldSpec, Sample, Suggestion, read_sample, suggest
from .validate import validate_file

__all__ = [
    "ImportFileError", "RowError", "column_index", "column_letter", "error_dict",
    "FieldSpec", "Sample", "Suggestion", "read_sample", "suggest", "validate_file",
    "FieldMapping", "MappedRow", "MapStats", "PreviewResult", "RowMapper", "Template", "TotalsCheck",
    "map_rows", "normalize_header", "open_for_template", "preview",
    "RowSource", "open_rows", "Limits", "DEFAULT_LIMITS", "PREVIEW_LIMITS",
    "write_error_report", "Column", "TableWriter", "table_bytes", "write_table",
]
