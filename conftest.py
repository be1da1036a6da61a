"""Shared test fixtures: data dir, issuers and users, a real SMTP server, worker processes, a browser."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# FACTURADOR_DATA_DIR is read by the settings, which pytest-django loads before this file:
# bin/test points it to var/test-data; worker processes get the same value (see start_worker).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
# The local DIAN and PAC services the tests start listen on loopback ports (core.outbound); for subprocesses.
LOCAL_TEST_SERVICES = "http://127.0.0.1,http://localhost"
os.environ.setdefault("FACTURADOR_ALLOWED_ENDPOINTS", LOCAL_TEST_SERVICES)
ARTIFACTS = Path(os.environ.get("FACTURADOR_TEST_ARTIFACTS", ROOT / "test-artifacts"))


def shared_dir() -> Path | None:
    path = Path(os.environ.get("FACTURADOR_SHARED_DIR", ROOT.parent / "shared"))
    return path if path.is_dir() else None


DB_FIXTURES = {"db", "transactional_db", "django_db_blocker_unblocked", "live_server"}
# The pure libraries' docstring examples run as tests (python-stdnum style): `--doctest-modules` for these only.
PURE_LIBRARIES = ("dian", "cfdi", "tabular", "printing", "payments", "taxid.py")


def pytest_collect_file(file_path, parent):
    from _pytest.doctest import DoctestModule

    try:
        parts = file_path.relative_to(ROOT / "facturador").parts
    except ValueError:
        return None
    if file_path.suffix == ".py" and parts[0] in PURE_LIBRARIES and "tests" not in parts \
            and file_path.name != "conftest.py":
        return DoctestModule.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config, items):
    """FACTURADOR_DB_TESTS_ONLY=1 keeps only tests that use the database (the PostgreSQL re-run)."""
    if os.environ.get("FACTURADOR_DB_TESTS_ONLY") != "1":
        return
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") is not None or DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session", autouse=True)
def _files_of_this_xdist_worker(worker_id):
    """Each xdist process gets a data dir of its own (inside FACTURADOR_DATA_DIR), passed on to the worker
    processes it starts: their test databases are separate, so the same issuer and batch ids come up in both
    at once, and their generated files (issuers/<id>/billing/lote-<id>/...) must not meet in one MEDIA_ROOT."""
    if worker_id == "master":
        yield
        return
    from django.conf import settings
    from django.test.utils import override_settings

    own = Path(settings.DATA_DIR) / f"xdist-{worker_id}"
    own.mkdir(parents=True, exist_ok=True)
    override = override_settings(DATA_DIR=own, MEDIA_ROOT=own / "files")
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True)
def _default_language_and_time_zone():
    """Each test starts in Spanish and the default time zone: a request served by the test client leaves the
    language and time zone it activated (a user's English, an issuer's zone) on the thread, as in a web
    server's thread, where the next request activates its own; a test's own code has no such request."""
    from django.conf import settings
    from django.utils import timezone, translation

    translation.activate(settings.LANGUAGE_CODE)
    timezone.deactivate()
    yield
    translation.activate(settings.LANGUAGE_CODE)
    timezone.deactivate()


@pytest.fixture(autouse=True)
def _no_sat_certificate_downloads():
    """Tests never download from SAT's certificate repository; a test that wants it points the setting at a local
    PAC (`reception.satcerts`)."""
    from django.conf import settings

    from facturador.reception import satcerts

    saved = settings.FACTURADOR_SAT_CERTIFICATES_URL, settings.FACTURADOR_SAT_CERTIFICATES_DIR
    settings.FACTURADOR_SAT_CERTIFICATES_URL, settings.FACTURADOR_SAT_CERTIFICATES_DIR = "", ""
    satcerts.clear_memory()
    yield
    settings.FACTURADOR_SAT_CERTIFICATES_URL, settings.FACTURADOR_SAT_CERTIFICATES_DIR = saved
    satcerts.clear_memory()


@pytest.fixture(autouse=True)
def _local_test_services_allowed():
    """The settings were loaded before this file set the variable: allow the local test services in-process."""
    from django.conf import settings

    saved = settings.FACTURADOR_ALLOWED_ENDPOINTS
    settings.FACTURADOR_ALLOWED_ENDPOINTS = LOCAL_TEST_SERVICES.split(",")
    yield
    settings.FACTURADOR_ALLOWED_ENDPOINTS = saved


@pytest.fixture
def shared():
    path = shared_dir()
    if path is None:
        pytest.skip("../shared reference material not found (set FACTURADOR_SHARED_DIR)")
    return path


@pytest.fixture
def artifacts_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# --- tenants -------------------------------------------------------------------------------

@pytest.fixture
def make_issuer(db):
    from facturador.core.models import Issuer

    counter = {"n": 0}

    def make(country="CO", **kw):
        counter["n"] += 1
        if country == "CO":
            from facturador.taxid import nit_check_digit

            tax_id = kw.pop("tax_id", str(900100000 + counter["n"] * 7))
            defaults = dict(tax_id=tax_id, check_digit=nit_check_digit(tax_id), legal_name=f"Empresa CO {counter['n']} S.A.S.",
                            municipality_code="11001", city="Bogotá", address="Calle 1 # 2-3", email="co@example.com")
        else:
            defaults = dict(tax_id=kw.pop("tax_id", "EKU9003173C9"), legal_name=f"EMPRESA MX {counter['n']}",
                            postal_code="42501", fiscal_regime="601", email="mx@example.com")
        defaults.update(kw)
        return Issuer.objects.create(country=country, **defaults)

    return make


@pytest.fixture
def make_user(db):
    from django.contrib.auth import get_user_model

    from facturador.core.models import Membership

    def make(username, issuer=None, role="admin", password="clave-segura-123"):
        user = get_user_model().objects.create_user(username=username, password=password, email=f"{username}@example.com")
        if issuer is not None:
            Membership.objects.create(user=user, issuer=issuer, role=role)
        return user

    return make


@pytest.fixture
def issuer_co(make_issuer):
    return make_issuer("CO", tax_id="900373076")


@pytest.fixture
def issuer_mx(make_issuer):
    return make_issuer("MX", tax_id="EKU9003173C9", legal_name="ESCUELA KEMPER URGATE")


@pytest.fixture
def admin_co(make_user, issuer_co):
    return make_user("admin_co", issuer_co, "admin")


@pytest.fixture
def client_co(client, admin_co):
    client.force_login(admin_co)
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- real SMTP server ------------------------------------------------------------------------

class _Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    @property
    def messages(self):
        import email
        from email import policy

        return [email.message_from_bytes(e.original_content or e.content, policy=policy.default) for e in self.envelopes]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on 127.0.0.1; Django sends through it."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    inbox.port = settings.EMAIL_PORT
    inbox.controller = controller
    yield inbox
    controller.stop()


# --- worker processes -------------------------------------------------------------------------

def database_url_for_subprocess() -> str:
    """The URL of the database the tests are using right now (the test database)."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    auth = f"{user}@" if user else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


class WorkerProcess:
    def __init__(self, env, name):
        self.log = open(Path(env["FACTURADOR_DATA_DIR"]) / f"{name}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facturador", "worker", "--no-startup-delay", "--interval", "0.2",
             "--stale-check-every", "1", "--worker-id", name],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def start_worker(transactional_db, settings):
    """Start real `facturador worker` processes against the test database."""
    started = []

    def start(name=None, **extra_env):
        env = dict(os.environ)
        env["DATABASE_URL"] = database_url_for_subprocess()
        env["FACTURADOR_DATA_DIR"] = str(settings.DATA_DIR)
        env["FACTURADOR_ENCRYPTION_KEY"] = ",".join(settings.FACTURADOR_ENCRYPTION_KEYS)
        env["SECRET_KEY"] = settings.SECRET_KEY
        env["EMAIL_HOST"] = str(settings.EMAIL_HOST)
        env["EMAIL_PORT"] = str(settings.EMAIL_PORT)
        env.update({k: str(v) for k, v in extra_env.items()})
        w = WorkerProcess(env, name or f"worker{len(started) + 1}")
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def wait_for(predicate, timeout=60, every=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}")


# --- browser ---------------------------------------------------------------------------------

def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed (the test command installs Debian's chromium)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=path, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="es-CO", viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


# --- the seeded demo, signing in, accessibility ----------------------------------------------------------------

@pytest.fixture
def seeded_demo(db, settings):
    """A freshly seeded demo with its local DIAN service and PAC (`serve --seed-demo`), see
    core.tests.helpers.seeded_demo_services. Browser tests mark themselves django_db(transaction=True)."""
    from facturador.core.tests.helpers import seeded_demo_services

    with seeded_demo_services(settings) as demo:
        yield demo


def sign_in(page, username, password=None):
    """Fill the sign-in form shown on the current page, as a person does."""
    if password is None:
        from facturador.core.demo import DEMO_PASSWORD

        password = DEMO_PASSWORD
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Ingresar").click()


AXE_FAILING_IMPACTS = ("serious", "critical")


def assert_accessible(page, name, artifacts_dir=None):
    """Run axe-core (bundled by the axe-playwright-python test dependency) on the page as it is now and fail on
    serious or critical violations. The script is evaluated through the DevTools protocol (`page.evaluate`), which
    the page's Content-Security-Policy does not govern, so the app's strict CSP stays on (no bypass_csp): a
    <script> tag added to the page would be refused by it. The full report goes to artifacts_dir."""
    import json

    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"],
                                       "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                                             "wcag21aa", "best-practice"]}})
    violations = results.response["violations"]
    if artifacts_dir is not None:
        (artifacts_dir / f"axe-{name}.json").write_text(json.dumps(violations, ensure_ascii=False, indent=1))
    bad = [v for v in violations if v.get("impact") in AXE_FAILING_IMPACTS]
    assert not bad, f"axe-core, {name} ({page.url}): " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} — " + ", ".join(n["target"][0] if isinstance(n["target"][0], str)
                                                                 else str(n["target"][0]) for n in v["nodes"][:5])
        for v in bad)
