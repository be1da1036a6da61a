"""Django settings, read from the environment (12-factor).

Environment variables:
  DATABASE_URL               default sqlite:///<data dir>/facturador.sqlite3
  SECRET_KEY                 default: generated once and kept in <data dir>/secret_key
  FACTURADOR_DATA_DIR        default ./data (files, SQLite database, generated PDFs)
  FACTURADOR_ENCRYPTION_KEY  Fernet key(s), comma separated, newest first; default: generated
                             once and kept in <data dir>/encryption_key
  FACTURADOR_DEBUG           "1" to enable Django's debug mode
  FACTURADOR_ALLOWED_HOSTS   comma separated, default "127.0.0.1,localhost"
  FACTURADOR_DIAN_SCHEMA_DIR folder of DIAN's UBL 2.1 XSD kit (optional)
  EMAIL_URL-like settings:   EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
                             EMAIL_USE_TLS, DEFAULT_FROM_EMAIL, EMAIL_BACKEND
  REDIS_URL                  optional; enables the Redis cache (shared rate limits)
  FACTURADOR_BASE_URL        public address for links in emails (default http://127.0.0.1:8000)
  FACTURADOR_MAIL_*          mass email: RATE_PER_SECOND, RATE_PER_HOUR, CONCURRENCY, FROM, ... (MAILING_* below)
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE as CSP_NONCE

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("FACTURADOR_DATA_DIR", Path.cwd() / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _persistent_secret(name, make):
    """Return a secret kept in the data dir, creating it (mode 0600) on first use."""
    path = DATA_DIR / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = make()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        return value


def _new_fernet_key():
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRET_KEY = os.environ.get("SECRET_KEY") or _persistent_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
FACTURADOR_ENCRYPTION_KEYS = [
    k.strip()
    for k in (
        os.environ.get("FACTURADOR_ENCRYPTION_KEY")
        or _persistent_secret("encryption_key", _new_fernet_key)
    ).split(",")
    if k.strip()
]
DEBUG = _env_bool("FACTURADOR_DEBUG")
ALLOWED_HOSTS = os.environ.get("FACTURADOR_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("FACTURADOR_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "facturador.core",  # first, so its templates (login, password reset) win over admin's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "axes",  # staff login throttling
    "csp",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
]
# Capability apps, in dependency order.
CAPABILITY_APPS = ["einvoice", "habilitacion", "imports", "billing", "mailing", "portal", "reception"]
# FACTURADOR_DISABLED_APPS (comma separated) leaves capabilities out, e.g. for an installation that only
# runs the Mexican portal.
_disabled = set(filter(None, os.environ.get("FACTURADOR_DISABLED_APPS", "").split(",")))
INSTALLED_APPS += [f"facturador.{name}" for name in CAPABILITY_APPS if name not in _disabled]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "facturador.core.middleware.RequestSizeMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "facturador.core.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "facturador.core.middleware.CurrentIssuerMiddleware",
    "facturador.core.middleware.RefusalMiddleware",
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "facturador.urls"
WSGI_APPLICATION = "facturador.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "facturador.core.context_processors.issuer",
            ],
        },
    },
]

_default_db = f"sqlite:///{DATA_DIR / 'facturador.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or _default_db, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # One writer at a time; wait instead of failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
    }
# A test database per test process (file-based for SQLite, so worker subprocesses can open it), so that
# several test runs on one machine never share one.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "es-co"
# The UI is written in Spanish (the source strings of facturador/locale); English is the second language,
# chosen by the browser (Accept-Language) or the selector of the top bar (cookie). Issuers' users reading
# Spanish get their country's variant (es-co / es-mx: number and date formats), see core.middleware.
LANGUAGES = [("es-co", "Español (Colombia)"), ("es-mx", "Español (México)"), ("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Bogota"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "files"
MEDIA_URL = "/files/"  # never served publicly: downloads go through permission-checked views

# Client address behind a reverse proxy: the META key of the header the proxy sets (e.g. HTTP_X_FORWARDED_FOR).
# Leave empty when clients reach the application directly (a client could otherwise choose its address).
FACTURADOR_TRUSTED_PROXY_HEADER = os.environ.get("FACTURADOR_TRUSTED_PROXY_HEADER", "")

# Staff login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one user name from one
# address, that pair is locked for AXES_COOLOFF_TIME.
AXES_FAILURE_LIMIT = int(os.environ.get("FACTURADOR_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("FACTURADOR_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "facturador.core.actors.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False
# Staff password reset: at most (requests, seconds) per client address and per e-mail address asked for.
FACTURADOR_STAFF_RESET_THROTTLE = (5, 900)

# Self-invoicing portal (public, customers by RFC). Throttles are (attempts, seconds) per fixed window, counted
# in the cache (Redis when REDIS_URL is set, so every process shares them; locmem per process otherwise), by client
# address (see FACTURADOR_TRUSTED_PROXY_HEADER) or by customer account. Past a limit the portal answers HTTP 429
# "Demasiados intentos, espere unos minutos".
FACTURADOR_PORTAL_THROTTLES = {
    "login_ip": (20, 300),  # password attempts from one address
    "login_account": (10, 900),  # password attempts on one account, from any address but the customer's devices
    "login_device": (10, 900),  # password attempts on one account from a device that signed in to it before
    "lookup_ip": (20, 600),  # ticket lookups (each failed check has its own message)
    "recover_ip": (5, 900),  # password recovery requests
    "stamp_ip": (20, 300),  # invoices generated
    "mail_ip": (10, 300),  # invoices emailed
}
# A customer account is locked for FACTURADOR_PORTAL_LOCKOUT_MINUTES after FACTURADOR_PORTAL_LOCKOUT_FAILURES wrong
# passwords in a row; a temporary password sent by "recuperar contraseña" is valid FACTURADOR_PORTAL_TEMP_PASSWORD_MINUTES
# (the current password keeps working until the temporary one is used); a captcha challenge FACTURADOR_PORTAL_CAPTCHA_SECONDS.
FACTURADOR_PORTAL_LOCKOUT_FAILURES = int(os.environ.get("FACTURADOR_PORTAL_LOCKOUT_FAILURES", "5"))
FACTURADOR_PORTAL_LOCKOUT_MINUTES = int(os.environ.get("FACTURADOR_PORTAL_LOCKOUT_MINUTES", "15"))
FACTURADOR_PORTAL_TEMP_PASSWORD_MINUTES = int(os.environ.get("FACTURADOR_PORTAL_TEMP_PASSWORD_MINUTES", "60"))
FACTURADOR_PORTAL_CAPTCHA_SECONDS = int(os.environ.get("FACTURADOR_PORTAL_CAPTCHA_SECONDS", "600"))

# FACTURADOR_HTTPS=1: served over HTTPS (directly or behind a proxy that sets X-Forwarded-Proto): secure cookies,
# HSTS and redirects to https. `facturador check --deploy` then reports no warnings.
HTTPS = _env_bool("FACTURADOR_HTTPS")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = HTTPS
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy (django-csp): scripts only from this site or with the response's nonce, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", CSP_NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# The API's OpenAPI schema and Swagger UI need a login unless FACTURADOR_PUBLIC_API_DOCS=1.
FACTURADOR_PUBLIC_API_DOCS = _env_bool("FACTURADOR_PUBLIC_API_DOCS")

# What one import may read (checked before a workbook is loaded, and counted while streaming): rows, cells a
# workbook would allocate, uncompressed bytes (ZIP members, CSV text). Uploads larger than
# FACTURADOR_UPLOAD_MAX_BYTES are refused before they are stored.
FACTURADOR_IMPORT_MAX_ROWS = int(os.environ.get("FACTURADOR_IMPORT_MAX_ROWS", str(2_000_000)))
FACTURADOR_IMPORT_MAX_CELLS = int(os.environ.get("FACTURADOR_IMPORT_MAX_CELLS", str(40 * 2**20)))
FACTURADOR_IMPORT_MAX_BYTES = int(os.environ.get("FACTURADOR_IMPORT_MAX_BYTES", str(2 * 2**30)))
FACTURADOR_UPLOAD_MAX_BYTES = int(os.environ.get("FACTURADOR_UPLOAD_MAX_BYTES", str(512 * 2**20)))
# Template tests with a sample file run in a child process with these limits (seconds, bytes of memory).
FACTURADOR_PREVIEW_TIMEOUT = float(os.environ.get("FACTURADOR_PREVIEW_TIMEOUT", "30"))
FACTURADOR_PREVIEW_MEMORY = int(os.environ.get("FACTURADOR_PREVIEW_MEMORY", str(1024 * 2**20)))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "login"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Facturador <no-responder@facturador.local>")

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

TASKS = {
    "default": {
        "BACKEND": os.environ.get("FACTURADOR_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "facturador.core.rest.Pagination",
    "PAGE_SIZE": 100,
    # refusals (core.errors.Refusal) become {"code", "detail", "field", "details"} with their HTTP status
    "EXCEPTION_HANDLER": "facturador.core.rest.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Facturador API",
    "DESCRIPTION": "Electronic invoicing and mass billing for Colombia (DIAN) and Mexico (SAT).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny" if FACTURADOR_PUBLIC_API_DOCS
                          else "rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # choice sets that share a field name across apps get explicit component names (installed apps only)
    "ENUM_NAME_OVERRIDES": {
        name: path for name, path in {
            "CertificateKindEnum": "facturador.core.models.Certificate.Kind",
            "DianDocumentKindEnum": "facturador.einvoice.models.DianDocument.Kind",
            "CfdiKindEnum": "facturador.portal.models.Cfdi.Kind",
            "TariffKindEnum": "facturador.billing.models.Tariff.Kind",
            "BatchBillingTypeEnum": "facturador.billing.models.Batch.BillingType",
            "ResolutionBillingTypeEnum": "facturador.habilitacion.services.BILLING_TYPES",
            "ReceptionSourceEnum": "facturador.reception.models.Source",
            "JobStatusEnum": "facturador.core.models.Job.Status",
        }.items() if ".".join(path.split(".")[:2]) in INSTALLED_APPS
    },
}

# Public address of this installation, for links in emails (unsubscribe, portal)
FACTURADOR_BASE_URL = os.environ.get("FACTURADOR_BASE_URL", "http://127.0.0.1:8000")

# Mass email (mailing): environment FACTURADOR_MAIL_<NAME>; see facturador/mailing/engine.py and ratelimit.py.
def _mail_env(name, default):
    return os.environ.get(f"FACTURADOR_MAIL_{name}") or default


MAILING_RATE_PER_SECOND = int(_mail_env("RATE_PER_SECOND", "10"))  # global limit, 0 = none
MAILING_RATE_PER_HOUR = int(_mail_env("RATE_PER_HOUR", "0"))  # global limit, 0 = none
MAILING_CONCURRENCY = int(_mail_env("CONCURRENCY", "4"))  # SMTP connections per send
MAILING_CHUNK_SIZE = int(_mail_env("CHUNK_SIZE", "100"))  # messages per connection
MAILING_MAX_ATTEMPTS = int(_mail_env("MAX_ATTEMPTS", "4"))  # 4xx retries
MAILING_RETRY_BASE_SECONDS = float(_mail_env("RETRY_BASE_SECONDS", "30"))  # 30 s, 60 s, 120 s...
MAILING_RETURN_PATH = _mail_env("RETURN_PATH", "")  # envelope sender; "" = the From address
MAILING_FROM_EMAIL = _mail_env("FROM", "")  # From address of sends; "" = DEFAULT_FROM_EMAIL
MAILING_WEBHOOK_TOKEN = _mail_env("WEBHOOK_TOKEN", "")  # bounce webhook's shared secret; "" = disabled
# Test emails of a send (issue 13): at most MAILING_TEST_PER_USER per user (the CLI's operator without --as counts
# as one user) in any MAILING_TEST_WINDOW_SECONDS, counted in the database for every channel; past it they are
# refused with HTTP 429. 0 = no per-user limit. They also go through the global rate limit above.
MAILING_TEST_PER_USER = int(_mail_env("TEST_PER_USER", "5"))
MAILING_TEST_WINDOW_SECONDS = int(_mail_env("TEST_WINDOW_SECONDS", "600"))

# Jobs whose worker has not sent a heartbeat for this many seconds are re-queued.
FACTURADOR_JOB_STALE_SECONDS = int(os.environ.get("FACTURADOR_JOB_STALE_SECONDS", "120"))
FACTURADOR_DIAN_SCHEMA_DIR = os.environ.get("FACTURADOR_DIAN_SCHEMA_DIR", "")
# Sending documents to DIAN's web service (einvoice.delivery): seconds per request, attempts on transport errors
# and the pause between them, and how often / how many times a document DIAN is still processing is asked about.
FACTURADOR_DIAN_TIMEOUT = float(os.environ.get("FACTURADOR_DIAN_TIMEOUT") or 60)
FACTURADOR_DIAN_RETRIES = int(os.environ.get("FACTURADOR_DIAN_RETRIES") or 3)
FACTURADOR_DIAN_BACKOFF = float(os.environ.get("FACTURADOR_DIAN_BACKOFF") or 1)
FACTURADOR_DIAN_POLL_ATTEMPTS = int(os.environ.get("FACTURADOR_DIAN_POLL_ATTEMPTS") or 10)
FACTURADOR_DIAN_POLL_INTERVAL = float(os.environ.get("FACTURADOR_DIAN_POLL_INTERVAL") or 2)
# Seconds a buyer's name and e-mail asked to DIAN (GetAcquirer, einvoice.services.acquirer_lookup) are remembered.
FACTURADOR_DIAN_ACQUIRER_CACHE_SECONDS = int(os.environ.get("FACTURADOR_DIAN_ACQUIRER_CACHE_SECONDS") or 600)
# DIAN test sets (habilitacion): rounds of asking again about documents DIAN is still processing, waiting
# FACTURADOR_DIAN_POLL_INTERVAL seconds doubled each round (at most 60).
FACTURADOR_HABILITACION_FOLLOW_ROUNDS = int(os.environ.get("FACTURADOR_HABILITACION_FOLLOW_ROUNDS") or 5)
# Mass billing batches (billing.batch): invoices numbered per transaction (one block of numbers each), PDFs
# rendered per leased chunk, invoices per print PDF part, and helper jobs ("billing.batch_render", one per extra
# worker: set it to the number of workers - 1) started when at least HELPER_MIN invoices per helper are left.
FACTURADOR_BILLING_NUMBER_CHUNK = int(os.environ.get("FACTURADOR_BILLING_NUMBER_CHUNK", "2000"))
FACTURADOR_BILLING_RENDER_CHUNK = int(os.environ.get("FACTURADOR_BILLING_RENDER_CHUNK", "20"))
FACTURADOR_BILLING_PDF_PART_SIZE = int(os.environ.get("FACTURADOR_BILLING_PDF_PART_SIZE", "2000"))
FACTURADOR_BILLING_HELPER_MIN = int(os.environ.get("FACTURADOR_BILLING_HELPER_MIN", "300"))
FACTURADOR_BILLING_RENDER_HELPERS = int(os.environ.get("FACTURADOR_BILLING_RENDER_HELPERS", "1"))
# The memory allocator the workers preload (LD_PRELOAD; `facturador worker` starts itself again with it): Typst,
# which renders every PDF, allocates through malloc, and glibc's malloc fragments in a long-running worker (an
# invoice's render 4.1 ms in a fresh process, 4.8 ms after ~100 batch chunks; with jemalloc 3.8 ms throughout, see
# docs/decisions.md). Default: jemalloc where installed (Debian's libjemalloc2); "" keeps glibc's.
FACTURADOR_WORKER_MALLOC = os.environ.get("FACTURADOR_WORKER_MALLOC", next((
    p for p in ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
                "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2") if os.path.exists(p)), ""))
# Electronic batches: longest round of the DIAN sending job ("billing.batch_send"), which then queues the next
# round instead of holding a worker while the batch is still rendering or DIAN is still processing.
FACTURADOR_BILLING_SEND_ROUND_SECONDS = float(os.environ.get("FACTURADOR_BILLING_SEND_ROUND_SECONDS") or 20)
# ... and how many of its rounds may send at once (each on a free worker, 50 invoices per SendBillAsync).
FACTURADOR_BILLING_SEND_JOBS = int(os.environ.get("FACTURADOR_BILLING_SEND_JOBS") or 2)
# ... and whether the render jobs of a batch of at least 2 zips (100 invoices) also upload its full zips of 50 and
# follow DIAN's answers while they render (a thread per render job: network waits, not CPU), so the answers follow
# the rendering instead of waiting for a free worker after it (0: only the sending job sends).
FACTURADOR_BILLING_SEND_WHILE_RENDERING = (os.environ.get("FACTURADOR_BILLING_SEND_WHILE_RENDERING") or "1") != "0"
# Local DIAN and PAC test services started by `facturador serve --seed-demo` (and used by the demo data)
FACTURADOR_DIAN_SANDBOX_PORT = int(os.environ.get("FACTURADOR_DIAN_SANDBOX_PORT", "8089"))
FACTURADOR_PAC_SANDBOX_PORT = int(os.environ.get("FACTURADOR_PAC_SANDBOX_PORT", "8090"))
# SAT's CFDI status service (ConsultaCFDIService.svc) used by reception; empty = SAT's official address
# (facturador.cfdi.sat_status.OFFICIAL_URL). The demo points it at the local PAC, which imitates it.
FACTURADOR_SAT_STATUS_URL = os.environ.get("FACTURADOR_SAT_STATUS_URL", "")
# SAT's certificates, to verify the stamp (TimbreFiscalDigital) of received CFDI (facturador/reception/satcerts.py):
# a folder of <NoCertificadoSAT>.cer files the deployment keeps (looked at first), and SAT's public certificate
# repository (downloads are cached in DATA_DIR/sat-certificates; empty: never download). The demo points the
# repository at the local PAC, which publishes its stamping certificate the same way.
FACTURADOR_SAT_CERTIFICATES_DIR = os.environ.get("FACTURADOR_SAT_CERTIFICATES_DIR", "")
FACTURADOR_SAT_CERTIFICATES_URL = os.environ.get("FACTURADOR_SAT_CERTIFICATES_URL", "https://rdc.sat.gob.mx/rccf/")
# Imports: valid lines sent to the database per batch (COPY / executemany), and an optional pause in seconds
# between batches so that a big import does not saturate a shared database.
FACTURADOR_IMPORT_BATCH_SIZE = int(os.environ.get("FACTURADOR_IMPORT_BATCH_SIZE") or 20_000)
FACTURADOR_IMPORT_THROTTLE = float(os.environ.get("FACTURADOR_IMPORT_THROTTLE") or 0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FACTURADOR_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Addresses besides DIAN's and the PACs' official https hosts that the platform may send requests to on a
# tenant's behalf (comma separated URL prefixes; an entry without a port allows any port). Empty in production;
# bin/run sets it for the demo's local DIAN and PAC test services. See facturador/core/outbound.py.
FACTURADOR_ALLOWED_ENDPOINTS = [u.strip() for u in os.environ.get("FACTURADOR_ALLOWED_ENDPOINTS", "").split(",")
                                if u.strip()]

# Recaudo (Asobancaria 2001) files: the largest file applied, checked before it is read (a record is 162
# characters: 20 MiB is about 125,000 payments).
FACTURADOR_PAYMENT_FILE_MAX_BYTES = int(os.environ.get("FACTURADOR_PAYMENT_FILE_MAX_BYTES", str(20 * 2**20)))

# Reception of suppliers' documents (facturador/reception): caps checked before an arrival (an uploaded file or
# one email) is read — its size, the files inside its zips/attachments (all levels) and their real
# uncompressed bytes together; each XML document is also capped at 20 MB by the verifiers.
FACTURADOR_RECEPTION_MAX_BYTES = int(os.environ.get("FACTURADOR_RECEPTION_MAX_BYTES", str(25 * 2**20)))
FACTURADOR_RECEPTION_MAX_MEMBERS = int(os.environ.get("FACTURADOR_RECEPTION_MAX_MEMBERS", "50"))
FACTURADOR_RECEPTION_MAX_UNPACKED_BYTES = int(os.environ.get("FACTURADOR_RECEPTION_MAX_UNPACKED_BYTES",
                                                             str(100 * 2**20)))
# IMAP: messages read per poll (the rest wait for the next one) and the socket timeout in seconds.
FACTURADOR_RECEPTION_POLL_BATCH = int(os.environ.get("FACTURADOR_RECEPTION_POLL_BATCH", "100"))
FACTURADOR_RECEPTION_IMAP_TIMEOUT = int(os.environ.get("FACTURADOR_RECEPTION_IMAP_TIMEOUT", "30"))
# IMAP over TLS (IMAPS or STARTTLS) always verifies the server's certificate and name; a PEM file of extra CA
# certificates to trust besides the system's, for mail servers with a private or self-signed certificate.
FACTURADOR_RECEPTION_IMAP_CA_FILE = os.environ.get("FACTURADOR_RECEPTION_IMAP_CA_FILE", "")
