"""`facturador worker`: a django-tasks database worker plus the stale-job monitor."""

from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from facturador.core.jobs import StaleJobMonitor


class Command(DbWorkerCommand):
    help = "Run a background worker (database queue). Start as many as you like, on one or many machines."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--stale-check-every", type=float, default=30.0,
                            help="Seconds between checks for jobs left by dead workers (default 30)")

    def handle(self, *args, stale_check_every=30.0, **options):
        options.setdefault("reload", False)
        options["reload"] = False
        monitor = StaleJobMonitor(every=stale_check_every)
        monitor.start()
        try:
            return super().handle(*args, **options)
        finally:
            monitor.stopped.set()
