"""Job handlers of mass sends (registered by apps.py). The engine itself is in engine.py."""

from facturador.core import jobs
from facturador.core.models import Job
from facturador.mailing import engine
from facturador.mailing.models import MailSend

SEND = "mailing.send"


@jobs.job_handler(SEND)
def run_send(ctx: jobs.JobContext):
    """Send the pending rows of a send's ledger. Stopping (cancel) or an automatic stop leaves the rest pending
    for a resume; an automatic stop is recorded as the job's result["stop_reason"] (see MailSend.state)."""
    send = MailSend.objects.select_related("issuer").get(pk=ctx.params["send_id"])
    runner = engine.Engine(send, ctx)
    try:
        return runner.run()
    except engine.AutoStop as stop:
        runner.release_claimed(every_thread=True)
        runner.progress(force=True)
        ctx.set_result(stop_reason=stop.reason)
        ctx.progress(message=stop.reason, force=True)
        return Job.Status.FINISHED_WITH_ERRORS
    except Exception:  # cancelled by the user (JobCancelled), a crash: leave no row reserved
        runner.release_claimed(every_thread=True)
        raise
