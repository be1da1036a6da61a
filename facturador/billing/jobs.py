"""The billing app's job handlers (registered when the app is ready, see `apps.py`).

- "billing.batch": generates a batch (numbering, PDFs, print file and zip); the engine is in `billing.batch`.
- "billing.batch_render": a helper that renders (and, in electronic batches, signs) leased chunks of a big batch.
- "billing.batch_send": sends the signed DIAN invoices of an electronic batch in zips and follows DIAN's answers
  (`billing.electronic.send_batch`), beside the rendering.

- "billing.accounts_file": the web UI's check (dry run) or import of an accounts file (`accounts_import.run`); the
  job's result is the report the page shows.

A batch's state is its job's (`Batch.status` reads `Batch.job.status`); the handlers only store outcomes.
"""

from facturador.billing import accounts_import, electronic
from facturador.billing import batch as engine
from facturador.billing.models import Batch
from facturador.core import audit, jobs
from facturador.core.actors import WEB, Actor
from facturador.core.errors import Refusal


def _batch(ctx: jobs.JobContext) -> Batch:
    return Batch.objects.select_related("issuer", "template").get(pk=ctx.params["batch_id"], issuer=ctx.issuer)


@jobs.job_handler("billing.batch")
def run_batch(ctx: jobs.JobContext):
    return engine.generate(ctx, _batch(ctx))


@jobs.job_handler("billing.batch_render")
def run_batch_helper(ctx: jobs.JobContext):
    engine.help_render(ctx, _batch(ctx))


@jobs.job_handler(electronic.SEND_KIND)
def run_batch_send(ctx: jobs.JobContext):
    return electronic.send_batch(ctx, _batch(ctx))


@jobs.job_handler(accounts_import.JOB_KIND)
def run_accounts_file(ctx: jobs.JobContext):
    p, issuer = ctx.params, ctx.issuer
    path = accounts_import.stored_upload(issuer, p["token"])
    if path is None:
        raise jobs.JobFailed("El archivo ya no está disponible; cárguelo de nuevo.", "accounts file upload is gone")
    ctx.progress(message="Revisando el archivo" if p["dry_run"] else "Importando las cuentas", force=True)
    try:
        report = accounts_import.run(issuer, path, p["filename"], dry_run=p["dry_run"],
                                     valid_only=p.get("valid_only", False), period=p["opening_period"])
    except Refusal as r:
        ctx.job.result = {"refusal": {"code": r.code, "message": r.message, "details": r.details}}
        raise jobs.JobFailed(r.message, f"accounts file refused: {r.code}") from r
    ctx.job.result = report.to_dict()
    ctx.progress(report.rows_read, total=report.rows_read, errors=report.rows_read - report.rows_valid,
                 message="Revisión terminada" if p["dry_run"] else "Cuentas importadas", force=True)
    if not p["dry_run"]:
        user = ctx.job.created_by
        actor = Actor(user=user, channel=WEB, ip=p.get("ip"), name=user.get_username() if user else "")
        audit.record("account.import", actor=actor, issuer=issuer,
                     summary=accounts_import.audit_summary(p["filename"], report, p["opening_period"]))
        accounts_import.discard_upload(issuer, p["token"])
