"""Job handlers of the enablement app."""

from facturador.core.jobs import JobCancelled, JobContext, JobFailed, job_handler


@job_handler("habilitacion.test_set")
def run_test_set(ctx: JobContext):
    from facturador.einvoice.services import EinvoiceError
    from facturador.habilitacion import services
    from facturador.habilitacion.models import TestSetRun

    run = TestSetRun.objects.select_related("operation_mode", "issuer", "created_by").filter(
        pk=ctx.params["run"], issuer=ctx.issuer).first()
    if run is None:
        raise JobFailed("El set de pruebas ya no existe.")
    runs = TestSetRun.objects.filter(pk=run.pk).exclude(outcome=TestSetRun.Outcome.ACCEPTED)
    try:
        services.execute(run, ctx)
    except JobCancelled:
        runs.update(outcome=TestSetRun.Outcome.WAITING, dian_message="Procesamiento cancelado por el usuario.")
        raise
    except (services.HabilitacionError, EinvoiceError) as exc:
        runs.update(outcome=TestSetRun.Outcome.FAILED, dian_message=exc.message[:500])
        raise JobFailed(exc.message, str(exc)) from exc
    except Exception:
        runs.update(outcome=TestSetRun.Outcome.FAILED, dian_message="Error interno; revise el registro del servidor.")
        raise
