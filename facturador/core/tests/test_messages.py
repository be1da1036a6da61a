"""People read Spanish sentences, not exception class names or errno texts (the details go to the log)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from facturador.core import jobs
from facturador.core.models import Job


@pytest.fixture
def crash_handler():
    @jobs.job_handler("core.tests.crash")
    def crash(ctx):
        raise KeyError("internal-detail")

    yield
    jobs._HANDLERS.pop("core.tests.crash", None)


@pytest.mark.django_db(transaction=True)
def test_a_crashed_job_shows_a_spanish_message_without_the_exception(issuer_co, crash_handler, caplog):
    job = jobs.create_job(issuer_co, "core.tests.crash", title="Prueba")
    jobs.execute_job.call(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "error inesperado" in job.error and f"#{job.pk}" in job.error
    assert "KeyError" not in job.error and "internal-detail" not in job.error
    assert "KeyError" in caplog.text  # the traceback is in the log


def test_certificate_upload_of_a_missing_file_says_so_in_spanish(issuer_co, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAVE", "x")
    missing = tmp_path / "no-esta.p12"
    with pytest.raises(CommandError) as err:
        call_command("certificate", "upload", "--issuer", "900373076", "--p12", str(missing), "--password-env", "CLAVE")
    assert str(err.value) == f"El archivo {missing} no existe."
