
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from facturador.core.actors import Actor
from facturador.core.jobs import execute_job
from facturador.imports import actions, pipeline
from facturador.imports.models import ImportJob, ImportTemplate, Operator


@pytest.fixture(autouse=True)
def media_dir(settings, tmp_path_factory):
    """Uploaded files in a temporary data dir (workers started by the tests get the same dir)."""
    data_dir = tmp_path_factory.mktemp("imports-data")
    settings.MEDIA_ROOT = str(data_dir / "files")
    return data_dir


@pytest.fixture
def operator(issuer_co):
    return Operator.objects.create(issuer=issuer_co, code="TELCO", name="Telecomunicaciones S.A.")


def make_template(issuer, operator, name="Detalle", **kw):
    mapping = kw.pop("mapping", None) or pipeline.normalize_mapping(dict(pipeline.DEFAULT_MAPPING))
    return ImportTemplate.save_version(issuer=issuer, operator=operator, name=name, mapping=mapping, **kw)


@pytest.fixture
def template(issuer_co, operator):
    return make_template(issuer_co, operator)


def schedule(issuer, operator, template, name, data, period="2026-10", *, enqueue=False, **kw):
    upload = SimpleUploadedFile(name, data)
    with transaction.atomic():
        return actions.schedule_import(issuer, Actor.cli(), operator=operator, template=template, period=period,
                                       upload=upload, enqueue=enqueue, **kw)


def run_now(imp: ImportJob) -> ImportJob:
    """Run the import job in this process, exactly as a worker does (execute_job)."""
    execute_job.call(imp.job_id)
    imp.refresh_from_db()
    imp.job.refresh_from_db()
    return imp


def import_file(issuer, operator, template, name, data, period="2026-10", **kw) -> ImportJob:
    return run_now(schedule(issuer, operator, template, name, data, period, **kw))


@pytest.fixture
def do_import(issuer_co, operator, template):
    def do(name, data, period="2026-10", tpl=None, **kw):
        return import_file(issuer_co, operator, tpl or template, name, data, period, **kw)

    return do
