"""Built-in job kinds."""

import time

from facturador.core.jobs import JobContext, job_handler, worker_name


@job_handler("core.ping")
def ping(ctx: JobContext):
    """Checks the workers: counts `steps` steps of `seconds` each, and records who ran it.

    Each execution appends to result["runs"], so a job run twice is visible.
    """
    steps = int(ctx.params.get("steps", 1))
    seconds = float(ctx.params.get("seconds", 0))
    runs = ctx.job.result.get("runs", []) + [worker_name()]
    ctx.set_result(runs=runs)
    ctx.progress(0, total=steps, message="Comprobando trabajadores", force=True)
    for i in range(steps):
        ctx.check_cancel()
        time.sleep(seconds)
        ctx.progress(i + 1)
    ctx.progress(steps, message="Trabajador en funcionamiento", force=True)
