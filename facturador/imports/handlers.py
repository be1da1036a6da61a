from facturador.core.jobs import job_handler  # placeholder
