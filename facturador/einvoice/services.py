"""Issuing DIAN documents for an issuer: build, pre-validate, sign, store and queue the sending.

The standards work is done by the pure library `facturador.dian`; this module ties it to the
issuer's data (certificate, numbering, operation mode) inside transactions, so a document that
fails validation or signing stores nothing and gives its number back. The library's errors become
`EinvoiceError` refusals here (`issue` is the core of `actions.issue_document`, and of the issuing
done by the enablement and billing apps); the file downloads live in `einvoice.files`.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from facturador.core import certificates, jobs, numbering, outbound
from facturador.core.errors import Invalid, NotFound, Refusal
from facturador.core.models import Certificate, IssuedDocument, NumberingRange
from facturador.dian import jsonio, ubl, validate, xades
from facturador.dian import model as m
from facturador.dian import totals as dian_totals
from facturador.dian.errors import DianError
from facturador.dian.ns import CBC
from facturador.einvoice.models import DianDocument, OperationMode
from facturador.taxid import TaxIdError, nit_check_digit

COT = ZoneInfo("America/Bogota")
logger = logging.getLogger(__name__)


class EinvoiceError(Invalid):
    """A DIAN document cannot be issued (codes `einvoice.<subject>.<reason>`).

    When a DIAN rule (e.g. FAK24) is behind the refusal, ``details["rule"]`` holds it and the message ends
    with "(regla FAK24)"; ``details["errors"]`` lists every problem of the input when there are several.
    """


def _is_rule(code: str | None) -> bool:
    # DIAN rule codes start with an upper-case letter (FAK24, CBG04b); the library's own codes do not (cert_expired).
    return bool(code) and code[0].isupper()


def _with_rule(message: str, rule: str | None) -> str:
    return f"{message} (regla {rule})" if _is_rule(rule) else message


def dian_refusal(exc: DianError, code: str = "einvoice.document.invalid", *, field: str | None = None) -> EinvoiceError:
    """The refusal for an error of the `dian` library: its rule, its field, every problem of the input."""
    errors = getattr(exc, "errors", None) or [exc]
    details = {"rule" if _is_rule(exc.code) else "reason": exc.code,
               "errors": [{"code": e.code, "field": e.field, "message": e.message} for e in errors]}
    return EinvoiceError(code, _with_rule(exc.message, exc.code), field=field or exc.field or None, details=details)


def active_mode(issuer) -> OperationMode:
    mode = OperationMode.objects.filter(issuer=issuer, active=True).first()
    if mode is None:
        raise EinvoiceError("einvoice.software.missing", "Registre primero el software de facturación (modo de "
                            "operación) en la habilitación DIAN.", field="operation_mode")
    return mode


#: signing keys loaded in this process, by certificate row and digest of its PKCS#12 and password: opening a
#: PKCS#12 costs tens of milliseconds, and a batch's render jobs, sending rounds and DIAN clients each asked for it
_SIGNERS: dict[tuple, xades.Signer] = {}
_SIGNERS_MAX = 32


def signer_for(issuer) -> xades.Signer:
    cert = certificates.active_certificate(issuer, Certificate.Kind.PKCS12)
    if cert is None:
        raise EinvoiceError("einvoice.certificate.missing", "Cargue el certificado de firma digital (.p12) del emisor.",
                            field="certificate")
    material, password = bytes(cert.key_material.reveal()), cert.password.reveal()
    key = (cert.pk, hashlib.sha256(material + b"\0" + (password or "").encode("utf-8")).digest())
    signer = _SIGNERS.get(key)
    if signer is None:
        try:
            signer = xades.load_pkcs12(material, password)
        except DianError as exc:
            raise dian_refusal(exc, "einvoice.certificate.invalid", field="certificate") from exc
        if len(_SIGNERS) >= _SIGNERS_MAX:
            _SIGNERS.pop(next(iter(_SIGNERS)))  # the oldest
        _SIGNERS[key] = signer
    return signer


def dian_client(issuer, mode: OperationMode, **options):
    """DIAN's web service client for the issuer's software (``mode``), signing with the issuer's certificate.
    The endpoint is checked now (core.outbound): a stored address the deployment no longer allows, or whose host
    now resolves to a private network, is refused. ``options`` override the settings' timeout/retries/backoff."""
    from facturador.dian.ws.client import DianClient

    url = outbound.check_endpoint(mode.url, service="dian", field="endpoint")
    params = {"timeout": settings.FACTURADOR_DIAN_TIMEOUT, "retries": settings.FACTURADOR_DIAN_RETRIES,
              "backoff": settings.FACTURADOR_DIAN_BACKOFF, **options}
    return DianClient(url, signer_for(issuer), **params)


# --- payload (UI/API JSON) -> dian.model --------------------------------------------------------
#
# The payload is the JSON of docs/dian-json.md without what the platform knows itself: the supplier
# (the issuer), numbering, software, environment, issue date/time, and billing_reference (given as
# "reference": {"document": <id>} or {"number": "SETP990000001"} of a document issued here).

PLATFORM_KEYS = ("supplier", "numbering", "software", "environment", "issue_date", "issue_time", "billing_reference")


def supplier_json(issuer) -> dict:
    return {
        "id_type": "31", "id_number": issuer.tax_id, "dv": issuer.check_digit or None, "name": issuer.legal_name,
        "legal_person": issuer.person_type == "1", "responsibilities": issuer.responsibilities or ["R-99-PN"],
        "tax_scheme": "01", "email": issuer.email or "", "commercial_name": issuer.trade_name or "",
        "phone": issuer.phone or "", "industry_code": ";".join(filter(None, (issuer.ciiu or "").split(","))),
        "address": {"city_code": issuer.municipality_code or "11001", "city_name": issuer.city or "Bogotá, D.C.",
                    "department_name": issuer.department or "Bogotá", "line": issuer.address or "Sin dirección",
                    "postal_zone": issuer.postal_code or ""},
    }


def build_model(issuer, mode: OperationMode, rng: NumberingRange, number: int, payload: dict,
                referenced: DianDocument | None = None) -> m.Document:
    now = timezone.now().astimezone(COT)
    data = {k: v for k, v in payload.items() if k not in PLATFORM_KEYS + ("reference", "send")}
    if isinstance(data.get("customer"), dict) and data["customer"].get("consumidor_final"):
        data["customer"] = "consumidor_final"
    data.update(
        supplier=supplier_json(issuer),
        numbering={"prefix": rng.prefix, "number": number, "resolution": rng.resolution_number,
                   "range_from": rng.range_from, "range_to": rng.range_to, "valid_from": rng.valid_from.isoformat(),
                   "valid_to": rng.valid_to.isoformat(),
                   "technical_key": rng.technical_key.reveal() if rng.technical_key else ""},
        software={"id": mode.software_id, "pin": mode.software_pin.reveal(), "provider_nit": mode.provider_nit},
        environment="1" if mode.environment == "production" else "2",
        issue_date=now.date().isoformat(), issue_time=now.strftime("%H:%M:%S"),
    )
    if referenced is not None:
        data["billing_reference"] = {"number": referenced.full_number, "uuid": referenced.cufe,
                                     "issue_date": referenced.issue_date.isoformat()}
    try:
        return jsonio.document_from_json(data)
    except DianError as exc:
        raise dian_refusal(exc) from exc


def _referenced(issuer, payload) -> DianDocument | None:
    """The invoice a note corrects: {"document": id} or {"number": "SETP990000001"} among this issuer's invoices."""
    ref = payload.get("reference") or {}
    if payload.get("kind", "invoice") == "invoice" or not ref:
        return None
    doc = None
    if ref.get("document"):
        doc = DianDocument.objects.filter(issuer=issuer, pk=ref["document"]).first()
    elif ref.get("number"):
        doc = find_document(issuer, str(ref["number"]))
    if doc is None or doc.kind != DianDocument.Kind.INVOICE or not doc.cufe:
        rule = ("C" if payload.get("kind") == "credit_note" else "D") + "BG04b"
        raise EinvoiceError("einvoice.reference.not_found", _with_rule(
            "La factura referenciada no existe o no ha sido firmada.", rule), field="reference", details={"rule": rule})
    return doc


# --- issuing -------------------------------------------------------------------------------------

def _numbering_refusal(exc, rule: str | None = None) -> EinvoiceError:
    details = {"rule": rule, "reason": exc.code} if rule else {"reason": exc.code}
    return EinvoiceError("einvoice.numbering.unavailable", _with_rule(exc.message, rule), field="numbering",
                         details=details)


def _associated_range(issuer, mode: OperationMode, found: NumberingRange) -> NumberingRange:
    """Production invoices are numbered from an authorised range whose prefix is associated with the issuing
    software (DIAN's "asociación de prefijos"): that range when there is one, else ``found`` (refused afterwards)."""
    try:
        return numbering.find_range(issuer, "invoice", "production", software_id=mode.software_id)
    except numbering.NumberingError:
        return found


def document_range(issuer, mode: OperationMode, kind: str = "invoice") -> NumberingRange:
    """The numbering range a new document of ``kind`` takes its number from, with DIAN's production rules (a range
    with a technical key whose prefix is associated with the issuing software); a refusal otherwise."""
    environment = mode.environment
    try:
        rng = numbering.find_range(issuer, kind, environment)
    except numbering.NumberingError as exc:
        raise _numbering_refusal(exc, "FAB05b" if kind == "invoice" else None) from exc
    if environment == "production" and kind == "invoice":
        rng = _associated_range(issuer, mode, rng)
    if environment == "production" and kind == "invoice" and not rng.technical_key:
        raise EinvoiceError("einvoice.numbering.no_technical_key", _with_rule(
            "La numeración de producción no tiene clave técnica: sincronícela con la DIAN antes de facturar.",
            "FAD06"), field="numbering", details={"rule": "FAD06"})
    if environment == "production" and kind == "invoice" and rng.associated_software_id != mode.software_id:
        raise EinvoiceError(
            "einvoice.numbering.prefix_not_associated",
            f"El prefijo {rng.prefix or '(sin prefijo)'} de la numeración autorizada no está asociado al software "
            f"«{mode.software_name}» ({mode.software_id}) con el que factura: asócielo en el portal de la DIAN "
            "y regístrelo en Habilitación DIAN → Numeración autorizada («Registrar asociación») antes de "
            "facturar en producción.", field="numbering",
            details={"prefix": rng.prefix, "software_id": mode.software_id})
    return rng


@dataclass(frozen=True)
class Signed:
    """A numbered document built, pre-validated and signed (nothing stored yet)."""

    model: m.Document
    root: object  # the signed lxml element
    signed_xml: bytes
    cufe: str
    totals: object

    @property
    def qr_text(self) -> str:
        return qr_text(self.root, self.cufe)


def qr_text(root, cufe: str) -> str:
    """The QR text of a document exactly as signed (its sts:QRCode), or the CUFE."""
    from facturador.dian.ns import STS

    el = next(root.iter(f"{{{STS}}}QRCode"), None)
    return ((el.text if el is not None else "") or cufe).strip()


def build_signed(issuer, mode: OperationMode, rng: NumberingRange, number: int, payload: dict, signer,
                 referenced: DianDocument | None = None) -> Signed:
    """Build the UBL of document ``number`` of ``rng``, pre-validate it and sign it (XAdES): pure work, no writes,
    so billing batches run it in parallel on many workers. Refusals are `EinvoiceError`."""
    doc_model = build_model(issuer, mode, rng, number, payload, referenced)
    totals = dian_totals.compute(doc_model)
    try:
        # the builder's text is already inclusive C14N: parsed once, pre-validated as it is, and the signature's
        # document digest is taken from it (no C14N pass over the tree, no re-serialising and re-parsing)
        markup = ubl.build_markup(doc_model, totals).encode("utf-8")
        root = ubl.parse_markup_bytes(markup)
    except DianError as exc:
        raise dian_refusal(exc) from exc
    findings = validate.rejections(validate.prevalidate(
        b'<?xml version="1.0" encoding="UTF-8"?>' + markup, root=root,
        technical_key=doc_model.numbering.technical_key or None,
        schema_dir=settings.FACTURADOR_DIAN_SCHEMA_DIR or None,
        pin=doc_model.software.pin, software_id=mode.software_id, numbering=doc_model.numbering))
    if findings:
        f = findings[0]
        raise EinvoiceError("einvoice.document.prevalidation", _with_rule(f.message_es, f.code), field=f.field or None,
                            details={"rule": f.code, "errors": [{"code": x.code, "field": x.field,
                                                                 "message": x.message_es} for x in findings]})
    try:
        signed = xades.sign(root, signer, role="supplier", canonical=markup)
    except DianError as exc:
        code = "einvoice.certificate.invalid" if exc.code.startswith("cert_") else "einvoice.signing.failed"
        raise dian_refusal(exc, code, field="certificate") from exc
    return Signed(doc_model, root, signed, root.findtext(f"{{{CBC}}}UUID"), totals)


def issue(issuer, payload: dict, *, user=None, test_set: bool = False, send: bool = True,
          mode: OperationMode | None = None) -> DianDocument:
    """Number, build, pre-validate, sign and store one document (all or nothing), then queue its sending.

    Writes no audit entry: the action that calls it does (`actions.issue_document`, the enablement's test set,
    a billing batch)."""
    if issuer.country != "CO":
        raise EinvoiceError("einvoice.issuer.not_colombian", "Los documentos DIAN son para emisores de Colombia.",
                            field="issuer")
    mode = mode or active_mode(issuer)
    environment = mode.environment
    signer = signer_for(issuer)
    kind = payload.get("kind", "invoice")
    if kind not in DianDocument.Kind.values:
        raise EinvoiceError("einvoice.document.kind_unknown",
                            "Tipo de documento desconocido (invoice, credit_note o debit_note).", field="kind")
    referenced = _referenced(issuer, payload)
    with transaction.atomic():
        rng = document_range(issuer, mode, kind)
        try:
            allocated = numbering.allocate(rng)
        except numbering.NumberingError as exc:
            raise _numbering_refusal(exc) from exc
        built = build_signed(issuer, mode, rng, allocated.number, payload, signer, referenced)
        doc_model, signed, totals, cufe = built.model, built.signed_xml, built.totals, built.cufe
        doc = DianDocument.objects.create(
            issuer=issuer, kind=kind, type_code=doc_model.type_code, environment=environment, operation_mode=mode,
            numbering_range=rng, prefix=rng.prefix, number=allocated.number, status=DianDocument.Status.SIGNED,
            payload=payload, issue_date=doc_model.issue_date, customer_name=doc_model.customer.name,
            customer_id=doc_model.customer.id_number, customer_email=doc_model.customer.email,
            total=totals.payable, cufe=cufe, signed_xml=signed, referenced=referenced, test_set=test_set,
            created_by=user,
        )
        IssuedDocument.objects.create(
            issuer=issuer, source="einvoice.document", source_id=str(doc.pk), country="CO", document_type=kind,
            prefix=doc.prefix, number=doc.number, issue_date=doc.issue_date, due_date=doc_model.payment.due_date,
            customer_name=doc.customer_name, customer_tax_id=doc.customer_id, customer_email=doc.customer_email,
            total=doc.total, currency="COP", status=doc.status, uuid=cufe,
        )
        if send:
            schedule_send(doc, user=user)
    return doc


def schedule_send(doc: DianDocument, user=None):
    """Queue the job that sends the document to DIAN and follows it to DIAN's final answer."""
    job = jobs.create_job(doc.issuer, "einvoice.send", title=f"Envío a la DIAN de {doc}", params={"document": doc.pk},
                          user=user, total=1)
    DianDocument.objects.filter(pk=doc.pk).update(job=job)
    doc.job = job
    return job


# --- selectors -----------------------------------------------------------------------------------

def find_document(issuer, number: str) -> DianDocument | None:
    """One of the issuer's documents by its full number (e.g. SETP990000001)."""
    full = (number or "").strip().upper()
    prefix = full.rstrip("0123456789")
    digits = full[len(prefix):]
    if not digits:
        return None
    return DianDocument.objects.filter(issuer=issuer, prefix=prefix, number=int(digits)).first()


def _date(value, field):
    if not value:
        return None
    try:
        day = parse_date(str(value))
    except ValueError:
        day = None
    if day is None:
        raise Invalid("einvoice.filter.date_invalid", f"La fecha «{value}» no es válida: use AAAA-MM-DD.", field=field)
    return day


def documents(issuer, *, kind=None, status=None, environment=None, q=None, date_from=None, date_to=None):
    """The issuer's documents with the filters every channel offers (web list, API list, `einvoice list`)."""
    qs = DianDocument.objects.filter(issuer=issuer)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if environment:
        qs = qs.filter(environment=environment)
    if q:
        qs = qs.filter(customer_name__icontains=q) | qs.filter(customer_id=q)
    if date_from := _date(date_from, "from"):
        qs = qs.filter(issue_date__gte=date_from)
    if date_to := _date(date_to, "to"):
        qs = qs.filter(issue_date__lte=date_to)
    return qs


FILTERS = ("kind", "status", "environment", "q", "from", "to")


def documents_filtered(issuer, params):
    """`documents` with the filters read from a query string (or any mapping of FILTERS)."""
    get = {k: (params.get(k) or "").strip() for k in FILTERS}
    return documents(issuer, kind=get["kind"], status=get["status"], environment=get["environment"], q=get["q"],
                     date_from=get["from"], date_to=get["to"])


# --- operation modes (software) --------------------------------------------------------------------

def clean_test_set_id(value: str) -> str:
    value = (value or "").strip()
    if value:
        try:
            value = str(uuid.UUID(value))
        except ValueError as exc:
            raise Invalid("einvoice.operation_mode.test_set_id_invalid", "El TestSetId es un identificador GUID, por "
                          "ejemplo 3f1c9a9e-1b2c-4d5e-8f90-123456789abc.", field="test_set_id") from exc
    return value


def clean_provider_nit(value: str) -> str:
    value = (value or "").strip().split("-")[0]
    try:
        nit_check_digit(value)
    except TaxIdError as exc:
        raise Invalid("einvoice.operation_mode.provider_nit_invalid", exc.message, field="provider_nit") from exc
    return value


# --- buyers known to DIAN (GetAcquirer) --------------------------------------------------------------

class DianUnavailable(Refusal):
    """DIAN could not be reached, or would not answer the query (HTTP 503)."""

    status = 503


@dataclass(frozen=True)
class Acquirer:
    """What DIAN has for a buyer: the name and the e-mail where it receives electronic invoices."""

    id_type: str
    number: str
    name: str
    email: str

    def as_dict(self) -> dict:
        return asdict(self)


def clean_acquirer_id(id_type, number) -> tuple[str, str]:
    """A DIAN identification type (code list: 13 cédula, 31 NIT, ...) and a number without dots, spaces or the
    NIT's check digit; a refusal when either is unusable."""
    id_type = str(id_type or "").strip()
    if id_type not in m.ID_TYPES:
        raise Invalid("einvoice.acquirer.id_type_invalid", "Tipo de identificación desconocido: use el código de la "
                      "DIAN (13 cédula de ciudadanía, 31 NIT, 22 cédula de extranjería, 41 pasaporte...).",
                      field="id_type")
    number = "".join(str(number or "").split()).replace(".", "").upper()
    if id_type == "31":
        number = number.split("-")[0]
    if not (number.isalnum() and len(number) <= 20):
        raise Invalid("einvoice.acquirer.number_invalid", "Escriba el número de identificación del cliente (solo "
                      "letras y números; el NIT sin dígito de verificación).", field="number")
    return id_type, number


def acquirer_lookup(issuer, id_type, number) -> Acquirer:
    """The name and e-mail DIAN has for a buyer (GetAcquirer), asked with the issuer's active software and
    certificate, as documents are sent (`dian_client`). Answers are cached for
    ``settings.FACTURADOR_DIAN_ACQUIRER_CACHE_SECONDS`` per issuer, DIAN endpoint and identification.

    A query: it changes nothing and writes no audit entry, so read-only members may use it. Refusals:
    ``einvoice.acquirer.id_type_invalid``/``number_invalid`` (400), ``einvoice.acquirer.not_found`` (404: DIAN
    does not know the buyer), ``einvoice.acquirer.unavailable`` (503: DIAN could not be reached — the message is
    generic, the detail goes to the log), ``einvoice.software.missing`` and ``einvoice.certificate.*``."""
    from facturador.dian.ws.client import DianSoapFault, DianTransportError

    id_type, number = clean_acquirer_id(id_type, number)
    mode = active_mode(issuer)
    client = dian_client(issuer, mode, timeout=min(settings.FACTURADOR_DIAN_TIMEOUT, 20.0), retries=1)
    digest = hashlib.sha256(f"{issuer.pk}|{client.endpoint}|{id_type}|{number}".encode()).hexdigest()[:32]
    key = f"einvoice.acquirer:{digest}"
    found = cache.get(key)
    if found is None:
        try:
            answer = client.get_acquirer(id_type, number)
        except DianTransportError as exc:
            logger.warning("GetAcquirer %s %s for issuer %s failed: %s", id_type, number, issuer.pk, exc)
            raise DianUnavailable("einvoice.acquirer.unavailable", outbound.CONNECTION_FAILED,
                                  details={"reason": exc.code}) from exc
        except DianSoapFault as exc:
            logger.warning("GetAcquirer %s %s for issuer %s: DIAN answered a fault: %s", id_type, number, issuer.pk,
                           exc)
            raise DianUnavailable("einvoice.acquirer.unavailable", exc.message, details={"reason": exc.code}) from exc
        if answer.ok:
            found = {"name": (answer.name or "").strip(), "email": (answer.email or "").strip()}
        elif answer.status_code in ("404", "200"):
            found = {}
        else:
            logger.warning("GetAcquirer %s %s for issuer %s: status %s %s", id_type, number, issuer.pk,
                           answer.status_code, answer.message)
            raise DianUnavailable("einvoice.acquirer.unavailable", "La DIAN no respondió la consulta del adquiriente; "
                                  "intente más tarde.", details={"status": answer.status_code})
        cache.set(key, found, settings.FACTURADOR_DIAN_ACQUIRER_CACHE_SECONDS)
    if not found:
        raise NotFound("einvoice.acquirer.not_found", f"La DIAN no tiene registrado un adquiriente con "
                       f"identificación {m.ID_TYPES[id_type].lower()} {number}.", field="number")
    return Acquirer(id_type, number, found["name"], found["email"])
