"""Filing what arrived, and the inbox's queries.

`record_intake` stores the arrival first (its own transaction: nothing that arrived is lost, even if reading it
crashes); `process_intake` reads it (`reception.intake`) and, in one transaction, files its documents and the
outcome of each member — a document is new (filed), a duplicate (same CUFE/CUDE/UUID: counted on the existing
document), set aside (addressed to another NIT/RFC) or an error.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from pathlib import PurePosixPath

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from facturador.core.errors import Invalid
from facturador.core.models import Issuer
from facturador.reception import intake as reader
from facturador.reception import satcerts
from facturador.reception.models import Intake, ReceivedDocument

logger = logging.getLogger(__name__)


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
    doc = _new_document(issuer, intake, cand, reason, now)
    try:
        _write_files(doc, cand)
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


def _new_document(issuer: Issuer, intake: Intake, cand: reader.Candidate, reason: str, now) -> ReceivedDocument:
    """The unsaved row of a new document (its files not written yet: `_write_files`)."""
    return ReceivedDocument(
        issuer=issuer, intake=intake, source=intake.source, status="set_aside" if reason else "received",
        set_aside_reason=reason, verification=reader.verdict(cand.findings), findings=cand.findings,
        report=cand.report, verified_at=now, last_arrival_at=now,
        **{k: v for k, v in cand.fields.items() if k in _FIELDS})


def _write_files(doc: ReceivedDocument, cand: reader.Candidate) -> None:
    """Write the document's files (the caller deletes them with `_delete_files` when its row is not stored).
    Its container (an AttachedDocument) and its supplier's PDF are in its intake's file, already stored: only
    where they are is recorded (`members`), and they are read from there when downloaded (`reception.files`), as
    are the XML and DIAN's ApplicationResponse inside the container. A document without a container keeps its
    XML (and a loose ApplicationResponse)."""
    doc.members = cand.members
    if "container" in cand.members:
        return
    stem = clean_filename(cand.fields["number"] or cand.uuid[:16])
    doc.xml.save(f"{stem}.xml", ContentFile(cand.xml), save=False)
    if cand.application_response:
        doc.application_response.save(f"ApplicationResponse-{stem}.xml", ContentFile(cand.application_response),
                                      save=False)


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


def _arrival_name(intake: Intake) -> str:
    """The name an arrival is read under (its members' names start with it)."""
    return intake.original_name or "archivo"


def _read(intake: Intake, data: bytes) -> reader.Arrival:
    """`reception.intake.read_arrival` with the deployment's limits, XSD kit and SAT certificates (one place for
    every path: one arrival or a batch)."""
    return reader.read_arrival(_arrival_name(intake), data, limits=limits(),
                               schema_dir=settings.FACTURADOR_DIAN_SCHEMA_DIR or None,
                               pac_certificates=satcerts.lookup)


def intake_member(intake: Intake, where: list) -> bytes | None:
    """A member of the intake's stored file at ``where`` (`Candidate.members`), unpacked as when it was read; None
    when the stored file has no such member."""
    with intake.file.open("rb") as fh:
        data = fh.read()
    return reader.read_member(_arrival_name(intake), data, where, limits=limits())


def process_intake(intake: Intake, data: bytes | None = None) -> Intake:
    """Read the arrival and file its documents, all in one transaction; the intake records each outcome."""
    if data is None:
        with intake.file.open("rb") as fh:
            data = fh.read()
    issuer = intake.issuer
    try:
        arrival = _read(intake, data)
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
    values = _outcome(len(arrival.candidates), results, counts)
    Intake.objects.filter(pk=intake.pk).update(**values)
    for name, value in values.items():  # the caller's instance shows the outcome without reading it back
        setattr(intake, name, value)


#: the Intake fields an arrival's outcome sets (`_outcome`)
OUTCOME_FIELDS = ("status", "documents", "duplicates", "set_aside", "errors", "results", "processed_at",
                  "error_code", "error_message")


def _outcome(found: int, results: list[dict], counts: dict) -> dict:
    """The intake's values once read and filed: ``found`` documents, ``results`` one entry per member."""
    errors = sum(1 for r in results if r["outcome"] == "error")
    status = (Intake.Status.FAILED if not found else Intake.Status.PARTIAL if errors else Intake.Status.PROCESSED)
    first_error = next((r for r in results if r["outcome"] == "error"), None)
    return dict(
        status=status, documents=counts["filed"], duplicates=counts["duplicate"], set_aside=counts["set_aside"],
        errors=errors, results=results, processed_at=timezone.now(),
        error_code=first_error["code"] if first_error else "",
        error_message="\n".join(r["message"] for r in results if r["outcome"] == "error"))


# ----------------------------------------------------------------------------------------- batches
#: arrivals recorded and filed per transaction by `import_batch` (a folder, a zip of zips, a mailbox poll)
BATCH_SIZE = 100


def record_intakes(issuer: Issuer, *, source: str, arrivals, user=None) -> list[Intake]:
    """`record_intake` for many arrivals — ``(name, data, imap fields)`` — in one transaction (one INSERT).
    Their raw bytes are written first; when the rows cannot be stored, the files are removed and the error
    propagates (e.g. an IMAP UID recorded meanwhile by another poll: the caller records them one by one)."""
    intakes = []
    try:
        for name, data, imap in arrivals:
            name = clean_filename(name)
            intake = Intake(issuer=issuer, source=source, original_name=name, size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), created_by=user, **imap)
            intake.file.save(name, ContentFile(data), save=False)
            intakes.append(intake)
        with transaction.atomic():
            Intake.objects.bulk_create(intakes)
    except BaseException:
        for intake in intakes:
            intake.file.storage.delete(intake.file.name)
        raise
    return intakes


def import_batch(issuer: Issuer, *, source: str, arrivals, user=None) -> list[Intake]:
    """Record, read and file many arrivals (``(name, data)`` pairs), `BATCH_SIZE` per transaction.

    The same guarantees as one arrival at a time (`record_intake` + `process_intake`): every arrival is recorded
    (committed) before any is read, so a crash loses nothing; an arrival that cannot be read — or breaks the
    reader — becomes a failed arrival with its reason and never fails the others; the documents of a batch are
    filed in one transaction with one duplicate lookup, and the same document twice in a batch is filed once
    (the second a duplicate). Reading again imports nothing twice (CUFE/UUID unique per issuer)."""
    out: list[Intake] = []
    arrivals = list(arrivals)
    for start in range(0, len(arrivals), BATCH_SIZE):
        chunk = arrivals[start:start + BATCH_SIZE]
        intakes = record_intakes(issuer, source=source, user=user,
                                 arrivals=[(name, data, {}) for name, data in chunk])
        process_intakes(intakes, [data for _, data in chunk])
        out.extend(intakes)
    return out


def record_refused(issuer: Issuer, *, source: str, name: str, size: int, code: str, message: str,
                   user=None) -> Intake:
    """An arrival refused before reading (e.g. over the size cap): listed as failed, without its content."""
    intake = Intake.objects.create(issuer=issuer, source=source, original_name=clean_filename(name), size=size,
                                   created_by=user, status=Intake.Status.FAILED, errors=1, error_code=code,
                                   error_message=message, processed_at=timezone.now(),
                                   results=[{"member": clean_filename(name), "outcome": "error", "code": code,
                                             "message": message}])
    return intake


def _read_safely(intake: Intake, data: bytes):
    """(arrival, None) or (None, the failed intake's values): a reader that breaks fails this arrival only."""
    try:
        return _read(intake, data), None
    except reader.ArrivalError as exc:
        code, message = exc.code, exc.message
    except Exception:  # noqa: BLE001 — logged; the arrival's copy is kept for Reprocesar
        logger.exception("Reception: arrival %s could not be read", intake.pk)
        code = "reception.intake.unexpected"
        message = ("El archivo no se pudo procesar por un error inesperado, que quedó registrado para el equipo "
                   "técnico; el archivo original está guardado.")
    return None, dict(status=Intake.Status.FAILED, error_code=code, error_message=message, errors=1,
                      documents=0, duplicates=0, set_aside=0, processed_at=timezone.now(),
                      results=[{"member": intake.original_name, "outcome": "error", "code": code, "message": message}])


def process_intakes(intakes: list[Intake], datas: list[bytes]) -> list[Intake]:
    """`process_intake` for recorded arrivals of one issuer: each read on its own, then all their documents filed
    in one transaction (bulk INSERT, one duplicate lookup). Should the batch's rows not be storable (the same
    document filed meanwhile by a concurrent arrival), nothing of it stays and each arrival is filed on its own."""
    if not intakes:
        return intakes
    issuer = intakes[0].issuer
    read = [(intake, *_read_safely(intake, data)) for intake, data in zip(intakes, datas)]
    written: list[ReceivedDocument] = []
    try:
        with transaction.atomic():
            _file_batch(issuer, read, written)
    except IntegrityError:
        for doc in written:
            _delete_files(doc)
        for (intake, arrival, failed), data in zip(read, datas):
            if arrival is None:
                Intake.objects.filter(pk=intake.pk).update(**failed)
            else:
                process_intake(intake, data)
    except BaseException:
        for doc in written:  # rolled back: their rows are gone, so are their files
            _delete_files(doc)
        raise
    return intakes


def _file_batch(issuer, read, written: list[ReceivedDocument]) -> None:
    now = timezone.now()
    known = _known_documents(issuer, [c.uuid for _, arrival, _ in read if arrival for c in arrival.candidates])
    again: dict[int, int] = {}  # pk of a document filed before → arrivals of it in this batch
    plans = []  # (intake, found, results, counts, [(cand, outcome, doc)])
    for intake, arrival, failed in read:
        if arrival is None:
            plans.append((intake, failed, None, None, None))
            continue
        results = [dict(e, outcome="error") for e in arrival.errors]
        counts = {"filed": 0, "duplicate": 0, "set_aside": 0}
        outcomes = []
        for cand in arrival.candidates:
            existing = known.get(cand.uuid)
            if existing is not None:
                if existing.intake_id != intake.pk:  # not this arrival read again
                    if existing.pk is None:  # filed by an earlier arrival of this batch
                        existing.arrivals += 1
                    else:
                        again[existing.pk] = again.get(existing.pk, 0) + 1
                outcomes.append((cand, "duplicate", existing))
                counts["duplicate"] += 1
                continue
            reason = _addressed_elsewhere(issuer, cand)
            doc = _new_document(issuer, intake, cand, reason, now)
            written.append(doc)
            _write_files(doc, cand)
            known[cand.uuid] = doc
            outcome = "set_aside" if reason else "filed"
            outcomes.append((cand, outcome, doc))
            counts[outcome] += 1
        plans.append((intake, arrival, results, counts, outcomes))
    new = [doc for doc in written if doc.pk is None]
    if new:
        ReceivedDocument.objects.bulk_create(new)
    for pk, n in again.items():
        ReceivedDocument.objects.filter(pk=pk).update(arrivals=F("arrivals") + n, last_arrival_at=now)
    for intake, arrival, results, counts, outcomes in plans:
        if results is None:  # could not be read: ``arrival`` holds its failed values
            values = arrival
        else:
            for cand, outcome, doc in outcomes:
                results.append({"member": cand.member, "outcome": outcome, "document": doc.pk, "number": doc.number,
                                "code": "", "message": doc.set_aside_reason if outcome == "set_aside" else ""})
            if not arrival.candidates and not arrival.errors:
                results.append({"member": intake.original_name, "outcome": "error",
                                "code": "reception.file.no_documents",
                                "message": f"«{intake.original_name}» no contiene facturas electrónicas ni CFDI."})
            values = _outcome(len(arrival.candidates), results, counts)
        for name, value in values.items():
            setattr(intake, name, value)
    _save_outcomes([intake for intake, *_ in plans])


def _save_outcomes(intakes: list[Intake]) -> None:
    """UPDATE each intake's outcome fields: one prepared statement executed for all (``bulk_update`` builds a
    CASE per field and row, which cost more than reading the documents)."""
    fields = [Intake._meta.get_field(name) for name in OUTCOME_FIELDS]
    qn = connection.ops.quote_name
    sql = (f"UPDATE {qn(Intake._meta.db_table)} SET " + ", ".join(f"{qn(f.column)} = %s" for f in fields) +
           f" WHERE {qn(Intake._meta.pk.column)} = %s")
    rows = [[f.get_db_prep_save(getattr(i, f.attname), connection) for f in fields] + [i.pk] for i in intakes]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


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
