"""Streaming concatenation of PDF files into one print file (pure Python).

Why not pypdf / pikepdf / pypdfium2: they build the whole output document in memory
(every imported page and its resources stay referenced until save), so a 100 000-page
print run would need gigabytes. Typst itself holds a whole multi-page document in
memory (≈ 4 GB for 1 000 pages, see the shared engine measurements).

Design (memory independent of the number of pages):

* Input documents are added one at a time. Each one (a single invoice, ~40 KB) is
  parsed, its page objects and everything they reference are copied **immediately**
  to the output file with new object numbers, and the input is then dropped.
* Object numbers are assigned in discovery order and objects are written in the same
  (FIFO) order, so the cross-reference offsets arrive sorted; each offset is appended
  as a fixed 20-byte xref line to a temporary spool file, and the ``/Kids`` references
  go to a second spool file. Nothing grows in Python memory with the page count.
* The page-tree root (object 1) and the catalog (object 2) are written last; their
  placeholder xref lines are patched in the spool (fixed width), then the spools are
  copied after the objects, followed by the trailer.

Supported input: unencrypted PDFs with classic cross-reference tables (what Typst,
ReportLab, WeasyPrint and most generators write). Cross-reference streams / object
streams (PDF 1.5 compression) raise :class:`PdfConcatError`. Only pages and what they
reference are copied; document-level outlines, named destinations, structure trees
(tagging) and metadata of the inputs are dropped.
"""

from __future__ import annotations

import os
import re
import tempfile
import zlib  # noqa: F401  (kept for future xref-stream support)
from collections import deque
from pathlib import Path
from typing import BinaryIO, Iterable

__all__ = ["PdfConcatError", "PdfConcatenator", "concat_pdfs"]


class PdfConcatError(ValueError):
    def __init__(self, message: str, message_es: str | None = None):
        super().__init__(message)
        self.code = "pdf_concat"
        self.field = "pdf"
        self.message = message_es or "No se pudo unir el PDF."


# ------------------------------------------------------------------ object model

class Ref:
    __slots__ = ("num", "gen")

    def __init__(self, num: int, gen: int = 0):
        self.num = num
        self.gen = gen


class Name(bytes):
    """A PDF name, stored with its leading slash (verbatim token)."""


class Raw(bytes):
    """Any other token kept verbatim (numbers, strings, booleans, null)."""


class Stream:
    __slots__ = ("dict", "data")

    def __init__(self, d: dict, data: bytes):
        self.dict = d
        self.data = data


_WS = b" \t\r\n\f\x00"
_DELIMS = b"()<>[]{}/%"
_NUM_RE = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")
_INT_RE = re.compile(rb"\d+")


class _Parser:
    def __init__(self, data: bytes):
        self.data = data

    def skip_ws(self, i: int) -> int:
        d = self.data
        n = len(d)
        while i < n:
            c = d[i]
            if c in _WS:
                i += 1
            elif c == 0x25:  # % comment
                while i < n and d[i] not in b"\r\n":
                    i += 1
            else:
                break
        return i

    def token_end(self, i: int) -> int:
        d = self.data
        n = len(d)
        while i < n and d[i] not in _WS and d[i] not in _DELIMS:
            i += 1
        return i

    def value(self, i: int):
        """Parse one value at ``i`` (after whitespace); return (value, next_index)."""
        d = self.data
        i = self.skip_ws(i)
        c = d[i:i + 1]
        if c == b"/":
            j = self.token_end(i + 1)
            return Name(d[i:j]), j
        if c == b"<":
            if d[i + 1:i + 2] == b"<":
                return self.dictionary(i + 2)
            j = d.index(b">", i)
            return Raw(d[i:j + 1]), j + 1
        if c == b"[":
            out = []
            i += 1
            while True:
                i = self.skip_ws(i)
                if d[i:i + 1] == b"]":
                    return out, i + 1
                v, i = self.value(i)
                out.append(v)
        if c == b"(":
            depth = 0
            j = i
            while True:
                ch = d[j]
                if ch == 0x5C:  # backslash escape
                    j += 2
                    continue
                if ch == 0x28:
                    depth += 1
                elif ch == 0x29:
                    depth -= 1
                    if depth == 0:
                        return Raw(d[i:j + 1]), j + 1
                j += 1
        j = self.token_end(i)
        if j == i:
            raise PdfConcatError(f"unexpected byte {d[i:i + 1]!r} at offset {i}")
        tok = d[i:j]
        if _INT_RE.fullmatch(tok):
            # possible indirect reference "num gen R"
            k = self.skip_ws(j)
            m = _INT_RE.match(d, k)
            if m:
                k2 = self.skip_ws(m.end())
                if d[k2:k2 + 1] == b"R" and (k2 + 1 >= len(d) or d[k2 + 1] in _WS or d[k2 + 1] in _DELIMS):
                    return Ref(int(tok), int(m.group())), k2 + 1
        return Raw(tok), j

    def dictionary(self, i: int):
        d = self.data
        out: dict[bytes, object] = {}
        while True:
            i = self.skip_ws(i)
            if d[i:i + 2] == b">>":
                return out, i + 2
            key, i = self.value(i)
            if not isinstance(key, Name):
                raise PdfConcatError(f"dictionary key expected at offset {i}")
            val, i = self.value(i)
            out[bytes(key)] = val


_OBJ_RE = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj")
# An indirect reference outside strings/comments (callers make sure there are none).
_REF_RE = re.compile(rb"(?<![A-Za-z0-9_/#.+\-])(\d+)\s+(\d+)\s+R(?![^\s()<>\[\]{}/%])")


class _SourcePdf:
    def __init__(self, data: bytes):
        self.data = data
        self.p = _Parser(data)
        self.offsets: dict[int, int] = {}
        self.trailer: dict = {}
        self._read_xref()

    def _read_xref(self) -> None:
        d = self.data
        k = d.rfind(b"startxref", max(0, len(d) - 2048))
        if k < 0:
            raise PdfConcatError("startxref not found", "El PDF de entrada está incompleto (sin startxref).")
        m = _INT_RE.search(d, k + 9)
        pos = int(m.group())
        seen = set()
        while pos is not None and pos not in seen:
            seen.add(pos)
            i = self.p.skip_ws(pos)
            if d[i:i + 4] != b"xref":
                raise PdfConcatError("cross-reference streams are not supported",
                                     "El PDF usa tablas de referencias comprimidas, que no se pueden unir.")
            i += 4
            while True:
                i = self.p.skip_ws(i)
                if d[i:i + 7] == b"trailer":
                    trailer, _ = self.p.value(i + 7)
                    break
                m1 = _INT_RE.match(d, i)
                m2 = _INT_RE.match(d, self.p.skip_ws(m1.end()))
                start, count = int(m1.group()), int(m2.group())
                i = self.p.skip_ws(m2.end())
                for n in range(count):
                    entry = d[i:i + 20]
                    off, _gen, kind = entry[:10], entry[11:16], entry[17:18]
                    if kind == b"n" and (start + n) not in self.offsets:
                        self.offsets[start + n] = int(off)
                    i += 20
                    # tolerate 19-byte entries with a single EOL byte
                    if d[i - 1:i] not in b" \r\n":
                        i -= 1
            for key, val in trailer.items():
                self.trailer.setdefault(key, val)
            if b"/Encrypt" in trailer:
                raise PdfConcatError("encrypted PDF", "El PDF de entrada está cifrado.")
            prev = trailer.get(b"/Prev")
            pos = int(prev) if prev is not None else None

    def obj(self, num: int):
        off = self.offsets.get(num)
        if off is None:
            return Raw(b"null")
        d = self.data
        m = _OBJ_RE.match(d, off)
        if not m or int(m.group(1)) != num:
            raise PdfConcatError(f"object {num} not found at offset {off}",
                                 "El PDF de entrada tiene una tabla de referencias dañada.")
        val, i = self.p.value(m.end())
        i = self.p.skip_ws(i)
        if d[i:i + 6] == b"stream" and isinstance(val, dict):
            i += 6
            if d[i:i + 2] == b"\r\n":
                i += 2
            elif d[i:i + 1] in (b"\n", b"\r"):
                i += 1
            length = val.get(b"/Length")
            if isinstance(length, Ref):
                length = self.obj(length.num)
            n = int(length)
            return Stream(val, d[i:i + n])
        return val

    def raw_body(self, num: int) -> bytes | None:
        """Verbatim text of a non-stream object when it is safe to rewrite its
        references with a regular expression (no strings, no comments); else None."""
        off = self.offsets.get(num)
        if off is None:
            return None
        d = self.data
        m = _OBJ_RE.match(d, off)
        if not m or int(m.group(1)) != num:
            return None
        start = m.end()
        end = d.find(b"endobj", start)
        if end < 0:
            return None
        body = d[start:end]
        if b"stream" in body or b"(" in body or b"%" in body:
            return None
        return body

    def resolve(self, v):
        return self.obj(v.num) if isinstance(v, Ref) else v


# ------------------------------------------------------------------ serialisation

def _ser(v, mapref, out: list) -> None:
    if isinstance(v, Ref):
        out.append(mapref(v))
    elif isinstance(v, (Name, Raw)):
        out.append(bytes(v))
    elif isinstance(v, dict):
        out.append(b"<<")
        for k, x in v.items():
            out.append(k)
            out.append(b" ")
            _ser(x, mapref, out)
            out.append(b"\n" if isinstance(x, dict) else b" ")
        out.append(b">>")
    elif isinstance(v, list):
        out.append(b"[")
        for x in v:
            _ser(x, mapref, out)
            out.append(b" ")
        out.append(b"]")
    else:  # pragma: no cover - defensive
        raise PdfConcatError(f"cannot serialise {type(v)}")


_INHERITABLE = (b"/Resources", b"/MediaBox", b"/CropBox", b"/Rotate")
_PAGES_NUM = 1
_CATALOG_NUM = 2


class PdfConcatenator:
    """Append PDFs page by page to ``out`` without keeping them in memory.

    Use as a context manager or call :meth:`close`. ``out`` is a path or a binary file
    opened for writing (seekable or not; only the spool files are seeked).
    """

    def __init__(self, out: str | os.PathLike | BinaryIO):
        if isinstance(out, (str, os.PathLike)):
            self._out = open(out, "wb")
            self._own = True
        else:
            self._out = out
            self._own = False
        self._pos = 0
        self._next_num = 3
        self.page_count = 0
        self._xref = tempfile.TemporaryFile()
        self._kids = tempfile.TemporaryFile()
        self._closed = False
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        # placeholders for objects 1 (page tree) and 2 (catalog), patched at close()
        self._xref.write(b"0000000000 00000 n\r\n" * 2)

    def __enter__(self) -> "PdfConcatenator":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def _write(self, b: bytes) -> None:
        self._out.write(b)
        self._pos += len(b)

    def _begin_obj(self, num: int) -> None:
        if num >= 3:
            self._xref.write(b"%010d 00000 n\r\n" % self._pos)
        self._write(b"%d 0 obj\n" % num)

    def add(self, pdf: bytes | str | os.PathLike) -> int:
        """Append all pages of ``pdf`` (bytes or a path). Returns the pages added."""
        if self._closed:
            raise PdfConcatError("concatenator is closed")
        data = pdf if isinstance(pdf, (bytes, bytearray)) else Path(pdf).read_bytes()
        src = _SourcePdf(bytes(data))
        root_ref = src.trailer.get(b"/Root")
        catalog = src.resolve(root_ref)
        if not isinstance(catalog, dict) or b"/Pages" not in catalog:
            raise PdfConcatError("no page tree", "El PDF de entrada no tiene páginas.")

        # Collect leaf pages (with inherited attributes) and the intermediate nodes.
        tree_nodes: set[int] = set()
        pages: list[tuple[int | None, dict]] = []

        def walk(ref, inherited: dict, depth: int = 0):
            if depth > 64:
                raise PdfConcatError("page tree too deep")
            node = src.resolve(ref)
            if not isinstance(node, dict):
                return
            if node.get(b"/Type") == b"/Pages" or b"/Kids" in node:
                if isinstance(ref, Ref):
                    tree_nodes.add(ref.num)
                inh = dict(inherited)
                for k in _INHERITABLE:
                    if k in node:
                        inh[k] = node[k]
                for kid in src.resolve(node.get(b"/Kids", [])):
                    walk(kid, inh, depth + 1)
            else:
                page = dict(node)
                for k, v in inherited.items():
                    page.setdefault(k, v)
                pages.append((ref.num if isinstance(ref, Ref) else None, page))

        walk(catalog[b"/Pages"], {})
        root_num = root_ref.num if isinstance(root_ref, Ref) else -1

        mapping: dict[int, int] = {}
        queue: deque[int] = deque()
        page_objs = {num: page for num, page in pages if num is not None}

        def mapref(r: Ref) -> bytes:
            if r.num in tree_nodes:
                return b"%d 0 R" % _PAGES_NUM
            if r.num == root_num or r.num not in src.offsets:
                return b"null"
            new = mapping.get(r.num)
            if new is None:
                new = mapping[r.num] = self._next_num
                self._next_num += 1
                queue.append(r.num)
            return b"%d 0 R" % new

        # Number the pages first so /Kids can be written in order.
        for num, page in pages:
            if num is None:  # direct page object (not valid PDF, but be tolerant)
                continue
            ref_bytes = mapref(Ref(num))
            self._kids.write(ref_bytes + b" ")
            self.page_count += 1

        while queue:
            num = queue.popleft()
            if num in page_objs:
                value = dict(page_objs[num])
                value[b"/Parent"] = Ref(-1)  # placeholder, mapped below
                value.pop(b"/StructParents", None)
            else:
                body = src.raw_body(num)
                if body is not None:  # fast path: copy verbatim, renumbering references
                    self._begin_obj(mapping[num])
                    self._write(_REF_RE.sub(lambda m: mapref(Ref(int(m.group(1)), int(m.group(2)))), body).strip()
                                + b"\nendobj\n")
                    continue
                value = src.obj(num)
            chunks: list[bytes] = []

            def mr(r: Ref) -> bytes:
                return b"%d 0 R" % _PAGES_NUM if r.num == -1 else mapref(r)

            self._begin_obj(mapping[num])
            if isinstance(value, Stream):
                sd = dict(value.dict)
                sd[b"/Length"] = Raw(b"%d" % len(value.data))
                _ser(sd, mr, chunks)
                chunks.append(b"\nstream\n")
                self._write(b"".join(chunks))
                self._write(value.data)
                self._write(b"\nendstream\nendobj\n")
            else:
                _ser(value, mr, chunks)
                chunks.append(b"\nendobj\n")
                self._write(b"".join(chunks))
        return len(pages)

    def close(self) -> None:
        if self._closed:
            return
        if self.page_count == 0:
            self._abort()
            raise PdfConcatError("no pages to write", "No hay páginas para el PDF unido.")
        # object 1: page tree root, /Kids streamed from the spool
        pages_off = self._pos
        self._write(b"1 0 obj\n<</Type /Pages /Count %d /Kids [" % self.page_count)
        self._kids.seek(0)
        while True:
            block = self._kids.read(1 << 16)
            if not block:
                break
            self._write(block)
        self._write(b"]>>\nendobj\n")
        catalog_off = self._pos
        self._write(b"2 0 obj\n<</Type /Catalog /Pages 1 0 R>>\nendobj\n")
        # patch the placeholders and copy the xref spool
        self._xref.seek(0)
        self._xref.write(b"%010d 00000 n\r\n%010d 00000 n\r\n" % (pages_off, catalog_off))
        xref_off = self._pos
        size = self._next_num
        self._write(b"xref\n0 %d\n0000000000 65535 f\r\n" % size)
        self._xref.seek(0)
        while True:
            block = self._xref.read(1 << 16)
            if not block:
                break
            self._write(block)
        self._write(b"trailer\n<</Size %d /Root 2 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_off))
        self._closed = True
        self._xref.close()
        self._kids.close()
        if self._own:
            self._out.close()
        else:
            self._out.flush()

    def _abort(self) -> None:
        self._closed = True
        self._xref.close()
        self._kids.close()
        if self._own:
            self._out.close()


def concat_pdfs(inputs: Iterable[bytes | str | os.PathLike], out: str | os.PathLike | BinaryIO) -> int:
    """Concatenate PDFs (bytes or paths, consumed lazily) into ``out``; returns the page count."""
    with PdfConcatenator(out) as cat:
        for item in inputs:
            cat.add(item)
        return cat.page_count
