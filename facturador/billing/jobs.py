"""The billing app's job handlers (registered when the app is ready, see `apps.py`).

- "billing.batch": generates a batch (numbering, PDFs, print file and zip); the engine is in `billing.batch`.
- "billing.batch_render": a helper that renders (and, in electronic batches, signs) leased chunks of a big batch.
- "billing.batch_send": sends the signed DIAN invoices of an electronic batch in zips and follows DIAN's answers
  (`billing.electronic.send_batch`), beside the rendering.

A batch's state is its job's (`Batch.status` reads `Batch.job.status`); the handlers only store outcomes.
"""

from facturador.billing import batch as engine
from facturador.billing import electronic
from facturador.billing.models import Batch
from facturador.core import jobs


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
