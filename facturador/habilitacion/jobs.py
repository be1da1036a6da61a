"""Job handlers of the enablement app (registered when `apps.HabilitacionConfig.ready()` imports this module)."""

from facturador.core.errors import Refusal
from facturador.core.jobs import JobContext, JobFailed, job_handler
from facturador.habilitacion import services
from facturador.habilitacion.models import TestSetRun


@job_handler(services.JOB_KIND)
def run_test_set(ctx: JobContext):
    """Create, send and follow the documents of a test-set run (`services.execute`, idempotent).

    The run shows this job's state; a cancelled job leaves the run waiting, a refusal fails the job with
    its message (the run's stored fields are only DIAN's verdict on the set)."""
    run = TestSetRun.objects.select_related("operation_mode", "issuer", "created_by").filter(
        pk=ctx.params["run"], issuer=ctx.issuer).first()
    if run is None:
        raise JobFailed("El set de pruebas ya no existe.")
    try:
        services.execute(run, ctx)
    except Refusal as refusal:
        raise JobFailed(refusal.message, str(refusal)) from refusal
