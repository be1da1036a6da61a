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
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from facturador.core import certificates, jobs, numbering
from facturador.core.models import Certificate, IssuedDocument, NumberingRange
from facturador.dian import model as m
from facturador.dian import totals as dian_totals
from facturador.dian import ubl, validate, xades
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

def _dec(value, path, *, positive=False) -> Decimal:
    try:
        d = Decimal(str(value).replace(",", "."))
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise EinvoiceError("input", path, f"'{value}' no es un número válido.") from exc
    if not d.is_finite() or d < 0 or (positive and d == 0):
        raise EinvoiceError("input", path, "El valor debe ser un número mayor que cero." if positive else
                            "El valor no puede ser negativo.")
    return d


def _date(value, path):
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise EinvoiceError("input", path, f"La fecha '{value}' no tiene el formato AAAA-MM-DD.") from exc


def party_from_issuer(issuer) -> m.Party:
    return m.Party(
        id_number=issuer.tax_id, dv=issuer.check_digit or None, name=issuer.legal_name, id_type="31",
        legal_person=issuer.person_type == "1", responsibilities=issuer.responsibilities or ["R-99-PN"],
        tax_scheme="01", email=issuer.email, commercial_name=issuer.trade_name, phone=issuer.phone,
        address=m.Address(city_code=issuer.municipality_code or "11001", city_name=issuer.city or "Bogotá, D.C.",
                          department_name=issuer.department or "Bogotá", line=issuer.address or "Sin dirección"),
    )


def customer_from_payload(c: dict) -> m.Party:
    if not isinstance(c, dict):
        raise EinvoiceError("input", "customer", "Faltan los datos del cliente.")
    if c.get("consumidor_final"):
        return m.Party.consumidor_final(email=c.get("email", ""))
    id_type = str(c.get("id_type") or "31")
    number = str(c.get("id_number") or "").replace(".", "").strip()
    if not number:
        raise EinvoiceError("FAK21" if id_type == "31" else "input", "customer.id_number", "Falta la identificación del cliente.")
    if not c.get("name"):
        raise EinvoiceError("input", "customer.name", "Falta el nombre o razón social del cliente.")
    dv = c.get("dv")
    if id_type == "31":
        expected = m.nit_dv(number) if number.isdigit() else None
        if expected is None:
            raise EinvoiceError("FAK21", "customer.id_number", "El NIT del cliente solo puede tener dígitos.")
        if dv not in (None, "") and str(dv) != expected:
            raise EinvoiceError("FAK24", "customer.dv", f"El dígito de verificación del NIT {number} es {expected}, no {dv}.")
    addr = c.get("address") or {}
    city = str(addr.get("city_code") or "11001")
    return m.Party(
        id_number=number, dv=str(dv) if dv not in (None, "") else None, name=c["name"], id_type=id_type,
        legal_person=bool(c.get("legal_person", id_type == "31")),
        responsibilities=c.get("responsibilities") or ["R-99-PN"], tax_scheme=c.get("tax_scheme", "ZZ"),
        email=c.get("email", ""),
        address=m.Address(city_code=city, city_name=addr.get("city_name") or "Bogotá, D.C.",
                          department_name=addr.get("department_name") or "Bogotá", line=addr.get("line") or "Sin dirección"),
    )


def lines_from_payload(items) -> list[m.Line]:
    if not items:
        raise EinvoiceError("input", "lines", "El documento necesita al menos una línea.")
    out = []
    for i, item in enumerate(items):
        path = f"lines[{i}]"
        if not item.get("description"):
            raise EinvoiceError("input", f"{path}.description", "Falta la descripción de la línea.")
        taxes = []
        for j, t in enumerate(item.get("taxes") or []):
            rate = _dec(t.get("rate"), f"{path}.taxes[{j}].rate")
            scheme = str(t.get("scheme", "01"))
            if scheme == "01" and rate not in m.IVA_RATES:
                raise EinvoiceError("FAX07", f"{path}.taxes[{j}].rate", f"La tarifa de IVA {rate} % no existe (0, 5 o 19 %).")
            taxes.append(m.Tax(scheme=scheme, rate=rate))
        out.append(m.Line(description=str(item["description"])[:300], quantity=_dec(item.get("quantity"), f"{path}.quantity", positive=True),
                          unit_price=_dec(item.get("unit_price"), f"{path}.unit_price"), unit_code=str(item.get("unit_code") or "94"),
                          taxes=taxes, code=str(item.get("code") or "")))
    return out


def build_model(issuer, mode: OperationMode, rng: NumberingRange, number: int, payload: dict,
                referenced: DianDocument | None = None, now: dt.datetime | None = None) -> m.Document:
    now = (now or timezone.now()).astimezone(COT)
    kind = payload.get("kind", "invoice")
    pay = payload.get("payment") or {}
    payment = m.Payment(method=str(pay.get("method") or "1"), means_code=str(pay.get("means_code") or "10"),
                        due_date=_date(pay.get("due_date"), "payment.due_date"))
    withholdings = [m.Withholding(scheme=str(w.get("scheme")), rate=_dec(w.get("rate"), f"withholdings[{i}].rate"))
                    for i, w in enumerate(payload.get("withholdings") or [])]
    ref = None
    if kind != "invoice":
        if referenced is None:
            raise EinvoiceError("CBG02" if kind == "credit_note" else "DBG02", "reference",
                                "La nota debe referenciar la factura que corrige.")
        ref = m.BillingReference(number=referenced.full_number, uuid=referenced.cufe, issue_date=referenced.issue_date)
    return m.Document(
        kind=kind, type_code=str(payload.get("type_code") or ""),
        numbering=m.Numbering(prefix=rng.prefix, number=number, resolution=rng.resolution_number, range_from=rng.range_from,
                              range_to=rng.range_to, valid_from=rng.valid_from, valid_to=rng.valid_to,
                              technical_key=rng.technical_key.reveal() if rng.technical_key else ""),
        software=m.Software(id=mode.software_id, pin=mode.software_pin.reveal(), provider_nit=mode.provider_nit),
        supplier=party_from_issuer(issuer), customer=customer_from_payload(payload.get("customer")),
        lines=lines_from_payload(payload.get("lines")), issue_date=now.date(), issue_time=now.time().replace(microsecond=0),
        environment="1" if mode.environment == "production" else "2", payment=payment, withholdings=withholdings,
        billing_reference=ref, discrepancy_code=str(payload.get("concept") or ""),
        discrepancy_description=str(payload.get("concept_description") or payload.get("description") or "Corrección"),
        notes=[str(n) for n in payload.get("notes") or []],
    )


def _referenced(issuer, payload) -> DianDocument | None:
    ref = payload.get("reference") or {}
    if payload.get("kind", "invoice") == "invoice" or not ref:
        return None
    qs = DianDocument.objects.filter(issuer=issuer, kind=DianDocument.Kind.INVOICE)
    doc = None
    if ref.get("document"):
        doc = qs.filter(pk=ref["document"]).first()
    elif ref.get("number"):
        number = str(ref["number"]).strip().upper()
        doc = next((d for d in qs.filter(number__in=[int("".join(ch for ch in number if ch.isdigit()) or 0)])
                    if d.full_number == number), None)
    if doc is None or not doc.cufe:
        raise EinvoiceError("CBG04b" if payload.get("kind") == "credit_note" else "DBG04b", "reference",
                            "La factura referenciada no existe o no ha sido firmada.")
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
