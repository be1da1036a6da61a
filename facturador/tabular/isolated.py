"""Previews of untrusted files in a child process with a time and a memory limit.

A web process must not parse a user's sample file itself: the readers' limits (`tabular.limits`) refuse the
hostile shapes known today, but a parser bug or a shape nobody thought of would still cost the web process's
memory. :func:`preview_isolated` runs :func:`facturador.tabular.mapping.preview` in a fresh interpreter whose
address space and CPU time are capped (``resource.setrlimit``), kills it after ``timeout`` seconds, and gives
back the same :class:`~facturador.tabular.mapping.PreviewResult` (or the same
:class:`~facturador.tabular.errors.ImportFileError`). It costs the start of a Python process (~0.2 s).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

from .errors import ImportFileError
from .limits import PREVIEW_LIMITS, Limits

__all__ = ["preview_isolated", "sample_isolated", "PREVIEW_TIMEOUT", "PREVIEW_MEMORY"]

PREVIEW_TIMEOUT = 30.0  # seconds, start-up included
PREVIEW_MEMORY = 1024 * 2**20  # bytes of address space

_CHILD = r"""
import pickle, resource, sys
mem, cpu = int(sys.argv[1]), int(sys.argv[2])
if mem > 0:
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
job = pickle.loads(sys.stdin.buffer.read())
from facturador.tabular.errors import ImportFileError
from facturador.tabular.mapping import Template, preview
from facturador.tabular.suggest import read_sample
try:
    if job.get("kind") == "sample":
        result = read_sample(job["path"], job["filename"], sheet=job["sheet"], rows=job["limit"],
                             member=job["member"], limits=job["limits"])
    else:
        result = preview(job["path"], job["filename"], Template.from_dict(job["template"]), limit=job["limit"],
                         member=job["member"], limits=job["limits"], period=job.get("period"))
    out = {"ok": result}
except ImportFileError as exc:
    out = {"error": exc.to_dict()}
except MemoryError:
    out = {"memory": True}
sys.stdout.buffer.write(pickle.dumps(out))
"""


def _refusal(code: str, message: str) -> ImportFileError:
    return ImportFileError(code, message)


def preview_isolated(path: str, filename: str | None, template: dict, *, limit: int = 50, member: str | None = None,
                     limits: Limits | None = PREVIEW_LIMITS, timeout: float = PREVIEW_TIMEOUT,
                     memory_limit: int | None = PREVIEW_MEMORY, period: str | None = None) -> Any:
    """`preview(path, filename, Template.from_dict(template), ...)` in a limited child process.

    Refusals are ImportFileError: the reader's own, ``preview_timeout`` or ``preview_memory``."""
    return _run({"path": str(path), "filename": filename, "template": template, "limit": limit,
                 "member": member, "limits": limits, "period": period}, timeout, memory_limit)


def sample_isolated(path: str, filename: str | None, *, rows: int = 60, sheet: str | int | None = None,
                    member: str | None = None, limits: Limits | None = PREVIEW_LIMITS,
                    timeout: float = PREVIEW_TIMEOUT, memory_limit: int | None = PREVIEW_MEMORY) -> Any:
    """`tabular.suggest.read_sample(...)` (the first rows, for `suggest`) in a limited child process."""
    return _run({"kind": "sample", "path": str(path), "filename": filename, "sheet": sheet, "limit": rows,
                 "member": member, "limits": limits}, timeout, memory_limit)


def _run(job_data: dict, timeout: float, memory_limit: int | None) -> Any:
    job = pickle.dumps(job_data)
    proc = subprocess.Popen([sys.executable, "-I", "-c", _CHILD, str(memory_limit or 0), str(max(1, int(timeout)))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin"})
    try:
        out, err = proc.communicate(job, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise _refusal("preview_timeout", f"El archivo tardó más de {timeout:g} s en leerse y se detuvo la "
                                          "prueba. Pruebe con una muestra más pequeña del archivo.") from None
    try:
        answer = pickle.loads(out) if out else {}
    except Exception:  # noqa: BLE001 - a killed child writes half an answer
        answer = {}
    if "ok" in answer:
        return answer["ok"]
    if "error" in answer:
        e = answer["error"]
        raise ImportFileError(e["code"], e["message_es"], e.get("row"), e.get("column"), e.get("value"))
    if answer.get("memory") or proc.returncode in (-9, -6) or b"MemoryError" in err:
        raise _refusal("preview_memory", "El archivo necesita más memoria de la permitida para probarlo. Pruebe con "
                                         "una muestra más pequeña del archivo.")
    raise _refusal("corrupt_file", "No se pudo leer el archivo de muestra (el lector se detuvo con el código "
                                   f"{proc.returncode}).")
