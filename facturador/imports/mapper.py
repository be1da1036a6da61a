"""The visual mapper's state: a stored sample file, the proposal, and the user's choices per column.

Each step of the mapper page posts the sample's token and every column's choices (field, parser, required,
rules); `columns_with_choices` applies them to a fresh proposal for the same header row and `mapping_of`
builds the template dict that the preview, the advanced JSON view and "Guardar versión" use.
"""

from __future__ import annotations

import os
import re
import time
import uuid

from django.conf import settings

from facturador.core.errors import Invalid, NotFound
from facturador.imports import fields as line_fields
from facturador.imports import services
from facturador.tabular.parsers import PARSER_NAMES
from facturador.tabular.suggest import header_key

SAMPLE_TTL = 24 * 3600  # a stored sample is removed a day after its upload
PARSER_LABELS = {"text": "Texto", "integer": "Entero", "decimal": "Número decimal", "percent": "Porcentaje",
                 "date": "Fecha", "date_range": "Periodo de fechas (inicial - final)",
                 "period": "Periodo AAAA-MM", "boolean": "Sí/No", "phone": "Línea telefónica (CO)"}
EXTRA = "extra"
SPECS = {f.name: f for f in line_fields.LINE_FIELDS}


def field_choices():
    return [("", "(no importar)")] + [(f.name, f.label) for f in line_fields.LINE_FIELDS] + [
        (EXTRA, "Atributo adicional")]


def parser_choices():
    return [(p, PARSER_LABELS.get(p, p)) for p in PARSER_NAMES]


def _folder(issuer) -> str:
    return os.path.join(settings.MEDIA_ROOT, f"issuers/{issuer.pk}/imports/samples")


def store_sample(issuer, upload) -> tuple[str, str]:
    """Keep an uploaded sample for the mapper's next steps; (token, file name). Old samples are removed."""
    name = services.clean_filename(getattr(upload, "name", "") or "muestra")
    size = getattr(upload, "size", None)
    if size is not None and size > settings.FACTURADOR_UPLOAD_MAX_BYTES:
        raise Invalid("imports.file.too_large", f"El archivo «{name}» pesa {size / 2**20:.0f} MB; el máximo es "
                      f"{settings.FACTURADOR_UPLOAD_MAX_BYTES / 2**20:.0f} MB.", field="file")
    folder = _folder(issuer)
    os.makedirs(folder, exist_ok=True)
    now = time.time()
    for entry in os.scandir(folder):
        if entry.is_dir() and now - entry.stat().st_mtime > SAMPLE_TTL:
            for f in os.scandir(entry.path):
                os.unlink(f.path)
            os.rmdir(entry.path)
    token = uuid.uuid4().hex
    os.makedirs(os.path.join(folder, token))
    with open(os.path.join(folder, token, name), "wb") as out:
        for chunk in (upload.chunks() if hasattr(upload, "chunks") else [upload.read()]):
            out.write(chunk)
    return token, name


def sample_file(issuer, token: str, name: str) -> str:
    """The path of a stored sample of this issuer (NotFound when the token names none)."""
    if not re.fullmatch(r"[0-9a-f]{32}", token or "") or os.path.basename(name or "") != name or not name:
        raise NotFound("imports.sample.not_found", "La muestra ya no está disponible; súbala de nuevo.", field="file")
    path = os.path.join(_folder(issuer), token, name)
    if not os.path.isfile(path):
        raise NotFound("imports.sample.not_found", "La muestra ya no está disponible; súbala de nuevo.", field="file")
    return path


def columns_with_choices(proposal, post) -> None:
    """Apply the posted choices (`c<i>_field`, `c<i>_parser`, `c<i>_required`, `c<i>_zfill`, `c<i>_<rule>`) to the
    columns."""
    used = set()
    for c in proposal.columns:
        i = c.index
        if f"c{i}_field" not in post:
            continue
        choice = post.get(f"c{i}_field", "")
        if not choice:
            c.field = None
            continue
        if choice == EXTRA or choice not in SPECS:
            slug = header_key(c.header).replace(" ", "_") or c.letter.lower()
            name = line_fields.EXTRA_PREFIX + slug
            while name in used:
                name += "_"
            c.field, c.label, c.options = name, c.header or c.letter, {}
        else:
            spec = SPECS[choice]
            if choice != c.field:
                c.options = dict(spec.options or {})
            c.field, c.label = choice, spec.label
        used.add(c.field)
        parser = post.get(f"c{i}_parser", c.parser)
        c.parser = parser if parser in PARSER_NAMES else c.parser
        c.required = post.get(f"c{i}_required") == "1"
        zfill = post.get(f"c{i}_zfill")
        if zfill is not None:  # zeros on the left up to that many digits (accounts a spreadsheet stored as numbers)
            zfill = zfill.strip()
            if zfill and not (zfill.isdigit() and 1 <= int(zfill) <= 48):
                raise Invalid("imports.mapping.invalid", f"Columna {c.letter}: los ceros a la izquierda llegan a un "
                              f"número de dígitos entre 1 y 48, no «{zfill}».", field="mapping")
            c.options = {k: v for k, v in (c.options or {}).items() if k != "zfill"}
            if zfill:
                c.options["zfill"] = int(zfill)
        rules = {}
        for key in ("min", "max", "pattern"):
            v = post.get(f"c{i}_{key}", "").strip()
            if v:
                rules[key] = v.replace(",", ".") if key != "pattern" else v
        for key in ("min_length", "max_length", "period_days"):
            v = post.get(f"c{i}_{key}", "").strip()
            if v:
                if not v.isdigit():
                    raise Invalid("imports.mapping.invalid", f"Columna {c.letter}: «{v}» no es un número entero.",
                                  field="mapping")
                rules[key] = int(v)
        if post.get(f"c{i}_non_negative") == "1":
            rules["non_negative"] = True
        allowed = [a.strip() for a in post.get(f"c{i}_allowed", "").split(";") if a.strip()]
        if allowed:
            rules["allowed"] = allowed
        c.rules = rules


def mapping_of(proposal, name: str, post=None) -> dict:
    """The template dict of the (possibly edited) proposal; the posted separators and totals choice."""
    if post is not None:
        for attr in ("decimal_separator", "thousands_separator"):
            v = post.get(attr)
            if v is not None and v in (",", ".", "", " ", "'"):
                setattr(proposal, attr, v)
    mapping = proposal.template(name=name)
    if post is not None and "totals" in post and post.get("totals") != "1":
        mapping.pop("declared_totals", None)
    if post is not None and post.get("no_checks") == "1":
        mapping.pop("checks", None)
    return mapping
