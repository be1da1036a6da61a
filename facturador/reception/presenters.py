"""How a received document and an arrival are shown to programs (API-like JSON) and on the terminal."""

from facturador.core.rest import money_string
from facturador.reception.models import Intake, ReceivedDocument

OUTCOMES = {"filed": "recibido", "duplicate": "duplicado (ya estaba recibido)", "set_aside": "apartado",
            "error": "error", "ignored": "ignorado (sin facturas adjuntas)"}


def document_json(d: ReceivedDocument) -> dict:
    return {
        "id": d.pk, "country": d.country, "kind": d.kind, "type_code": d.type_code, "status": d.status,
        "set_aside_reason": d.set_aside_reason, "supplier_tax_id": d.supplier_tax_id, "supplier_name": d.supplier_name,
        "buyer_tax_id": d.buyer_tax_id, "series": d.series, "number": d.number,
        "issue_date": d.issue_date.isoformat() if hasattr(d.issue_date, "isoformat") else d.issue_date,
        "currency": d.currency, "subtotal": money_string(d.subtotal), "tax_total": money_string(d.tax_total),
        "withholding_total": money_string(d.withholding_total), "total": money_string(d.total), "uuid": d.uuid,
        "verification": d.verification, "findings": d.findings, "dian_validation": d.dian_validation,
        "dian_response_code": d.dian_response_code, "dian_rules": d.dian_rules, "dian_state": d.dian_state,
        "sat_state": d.sat_state, "stamp_check": d.stamp_check, "dian_check": d.dian_check,
        "source": d.source, "arrivals": d.arrivals,
        "received_at": d.received_at.isoformat() if d.received_at else None,
        "has_pdf": d.has_pdf, "intake": d.intake_id,
    }


def intake_json(i: Intake) -> dict:
    return {"id": i.pk, "source": i.source, "status": i.status, "file": i.original_name, "documents": i.documents,
            "duplicates": i.duplicates, "set_aside": i.set_aside, "errors": i.errors, "results": i.results,
            "received_at": i.received_at.isoformat() if i.received_at else None}


def intake_text(i: Intake) -> str:
    lines = [f"{i.original_name}: {i.get_status_display()} — {i.documents} nuevos, {i.duplicates} duplicados, "
             f"{i.set_aside} apartados, {i.errors} errores"]
    for r in i.results:
        label = OUTCOMES.get(r["outcome"], r["outcome"])
        what = r.get("number") or r.get("member") or ""
        lines.append(f"  {what}: {label}" + (f" — {r['message']}" if r.get("message") else ""))
    return "\n".join(lines)


def event_json(e) -> dict:
    """A DIAN event (reception.ReceptionEvent) for programs: the API's shape."""
    return {"id": e.pk, "document": e.document_id, "own_document": e.own_document_id, "code": e.code,
            "description": e.get_code_display(), "claim_reason": e.claim_reason, "number": e.number, "cude": e.cude,
            "state": e.state, "dian_status_code": e.dian_status_code, "dian_message": e.dian_message,
            "rules": e.rules, "sent_at": e.sent_at.isoformat() if e.sent_at else None,
            "answered_at": e.answered_at.isoformat() if e.answered_at else None,
            "emailed_at": e.emailed_at.isoformat() if e.emailed_at else None, "email_error": e.email_error,
            "job": e.job_id}


def event_text(e) -> str:
    lines = [f"Evento {e.code} ({e.get_code_display()}) {e.number}: {e.get_state_display()} — CUDE {e.cude}"]
    lines += [f"  Regla {r['code']}: {r['message']}" for r in e.rules if r.get("code")]
    return "\n".join(lines)
