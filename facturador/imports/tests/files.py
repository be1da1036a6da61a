"""Generated test files (no fixtures on disk): CSV in several encodings, xlsx (xlsxwriter), ods (hand-built), zip."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

HEADER = ["Referencia", "Concepto", "Cantidad", "Valor unitario", "Valor"]


def sample_rows(n=5, start=1, amount_base=1000):
    """Rows as the operator sends them: references with leading zeros, Colombian decimal comma."""
    rows = []
    for i in range(start, start + n):
        qty = i % 7 + 1
        price = amount_base + i
        rows.append([f"{i:08d}", "Consumo", str(qty), f"{price},50", f"{qty * price + qty * 0.5:.2f}".replace(".", ",")])
    return rows


def total_of(rows) -> str:
    from decimal import Decimal

    return str(sum(Decimal(r[4].replace(",", ".")) for r in rows))


def csv_bytes(rows, header=HEADER, *, encoding="utf-8", bom=False, delimiter=";") -> bytes:
    text = "\r\n".join(delimiter.join(r) for r in ([header] if header else []) + rows) + "\r\n"
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def _typed(cell):
    """Numbers as numbers in spreadsheets (except references, kept as text)."""
    if isinstance(cell, str) and cell.replace(",", "", 1).isdigit() and "," in cell:
        return float(cell.replace(",", "."))
    return cell


def xlsx_bytes(rows, header=HEADER, *, sheet="Detalle", extra_sheets=(), numbers=True) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    for name in extra_sheets:
        wb.add_worksheet(name).write(0, 0, "otra hoja")
    ws = wb.add_worksheet(sheet)
    r = 0
    if header:
        ws.write_row(r, 0, header)
        r += 1
    for row in rows:
        for c, cell in enumerate(row):
            value = _typed(cell) if numbers and c >= 2 else cell
            if isinstance(value, float):
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, str(value))
        r += 1
    wb.close()
    return buf.getvalue()


def ods_bytes(rows, header=HEADER, *, sheet="Detalle") -> bytes:
    def cell(v):
        v2 = _typed(v) if isinstance(v, str) and not v.startswith("0") else v
        if isinstance(v2, float):
            return f'<table:table-cell office:value-type="float" office:value="{v2}"><text:p>{v2}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>"
                   for row in ([header] if header else []) + rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{escape(sheet)}">{body}</table:table>'
        '</office:spreadsheet></office:body></office:document-content>')
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '</manifest:manifest>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def zip_bytes(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()
