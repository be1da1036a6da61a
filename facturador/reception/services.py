"""Filing what arrived, and the inbox's queries.

`record_intake` stores the arrival first (its own transaction: nothing that arrived is lost, even if reading it
crashes); `process_intake` reads it (`reception.intake`) and, in one transaction, files its documents and the
outcome of each member — a document is new (filed), a duplicate (same CUFE/CUDE/UUID: counted on the existing
document), set aside (addressed to another NIT/RFC) or an error.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import PurePosixPath

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from facturador.core.errors import Invalid
from facturador.core.models import Issuer
from facturador.reception import intake as reader
from facturador.reception import satcerts
from facturador.reception.models import Intake, ReceivedDocument


def limits() -> reader.Limits:
    return reader.Limits(max_bytes=settings.FACTURADOR_RECEPTION_MAX_BYTES,
                         max_members=settings.FACTURADOR_RECEPTION_MAX_MEMBERS,
                         max_unpacked_bytes=settings.FACTURADOR_RECEPTION_MAX_UNPACKED_BYTES)


def clean_filename(name: str) -> str:
    name = PurePosixPath((name or "").replace("\\", "/")).name
    return (get_valid_filename(name) or "archivo")[:200]


def record_intake(issuer: Issuer, *, source: str, name: str, data: bytes, user=None, **imap) -> Intake:
    """Store what arrived (raw bytes) before reading it."""
    name = clean_filename(name)
    intake = Intake(issuer=issuer, source=source, original_name=name, size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), created_by=user, **imap)
    intake.file.save(name, ContentFile(data), save=False)
    try:
        with transaction.atomic():
            intake.save()
    except BaseException:  # e.g. the IMAP UID recorded meanwhile by another poll: no stray copy stays
        intake.file.storage.delete(intake.file.name)
        raise
    return intake


def _addressed_elsewhere(issuer: Issuer, cand: reader.Candidate) -> str:
    buyer = cand.fields.get("buyer_tax_id") or ""
    own = "".join(ch for ch in issuer.tax_id if ch.isalnum()).upper()
    if cand.country != issuer.country:
        return (f"Es un documento de {'Colombia' if cand.country == 'CO' else 'México'} y este emisor es de "
                f"{'Colombia' if issuer.country == 'CO' else 'México'}.")
    if buyer != own:
        label = "NIT" if issuer.country == "CO" else "RFC"
        return f"Está dirigido al {label} {buyer or '(sin identificar)'}, no al {label} {own} de este emisor."
    return ""


def _file(issuer: Issuer, intake: Intake, cand: reader.Candidate, known: dict | None = None
          ) -> tuple[str, ReceivedDocument]:
    """('filed' | 'set_aside' | 'duplicate', document) for one candidate; inside the caller's transaction.
    ``known``: the issuer's documents with the arrival's uuids, looked up at once (`_known_documents`)."""
    now = timezone.now()
    if known is None:
        known = _known_documents(issuer, [cand.uuid])
    existing = known.get(cand.uuid)
    if existing is not None:
        if existing.intake_id != intake.pk:  # this arrival read again (reprocess) is not another arrival
            ReceivedDocument.objects.filter(pk=existing.pk).update(arrivals=F("arrivals") + 1, last_arrival_at=now)
        return "duplicate", existing
    reason = _addressed_elsewhere(issuer, cand)
    f = cand.fields
    doc = ReceivedDocument(
        issuer=issuer, intake=intake, source=intake.source, status="set_aside" if reason else "received",
        set_aside_reason=reason, verification=reader.verdict(cand.findings), findings=cand.findings,
        report=cand.report, verified_at=now, last_arrival_at=now,
        **{k: v for k, v in f.items() if k in _FIELDS})
    stem = clean_filename(f["number"] or cand.uuid[:16])
    try:
        doc.xml.save(f"{stem}.xml", ContentFile(cand.xml), save=False)
        if cand.application_response:
            doc.application_response.save(f"ApplicationResponse-{stem}.xml",
                                          ContentFile(cand.application_response), save=False)
        if cand.container:
            doc.container.save(f"ad{stem}.xml", ContentFile(cand.container), save=False)
        if cand.pdf:
            doc.pdf.save(clean_filename(cand.pdf_name or f"{stem}.pdf"), ContentFile(cand.pdf), save=False)
        with transaction.atomic():
            doc.save()
    except IntegrityError:  # the same document filed at the same moment by another arrival
        _delete_files(doc)
        existing = ReceivedDocument.objects.get(issuer=issuer, uuid=cand.uuid)
        ReceivedDocument.objects.filter(pk=existing.pk).update(arrivals=F("arrivals") + 1, last_arrival_at=now)
        return "duplicate", existing
    except BaseException:
        _delete_files(doc)
        raise
    return ("set_aside" if reason else "filed"), doc


def _known_documents(issuer: Issuer, uuids) -> dict[str, ReceivedDocument]:
    """uuid → the issuer's document (only pk, uuid and number loaded), in one query."""
    return {d.uuid: d for d in ReceivedDocument.objects.filter(issuer=issuer, uuid__in=set(uuids)).order_by()
            .only("pk", "uuid", "number", "intake_id")}


FILE_FIELDS = ("xml", "application_response", "container", "pdf")


def _delete_files(doc: ReceivedDocument) -> None:
    """Remove the files written for a document whose row was not stored (nothing half-written stays)."""
    for name in FILE_FIELDS:
        f = getattr(doc, name)
        if f:
            f.storage.delete(f.name)


_FIELDS = {f.name for f in ReceivedDocument._meta.get_fields()} - {"id", "issuer", "intake", "status"}


def process_intake(intake: Intake, data: bytes | None = None) -> Intake:
    """Read the arrival and file its documents, all in one transaction; the intake records each outcome."""
    if data is None:
        with intake.file.open("rb") as fh:
            data = fh.read()
    issuer = intake.issuer
    try:
        arrival = reader.read_arrival(intake.original_name or "archivo", data, limits=limits(),
                                      schema_dir=settings.FACTURADOR_DIAN_SCHEMA_DIR or None,
                                      pac_certificates=satcerts.lookup)
    except reader.ArrivalError as exc:
        Intake.objects.filter(pk=intake.pk).update(status=Intake.Status.FAILED, error_code=exc.code,
                                                   error_message=exc.message, errors=1, processed_at=timezone.now(),
                                                   results=[{"member": intake.original_name, "outcome": "error",
                                                             "code": exc.code, "message": exc.message}])
        intake.refresh_from_db()
        return intake
    results = [dict(e, outcome="error") for e in arrival.errors]
    counts = {"filed": 0, "duplicate": 0, "set_aside": 0}
    written: list[ReceivedDocument] = []
    try:
        with transaction.atomic():
            _file_all(issuer, intake, arrival, results, counts, written)
    except BaseException:
        for doc in written:  # rolled back: their rows are gone, so are their files
            _delete_files(doc)
        intake.refresh_from_db()
        raise
    return intake


def _file_all(issuer, intake, arrival, results, counts, written) -> None:
    known = _known_documents(issuer, [c.uuid for c in arrival.candidates]) if arrival.candidates else {}
    for cand in arrival.candidates:
        outcome, doc = _file(issuer, intake, cand, known)
        if outcome != "duplicate":
            written.append(doc)
            known[cand.uuid] = doc  # the same document twice in one arrival: the second is a duplicate
        counts[outcome] += 1
        results.append({"member": cand.member, "outcome": outcome, "document": doc.pk, "number": doc.number,
                        "code": "", "message": doc.set_aside_reason if outcome == "set_aside" else ""})
    if not arrival.candidates and not arrival.errors:
        results.append({"member": intake.original_name, "outcome": "error", "code": "reception.file.no_documents",
                        "message": f"«{intake.original_name}» no contiene facturas electrónicas ni CFDI."})
    errors = sum(1 for r in results if r["outcome"] == "error")
    found = len(arrival.candidates)
    status = (Intake.Status.FAILED if not found else Intake.Status.PARTIAL if errors else Intake.Status.PROCESSED)
    first_error = next((r for r in results if r["outcome"] == "error"), None)
    values = dict(
        status=status, documents=counts["filed"], duplicates=counts["duplicate"], set_aside=counts["set_aside"],
        errors=errors, results=results, processed_at=timezone.now(),
        error_code=first_error["code"] if first_error else "",
        error_message="\n".join(r["message"] for r in results if r["outcome"] == "error"))
    Intake.objects.filter(pk=intake.pk).update(**values)
    for name, value in values.items():  # the caller's instance shows the outcome without reading it back
        setattr(intake, name, value)


# ----------------------------------------------------------------------------------------- queries
def reception_address(issuer) -> str:
    """The address suppliers send invoices to: the one registered with DIAN in habilitación, else the issuer's
    invoice-reception e-mail."""
    if apps.is_installed("facturador.habilitacion"):
        from facturador.habilitacion.models import Enablement

        registered = Enablement.objects.filter(issuer=issuer).values_list("reception_email", flat=True).first()
        if registered:
            return registered
    return issuer.email or ""


FILTER_STATES = {
    "received": Q(status="received"), "set_aside": Q(status="set_aside"),
    "ok": Q(verification="ok"), "findings": Q(verification="findings"), "failed": Q(verification="failed"),
    "dian_rejected": Q(dian_validation="rejected"),
}


def clean_date(value: str, *, field: str):
    """An AAAA-MM-DD filter value as a date; anything else is refused naming the field."""
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("reception.filter.bad_date", f"Fecha no válida: «{value[:40]}»; use AAAA-MM-DD.",
                      field=field) from None


def filter_documents(issuer, *, supplier: str = "", state: str = "", country: str = "", date_from=None,
                     date_to=None, q: str = ""):
    qs = ReceivedDocument.objects.filter(issuer=issuer)
    if supplier:
        qs = qs.filter(Q(supplier_tax_id__icontains=supplier) | Q(supplier_name__icontains=supplier))
    if state in FILTER_STATES:
        qs = qs.filter(FILTER_STATES[state])
    elif state.startswith("dian_state:"):
        qs = qs.filter(dian_state=state.split(":", 1)[1])
    elif state.startswith("sat_state:"):
        qs = qs.filter(sat_state=state.split(":", 1)[1])
    if country:
        qs = qs.filter(country=country)
    if date_from:
        qs = qs.filter(issue_date__gte=date_from)
    if date_to:
        qs = qs.filter(issue_date__lte=date_to)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(uuid__icontains=q.lower()))
    return qs


def find_document(issuer, key: str) -> ReceivedDocument:
    """One of the issuer's received documents by its CUFE / CUDE / UUID (any case) or, when unique, its number;
    ``NotFound`` otherwise (the CLI's ``--document``)."""
    from facturador.core.errors import NotFound

    key = (key or "").strip()
    docs = ReceivedDocument.objects.filter(issuer=issuer)
    found = docs.filter(uuid=key.lower()).first() if key else None
    if found is None and key:
        by_number = list(docs.filter(number=key)[:2])
        found = by_number[0] if len(by_number) == 1 else None
    if found is None:
        raise NotFound("reception.document.not_found", f"No hay un documento recibido con CUFE/UUID o número «{key}».",
                       field="document")
    return found
