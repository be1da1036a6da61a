"""Issuing DIAN documents for an issuer: build, pre-validate, sign, store, send, follow up.

The standards work is done by the pure library `facturador.dian`; this module ties it to the
issuer's data (certificate, numbering, operation mode) inside transactions, so a document that
fails validation or signing stores nothing and gives its number back.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from facturador.core import certificates, jobs, numbering
from facturador.core.models import Certificate, IssuedDocument, NumberingRange
from facturador.dian import model as m
from facturador.dian import totals as dian_totals
from facturador.dian import jsonio, ubl, validate, xades
from facturador.dian.errors import DianError
from facturador.einvoice.models import DianDocument, OperationMode

logger = logging.getLogger(__name__)
COT = ZoneInfo("America/Bogota")


class EinvoiceError(Exception):
    """A refusal with a DIAN rule code (or our own code), the offending field and a Spanish message."""

    def __init__(self, code, field, message, english=None):
        super().__init__(english or f"{code} {field}: {message}")
        self.code, self.field, self.message = code, field, message

    @property
    def display(self):
        where = f" [{self.field}]" if self.field else ""
        return f"{self.message} (regla {self.code}){where}" if self.code and self.code[0].isupper() else f"{self.message}{where}"


def active_mode(issuer, environment: str | None = None) -> OperationMode:
    qs = OperationMode.objects.filter(issuer=issuer, active=True)
    if environment:
        qs = qs.filter(environment=environment)
    mode = qs.first()
    if mode is None:
        raise EinvoiceError("no_software", "operation_mode",
                            "Registre primero el software de facturación (modo de operación) en la habilitación DIAN.")
    return mode


def signer_for(issuer) -> xades.Signer:
    cert = certificates.active_certificate(issuer, Certificate.Kind.PKCS12)
    if cert is None:
        raise EinvoiceError("no_certificate", "certificate", "Cargue el certificado de firma digital (.p12) del emisor.")
    try:
        return xades.load_pkcs12(cert.key_material.reveal(), cert.password.reveal())
    except DianError as exc:
        raise EinvoiceError(exc.code, "certificate", exc.message) from exc


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
        "phone": issuer.phone or "",
        "address": {"city_code": issuer.municipality_code or "11001", "city_name": issuer.city or "Bogotá, D.C.",
                    "department_name": issuer.department or "Bogotá", "line": issuer.address or "Sin dirección"},
    }


def build_model(issuer, mode: OperationMode, rng: NumberingRange, number: int, payload: dict,
                referenced: DianDocument | None = None, now: dt.datetime | None = None) -> m.Document:
    now = (now or timezone.now()).astimezone(COT)
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
        raise EinvoiceError(exc.code, exc.field, exc.message) from exc


def _referenced(issuer, payload) -> DianDocument | None:
    """The invoice a note corrects: {"document": id} or {"number": "SETP990000001"} among this issuer's invoices."""
    ref = payload.get("reference") or {}
    if payload.get("kind", "invoice") == "invoice" or not ref:
        return None
    qs = DianDocument.objects.filter(issuer=issuer, kind=DianDocument.Kind.INVOICE)
    doc = None
    if ref.get("document"):
        doc = qs.filter(pk=ref["document"]).first()
    elif ref.get("number"):
        full = str(ref["number"]).strip().upper()
        prefix = full.rstrip("0123456789")
        digits = full[len(prefix):]
        doc = qs.filter(prefix=prefix, number=int(digits)).first() if digits else None
    if doc is None or not doc.cufe:
        letter = "C" if payload.get("kind") == "credit_note" else "D"
        raise EinvoiceError(f"{letter}BG04b", "reference", "La factura referenciada no existe o no ha sido firmada.")
    return doc


# --- issuing -------------------------------------------------------------------------------------

def issue(issuer, payload: dict, *, user=None, environment: str | None = None, test_set: bool = False,
          send: bool = True, mode: OperationMode | None = None, now: dt.datetime | None = None) -> DianDocument:
    """Number, build, pre-validate, sign and store one document (all or nothing), then queue its sending."""
    if issuer.country != "CO":
        raise EinvoiceError("country", "issuer", "Los documentos DIAN son para emisores de Colombia.")
    mode = mode or active_mode(issuer, environment)
    environment = mode.environment
    signer = signer_for(issuer)
    kind = payload.get("kind", "invoice")
    if kind not in DianDocument.Kind.values:
        raise EinvoiceError("input", "kind", "Tipo de documento desconocido (invoice, credit_note o debit_note).")
    referenced = _referenced(issuer, payload)
    with transaction.atomic():
        try:
            rng = numbering.find_range(issuer, kind, environment)
        except numbering.NumberingError as exc:
            raise EinvoiceError("FAB05b" if kind == "invoice" else exc.code, "numbering", exc.message) from exc
        if environment == "production" and kind == "invoice" and not rng.technical_key:
            raise EinvoiceError("FAD06", "numbering", "La numeración de producción no tiene clave técnica: "
                                "sincronícela con la DIAN antes de facturar.")
        try:
            allocated = numbering.allocate(rng)
        except numbering.NumberingError as exc:
            raise EinvoiceError(exc.code, "numbering", exc.message) from exc
        doc_model = build_model(issuer, mode, rng, allocated.number, payload, referenced, now=now)
        try:
            root = ubl.build_xml(doc_model)
        except DianError as exc:
            raise EinvoiceError(exc.code, exc.field, exc.message) from exc
        findings = validate.rejections(validate.prevalidate(
            ubl.to_bytes(root), technical_key=doc_model.numbering.technical_key or None,
            schema_dir=settings.FACTURADOR_DIAN_SCHEMA_DIR or None,
            pin=doc_model.software.pin, software_id=mode.software_id, numbering=doc_model.numbering))
        if findings:
            f = findings[0]
            raise EinvoiceError(f.code, f.field, f.message_es)
        try:
            signed = xades.sign(root, signer, role="supplier")
        except DianError as exc:
            raise EinvoiceError(exc.code, exc.field, exc.message) from exc
        totals = dian_totals.compute(doc_model)
        cufe = root.findtext("{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}UUID")
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


def schedule_send(doc: DianDocument, user=None) -> bool:
    if doc.status in (DianDocument.Status.ACCEPTED, DianDocument.Status.REJECTED):
        return False
    job = jobs.create_job(doc.issuer, "einvoice.send", title=f"Envío a la DIAN de {doc}", params={"document": doc.pk},
                          user=user, total=1)
    DianDocument.objects.filter(pk=doc.pk).update(job=job)
    doc.job = job
    return True


# --- files -----------------------------------------------------------------------------------

def zip_bytes(doc: DianDocument) -> tuple[bytes, str]:
    name = f"{doc.full_number}.xml"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, bytes(doc.signed_xml))
        if doc.application_response:
            zf.writestr(f"ApplicationResponse-{doc.full_number}.xml", bytes(doc.application_response))
    return buf.getvalue(), f"{doc.full_number}.zip"


def download(doc: DianDocument, what: str):
    if what == "xml":
        if not doc.signed_xml:
            raise EinvoiceError("missing", "xml", "El documento no tiene XML firmado.")
        return bytes(doc.signed_xml), f"{doc.full_number}.xml", "application/xml"
    if what == "response":
        if not doc.application_response:
            raise EinvoiceError("missing", "response", "La DIAN aún no ha respondido.")
        return bytes(doc.application_response), f"ApplicationResponse-{doc.full_number}.xml", "application/xml"
    if what == "zip":
        content, name = zip_bytes(doc)
        return content, name, "application/zip"
    if what == "pdf":
        from facturador.einvoice.pdf import render

        return render(doc), f"{doc.full_number}.pdf", "application/pdf"
    if what == "attached":
        from facturador.einvoice.attached import attached_document

        if doc.status != DianDocument.Status.ACCEPTED:
            raise EinvoiceError("missing", "attached", "El contenedor se genera cuando la DIAN acepta el documento.")
        return attached_document(doc), f"ad{doc.full_number}.xml", "application/xml"
    raise EinvoiceError("missing", what, "Archivo desconocido.")
