"""Typst-based PDF rendering of invoices (pure Python, no Django).

* :func:`render_pdf` renders one document from a Typst template and a data dict. The
  data travels as JSON in ``sys.inputs.data``; templates read it with
  ``#let data = json(bytes(sys.inputs.data))``.
* :func:`render_many` renders an iterable of data dicts one by one (memory stays flat:
  one compile at a time) into separate files and/or one merged print PDF written by the
  streaming :class:`~facturador.printing.pdfconcat.PdfConcatenator`.

Sandbox: each template gets its own temporary root directory holding only
``main.typ`` and the given assets; Typst cannot read files outside its root. The package
path and package cache point to an empty directory. Typst would still try to DOWNLOAD a
registry package (``@preview/...``) that it cannot find there, so templates are checked
statically: string literals starting with ``@ns/`` and ``import``/``include`` of anything but
a string literal (``#import ("@" + "preview/x:1.0")``) are refused.

Untrusted templates (previews of user-written templates, validation on save) go through
:func:`render_pdf_sandboxed` (or ``render_pdf(..., timeout=s)``): the compile runs in a
separate process with a time limit (killed after it), an address-space limit, and the proxy
environment pointing to a closed local port, so even a package import the static check missed
cannot reach the network. The in-process path (:func:`render_pdf`, :func:`render_many`,
:func:`get_renderer`) stays for the batch renderer, which compiles hundreds of documents per
second with templates already accepted.

Compilers are cached per (template, assets) so batches reuse one compiler (fonts and
parsed template stay loaded), which is what makes Typst fast.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Mapping

import typst

from .pdfconcat import PdfConcatenator

__all__ = [
    "TemplateError",
    "TemplateRenderer",
    "RenderManyResult",
    "render_pdf",
    "render_pdf_sandboxed",
    "render_many",
    "get_renderer",
    "to_json",
]


class TemplateError(Exception):
    """A template could not be compiled.

    ``message_es`` (also ``message``) is the Spanish text for users, ``line`` and
    ``column`` locate the problem in the template (1-based, ``None`` if unknown),
    ``diagnostic`` is Typst's full diagnostic (English).
    """

    code = "template_error"

    def __init__(self, message_es: str, line: int | None, column: int | None, *,
                 diagnostic: str = "", file: str | None = None, typst_message: str = ""):
        super().__init__(f"{message_es} (line {line}, column {column})" if line else message_es)
        self.message_es = message_es
        self.message = message_es
        self.line = line
        self.column = column
        self.diagnostic = diagnostic
        self.file = file
        self.typst_message = typst_message
        self.field = f"{file or 'main.typ'}:{line}:{column}" if line else (file or "main.typ")
        self.item_index: int | None = None  # set by render_many


# Spanish renderings of the most common Typst errors (the rest are shown as is).
_ES = [
    (re.compile(r"^unknown variable: (.+)$"), "variable desconocida: {0}"),
    (re.compile(r'^dictionary does not contain key "(.+)"$'), "el diccionario no contiene la clave «{0}»"),
    (re.compile(r"^unclosed delimiter$"), "delimitador sin cerrar"),
    (re.compile(r"^unclosed string$"), "cadena de texto sin cerrar"),
    (re.compile(r"^unexpected (.+)$"), "{0} inesperado"),
    (re.compile(r"^expected (.+)$"), "se esperaba {0}"),
    (re.compile(r"^file not found.*$"), "archivo no encontrado"),
    (re.compile(r"^.*would escape the project root$"), "la ruta sale de la carpeta de la plantilla"),
    (re.compile(r"^array index out of bounds.*$"), "índice de arreglo fuera de rango"),
    (re.compile(r"^(.+) does not contain field \"(.+)\"$"), "{0} no tiene el campo «{1}»"),
]

_LOC_RE = re.compile(r"┌─ (.+?):(\d+):(\d+)")
_PACKAGE_RE = re.compile(r"[\"']@[A-Za-z0-9_-]+/")
# `#import`/`#include` followed by anything but a string literal, or the code keyword `import`/
# `include` followed by an expression that is not a string literal (identifier, `(`, `{`).
_DYNAMIC_IMPORT_RE = re.compile(
    r"#(import|include)(?![\w-])(?![ \t]*\")|(?<![\w.#-])(import|include)(?![\w-])(?=[ \t]*[({\w])")

def _spanish(msg: str) -> str:
    for rx, fmt in _ES:
        m = rx.match(msg)
        if m:
            return fmt.format(*m.groups())
    return msg


def _template_error(exc: typst.TypstError | None, *, message: str = "", diagnostic: str = "") -> TemplateError:
    if exc is not None:
        message = getattr(exc, "message", "") or str(exc)
        diagnostic = getattr(exc, "diagnostic", "") or ""
    m = _LOC_RE.search(diagnostic)
    line = column = None
    file = None
    if m:
        file = os.path.basename(m.group(1))
        line, column = int(m.group(2)), int(m.group(3))
    where = f" (línea {line}, columna {column})" if line else ""
    if file and file != "main.typ":
        where = f" ({file}, línea {line}, columna {column})"
    return TemplateError(f"Error en la plantilla{where}: {_spanish(message)}", line, column,
                         diagnostic=diagnostic, file=file, typst_message=message)


def _json_default(o):
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, (_dt.date, _dt.datetime, _dt.time)):
        return o.isoformat()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def to_json(data: Mapping) -> str:
    """The JSON handed to templates (Decimal → string, dates → ISO 8601)."""
    return json.dumps(data, default=_json_default, ensure_ascii=False, separators=(",", ":"))


_SAFE_ASSET = re.compile(r"^[A-Za-z0-9_.-][A-Za-z0-9_./-]*$")


def _where(source: str, pos: int) -> tuple[int, int]:
    line = source.count("\n", 0, pos) + 1
    return line, pos - (source.rfind("\n", 0, pos) + 1) + 1


def check_template_source(template_source: str) -> None:
    """Static refusals (no compile): registry packages and computed imports/includes."""
    m = _PACKAGE_RE.search(template_source)
    if m:
        raise TemplateError("Error en la plantilla: no se permiten paquetes externos de Typst (@...).",
                            *_where(template_source, m.start()))
    m = _DYNAMIC_IMPORT_RE.search(template_source)
    if m:
        line, column = _where(template_source, m.start())
        raise TemplateError(
            f"Error en la plantilla (línea {line}, columna {column}): «{m.group(1) or m.group(2)}» solo admite una ruta "
            "escrita entre comillas (un archivo de la plantilla).", line, column)


def _make_root(template_source: str, assets: Mapping[str, bytes] | None) -> str:
    """A private temporary root with main.typ, the assets and an empty package directory."""
    check_template_source(template_source)
    root = Path(tempfile.mkdtemp(prefix="facturador-typst-"))
    try:
        for name, content in (assets or {}).items():
            if not _SAFE_ASSET.match(name) or ".." in name.split("/") or name == "main.typ":
                raise TemplateError(f"Nombre de recurso no permitido: «{name}».", None, None)
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        (root / "main.typ").write_text(template_source, encoding="utf-8")
        (root / ".no-packages").mkdir()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return str(root)


class TemplateRenderer:
    """One template + assets in a private sandbox root, with one reusable compiler (in process).

    Not thread-safe; :func:`get_renderer` hands out one instance per thread. For untrusted
    templates use :func:`render_pdf_sandboxed`.
    """

    def __init__(self, template_source: str, assets: Mapping[str, bytes] | None = None, *,
                 pdf_tags: bool = False, font_paths: list[str] | None = None):
        self.pdf_tags = pdf_tags
        self._dir = _make_root(template_source, assets)
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._dir, True)
        root = Path(self._dir)
        self.main = root / "main.typ"
        empty_pkgs = root / ".no-packages"
        self._compiler = typst.Compiler(
            str(self.main), root=str(root), font_paths=list(font_paths or []),
            package_path=str(empty_pkgs), package_cache_path=str(empty_pkgs),
        )

    def render(self, data: Mapping, *, output: str | os.PathLike | None = None) -> bytes | None:
        """Compile with ``data``; return PDF bytes, or write to ``output`` and return None."""
        inputs = {"data": to_json(data)}
        try:
            return self._compiler.compile(
                output=str(output) if output is not None else None, format="pdf",
                sys_inputs=inputs, pdf_tags=self.pdf_tags,
            )
        except typst.TypstError as exc:
            raise _template_error(exc) from None

    def close(self) -> None:
        self._compiler = None
        self._finalizer()


_CACHE_SIZE = 8
_local = threading.local()


def _cache() -> OrderedDict:
    c = getattr(_local, "cache", None)
    if c is None:
        c = _local.cache = OrderedDict()
    return c


def get_renderer(template_source: str, assets: Mapping[str, bytes] | None = None, *,
                 pdf_tags: bool = False) -> TemplateRenderer:
    """A cached :class:`TemplateRenderer` for this template/assets (per thread, LRU of 8)."""
    h = hashlib.sha256(template_source.encode("utf-8"))
    for name in sorted(assets or {}):
        h.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(assets[name]).digest())
    h.update(b"tags" if pdf_tags else b"notags")
    key = h.hexdigest()
    cache = _cache()
    renderer = cache.get(key)
    if renderer is None:
        renderer = TemplateRenderer(template_source, assets, pdf_tags=pdf_tags)
        cache[key] = renderer
        while len(cache) > _CACHE_SIZE:
            _, old = cache.popitem(last=False)
            old.close()
    else:
        cache.move_to_end(key)
    return renderer


def render_pdf(template_source: str, data: Mapping, *, assets: Mapping[str, bytes] | None = None,
               pdf_tags: bool = False, timeout: float | None = None) -> bytes:
    """Render ``data`` with a Typst template; returns the PDF bytes.

    Raises :class:`TemplateError` (Spanish message, line, column) when the template
    does not compile with this data (syntax error, unknown variable or field...).
    ``timeout`` (seconds): compile in a separate, killable process instead (see
    :func:`render_pdf_sandboxed`); ``None`` (default) keeps the fast in-process compiler.
    """
    if timeout is not None:
        return render_pdf_sandboxed(template_source, data, assets=assets, pdf_tags=pdf_tags, timeout=timeout)
    return get_renderer(template_source, assets, pdf_tags=pdf_tags).render(data)


SANDBOX_TIMEOUT = 10.0            # seconds, process start included (~0.3 s)
SANDBOX_MEMORY = 1536 * 2**20     # address-space cap of the compile process
_DEAD_PROXY = "http://127.0.0.1:1"  # nothing listens there: any download fails at once, locally

_CHILD = r"""
import json, resource, sys
mem, cpu = int(sys.argv[1]), int(sys.argv[2])
if mem > 0:
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
import typst
job = json.loads(sys.stdin.buffer.read())
root = job["root"]
try:
    typst.compile(root + "/main.typ", output=job["output"], root=root, font_paths=[], format="pdf",
                  sys_inputs={"data": job["data"]}, pdf_tags=job["pdf_tags"],
                  package_path=root + "/.no-packages", package_cache_path=root + "/.no-packages")
    out = {"ok": True}
except typst.TypstError as exc:
    out = {"ok": False, "message": getattr(exc, "message", "") or str(exc),
           "diagnostic": getattr(exc, "diagnostic", "") or ""}
except MemoryError:
    out = {"ok": False, "memory": True}
sys.stdout.write(json.dumps(out))
"""


def render_pdf_sandboxed(template_source: str, data: Mapping, *, assets: Mapping[str, bytes] | None = None,
                         pdf_tags: bool = False, timeout: float = SANDBOX_TIMEOUT,
                         memory_limit: int | None = SANDBOX_MEMORY) -> bytes:
    """Render an UNTRUSTED template (a user's preview, validation on save): the compile runs in a
    child process that is killed after ``timeout`` seconds (default 10, start-up included) and
    limited to ``memory_limit`` bytes of address space (default 1.5 GiB; ``None``: no cap), with no
    package directory and the proxy variables pointing to a closed local port (no download can
    leave the machine). Same output as :func:`render_pdf`. Raises :class:`TemplateError`: compile
    errors (as in :func:`render_pdf`), ``code="template_timeout"``, ``code="template_memory"``.
    """
    import subprocess
    import sys

    root = _make_root(template_source, assets)
    try:
        output = os.path.join(root, ".out.pdf")
        job = json.dumps({"root": root, "output": output, "data": to_json(data), "pdf_tags": pdf_tags})
        env = {"PATH": os.defpath, "LANG": "C.UTF-8"}  # nothing inherited: the child starts from a clean slate
        for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            env[var] = _DEAD_PROXY
        env.update(NO_PROXY="", no_proxy="", HOME=root, XDG_CACHE_HOME=root + "/.no-packages",
                   XDG_DATA_HOME=root + "/.no-packages")
        cpu = max(1, int(timeout) + 1)
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _CHILD, str(memory_limit or 0), str(cpu)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=root)
        try:
            out, err = proc.communicate(job.encode("utf-8"), timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            exc = TemplateError(
                f"La plantilla tardó más de {timeout:g} s en compilarse y se detuvo. Revise los bucles "
                "y las repeticiones de la plantilla.", None, None)
            exc.code = "template_timeout"
            raise exc from None
        try:
            result = json.loads(out.decode("utf-8") or "{}")
        except ValueError:
            result = {}
        if result.get("ok") and os.path.exists(output):
            with open(output, "rb") as fh:
                return fh.read()
        if "message" in result:
            raise _template_error(None, message=result["message"], diagnostic=result["diagnostic"])
        exc = TemplateError(
            "La plantilla necesitó más memoria de la permitida al compilarse." if result.get("memory")
            or proc.returncode in (-9, -6) or b"memory" in err.lower() else
            f"No se pudo compilar la plantilla (el proceso terminó con el código {proc.returncode}).",
            None, None, diagnostic=err.decode("utf-8", "replace")[-2000:])
        exc.code = "template_memory" if "memoria" in exc.message_es else "template_error"
        raise exc
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class RenderManyResult:
    paths: list[Path]              # one PDF per item (empty if individual=False)
    merged_path: Path | None       # the print PDF (None if merged=None)
    count: int                     # items rendered


def _default_name(index: int, data: Mapping) -> str:
    return f"{index:06d}.pdf"


def render_many(template_source: str, items: Iterable[Mapping], out_dir: str | os.PathLike, *,
                assets: Mapping[str, bytes] | None = None,
                merged: str | None = "merged.pdf", individual: bool = True,
                name: Callable[[int, Mapping], str] = _default_name,
                chunk_size: int | None = None,
                pdf_tags: bool = False) -> RenderManyResult:
    """Render many documents with one reusable compiler.

    ``individual``: write one PDF per item in ``out_dir`` (file name from ``name``),
    compiled one at a time.
    ``merged``: also write one print PDF ``out_dir/<merged>`` with every document,
    appended by the streaming :class:`PdfConcatenator` (memory does not grow with the
    number of documents).
    ``chunk_size``: build the merged PDF from compiles of ``chunk_size`` items at a time,
    passing ``{"invoices": [item, ...]}`` to the template (the default template supports
    it). With 25 items per compile Typst is ~4× faster per invoice and the print file ~3×
    smaller (fonts shared within a chunk); memory is bounded by the chunk size. With
    ``None`` the merged PDF is the concatenation of one-item compiles.
    ``items`` is consumed lazily (it may be a generator over a database cursor).
    A :class:`TemplateError` gets ``item_index`` set to the failing item.
    """
    if chunk_size is not None and chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    renderer = get_renderer(template_source, assets, pdf_tags=pdf_tags)
    paths: list[Path] = []
    merged_path = out / merged if merged else None
    cat = PdfConcatenator(merged_path) if merged_path else None
    count = 0
    chunk: list[Mapping] = []
    chunk_start = 0

    def render_one(index: int, data: Mapping) -> bytes:
        try:
            return renderer.render(data)
        except TemplateError as exc:
            exc.item_index = index
            raise

    def flush_chunk() -> None:
        nonlocal chunk
        if not chunk:
            return
        try:
            pdf = renderer.render({"invoices": chunk})
        except TemplateError:
            for offset, data in enumerate(chunk):  # find the failing item
                render_one(chunk_start + offset, data)
            raise
        cat.add(pdf)
        chunk = []

    try:
        for index, data in enumerate(items):
            pdf = render_one(index, data) if (individual or (cat is not None and chunk_size is None)) else None
            if individual:
                fname = name(index, data)
                if "/" in fname or "\\" in fname or fname.startswith("."):
                    raise ValueError(f"invalid output file name {fname!r}")
                path = out / fname
                path.write_bytes(pdf)
                paths.append(path)
            if cat is not None:
                if chunk_size is None:
                    cat.add(pdf)
                else:
                    if not chunk:
                        chunk_start = index
                    chunk.append(data)
                    if len(chunk) >= chunk_size:
                        flush_chunk()
            count += 1
        if cat is not None:
            if chunk_size is not None:
                flush_chunk()
            if count:
                cat.close()
            else:  # nothing rendered: no empty print file
                cat._abort()
                merged_path.unlink(missing_ok=True)
                merged_path = None
    except BaseException:
        if cat is not None:
            cat._abort()
        raise
    return RenderManyResult(paths=paths, merged_path=merged_path, count=count)
