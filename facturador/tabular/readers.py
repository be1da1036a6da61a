"""Streaming readers for tabular billing data (CSV/TXT, XLSX/XLSM, XLS, XLSB, ODS, and those in a ZIP).

``open_rows()`` returns a :class:`RowSource`: an iterator of rows (tuples of raw cell values) that
tracks ``row_number`` (1-based, as Excel shows it) and offers a progress estimate.

CSV/TXT are truly streamed: the file is read with ``read(CHUNK_SIZE)`` (never an unbounded
``read()``), cut at the last newline, decoded chunk by chunk and fed line by line to the C ``csv``
parser. Memory is bounded by the chunk size plus the longest record.

Spreadsheets are read with calamine (Rust). xlsx/xlsm are streamed row by row straight from the
compressed file (python-calamine-plus): memory stays flat whatever the sheet's size; a quick first
pass reads the sheet's merged ranges and declared dimension. xls, xlsb and ods go through
python-calamine, which materialises the *selected sheet* in Rust memory before ``iter_rows()``
starts (memory grows with the sheet; see ``bench/tabular_read.py``). Values come as calamine gives
them: ``str``, ``float``, ``int`` (xlsx whole numbers, xls/ods integers), ``bool``, ``datetime.date`` /
``datetime.datetime`` (date-formatted cells), ``datetime.timedelta``/``time``. Empty cells, merged
cells other than the top-left one, formulas saved without a cached value and formula errors
(``#DIV/0!``, ``#N/A``) all come as ``""``; ``RowSource.merged_ranges`` lists merged ranges
(xlsx/xls only) so the mapper can explain an empty cell.

Untrusted input is bounded by :class:`~facturador.tabular.limits.Limits` (``open_rows(limits=...)``):
what calamine would load whole is pre-scanned and refused before loading, and rows, cells and
decompressed bytes are counted while streaming (see ``facturador/tabular/limits.py``).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import posixpath
import re
import tempfile
import threading
import zipfile
from typing import IO, Any, Iterator

from lxml import etree

import python_calamine as pc
import python_calamine_plus as pcp

from . import limits as _lim
from .errors import ImportFileError, column_letter
from .limits import DEFAULT_LIMITS, PREVIEW_LIMITS, Limits

__all__ = [
    "RowSource", "open_rows", "check_extension", "SPREADSHEET_EXTENSIONS", "TEXT_EXTENSIONS", "DATA_EXTENSIONS",
    "CHUNK_SIZE", "detect_encoding", "sniff_delimiter", "Limits", "DEFAULT_LIMITS", "PREVIEW_LIMITS",
]

SPREADSHEET_EXTENSIONS = frozenset({"xlsx", "xlsm", "xls", "xlsb", "ods"})
STREAMED_EXTENSIONS = frozenset({"xlsx", "xlsm"})  # read row by row from the file (python-calamine-plus)
TEXT_EXTENSIONS = frozenset({"csv", "txt", "tsv"})
DATA_EXTENSIONS = SPREADSHEET_EXTENSIONS | TEXT_EXTENSIONS
CHUNK_SIZE = 256 * 1024       # bytes per read() on text files
SNIFF_SIZE = 64 * 1024         # prefix used to decide the encoding and the delimiter
MAX_LINE_BYTES = 32 * 2**20    # a physical line longer than this is not a CSV (bounds memory)
MAX_WORKBOOK_BYTES = 2 * 2**30 # default cap on a workbook's uncompressed size (see open_rows)
DELIMITERS = (";", ",", "\t", "|")

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_ENCODING_NAMES_ES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 con BOM", "cp1252": "Windows-1252",
                      "latin-1": "Latin-1 (ISO-8859-1)", "utf-16": "UTF-16"}


def _ext(filename: str) -> str:
    base = os.path.basename(filename or "")
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


class RowSource:
    """Iterator of rows (tuples) with position and progress information.

    Attributes:
        row_number: 1-based number (as Excel shows it) of the last row returned; 0 before the first.
        file_type: "csv" (also for txt/tsv) or the spreadsheet extension ("xlsx", "xls", "xlsb", "ods").
        sheet_name / sheet_names: selected sheet and all sheets (spreadsheets; ``None``/``[]`` for CSV).
        visible_sheets: the visible worksheets, in the workbook's order (``[]`` for CSV).
        encoding / delimiter: what was used for CSV (``encoding`` may switch once from "utf-8" to
            "cp1252" when an all-ASCII prefix is followed by Windows-1252 bytes; see ``detect_encoding``).
        merged_ranges: list of ((first_row0, first_col0), (last_row0, last_col0)) for xlsx/xls, else [].
        member: the ZIP member read, when the input was a ZIP.
    """

    file_type: str = ""
    sheet_name: str | None = None
    sheet_names: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    merged_ranges: list
    member: str | None = None

    name: str = ""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.row_number = 0
        self.sheet_names = []
        self.visible_sheets = []
        self.merged_ranges = []
        self._closers: list = []
        self._done = False
        self.limits = limits
        self._cells = 0

    def _count(self, row: Any) -> None:
        """Count one row (already added to ``row_number``) against the limits."""
        lim = self.limits
        if lim.max_rows is not None and self.row_number > lim.max_rows:
            raise _lim.too_many_rows(self.name, self.row_number, lim.max_rows)
        self._cells += len(row)
        if lim.max_cells is not None and self._cells > lim.max_cells:
            raise _lim.too_many_cells(self.name, self._cells, lim.max_cells)

    # -- iteration -------------------------------------------------------------------------
    def __iter__(self) -> "RowSource":
        return self

    def __next__(self) -> tuple:  # pragma: no cover - replaced by subclasses
        raise StopIteration

    # -- progress ----------------------------------------------------------------------------
    @property
    def total_rows_estimate(self) -> int | None:
        """Estimated number of rows in the file (exact once iteration has finished)."""
        return None

    @property
    def progress(self) -> float:
        """Fraction 0..1 of the input consumed (1.0 once finished)."""
        if self._done:
            return 1.0
        total = self.total_rows_estimate
        if not total:
            return 0.0
        return min(1.0, self.row_number / total)

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        while self._closers:
            fn = self._closers.pop()
            try:
                fn()
            except Exception:  # closing must never mask the real error
                pass

    def __enter__(self) -> "RowSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # best effort for temp files
        try:
            self.close()
        except Exception:
            pass

    def column_name(self, index0: int) -> str:
        return column_letter(index0)


# ================================================================================ CSV / TXT ===

class _DecodeFailure(Exception):
    """Raised from inside the line generator; RowSource turns it into an ImportFileError with the row."""

    def __init__(self, encoding: str, raw: bytes, pos: int):
        self.encoding = encoding
        self.raw = raw
        self.pos = pos


def detect_encoding(prefix: bytes) -> tuple[str, bool, int]:
    """Decide the encoding from a prefix of the file.

    Returns ``(encoding, confirmed, bom_length)``. ``confirmed`` is False when the prefix is pure
    ASCII: the reader then starts as UTF-8 and switches to Windows-1252 at the first chunk that is
    not valid UTF-8 (everything before it was ASCII, identical in both encodings).
    """
    if prefix.startswith(codecs.BOM_UTF8):
        return "utf-8", True, 3
    if prefix.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", True, 0  # the utf-16 codec consumes the BOM itself
    if prefix.isascii():
        return "utf-8", False, 0
    # Drop a possibly cut multi-byte sequence at the end of the prefix before testing UTF-8.
    cut = prefix
    for back in range(1, 4):
        if len(prefix) > back and (prefix[-back] & 0xC0) == 0xC0:  # a lead byte near the end
            cut = prefix[:-back]
            break
    try:
        cut.decode("utf-8")
        return "utf-8", True, 0
    except UnicodeDecodeError:
        pass
    try:
        prefix.decode("cp1252")
        return "cp1252", True, 0
    except UnicodeDecodeError:
        return "latin-1", True, 0


def sniff_delimiter(sample: str) -> str:
    """Pick the delimiter among ``; , TAB |`` that splits the sample lines most consistently.

    Quoted fields are honoured (the sample is parsed with ``csv`` for each candidate). The score is
    the share of records having the modal field count (which must be > 1); ties go to the larger
    field count, then to the order ``; , TAB |``. Falls back to "," (one-column file).
    """
    lines = sample.splitlines(True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of a prefix may be cut
    lines = lines[:200]
    best, best_score = ",", (0.0, 0)
    for cand in DELIMITERS:
        if cand not in sample:
            continue
        counts: dict[int, int] = {}
        n = 0
        try:
            for rec in csv.reader(lines, delimiter=cand):
                if not rec or (len(rec) == 1 and not rec[0].strip()):
                    continue
                counts[len(rec)] = counts.get(len(rec), 0) + 1
                n += 1
        except csv.Error:
            continue
        if not n:
            continue
        modal, freq = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if modal < 2:
            continue
        score = (freq / n, modal)
        if score > best_score:
            best, best_score = cand, score
    return best


_ODD_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _split_lines(text: str) -> Any:
    """Lines with their endings, split only where the csv module ends lines (\\n, \\r, \\r\\n).

    ``str.splitlines`` is the fast path but also splits on other Unicode breaks; when one of those
    is present, fall back to ``io.StringIO(newline="")`` (slower, splits exactly like csv)."""
    for ch in _ODD_BREAKS:
        if ch in text:
            return io.StringIO(text, newline="")
    return text.splitlines(True)


class _CsvRowSource(RowSource):
    file_type = "csv"

    def __init__(self, raw: IO[bytes], total_bytes: int | None, *, encoding: str | None,
                 delimiter: str | None, name: str, limits: Limits = DEFAULT_LIMITS):
        super().__init__(limits)
        self.name = name
        self._max_bytes = limits.max_bytes
        raw = _CountingReader(raw, name, limits.max_bytes)
        self._raw = raw
        self._total_bytes = total_bytes
        self._bytes_read = 0
        self._name = name
        first = raw.read(SNIFF_SIZE)
        self._bytes_read += len(first)
        if not first.strip(b" \t\r\n\x00") or first in (codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\r\n"):
            raise ImportFileError("empty_file", f"El archivo «{name}» está vacío.")
        if first.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
            raise ImportFileError(
                "format_mismatch",
                f"El archivo «{name}» tiene extensión de texto (CSV/TXT) pero su contenido es un libro "
                "de Excel u otro archivo binario. Guárdelo como CSV o súbalo con su extensión real "
                "(.xlsx, .xls).")
        if encoding:
            try:
                enc = codecs.lookup(encoding).name
            except LookupError:
                raise ImportFileError("unknown_encoding",
                                      f"La codificación «{encoding}» no es válida.") from None
            if enc == "utf-8" and first.startswith(codecs.BOM_UTF8):
                first = first[3:]
            confirmed = True
        else:
            enc, confirmed, bom = detect_encoding(first)
            first = first[bom:]
        self.encoding = enc
        self._explicit_encoding = bool(encoding)
        self._confirmed = confirmed
        if enc.startswith("utf-16") or enc.startswith("utf_16") or enc.startswith("utf-32"):
            sample = first.decode(enc, errors="replace")
        else:
            sample = first[: first.rfind(b"\n") + 1 or len(first)].decode(enc, errors="replace")
        if not sample.strip("\ufeff \t\r\n\x00"):
            raise ImportFileError("empty_file", f"El archivo «{name}» está vacío.")
        # Excel's "sep=;" hint line: it names the delimiter and Excel does not show it as a row.
        head = sample.lstrip("\ufeff")[:7]
        sep_line = len(head) >= 5 and head[:4].lower() == "sep=" and head[5:6] in ("\r", "\n", "")
        if sep_line and not delimiter:
            delimiter = head[4]
        self.delimiter = delimiter or sniff_delimiter(sample)
        self._reader = csv.reader(self._lines(first), delimiter=self.delimiter)
        if sep_line:
            next(self._reader, None)  # not counted: row 1 is the line after it, as in Excel

    # Lines generator: reads CHUNK_SIZE bytes at a time, cuts at the last newline, decodes.
    def _lines(self, first: bytes) -> Iterator[str]:
        raw = self._raw
        enc = self.encoding
        if enc.replace("_", "-").startswith(("utf-16", "utf-32")):
            # Newline bytes are not self-synchronising in UTF-16: use an incremental decoder.
            dec = codecs.getincrementaldecoder(enc)(errors="strict")
            pending = ""
            data = first
            while True:
                try:
                    text = pending + dec.decode(data, final=not data)
                except UnicodeDecodeError as e:
                    raise _DecodeFailure(enc, data, e.start) from None
                cut = text.rfind("\n")  # never between the \r and \n of a CRLF
                if cut < 0 and len(text) > 4 * CHUNK_SIZE:
                    cut = text.rfind("\r", 0, len(text) - 1)  # classic-Mac line ends
                if data and cut >= 0:
                    pending = text[cut + 1:]
                    yield from io.StringIO(text[: cut + 1], newline="")
                elif data:
                    pending = text
                else:
                    if text:
                        yield from io.StringIO(text, newline="")
                    return
                data = raw.read(CHUNK_SIZE)
                self._bytes_read += len(data)
        rest = b""
        data = first
        while True:
            if data:
                buf = rest + data if rest else data
                cut = buf.rfind(b"\n")
                if cut < 0 and len(buf) > 4 * CHUNK_SIZE:
                    cut = buf.rfind(b"\r")  # classic-Mac line ends
                if cut < 0:
                    if len(buf) > MAX_LINE_BYTES:
                        raise ImportFileError(
                            "corrupt_file",
                            f"El archivo «{self._name}» tiene una línea de más de {MAX_LINE_BYTES // 2**20} MB "
                            "sin saltos de línea; no parece un CSV válido.")
                    rest = buf
                    data = raw.read(CHUNK_SIZE)
                    self._bytes_read += len(data)
                    continue
                block, rest = buf[: cut + 1], buf[cut + 1:]
            else:
                if not rest:
                    return
                block, rest = rest, b""
            yield from _split_lines(self._decode(block))
            if not data or self._pending_failure is not None:
                return
            data = raw.read(CHUNK_SIZE)
            self._bytes_read += len(data)

    def _decode(self, block: bytes) -> str:
        enc = self.encoding
        try:
            text = block.decode(enc)
        except UnicodeDecodeError as e:
            if self._explicit_encoding or (self._confirmed and enc == "utf-8"):
                # Emit the good lines before the bad one, then fail (so the row number is exact).
                good_end = block.rfind(b"\n", 0, e.start) + 1
                self._pending_failure = _DecodeFailure(enc, block[good_end:], e.start - good_end)
                return block[:good_end].decode(enc)
            if enc == "utf-8":  # unconfirmed: everything so far was ASCII -> Windows-1252 file
                enc = "cp1252"
            if enc == "cp1252":
                try:
                    text = block.decode("cp1252")
                except UnicodeDecodeError:
                    enc = "latin-1"  # bytes undefined in cp1252 (0x81, 0x8D...): ISO-8859-1 file
                    text = block.decode("latin-1")
            else:
                text = block.decode(enc)
            self.encoding = enc
            self._confirmed = True
            return text
        if not self._confirmed and not text.isascii():
            self._confirmed = True  # real UTF-8 multi-byte sequences seen
        return text

    _pending_failure: _DecodeFailure | None = None

    def __next__(self) -> tuple:
        try:
            row = next(self._reader)
        except StopIteration:
            if self._pending_failure is not None:
                self._raise_decode(self._pending_failure)
            self._done = True
            raise
        except _DecodeFailure as f:
            self._raise_decode(f)
        except csv.Error as e:
            raise ImportFileError(
                "corrupt_file",
                f"No se pudo leer la fila {self.row_number + 1} del archivo de texto: comillas sin "
                f"cerrar o formato CSV inválido ({e}).", row=self.row_number + 1) from None
        self.row_number += 1
        self._count(row)
        return tuple(row)

    def _raise_decode(self, f: _DecodeFailure) -> None:
        row = self.row_number + 1
        bad = f.raw[max(0, f.pos - 10): f.pos + 10]
        name = _ENCODING_NAMES_ES.get(f.encoding, f.encoding)
        raise ImportFileError(
            "undecodable_bytes",
            f"La fila {row} contiene caracteres que no son válidos en la codificación {name} "
            f"(bytes {bad!r}). Guarde el archivo como «CSV UTF-8» o indique la codificación correcta.",
            row=row, value=bad.hex(" ")) from None

    @property
    def total_rows_estimate(self) -> int | None:
        if self._done:
            return self.row_number
        if not self._total_bytes or not self._bytes_read or not self.row_number:
            return None
        # bytes_read runs up to one chunk ahead of the parser: the estimate is low early on.
        return max(self.row_number, int(self.row_number * self._total_bytes / self._bytes_read))

    @property
    def progress(self) -> float:
        if self._done:
            return 1.0
        if not self._total_bytes:
            return 0.0
        return min(1.0, self._bytes_read / self._total_bytes)


# ============================================================================ spreadsheets ===

def _visible_sheets(wb: Any, lib: Any) -> list[str]:
    return [m.name for m in wb.sheets_metadata
            if m.visible == lib.SheetVisibleEnum.Visible and m.typ == lib.SheetTypeEnum.WorkSheet]


def _select_sheet(wb: Any, lib: Any, sheet: str | int | None, name: str) -> str:
    """The name of the sheet to read: `sheet` by name (case-insensitive) or 0-based index, else the
    first visible worksheet. `lib` is the calamine module that opened `wb`."""
    names = list(wb.sheet_names)
    if not names:
        raise ImportFileError("empty_file", f"El libro «{name}» no tiene hojas.")
    available = ", ".join(f"«{s}»" for s in names)
    if sheet is None:
        return next(iter(_visible_sheets(wb, lib)), names[0])
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(names):
            raise ImportFileError(
                "sheet_not_found",
                f"El libro no tiene una hoja número {sheet + 1}; tiene {len(names)}: {available}.",
                value=sheet, available_sheets=names)
        return names[sheet]
    wanted = str(sheet)
    match = wanted if wanted in names else next(
        (s for s in names if s.strip().casefold() == wanted.strip().casefold()), None)
    if match is None:
        raise ImportFileError("sheet_not_found", f"No existe la hoja «{wanted}». Hojas disponibles: {available}.",
                              value=wanted, available_sheets=names)
    return match


class _SheetRowSource(RowSource):
    """xls, xlsb, ods (python-calamine: the sheet is loaded whole, then converted row by row)."""

    def __init__(self, wb: "pc.CalamineWorkbook", sheet: str | int | None, file_type: str, name: str,
                 limits: Limits = DEFAULT_LIMITS):
        super().__init__(limits)
        self.name = name
        self.file_type = file_type
        self._closers.append(wb.close)
        self.sheet_names = list(wb.sheet_names)
        self.visible_sheets = _visible_sheets(wb, pc)
        wanted = _select_sheet(wb, pc, sheet, name)
        try:
            ws = wb.get_sheet_by_name(wanted)
        except (pc.WorksheetNotFound, pcp.WorksheetNotFound):
            raise ImportFileError("sheet_not_found",
                                  f"No existe la hoja «{sheet}». Hojas disponibles: "
                                  + ", ".join(f"«{s}»" for s in self.sheet_names) + ".",
                                  value=sheet, available_sheets=self.sheet_names) from None
        except (pc.CalamineError, pcp.CalamineError) as e:
            raise _calamine_error(e, name) from None
        self.sheet_name = ws.name
        start, end = ws.start, ws.end
        if start is None or end is None:
            raise ImportFileError("empty_file", f"La hoja «{ws.name}» del archivo «{name}» está vacía.")
        self._end_row = end[0] + 1
        # Already checked before loading (scan_ods/scan_xls/scan_xlsb); this is the last line of defence.
        _lim.check_box(name, end[0] + 1, (end[0] - start[0] + 1) * (end[1] - start[1] + 1), limits)
        # python-calamine 0.9 iter_rows(): rows are absolute (row 0 first, leading empty rows
        # included) but columns start at the first used column: pad on the left to keep columns
        # where the user sees them (column A = index 0). Pinned by tests.
        self._pad = ("",) * start[1]
        try:
            self.merged_ranges = list(ws.merged_cell_ranges or [])
        except Exception:
            self.merged_ranges = []
        self._it = ws.iter_rows()

    def __next__(self) -> tuple:
        try:
            row = next(self._it)
        except StopIteration:
            self._done = True
            raise
        self.row_number += 1
        if self._pad:
            row = self._pad + tuple(row)
        self._count(row)
        return tuple(row)

    @property
    def total_rows_estimate(self) -> int | None:
        return self._end_row


def _dimension_rows(ref: str | None) -> int | None:
    """Last row of a ``<dimension>`` reference such as ``"A1:H100"`` (a hint written by the program
    that saved the file)."""
    if not ref:
        return None
    tail = ref.rsplit(":", 1)[-1].lstrip("$")
    digits = tail.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz$")
    return int(digits) if digits.isdigit() else None


BACKGROUND_METADATA_BYTES = 4 * 2**20  # from this file size the metadata pass runs beside the rows (see below)
_HEAD_BYTES = 256 * 1024   # of a sheet's XML, read for its <dimension> (which comes before the cells)
_PART_BYTES = 4 * 2**20    # the largest relationships or workbook part read to find a sheet's XML
_DIMENSION_RX = re.compile(rb"<(?:[\w.-]+:)?dimension\b[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
_SHEET_DATA_RX = re.compile(rb"<(?:[\w.-]+:)?sheetData\b")


def _part(folder: str, target: str | None) -> str | None:
    """A relationship's target as a part name of the package (relative to the source part's folder, or absolute)."""
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))


def _read_part(z: zipfile.ZipFile, name: str):
    if z.getinfo(name).file_size > _PART_BYTES:
        raise ValueError(f"{name} is too large to be read for a sheet's dimension")
    return etree.fromstring(z.read(name), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def declared_dimension(path: str, sheet: str) -> tuple[bool, str | None]:
    """The ``<dimension ref>`` an xlsx sheet declares, read from the head of its XML (the element comes before the
    cells): ``(True, "A1:L1000001")``, ``(True, None)`` when the sheet declares none, ``(False, None)`` when the head
    could not be read so (the sheet's part not found through the package's relationships, no ``<sheetData>`` in its
    first `_HEAD_BYTES`). Reads a few kilobytes, where python-calamine-plus's rich pass parses the whole sheet."""
    try:
        with zipfile.ZipFile(path) as z:
            office = next((r.get("Target") for r in _read_part(z, "_rels/.rels")
                           if (r.get("Type") or "").endswith("/officeDocument")), None)
            book = _part("", office)
            if book is None:
                return False, None
            rid = None
            for el in _read_part(z, book).iter("{*}sheet"):
                if el.get("name") == sheet:
                    rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), None)
                    break
            folder, base = posixpath.split(book)
            rels = _read_part(z, posixpath.join(folder, "_rels", base + ".rels"))
            xml = _part(folder, next((r.get("Target") for r in rels if rid and r.get("Id") == rid), None))
            if xml is None:
                return False, None
            head = b""
            with z.open(xml) as f:
                while len(head) < _HEAD_BYTES:
                    chunk = f.read(16384)
                    if not chunk:
                        break
                    head += chunk
                    cells = _SHEET_DATA_RX.search(head)
                    if cells:
                        found = _DIMENSION_RX.search(head, 0, cells.start())
                        return True, found.group(1).decode("ascii", "replace") if found else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, etree.XMLSyntaxError):
        pass
    return False, None


class _Metadata(threading.Thread):
    """A sheet's metadata pass (merged ranges, declared dimension) on a second handle of the file: python-calamine-plus
    parses the whole sheet for it without holding the GIL, so it runs on the other core while the rows stream."""

    def __init__(self, path: str, sheet: str):
        super().__init__(daemon=True, name="sheet-metadata")
        self.path, self.sheet = path, sheet
        self.merged: list = []
        self.dimension = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            wb = pcp.CalamineWorkbook.from_path(self.path)
            try:
                meta = wb.stream_sheet_by_name(self.sheet, rich=True)
                self.merged, self.dimension = list(meta.merged_cell_ranges or []), meta.dimension
            finally:
                wb.close()
        except BaseException as exc:  # handed to the reader's thread (`_StreamSheetRowSource._settle`)
            self.error = exc


class _StreamSheetRowSource(RowSource):
    """xlsx/xlsm, streamed row by row from the compressed file (python-calamine-plus): memory stays
    flat whatever the sheet's size. A first pass reads the sheet's metadata (merged ranges,
    declared dimension); then the rows. Cells as python-calamine gives them, except that whole
    numbers come as ``int`` and formula errors, which this reader turns into ``""`` as
    python-calamine does.

    The metadata pass parses the whole sheet (2.5 s for a million rows). Given the file's `path`
    (``open_rows(background_metadata=True)``), for a file of `BACKGROUND_METADATA_BYTES` or more,
    the declared dimension is read from the head of the sheet's XML (`declared_dimension`: a few
    kilobytes) and checked before any row, and the merged ranges are left for when they are first
    asked for (``merged_ranges`` then makes the pass; an import asks only to explain an empty required
    cell): a big sheet's rows cost no second parse. When the head cannot be read so, the pass runs in a
    thread (`_Metadata`) while the rows are read: ``merged_ranges`` then waits for it,
    ``total_rows_estimate`` is None until it is in, and a declared dimension beyond the limits is
    refused at the first row after it is known (at the latest when the rows end: before the caller
    has finished, so before anything is loaded); rows read meanwhile are counted against the same
    limits. A smaller file (a small sheet can declare a huge dimension) is refused before any row
    is read."""

    def __init__(self, wb: Any, sheet: str | int | None, file_type: str, name: str,
                 limits: Limits = DEFAULT_LIMITS, path: str | None = None):
        super().__init__(limits)
        self.name = name
        self.file_type = file_type
        self._closers.append(wb.close)
        self.sheet_names = list(wb.sheet_names)
        self.visible_sheets = _visible_sheets(wb, pcp)
        wanted = _select_sheet(wb, pcp, sheet, name)
        self._meta: _Metadata | None = None
        self._meta_error: BaseException | None = None
        self._merged_of: tuple[str, str] | None = None  # (path, sheet) whose merged ranges are read when asked for
        self._end_row = None
        try:
            big = path is not None and os.path.getsize(path) >= BACKGROUND_METADATA_BYTES
            known, dimension = declared_dimension(path, wanted) if big else (False, None)
            if known:
                self._merged_of = (path, wanted)
                self._apply_metadata(None, dimension)
            elif big:
                self._meta = _Metadata(path, wanted)
                self._meta.start()
                self._closers.append(self._meta.join)
            else:
                meta = wb.stream_sheet_by_name(wanted, rich=True)
                self._apply_metadata(list(meta.merged_cell_ranges or []), meta.dimension)
            self._it = wb.stream_sheet_by_name(wanted)  # ends the metadata stream
            first = next(self._it, None)
        except ImportFileError:
            raise
        except pcp.CalamineError as e:
            raise _calamine_error(e, name) from None
        except Exception as e:  # panics surfaced as other exception types
            raise _calamine_error(e, name) from None
        self.sheet_name = wanted
        if first is None:
            self._settle(wait=True)
            raise ImportFileError("empty_file", f"La hoja «{wanted}» del archivo «{name}» está vacía.")
        self._first = first

    def _apply_metadata(self, merged: list, dimension: Any) -> None:
        self._merged = merged
        self._end_row = _dimension_rows(dimension)
        box = _lim.dimension_box(dimension)
        if box:  # every streamed row is padded to the declared width
            _lim.check_box(self.name, box[0], box[0] * box[1], self.limits)

    def _settle(self, wait: bool) -> None:
        """Take the background metadata once it is in (`wait`: wait for it); raise what it found wrong."""
        meta = self._meta
        if meta is not None and (wait or not meta.is_alive()):
            meta.join()
            self._meta = None
            try:
                if meta.error is not None:
                    exc = meta.error
                    raise exc if isinstance(exc, ImportFileError) else _calamine_error(exc, self.name)
                self._apply_metadata(meta.merged, meta.dimension)
            except ImportFileError as exc:
                self._meta_error = exc
        if self._meta_error is not None:
            raise self._meta_error

    @property
    def merged_ranges(self) -> list:
        self._settle(wait=True)
        if self._merged is None and self._merged_of is not None:
            meta = _Metadata(*self._merged_of)
            meta.run()  # here, on this thread: whoever asks needs them now
            if meta.error is not None:
                exc = meta.error
                raise exc if isinstance(exc, ImportFileError) else _calamine_error(exc, self.name)
            self._merged = meta.merged
        return self._merged

    @merged_ranges.setter
    def merged_ranges(self, value: list) -> None:
        self._merged = value

    def __next__(self) -> tuple:
        row = self._first
        if row is not None:
            self._first = None
        else:
            try:
                row = next(self._it)
            except StopIteration:
                self._settle(wait=True)
                self._done = True
                raise
            except pcp.CalamineError as e:
                raise _calamine_error(e, self.sheet_name or "") from None
        self.row_number += 1
        self._count(row)
        if self._meta is not None and not self.row_number & 4095:
            self._settle(wait=False)
        errors = _FORMULA_ERRORS
        try:
            clean = errors.isdisjoint(row)  # one C-level pass for the usual row without formula errors
        except TypeError:  # an unhashable cell: look cell by cell
            clean = False
        if not clean:
            for i, c in enumerate(row):
                if c.__class__ is str and c[:1] == "#" and c in errors:
                    row[i] = ""
        return tuple(row)

    @property
    def total_rows_estimate(self) -> int | None:
        meta = self._meta
        if meta is not None and not meta.is_alive():
            try:
                self._settle(wait=False)
            except ImportFileError:
                pass  # raised by the next row
        return self._end_row


_FORMULA_ERRORS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#GETTING_DATA",
                             "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
                             "#EXTERNAL!", "#PYTHON!"})


def _sheet_source(wb: Any, sheet: str | int | None, ext: str, name: str,
                  limits: Limits = DEFAULT_LIMITS, path: str | None = None) -> RowSource:
    """`path`: the file's, when its streamed sheet's metadata may be read beside its rows (see `open_rows`)."""
    file_type = "xlsx" if ext == "xlsm" else ext
    if isinstance(wb, pcp.CalamineWorkbook):
        return _StreamSheetRowSource(wb, sheet, file_type, name, limits, path)
    return _SheetRowSource(wb, sheet, file_type, name, limits)


def _calamine_error(e: Exception, name: str) -> ImportFileError:
    if isinstance(e, (pc.PasswordError, pcp.PasswordError)):
        return ImportFileError(
            "encrypted_file",
            f"El libro «{name}» está protegido con contraseña (cifrado). Quite la contraseña de apertura "
            "en Excel (Archivo > Información > Proteger libro > Cifrar con contraseña) y súbalo de nuevo.")
    return ImportFileError(
        "corrupt_file",
        f"El archivo «{name}» está dañado, incompleto o no es un libro de cálculo válido ({e}). "
        "Ábralo en Excel o LibreOffice, guárdelo de nuevo y vuelva a subirlo.")


def _open_workbook(src: Any, ext: str, name: str, max_uncompressed: int | None = None,
                   limits: Limits = DEFAULT_LIMITS) -> "pc.CalamineWorkbook":
    """Open a workbook with calamine after the container checks and the resource pre-scans
    (see :mod:`facturador.tabular.limits`): nothing is loaded before the limits are known to hold."""
    # Quick container checks give clearer messages than calamine's "Cannot detect file format".
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as fh:
            head = fh.read(8)
        size = os.path.getsize(src)
    else:
        pos = src.tell()
        head = src.read(8)
        src.seek(0, os.SEEK_END)
        size = src.tell() - pos
        src.seek(pos)
    if size == 0 or not head:
        raise ImportFileError("empty_file", f"El archivo «{name}» está vacío.")
    if head.startswith(_OLE_MAGIC) and ext in ("xlsx", "xlsm", "xlsb"):
        # An OOXML file inside an OLE compound file is what Excel writes when encrypting.
        if _ole_has_encrypted_package(src):
            raise _calamine_error(pc.PasswordError("encrypted"), name)
    if ext in ("xlsx", "xlsm", "xlsb", "ods") and not head.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        raise ImportFileError(
            "corrupt_file",
            f"El archivo «{name}» no es un libro {ext.upper()} válido (no tiene la estructura esperada). "
            "Si es un CSV, cambie la extensión a .csv; si no, guárdelo de nuevo desde Excel.")
    max_bytes = _min_limit(max_uncompressed, limits.max_bytes)
    if head.startswith(_ZIP_MAGIC):
        _check_zip_workbook(src, ext, name, max_bytes, limits)
    elif head.startswith(_OLE_MAGIC) and ext == "xls":
        _lim.scan_xls(src, name, limits)  # calamine loads every sheet densely on open
    lib = pcp if ext in STREAMED_EXTENSIONS else pc
    try:
        if isinstance(src, (str, os.PathLike)):
            return lib.CalamineWorkbook.from_path(os.fspath(src))
        return lib.CalamineWorkbook.from_filelike(src)
    except (pc.CalamineError, pcp.CalamineError) as e:
        raise _calamine_error(e, name) from None
    except Exception as e:  # e.g. panics surfaced as other exception types
        raise _calamine_error(e, name) from None


def _min_limit(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _check_zip_workbook(src: Any, ext: str, name: str, max_bytes: int | None, limits: Limits) -> None:
    """ZIP-based workbook: the structure must be readable (fail closed), the declared uncompressed
    size within ``max_bytes`` and, for what calamine loads whole (ods, xlsb), the pre-scan of the
    real (inflated and counted) content within the limits."""
    corrupt = ImportFileError(
        "corrupt_file",
        f"El archivo «{name}» está incompleto o dañado (la estructura interna del libro está "
        "cortada). Vuelva a descargarlo o guárdelo de nuevo y súbalo otra vez.")
    opened = isinstance(src, (str, os.PathLike))
    pos = None if opened else src.tell()
    fh = open(src, "rb") if opened else src
    try:
        try:
            zf = zipfile.ZipFile(fh)
        except Exception:
            # A truncated download keeps the ZIP header but loses the central directory at the end.
            raise corrupt from None
        with zf:
            # ZIP-bomb guard: declared sizes from the central directory (cheap), then the real bytes
            # of the parts pre-scanned below (counted while inflating).
            total = sum(i.file_size for i in zf.infolist())
            if max_bytes is not None and total > max_bytes:
                raise ImportFileError(
                    "file_too_large",
                    f"El libro «{name}» es demasiado grande para importarlo: descomprimido ocupa "
                    f"{total // 2**20} MB y el máximo es {max_bytes // 2**20} MB. Guárdelo como CSV "
                    "o divídalo en varios archivos.", value=total, limit=max_bytes)
            scan_limits = Limits(limits.max_rows, limits.max_cells, max_bytes)
            try:
                if ext == "ods":
                    _lim.scan_ods(fh, zf, name, scan_limits)
                elif ext == "xlsb":
                    _lim.scan_xlsb(fh, zf, name, scan_limits)
            except ImportFileError:
                raise
            except Exception as e:
                raise ImportFileError("corrupt_file", f"El archivo «{name}» está dañado ({e}).") from None
    finally:
        if opened:
            fh.close()
        else:
            src.seek(pos)


def _ole_has_encrypted_package(src: Any) -> bool:
    """True when an OLE compound file has an "EncryptedPackage" stream (encrypted OOXML)."""
    try:
        if isinstance(src, (str, os.PathLike)):
            with open(src, "rb") as fh:
                data = fh.read(1 << 16)
        else:
            pos = src.tell()
            data = src.read(1 << 16)
            src.seek(pos)
    except Exception:
        return False
    # Directory entries store names as UTF-16LE; the directory is usually in the first sectors.
    return "EncryptedPackage".encode("utf-16-le") in data or b"E\x00n\x00c\x00r\x00y\x00p\x00t" in data


# ===================================================================================== ZIP ===

def _zip_pick_member(zf: zipfile.ZipFile, member: str | None, name: str) -> zipfile.ZipInfo:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if member is not None:
        for i in infos:
            if i.filename == member or os.path.basename(i.filename) == member:
                return i
        listing = ", ".join(f"«{i.filename}»" for i in infos) or "ninguno"
        raise ImportFileError("zip_member_not_found",
                              f"El ZIP «{name}» no contiene «{member}». Archivos en el ZIP: {listing}.",
                              value=member)
    data = [i for i in infos
            if _ext(i.filename) in DATA_EXTENSIONS
            and not i.filename.startswith("__MACOSX/")
            and not os.path.basename(i.filename).startswith(("._", "~$", "."))]
    if not data:
        listing = ", ".join(f"«{i.filename}»" for i in infos) or "ninguno"
        raise ImportFileError(
            "zip_no_data_file",
            f"El ZIP «{name}» no contiene ningún archivo de datos (.csv, .txt, .xlsx, .xls, .xlsb, .ods). "
            f"Archivos encontrados: {listing}.")
    if len(data) > 1:
        listing = ", ".join(f"«{i.filename}»" for i in data)
        raise ImportFileError(
            "zip_several_data_files",
            f"El ZIP «{name}» contiene varios archivos de datos ({listing}); suba uno solo o indique "
            "cuál importar.", candidates=[i.filename for i in data])
    return data[0]


# ================================================================================ entry point ===

def check_extension(filename: str) -> None:
    """Refuse (``unsupported_extension``) a file name whose extension no reader takes (a .zip is taken: its member
    is checked when opened). Cheap: callers may check an upload's name before keeping or reading it."""
    ext = _ext(filename)
    if ext != "zip" and ext not in DATA_EXTENSIONS:
        name = os.path.basename(filename) or "archivo"
        raise ImportFileError(
            "unsupported_extension",
            f"El tipo de archivo «.{ext}» no es compatible. Formatos aceptados: .csv, .txt, .xlsx, .xlsm, "
            ".xls, .xlsb, .ods y un .zip que contenga uno de ellos." if ext else
            f"El archivo «{name}» no tiene extensión; use .csv, .txt, .xlsx, .xls, .xlsb, .ods o .zip.",
            value=ext)


def open_rows(path_or_fileobj: str | os.PathLike | IO[bytes], filename: str | None = None, *,
              sheet: str | int | None = None, encoding: str | None = None,
              delimiter: str | None = None, member: str | None = None,
              max_workbook_bytes: int | None = MAX_WORKBOOK_BYTES,
              limits: Limits | None = None, background_metadata: bool = False) -> RowSource:
    """Open a data file and return a streaming :class:`RowSource`.

    Args:
        path_or_fileobj: a filesystem path or a binary file object (seekable for spreadsheets/ZIP).
        filename: the user's file name; its extension selects the format (defaults to the path's name).
        sheet: sheet name (exact, else case-insensitive) or 0-based index; default: first visible worksheet.
        encoding: CSV encoding; default: detected (UTF-8 with/without BOM, UTF-16 with BOM, Windows-1252,
            Latin-1).
        delimiter: CSV delimiter; default: sniffed among ``; , TAB |``.
        member: inside a ZIP, the file to read (full path or base name); default: the only data file.
        max_workbook_bytes: refuse xlsx/xlsm/xlsb/ods whose uncompressed parts exceed this size
            (calamine loads the whole sheet in memory: about 2 bytes of RAM per byte of sheet XML);
            ``None``: only ``limits.max_bytes`` applies.
        limits: :class:`~facturador.tabular.limits.Limits` (default ``DEFAULT_LIMITS``: 1,048,576
            rows, 20 * 2**20 cells, 2 GiB uncompressed). Checked before anything is materialised
            (declared/used dimensions, repeat counts, archive sizes) and again while streaming
            (rows, cells and real decompressed bytes are counted): refusals are ImportFileError
            ``file_too_large``, ``too_many_rows`` or ``too_many_cells``. Previews and samples of
            user files may pass ``PREVIEW_LIMITS`` (5,000 rows).
        background_metadata: for a reader of the whole file (an import): an xlsx on disk of
            `BACKGROUND_METADATA_BYTES` or more reads its metadata in a thread beside its rows
            (`_StreamSheetRowSource`); its declared dimension is then refused by the time the rows end,
            not before the first. A preview, which stops after a few rows, keeps the check first.

    Raises:
        ImportFileError: unsupported extension, empty/corrupt/encrypted file, missing sheet, bad ZIP,
            limits exceeded.
    """
    limits = DEFAULT_LIMITS if limits is None else limits
    if filename is None:
        if isinstance(path_or_fileobj, (str, os.PathLike)):
            filename = os.path.basename(os.fspath(path_or_fileobj))
        else:
            filename = os.path.basename(getattr(path_or_fileobj, "name", "") or "")
    name = os.path.basename(filename) or "archivo"
    ext = _ext(filename)
    if ext == "zip":
        return _open_zip(path_or_fileobj, name, sheet=sheet, encoding=encoding,
                         delimiter=delimiter, member=member, max_workbook_bytes=max_workbook_bytes,
                         limits=limits)
    check_extension(filename)
    if ext in TEXT_EXTENSIONS:
        if isinstance(path_or_fileobj, (str, os.PathLike)):
            fh = open(path_or_fileobj, "rb")
            total = os.fstat(fh.fileno()).st_size
            opened = True
        else:
            fh = path_or_fileobj
            total = _remaining_size(fh)
            opened = False
        try:
            src = _CsvRowSource(fh, total, encoding=encoding, delimiter=delimiter, name=name, limits=limits)
        except BaseException:
            if opened:
                fh.close()
            raise
        if opened:
            src._closers.append(fh.close)
        return src
    wb = _open_workbook(path_or_fileobj, ext, name, max_workbook_bytes, limits)
    try:
        return _sheet_source(wb, sheet, ext, name, limits, os.fspath(path_or_fileobj)
                             if background_metadata and isinstance(path_or_fileobj, (str, os.PathLike)) else None)
    except BaseException:
        try:
            wb.close()
        except Exception:
            pass
        raise


def _remaining_size(fh: Any) -> int | None:
    try:
        if not fh.seekable():
            return None
        pos = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(pos)
        return end - pos
    except Exception:
        return None


def _open_zip(src: Any, name: str, **kw: Any) -> RowSource:
    member = kw.pop("member")
    limits: Limits = kw["limits"]
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        size = os.path.getsize(src) if isinstance(src, (str, os.PathLike)) else _remaining_size(src)
        if size == 0:
            raise ImportFileError("empty_file", f"El archivo «{name}» está vacío.") from None
        raise ImportFileError("corrupt_file",
                              f"El archivo ZIP «{name}» está dañado o incompleto.") from None
    try:
        info = _zip_pick_member(zf, member, name)
        inner_name = os.path.basename(info.filename)
        inner_ext = _ext(info.filename)
        if inner_ext not in DATA_EXTENSIONS:
            raise ImportFileError("unsupported_extension",
                                  f"El archivo «{info.filename}» dentro del ZIP no es de un tipo compatible.",
                                  value=inner_ext)
        if info.flag_bits & 0x1:
            raise ImportFileError("zip_encrypted",
                                  f"El ZIP «{name}» está protegido con contraseña; súbalo sin contraseña.")
        try:
            stream = zf.open(info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as e:
            raise ImportFileError("corrupt_file",
                                  f"No se pudo abrir «{info.filename}» dentro del ZIP «{name}» ({e}).") from None
        if inner_ext in TEXT_EXTENSIONS:
            try:
                rs = _CsvRowSource(_ZipCounting(stream), info.file_size, encoding=kw["encoding"],
                                   delimiter=kw["delimiter"], name=inner_name, limits=limits)
            except zipfile.BadZipFile as e:
                stream.close()
                raise ImportFileError("corrupt_file", f"El ZIP «{name}» está dañado ({e}).") from None
            except BaseException:
                stream.close()
                raise
            rs._closers.extend([zf.close, stream.close])
        else:
            limit = _min_limit(kw["max_workbook_bytes"], limits.max_bytes)
            if limit is not None and info.file_size > limit:
                raise ImportFileError(
                    "file_too_large",
                    f"«{info.filename}» dentro del ZIP ocupa {info.file_size // 2**20} MB; el máximo es "
                    f"{limit // 2**20} MB.", value=info.file_size, limit=limit)
            # calamine needs random access: copy the member to a temporary file in chunks.
            tmp = tempfile.NamedTemporaryFile(prefix="facturador-import-", suffix="." + inner_ext,
                                              delete=False)
            try:
                with stream, tmp:
                    copied = 0
                    while chunk := stream.read(CHUNK_SIZE):  # counted: declared sizes may lie
                        copied += len(chunk)
                        if limit is not None and copied > limit:
                            raise _lim.too_many_bytes(info.filename, copied, limit)
                        tmp.write(chunk)
            except ImportFileError:
                os.unlink(tmp.name)
                raise
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                os.unlink(tmp.name)
                raise ImportFileError("corrupt_file",
                                      f"El ZIP «{name}» está dañado o incompleto ({e}).") from None
            try:
                wb = _open_workbook(tmp.name, inner_ext, inner_name, kw["max_workbook_bytes"], limits)
                rs = _sheet_source(wb, kw["sheet"], inner_ext, inner_name, limits)
            except BaseException:
                os.unlink(tmp.name)
                raise
            rs._closers.append(lambda p=tmp.name: os.path.exists(p) and os.unlink(p))
            zf.close()
        rs.member = info.filename
        return rs
    except BaseException:
        zf.close()
        raise


class _CountingReader:
    """Counts the bytes actually read (decompressed, for a ZIP member) and refuses past ``max_bytes``:
    declared sizes are never trusted."""

    def __init__(self, raw: Any, name: str, max_bytes: int | None):
        self._r = raw
        self._name = name
        self._max = max_bytes
        self.count = 0

    def read(self, size: int) -> bytes:
        data = self._r.read(size)
        self.count += len(data)
        if self._max is not None and self.count > self._max:
            raise _lim.too_many_bytes(self._name, self.count, self._max)
        return data


class _ZipCounting:
    """Wraps a ZipExtFile so decompression errors surface as ImportFileError, with bounded reads."""

    def __init__(self, stream: Any):
        self._s = stream

    def read(self, size: int) -> bytes:
        try:
            return self._s.read(size)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise ImportFileError("corrupt_file", f"El ZIP está dañado o incompleto ({e}).") from None
