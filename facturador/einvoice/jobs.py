"""Job handlers: sending documents to DIAN and following them until DIAN's final answer."""

from facturador.core.jobs import JobContext, JobFailed, job_handler
from facturador.einvoice import delivery
from facturador.einvoice.models import DianDocument


@job_handler("einvoice.send")
def send_document(ctx: JobContext):
    doc = DianDocument.objects.filter(pk=ctx.params["document"], issuer=ctx.issuer).first()
    if doc is None:
        raise JobFailed("El documento ya no existe.")
    ctx.progress(0, total=1, message=f"Enviando {doc.full_number} a la DIAN", force=True)
    delivery.send_and_follow(doc)
    doc.refresh_from_db()
    ctx.set_result(status=doc.status, code=doc.dian_status_code)
    ctx.progress(1, message=f"{doc.full_number}: {doc.get_status_display()}", errors=int(doc.status in ("rejected", "error")),
                 force=True)
