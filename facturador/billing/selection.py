"""Choosing which accounts a batch bills: a references file (one per line) or filters."""

from __future__ import annotations

from dataclasses import dataclass, field

from facturador.billing.cartera import filter_accounts
from facturador.billing.models import Account
from facturador.core.errors import Invalid

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PROBLEMS = 1000  # problems listed in a refusal's details
FILTERS = ("service_class", "stratum", "state", "reference", "municipality_code")


def parse_references(data: bytes | str) -> list[tuple[int, str]]:
    """(line number, reference) for every non-blank line; the first field if the line has separators."""
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise Invalid("billing.references.too_large", "El archivo de referencias es demasiado grande (máximo 20 MB).",
                          field="references")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data.lstrip("\ufeff")
    out = []
    for no, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        for sep in ("\t", ";", ","):
            if sep in value:
                value = value.split(sep, 1)[0].strip()
        value = value.strip("\"'").strip()
        if value:
            out.append((no, value))
    return out


@dataclass
class Selection:
    account_ids: list[int] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # {"line", "reference", "reason"}

    @property
    def count(self):
        return len(self.account_ids)


def resolve_references(issuer, lines: list[tuple[int, str]]) -> Selection:
    """Match references exactly (leading zeros matter). Unknown, duplicated and retired
    references are collected in `problems`; call :func:`require_clean` to refuse them."""
    if not lines:
        raise Invalid("billing.references.empty", "El archivo de referencias no contiene ninguna referencia.",
                      field="references")
    refs = [r for _, r in lines]
    known = {}
    for chunk in range(0, len(refs), 5000):
        for pk, ref, state in Account.objects.filter(issuer=issuer, reference__in=refs[chunk:chunk + 5000]).values_list(
                "pk", "reference", "state"):
            known[ref] = (pk, state)
    sel = Selection()
    seen: dict[str, int] = {}
    for no, ref in lines:
        if ref in seen:
            sel.problems.append({"line": no, "reference": ref,
                                 "reason": f"Referencia repetida (ya aparece en la línea {seen[ref]})."})
            continue
        seen[ref] = no
        if ref not in known:
            hint = ""
            stripped = ref.lstrip("0")
            if stripped != ref and Account.objects.filter(issuer=issuer, reference=stripped).exists():
                hint = f" ¿Quiso decir {stripped}?"
            sel.problems.append({"line": no, "reference": ref, "reason": "Referencia desconocida: no existe la cuenta." + hint})
            continue
        pk, state = known[ref]
        if state == Account.State.RETIRED:
            sel.problems.append({"line": no, "reference": ref, "reason": "La cuenta está retirada."})
            continue
        sel.account_ids.append(pk)
        sel.references.append(ref)
    return sel


def require_clean(sel: Selection) -> Selection:
    if sel.problems:
        n = len(sel.problems)
        raise Invalid(
            "billing.references.invalid",
            f"El archivo de referencias tiene {n} {'problema' if n == 1 else 'problemas'}; corríjalo y vuelva a "
            "cargarlo. No se generó nada.", field="references",
            details={"problem_count": n, "problems": sel.problems[:MAX_PROBLEMS]})
    if not sel.account_ids:
        raise Invalid("billing.references.empty", "No hay cuentas para facturar.", field="references")
    return sel


def select_by_filters(issuer, filters: dict) -> Selection:
    """Active and suspended accounts matching the filters (keys: `FILTERS`; never retired accounts)."""
    qs = filter_accounts(issuer, **{k: filters.get(k) for k in FILTERS})
    qs = qs.exclude(state=Account.State.RETIRED).order_by("reference")
    sel = Selection()
    for pk, ref in qs.values_list("pk", "reference"):
        sel.account_ids.append(pk)
        sel.references.append(ref)
    if not sel.account_ids:
        raise Invalid("billing.selection.empty", "Ninguna cuenta cumple los filtros.", field="filters",
                      details={"filters": dict(filters)})
    return sel
