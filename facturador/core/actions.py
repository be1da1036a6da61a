"""Core's user actions: issuers, members, branches, certificates, numbering ranges, jobs, API tokens.

Each function validates, does the work in one transaction and writes one audit entry with the actor; the
web views, the API and the management commands only parse their input, call it and present the result.
Refusals are `core.errors.Refusal`s (see that module for the contract).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from rest_framework.authtoken.models import Token

from facturador.core import audit, certificates, jobs, numbering
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Forbidden, Invalid, NotFound
from facturador.core.models import Branch, Certificate, Issuer, Job, Membership, NumberingRange, Role
from facturador.taxid import TaxIdError
from facturador.taxid import validate as validate_tax_id

ISSUER_FIELDS = (
    "country", "tax_id", "check_digit", "person_type", "legal_name", "trade_name", "fiscal_regime", "responsibilities",
    "address", "municipality_code", "city", "department", "postal_code", "ciiu", "phone", "email", "logo",
)


def _invalid(code: str, problems: list[tuple[str, str]]) -> Invalid:
    """One refusal for several field problems: the first names the field; all are in details["errors"]."""
    field, message = problems[0]
    return Invalid(code, message, field=field,
                   details={"errors": [{"field": f, "message": str(m)} for f, m in problems]})


# --- issuers ---------------------------------------------------------------------------------------------

def issuer_problems(data: dict) -> list[tuple[str, str]]:
    """Country rules of an issuer's data; normalises tax_id/check_digit and the CIIU codes ("4711,6201") in `data`."""
    problems = []
    country = data.get("country")
    if country and data.get("tax_id"):
        try:
            data["tax_id"], data["check_digit"] = validate_tax_id(country, data["tax_id"], data.get("check_digit") or "")
        except TaxIdError as exc:
            problems.append(("tax_id", exc.message))
    if country == "CO":
        code = data.get("municipality_code") or ""
        if code and not (code.isdigit() and len(code) == 5):
            problems.append(("municipality_code", "El código DANE del municipio tiene 5 dígitos."))
    if data.get("ciiu"):
        codes = [c.strip() for c in str(data["ciiu"]).replace(";", ",").split(",") if c.strip()]
        if all(c.isdigit() and len(c) == 4 for c in codes):
            data["ciiu"] = ",".join(codes)
        else:
            problems.append(("ciiu", "Los códigos CIIU de la actividad económica tienen 4 dígitos; separe varios con "
                                     "comas (p. ej. 4711,6201)."))
    if country == "MX":
        cp = data.get("postal_code") or ""
        if not (cp.isdigit() and len(cp) == 5):
            problems.append(("postal_code", "El código postal (lugar de expedición) tiene 5 dígitos."))
    return problems


def may_create_issuers(actor: Actor) -> bool:
    """Only platform administrators (permission core.add_issuer; superusers) and the CLI's operator register
    issuers: a tenant's users, even its administrators, do not create new tenants."""
    return actor.user is None and actor.channel == "cli" or actor.user is not None and actor.user.has_perm("core.add_issuer")


def create_issuer(actor: Actor, *, data: dict, admin=None) -> Issuer:
    """Create an issuer; `admin` (default: the actor's user) becomes its administrator."""
    if not may_create_issuers(actor):
        raise Forbidden("core.issuer.create_forbidden",
                        "Solo un administrador de la plataforma puede registrar emisores.")
    data = {k: v for k, v in data.items() if k in ISSUER_FIELDS}
    problems = issuer_problems(data)
    if problems:
        raise _invalid("core.issuer.invalid", problems)
    admin = admin if admin is not None else actor.user
    with transaction.atomic():
        if Issuer.objects.filter(country=data["country"], tax_id=data["tax_id"]).exists():
            raise Conflict("core.issuer.exists", f"Ya existe un emisor con el identificador {data['tax_id']}.",
                           field="tax_id")
        issuer = Issuer.objects.create(**data)
        if admin is not None:
            Membership.objects.create(user=admin, issuer=issuer, role=Role.ADMIN)
        audit.record("issuer.create", actor=actor, issuer=issuer, obj=issuer, summary=issuer.legal_name)
    return issuer


def update_issuer(issuer: Issuer, actor: Actor, *, data: dict) -> Issuer:
    """Change an issuer's data (not its country)."""
    data = {k: v for k, v in data.items() if k in ISSUER_FIELDS}
    if "country" in data and data["country"] != issuer.country:
        raise Invalid("core.issuer.country_fixed", "El país de un emisor no se puede cambiar.", field="country")
    merged = {"country": issuer.country, **data}
    checked = ("tax_id", "municipality_code", "postal_code", "ciiu")
    problems = issuer_problems(merged) if any(name in data for name in checked) else []
    if problems:
        raise _invalid("core.issuer.invalid", problems)
    changed = [k for k, v in merged.items() if k != "country" and getattr(issuer, k) != v]
    with transaction.atomic():
        for k in changed:
            setattr(issuer, k, merged[k])
        issuer.save()
        audit.record("issuer.update", actor=actor, issuer=issuer, obj=issuer, summary=", ".join(changed))
    return issuer


def grant_membership(issuer: Issuer, actor: Actor, *, username: str, role: str) -> Membership:
    if role not in Role.values:
        raise Invalid("core.membership.role", f"Rol desconocido: {role}.", field="role")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound("core.user.not_found",
                       f"No existe el usuario {username} (créelo con `facturador createsuperuser` o el admin).",
                       field="username")
    with transaction.atomic():
        member, _ = Membership.objects.update_or_create(user=user, issuer=issuer, defaults={"role": role})
        audit.record("membership.save", actor=actor, issuer=issuer, obj=member, summary=f"{user} {role}")
    return member


# --- branches --------------------------------------------------------------------------------------------

def save_branch(issuer: Issuer, actor: Actor, *, data: dict, branch: Branch | None = None) -> Branch:
    code = (data.get("code") or "").strip()
    clash = Branch.objects.filter(issuer=issuer, code=code)
    if branch is not None:
        clash = clash.exclude(pk=branch.pk)
    if clash.exists():
        raise Conflict("core.branch.code_taken", f"Ya existe una sucursal con el código {code}.", field="code")
    branch = branch or Branch(issuer=issuer)
    for k, v in {**data, "code": code}.items():
        setattr(branch, k, v)
    with transaction.atomic():
        branch.save()
        audit.record("branch.save", actor=actor, issuer=issuer, obj=branch, summary=str(branch))
    return branch


def delete_branch(issuer: Issuer, actor: Actor, *, branch: Branch) -> None:
    try:
        with transaction.atomic():
            audit.record("branch.delete", actor=actor, issuer=issuer, obj=branch, summary=str(branch))
            branch.delete()
    except ProtectedError as exc:
        raise Conflict("core.branch.in_use", "La sucursal tiene documentos o tiquetes; desactívela en lugar de borrarla.",
                       field="branch") from exc


# --- certificates ----------------------------------------------------------------------------------------

def upload_certificate(issuer: Issuer, actor: Actor, *, kind: str, password: str, p12: bytes | None = None,
                       cer: bytes | None = None, key: bytes | None = None) -> Certificate:
    """Validate and store (encrypted) a DIAN .p12 or a SAT CSD; it replaces the active one of its kind."""
    if kind == Certificate.Kind.PKCS12 and not p12:
        raise Invalid("core.certificate.missing_file", "Adjunte el archivo .p12 / .pfx.", field="p12")
    if kind == Certificate.Kind.CSD and not (cer and key):
        raise Invalid("core.certificate.missing_file", "Adjunte el certificado (.cer) y la llave privada (.key).",
                      field="cer" if not cer else "key")
    with transaction.atomic():
        cert = certificates.store(issuer, kind=kind, password=password, p12=p12, cer=cer, key=key, user=actor.user)
        audit.record("certificate.upload", actor=actor, issuer=issuer, obj=cert,
                     summary=f"{cert.get_kind_display()} serie {cert.serial_number}, vence {cert.not_after:%Y-%m-%d}")
    return cert


# --- numbering -------------------------------------------------------------------------------------------

RANGE_FIELDS = ("document_type", "environment", "prefix", "range_from", "range_to", "valid_from", "valid_to",
                "resolution_number", "active")


def save_numbering_range(issuer: Issuer, actor: Actor, *, data: dict, rng: NumberingRange | None = None,
                         technical_key: str = "") -> NumberingRange:
    """Create or change a numbering range; an empty `technical_key` keeps the current one."""
    merged = {f: getattr(rng, f) for f in RANGE_FIELDS} if rng is not None else {}
    merged.update({k: v for k, v in data.items() if k in RANGE_FIELDS})
    merged["prefix"] = (merged.get("prefix") or "").strip().upper()
    problems = numbering.range_problems(issuer, merged, exclude_pk=getattr(rng, "pk", None))
    if problems:
        raise _invalid("core.numbering.invalid", problems)
    creating = rng is None
    rng = rng or NumberingRange(issuer=issuer)
    for k, v in merged.items():
        setattr(rng, k, v)
    if creating:
        rng.next_number = rng.range_from
    if technical_key.strip():
        rng.technical_key = technical_key.strip()
    with transaction.atomic():
        rng.save()
        audit.record("numbering.save", actor=actor, issuer=issuer, obj=rng, summary=str(rng))
    return rng


def delete_numbering_range(issuer: Issuer, actor: Actor, *, rng: NumberingRange) -> None:
    if rng.next_number != rng.range_from:
        raise Conflict("core.numbering.used",
                       "La numeración ya tiene números usados; desactívela en lugar de borrarla.")
    with transaction.atomic():
        audit.record("numbering.delete", actor=actor, issuer=issuer, obj=rng, summary=str(rng))
        rng.delete()


# --- jobs ------------------------------------------------------------------------------------------------

def cancel_job(issuer: Issuer, actor: Actor, *, job: Job) -> Job:
    if not jobs.request_cancel(job):
        raise Conflict("core.job.finished", "La tarea ya terminó; no se puede cancelar.")
    audit.record("job.cancel", actor=actor, issuer=issuer, obj=job)
    return job


def delete_job(issuer: Issuer, actor: Actor, *, job: Job) -> None:
    if not jobs.delete_pending(job):
        raise Conflict("core.job.not_pending", "Solo se pueden eliminar tareas pendientes.")
    audit.record("job.delete", actor=actor, issuer=issuer, obj=job)


# --- API tokens ------------------------------------------------------------------------------------------

def regenerate_api_token(actor: Actor, *, issuer: Issuer | None = None) -> Token:
    """A new API token for the actor's user (the old one stops working)."""
    if actor.user is None:
        raise Forbidden("core.token.no_user", "Solo un usuario de la plataforma puede tener un token de API.")
    with transaction.atomic():
        Token.objects.filter(user=actor.user).delete()
        try:
            token = Token.objects.create(user=actor.user)
        except IntegrityError as exc:  # two clicks at once
            raise Conflict("core.token.busy", "Intente de nuevo.") from exc
        audit.record("api.token", actor=actor, issuer=issuer, summary="Token de API regenerado")
    return token
