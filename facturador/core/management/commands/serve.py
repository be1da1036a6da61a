"""`facturador serve`: the whole product on one machine — web UI + background workers."""

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


def _static_fingerprint() -> str:
    """A digest of the names, sizes and times of every source static file (cheap: no file is read)."""
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    for finder in get_finders():
        for path, storage in finder.list([]):
            st = os.stat(storage.path(path))
            digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def collect_static():
    """`collectstatic`, skipped when the source files have not changed since the last run (compressing them
    all takes tens of CPU seconds, which every start of `bin/run` paid)."""
    stamp = Path(settings.STATIC_ROOT) / ".collected"
    fingerprint = _static_fingerprint()
    if stamp.exists() and stamp.read_text() == fingerprint:
        return
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint)


class Command(BaseCommand):
    help = "Migrate, then run the web UI (waitress) and N background workers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="background worker processes (default 1)")
        parser.add_argument("--threads", type=int, default=8, help="web server threads")
        parser.add_argument("--seed-demo", action="store_true", help="create demo data")
        parser.add_argument("--no-migrate", action="store_true")
        parser.add_argument("--no-collectstatic", action="store_true",
                            help="do not collect static files (a deployment step already did)")

    def _start_sandboxes(self):
        """The demo talks to local DIAN and PAC test services (real protocols), served from this process."""
        try:
            from facturador.cfdi.sandbox import PacSandbox
            from facturador.dian.sandbox import SandboxServer

            extra = {}
            if "facturador.einvoice" in settings.INSTALLED_APPS:
                from facturador.einvoice.demo import sandbox_config

                extra = sandbox_config()
            dian = SandboxServer(port=settings.FACTURADOR_DIAN_SANDBOX_PORT,
                                 state_file=str(settings.DATA_DIR / "dian-sandbox.json"), **extra).start()
            if "facturador.habilitacion" in settings.INSTALLED_APPS:
                # the demo's MUISCA: ranges registered in the wizard (form 1876) become known to the local service
                from facturador.habilitacion.demo import connect_local_dian

                connect_local_dian(dian.sandbox, dian.url)
            pac = PacSandbox(port=settings.FACTURADOR_PAC_SANDBOX_PORT)
            pac.start()
            self.stdout.write(f"Local DIAN test service at {dian.url}; local PAC at {pac.url}")
        except OSError as exc:
            self.stderr.write(f"Could not start the local test services ({exc}); DIAN/PAC calls of the demo will fail")

    def handle(self, host, port, workers, threads, seed_demo, no_migrate, no_collectstatic, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        if not no_collectstatic:
            collect_static()
        if seed_demo:
            call_command("seed_demo")
            self._start_sandboxes()
        procs: list[subprocess.Popen] = []
        stopping = threading.Event()

        def start_worker():
            return subprocess.Popen([sys.executable, "-m", "facturador", "worker", "--no-startup-delay"])

        for _ in range(workers):
            procs.append(start_worker())

        def supervise():
            while not stopping.wait(2):
                for i, p in enumerate(procs):
                    if p.poll() is not None and not stopping.is_set():
                        self.stderr.write(f"Worker exited with {p.returncode}; restarting it")
                        procs[i] = start_worker()

        threading.Thread(target=supervise, daemon=True).start()

        def shutdown():
            stopping.set()
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()

        def on_sigterm(*_):
            # Only raise here: waitress stops its loop on KeyboardInterrupt, and the cleanup runs below,
            # outside the signal handler (locks taken in a handler can deadlock the main thread).
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_sigterm)
        url = f"http://{host}:{port}/"
        self.stdout.write(f"Facturador at {url} with {workers} worker(s); data in {settings.DATA_DIR}")
        if seed_demo:
            from facturador.core.demo import DEMO_PASSWORD

            self.stdout.write(f"Log in at {url} as user 'demo', password '{DEMO_PASSWORD}'")
        self.stdout.flush()
        from waitress import serve

        from facturador.wsgi import application

        try:
            serve(application, host=host, port=port, threads=threads, ident="facturador")
        except KeyboardInterrupt:
            pass
        finally:
            shutdown()
