"""The "imports.run" job: stream the file, validate each row, load the lines, reconcile, commit.

Restart-safe: a re-run (after a killed worker) first removes this import's staging rows and row
errors, then starts over (on PostgreSQL the dead worker's transaction was rolled back, so there is
nothing else to undo); if the load had already committed, it only finishes up.
"""

from __future__ import annotations

import logging

from facturador.core.jobs import JobContext, job_handler
from facturador.core.models import Job
from facturador.imports import pipeline, services, staging
from facturador.imports.models import ImportJob

logger = logging.getLogger(__name__)


@job_handler(services.KIND)
def run_import(ctx: JobContext):
    imp = ImportJob.objects.select_related("operator", "template", "issuer").get(pk=ctx.params["import_id"])
    if imp.loaded_at:  # the swap committed before the previous worker died
        staging.clear_staging(imp.pk)
        ctx.progress(imp.rows_read, total=imp.rows_read, errors=imp.rows_invalid, message="Importación cargada", force=True)
        return Job.Status.FINISHED_WITH_ERRORS if imp.rows_invalid else Job.Status.FINISHED
    try:
        return pipeline.process(imp, ctx)
    except BaseException:
        # Cancelled, failed or crashed: nothing of this import may stay behind.
        try:
            staging.clear_staging(imp.pk)
            if not ImportJob.objects.filter(pk=imp.pk, loaded_at__isnull=False).exists():
                ImportJob.objects.filter(pk=imp.pk).update(phase=ImportJob.Phase.REJECTED)
        except Exception:
            logger.warning("Could not clean staging of import %s", imp.pk, exc_info=True)
        raise
