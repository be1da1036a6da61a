"""Job handlers of the enablement app."""

from facturador.core.jobs import JobContext, JobFailed, job_handler


@job_handler("habilitacion.test_set")
def run_test_set(ctx: JobContext):
    from facturador.einvoice.services import EinvoiceError
    from facturador.habilitacion import services
    from facturador.habilitacion.models import TestSetRun

    run = TestSetRun.objects.select_related("operation_mode", "issuer", "created_by").filter(
        pk=ctx.params["run"], issuer=ctx.issuer).first()
    if run is None:
        raise JobFailed("El set de pruebas ya no existe.")
    try:
        services.execute(run, ctx)
    except (services.HabilitacionError, EinvoiceError) as exc:
        TestSetRun.objects.filter(pk=run.pk).update(outcome=TestSetRun.Outcome.FAILED, dian_message=exc.message[:500])
        raise JobFailed(exc.message, str(exc)) from exc
