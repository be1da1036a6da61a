"""Resource limits for reading untrusted data files, checked BEFORE anything is materialised.

A few hundred bytes of spreadsheet can declare millions of cells (an ODS row of a repeated value
repeated a million times; an XLS with two cells at opposite corners, which calamine turns into a
dense 65536 x 256 range) and a few MB of ZIP can hold gigabytes of CSV. The readers therefore:

* refuse a ZIP-based workbook whose parts add up to more than ``Limits.max_bytes`` uncompressed
  (declared sizes) and, for ODS/XLSB, inflate the parts they pre-scan themselves, counting the real
  bytes (a lying central directory does not help);
* pre-scan what calamine would load whole (ODS ``content.xml``, the XLS ``Workbook`` stream, XLSB
  sheet parts) and compute the cells calamine would allocate (the bounding box of the used cells,
  repeated counts multiplied out without expanding them);
* check an XLSX's declared ``<dimension>`` (python-calamine-plus pads every streamed row to it);
* count rows, cells and bytes while streaming, for every format (the declared sizes may lie).

Every refusal is an :class:`~facturador.tabular.errors.ImportFileError` with a stable code:
``file_too_large`` (bytes), ``too_many_rows``, ``too_many_cells``.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any, Iterator
from xml.parsers import expat

from .errors import ImportFileError

__all__ = ["Limits", "DEFAULT_LIMITS", "PREVIEW_LIMITS"]

_READ = 256 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps applied while opening and reading one data file (``None`` disables a cap).

    Attributes:
        max_rows: rows of the selected sheet / CSV records (row numbers as Excel shows them, so
            leading empty rows count). Default: Excel's maximum, 1,048,576.
        max_cells: cells a workbook would allocate (bounding box of the used cells of each sheet
            loaded) and cells streamed. Default: 20 * 2**20 (1,048,576 rows x 20 columns).
        max_bytes: uncompressed bytes: a workbook's ZIP parts, a ZIP member, a CSV's text.
            Default: 2 GiB.
    """

    max_rows: int | None = 1_048_576
    max_cells: int | None = 20 * 2**20
    max_bytes: int | None = 2 * 2**30


DEFAULT_LIMITS = Limits()
#: For previews and samples of user files: refuse early what an import would only read in part.
PREVIEW_LIMITS = Limits(max_rows=5_000, max_cells=500_000, max_bytes=256 * 2**20)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n:,} bytes"


def too_many_rows(name: str, rows: int, limit: int) -> ImportFileError:
    return ImportFileError(
        "too_many_rows",
        f"El archivo «{name}» tiene más filas de las permitidas ({rows:,} o más; el máximo es {limit:,}). "
        "Divídalo en varios archivos.", value=rows, limit=limit)


def too_many_cells(name: str, cells: int, limit: int) -> ImportFileError:
    return ImportFileError(
        "too_many_cells",
        f"El archivo «{name}» ocupa demasiadas celdas ({cells:,} o más; el máximo es {limit:,}). "
        "Revise que no tenga filas o columnas con datos o formato muy lejos de la tabla, guárdelo solo "
        "con la tabla a importar o divídalo en varios archivos.", value=cells, limit=limit)


def too_many_bytes(name: str, size: int, limit: int) -> ImportFileError:
    return ImportFileError(
        "file_too_large",
        f"El archivo «{name}» es demasiado grande para importarlo: descomprimido ocupa {_mb(size)} o más "
        f"y el máximo es {_mb(limit)}. Divídalo en varios archivos.", value=size, limit=limit)


def check_box(name: str, rows: int, cells: int, limits: Limits) -> None:
    if limits.max_rows is not None and rows > limits.max_rows:
        raise too_many_rows(name, rows, limits.max_rows)
    if limits.max_cells is not None and cells > limits.max_cells:
        raise too_many_cells(name, cells, limits.max_cells)


# ====================================================================== ZIP members, counted ===

def inflate_member(fh: IO[bytes], zf: zipfile.ZipFile, info: zipfile.ZipInfo, *,
                   max_bytes: int | None, name: str, budget: list | None = None) -> Iterator[bytes]:
    """Chunks of a ZIP member, decompressed from the raw compressed bytes (``compress_size`` of
    them, as other ZIP readers consume) WITHOUT trusting the declared uncompressed size: the real
    output is counted and ``file_too_large`` raised past ``max_bytes`` (``budget``: a one-item list
    shared by several members)."""
    budget = budget if budget is not None else [0]
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        stream = zf.open(info)  # bzip2/lzma: zipfile stops at the declared size (then checks the CRC)
        try:
            while True:
                chunk = stream.read(_READ)
                if not chunk:
                    return
                budget[0] += len(chunk)
                if max_bytes is not None and budget[0] > max_bytes:
                    raise too_many_bytes(name, budget[0], max_bytes)
                yield chunk
        finally:
            stream.close()
    fh.seek(info.header_offset)
    head = fh.read(30)
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise ImportFileError("corrupt_file", f"El archivo «{name}» está dañado (estructura ZIP inválida).")
    n, m = struct.unpack("<HH", head[26:30])
    fh.seek(info.header_offset + 30 + n + m)
    left = info.compress_size
    dec = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    while left > 0:
        raw = fh.read(min(_READ, left))
        if not raw:
            raise ImportFileError("corrupt_file", f"El archivo «{name}» está incompleto o dañado.")
        left -= len(raw)
        while raw:
            if dec is None:
                out, raw = raw, b""
            else:
                try:
                    out = dec.decompress(raw, _READ)
                except zlib.error:
                    raise ImportFileError("corrupt_file",
                                          f"El archivo «{name}» está dañado (datos comprimidos inválidos).") from None
                raw = dec.unconsumed_tail
            budget[0] += len(out)
            if max_bytes is not None and budget[0] > max_bytes:
                raise too_many_bytes(name, budget[0], max_bytes)
            if out:
                yield out
            if dec is not None and dec.eof:
                return


# ===================================================================================== ODS ===

class _OdsScan:
    """Used extent of every table of an ODS ``content.xml``, computed from the repeat counts
    (``number-rows-repeated`` / ``number-columns-repeated``) without expanding them. Trailing empty
    cells and rows (which LibreOffice writes with huge repeat counts) do not count, as calamine
    drops them; elements are matched by local name, whatever their prefix."""

    def __init__(self, name: str, limits: Limits):
        self.name = name
        self.limits = limits
        self.total_cells = 0
        self._table()
        self.cell_depth = 0
        self.cell_rep = 1
        self.cell_full = False
        self.row_rep = 1
        self.col_pos = 0
        self.row_last = 0

    def _table(self) -> None:
        self.row_pos = 0
        self.rows_used = 0
        self.cols_used = 0

    @staticmethod
    def _rep(attrs: dict, suffix: str) -> int:
        for k, v in attrs.items():
            if k.endswith(suffix):
                try:
                    n = int(v)
                except ValueError:
                    return 1
                return n if n > 0 else 1
        return 1

    def start(self, tag: str, attrs: dict) -> None:
        if self.cell_depth:
            self.cell_depth += 1
            self.cell_full = True  # any child (text:p, annotation, nested table...)
            return
        local = tag.rpartition(":")[2]
        if local in ("table-cell", "covered-table-cell"):
            self.cell_depth = 1
            self.cell_rep = self._rep(attrs, "number-columns-repeated")
            self.cell_full = any(k.endswith("value-type") or k.endswith("formula") for k in attrs)
            self.parser.CharacterDataHandler = self.chars
        elif local == "table-row":
            self.row_rep = self._rep(attrs, "number-rows-repeated")
            self.col_pos = 0
            self.row_last = 0
        elif local == "table":
            self._table()

    def chars(self, data: str) -> None:
        if not self.cell_full and data.strip():
            self.cell_full = True

    def end(self, tag: str) -> None:
        if self.cell_depth:
            self.cell_depth -= 1
            if not self.cell_depth:
                self.parser.CharacterDataHandler = None
                self.col_pos += self.cell_rep
                if self.cell_full:
                    self.row_last = self.col_pos
            return
        local = tag.rpartition(":")[2]
        if local == "table-row":
            if self.row_last:
                self.cols_used = max(self.cols_used, self.row_last)
                self.rows_used = self.row_pos + self.row_rep
                check_box(self.name, self.rows_used, self.total_cells + self.rows_used * self.cols_used,
                          self.limits)
            self.row_pos += self.row_rep
        elif local == "table":
            self.total_cells += self.rows_used * self.cols_used
            self._table()


def _refuse_dtd(*_a: Any) -> None:
    raise ImportFileError("corrupt_file", "El libro contiene declaraciones DTD o entidades; no se admite.")


def _no_dtd_parser() -> Any:
    p = expat.ParserCreate()
    p.StartDoctypeDeclHandler = _refuse_dtd
    p.EntityDeclHandler = _refuse_dtd
    p.buffer_text = True
    return p


def scan_ods(fh: IO[bytes], zf: zipfile.ZipFile, name: str, limits: Limits) -> None:
    """Refuse an ODS whose tables would allocate more than the limits (raises ImportFileError)."""
    try:
        manifest = zf.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in zf.namelist() else b""
    except Exception:
        manifest = b""
    if b"encryption-data" in manifest[: 4 * 2**20]:
        return  # encrypted: calamine cannot read it (it reports it); nothing to expand
    try:
        info = zf.getinfo("content.xml")
    except KeyError:
        return  # not an ODS calamine can read: it reports the problem
    scan = _OdsScan(name, limits)
    p = _no_dtd_parser()
    scan.parser = p
    p.StartElementHandler = scan.start
    p.EndElementHandler = scan.end
    try:
        for chunk in inflate_member(fh, zf, info, max_bytes=limits.max_bytes, name=name):
            p.Parse(chunk, False)
        p.Parse(b"", True)
    except expat.ExpatError as e:
        raise ImportFileError(
            "corrupt_file",
            f"El archivo «{name}» está dañado: su contenido no es XML válido ({e}). Ábralo en LibreOffice, "
            "guárdelo de nuevo y vuelva a subirlo.") from None


# ===================================================================================== XLS ===

_FREE, _END = 0xFFFFFFFF, 0xFFFFFFFE


def _cfb_stream(data: Any, names: tuple[str, ...]) -> bytes | None:
    """The named stream of an OLE compound file (minimal reader; None when not found/invalid)."""
    if len(data) < 512 or data[:8] != b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return None
    ssz = 1 << struct.unpack_from("<H", data, 0x1E)[0]
    mssz = 1 << struct.unpack_from("<H", data, 0x20)[0]
    if ssz not in (512, 4096) or mssz != 64:
        return None
    n_fat, first_dir, cutoff, first_mini, n_mini, first_difat, n_difat = struct.unpack_from("<IIIIIII", data, 0x2C)
    nsect = max(0, (len(data) - ssz) // ssz)

    def sector(sid: int) -> bytes:
        off = (sid + 1) * ssz
        return bytes(data[off: off + ssz])

    fat_sids = [s for s in struct.unpack_from("<109I", data, 0x4C) if s not in (_FREE, _END)]
    sid, seen = first_difat, 0
    per = ssz // 4 - 1
    while sid not in (_FREE, _END) and sid < nsect and seen <= nsect:
        vals = struct.unpack(f"<{per + 1}I", sector(sid))
        fat_sids += [s for s in vals[:per] if s not in (_FREE, _END)]
        sid = vals[per]
        seen += 1
    fat: list[int] = []
    for s in fat_sids[: nsect + 1]:
        if s < nsect:
            fat.extend(struct.unpack(f"<{ssz // 4}I", sector(s)))

    def chain(start: int, table: list[int], limit: int) -> list[int]:
        out = []
        while start < len(table) and start not in (_FREE, _END) and len(out) <= limit:
            out.append(start)
            start = table[start]
        return out

    dirdata = b"".join(sector(s) for s in chain(first_dir, fat, nsect) if s < nsect)
    entries = []
    for off in range(0, len(dirdata) - 127, 128):
        e = dirdata[off: off + 128]
        nlen = struct.unpack_from("<H", e, 0x40)[0]
        ename = e[: max(0, min(nlen, 64) - 2)].decode("utf-16-le", "replace")
        entries.append((ename, e[0x42], struct.unpack_from("<I", e, 0x74)[0], struct.unpack_from("<I", e, 0x78)[0]))
    if not entries:
        return None
    root = entries[0]
    for ename, typ, start, size in entries[1:]:
        if typ != 2 or ename not in names:
            continue
        if size >= cutoff:
            sids = [s for s in chain(start, fat, nsect) if s < nsect]
            return b"".join(sector(s) for s in sids)[:size]
        mini_stream = b"".join(sector(s) for s in chain(root[2], fat, nsect) if s < nsect)
        minifat: list[int] = []
        for s in chain(first_mini, fat, nsect):
            if s < nsect:
                minifat.extend(struct.unpack(f"<{ssz // 4}I", sector(s)))
        parts = [mini_stream[m * mssz:(m + 1) * mssz] for m in chain(start, minifat, len(minifat))]
        return b"".join(parts)[:size]
    return None


# BIFF8 cell records: (type -> kind). "mul" records hold several cells: row, first col, ..., last col.
_XLS_CELLS = {0x0006: 1, 0x00FD: 1, 0x0201: 1, 0x0203: 1, 0x0204: 1, 0x0205: 1, 0x027E: 1, 0x00D6: 1,
              0x00BD: 2, 0x00BE: 2}


def scan_xls(src: Any, name: str, limits: Limits) -> None:
    """Refuse an XLS whose sheets' used ranges (calamine allocates them densely, all sheets on
    open) exceed the limits. Unreadable containers are left to calamine (it reports them)."""
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as fh:
            data = fh.read()
    else:
        pos = src.tell()
        data = src.read()
        src.seek(pos)
    stream = _cfb_stream(data, ("Workbook", "Book"))
    del data
    if not stream:
        return
    total = 0
    pos, n = 0, len(stream)
    depth = 0
    lo_r = lo_c = 1 << 30
    hi_r = hi_c = -1
    while pos + 4 <= n:
        typ, ln = struct.unpack_from("<HH", stream, pos)
        body = pos + 4
        pos = body + ln
        if typ == 0x0809:  # BOF: a substream (globals, sheet, chart...) starts
            depth += 1
            lo_r = lo_c = 1 << 30
            hi_r = hi_c = -1
        elif typ == 0x000A:  # EOF
            if hi_r >= 0:
                rows, cols = hi_r + 1, hi_c - lo_c + 1
                total += (hi_r - lo_r + 1) * cols
                check_box(name, rows, total, limits)
            lo_r = lo_c = 1 << 30
            hi_r = hi_c = -1
        else:
            kind = _XLS_CELLS.get(typ)
            if kind and ln >= 4 and pos <= n:
                r, c = struct.unpack_from("<HH", stream, body)
                c2 = c
                if kind == 2 and ln >= 6:
                    c2 = struct.unpack_from("<H", stream, body + ln - 2)[0]
                lo_r, hi_r = min(lo_r, r), max(hi_r, r)
                lo_c, hi_c = min(lo_c, c, c2), max(hi_c, c, c2)


# ==================================================================================== XLSB ===

# Cell records of an XLSB sheet part (BrtCellBlank .. BrtFmlaError): column at offset 0.
_XLSB_CELLS = frozenset(range(1, 12))


def scan_xlsb(fh: IO[bytes], zf: zipfile.ZipFile, name: str, limits: Limits) -> None:
    """Refuse an XLSB whose sheet parts' used ranges exceed the limits (the sheet parts are
    inflated here, counting the real bytes)."""
    budget = [0]
    total = 0
    for info in zf.infolist():
        fn = info.filename.lower()
        if not (fn.startswith("xl/worksheets/") and fn.endswith(".bin")):
            continue
        buf = b""
        row = -1
        lo_r = lo_c = 1 << 40
        hi_r = hi_c = -1
        for chunk in inflate_member(fh, zf, info, max_bytes=limits.max_bytes, name=name, budget=budget):
            buf = buf + chunk if buf else chunk
            pos, n = 0, len(buf)
            while True:
                p = pos
                if p >= n:
                    break
                b = buf[p]
                typ = b & 0x7F
                p += 1
                if b & 0x80:
                    if p >= n:
                        break
                    typ |= (buf[p] & 0x7F) << 7
                    p += 1
                size, shift, ok = 0, 0, False
                for _ in range(4):
                    if p >= n:
                        break
                    b = buf[p]
                    p += 1
                    size |= (b & 0x7F) << shift
                    shift += 7
                    if not b & 0x80:
                        ok = True
                        break
                if not ok or p + size > n:
                    if ok is False and shift >= 28:
                        raise ImportFileError("corrupt_file", f"El archivo «{name}» está dañado.")
                    break
                if typ == 0 and size >= 4:
                    row = struct.unpack_from("<I", buf, p)[0]
                elif typ in _XLSB_CELLS and size >= 4 and row >= 0:
                    c = struct.unpack_from("<I", buf, p)[0]
                    lo_r, hi_r = min(lo_r, row), max(hi_r, row)
                    lo_c, hi_c = min(lo_c, c), max(hi_c, c)
                pos = p + size
            buf = buf[pos:]
            if hi_r >= 0:
                check_box(name, hi_r + 1, total + (hi_r - lo_r + 1) * (hi_c - lo_c + 1), limits)
        if hi_r >= 0:
            total += (hi_r - lo_r + 1) * (hi_c - lo_c + 1)


# =================================================================================== XLSX ===

def dimension_box(ref: str | None) -> tuple[int, int] | None:
    """(last row, last column) of a ``<dimension ref="A1:H100">`` (1-based), or None."""
    if not ref:
        return None
    tail = ref.rsplit(":", 1)[-1].replace("$", "")
    letters = tail.rstrip("0123456789")
    digits = tail[len(letters):]
    if not digits.isdigit() or not letters.isalpha() or not letters.isascii():
        return None
    col = 0
    for ch in letters.upper():
        col = col * 26 + (ord(ch) - 64)
    return int(digits), col
