"""A bounded schemathesis run over the whole OpenAPI schema, in-process, against the Django application.

Every operation is called with a few generated requests (valid ones and invalid ones) for the demo's Colombian
and Mexican issuers, authenticated as their administrator, and the run fails on any server error (5xx) or any
response that does not conform to the schema. It is seeded (`derandomize`), so a failure is reproducible; each
request runs in a savepoint that is rolled back, so requests do not see each other's writes.

    pytest facturador/core/tests/test_api_fuzz.py -m slow -s      # prints the operations and the duration
"""

import os
import time

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
# bin/test runs the suite on SQLite and then on PostgreSQL: the fuzz run (minutes) is done once, on the database
# it names here (PostgreSQL, the production one) when both runs happen.
FUZZ_DATABASE = os.environ.get("FACTURADOR_FUZZ_DATABASE", "")


def _vendor() -> str:
    from django.conf import settings

    return "postgresql" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"


if FUZZ_DATABASE and _vendor() != FUZZ_DATABASE:
    pytestmark.append(pytest.mark.skip(reason=f"the fuzz run is done on {FUZZ_DATABASE} in this test run"))

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

EXAMPLES = int(os.environ.get("FACTURADOR_FUZZ_EXAMPLES", 3))  # per operation, issuer and generation mode
CHECKS = [not_a_server_error, response_schema_conformance]
# Path parameters that name the issuer: fixed to the demo issuers (a random one is a plain 404).
ISSUER_PARAMETERS = {"issuer_pk"}
ISSUER_OPERATIONS_BY_ID = {"/api/v1/issuers/{id}/"}


@pytest.fixture
def wsgi_application():
    """The WSGI application as the test client runs it: without closing the test's connection after a request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def demo(settings, tmp_path):
    from rest_framework.authtoken.models import Token

    from facturador.core import demo

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    data = demo.seed()
    token, _ = Token.objects.get_or_create(user=data["users"]["demo"])
    return {"issuers": data["issuers"], "headers": {"Authorization": f"Token {token.key}"}}


def _path_parameters(operation, issuer):
    names = {p.name for p in operation.path_parameters}
    fixed = {name: issuer.pk for name in names & ISSUER_PARAMETERS}
    if operation.path in ISSUER_OPERATIONS_BY_ID:
        fixed["id"] = issuer.pk
    return fixed


def _run(operation, issuer, mode, headers):
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=_path_parameters(operation, issuer))

    @hypothesis_settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                         print_blob=False)
    @given(case=strategy)
    def check(case):
        savepoint = transaction.savepoint()
        try:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)
        finally:
            transaction.savepoint_rollback(savepoint)

    check()


def _describe(exc, limit=1500):
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + " ..."


def test_every_operation_answers_without_server_errors_and_as_the_schema_says(demo, wsgi_application):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_application, headers=demo["headers"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 100
    failures = []
    started = time.monotonic()
    for operation in operations:
        for issuer in demo["issuers"]:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _run(operation, issuer, mode, demo["headers"])
                except Unsatisfiable:  # nothing to make invalid: every parameter is fixed
                    pass
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all are reported at the end
                    failures.append(f"{operation.label} [{issuer.country} {mode.value}]\n{_describe(exc)}")
    print(f"\n{len(operations)} operations in {time.monotonic() - started:.0f} s")
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
