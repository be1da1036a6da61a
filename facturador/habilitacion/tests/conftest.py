import uuid

import pytest

from facturador.core import certificates
from facturador.core.actors import CLI, Actor
from facturador.dian.testing import make_test_pkcs12

SOFTWARE_PIN = "70942"
ACTOR = Actor(channel=CLI, name="tests")  # who performs the actions the tests call directly


@pytest.fixture
def dian_sandbox():
    """The local DIAN web service (SOAP 1.2 over HTTP), answering at once (no 'en proceso' polls)."""
    from facturador.dian.sandbox import SandboxServer

    server = SandboxServer(async_pending_polls=0).start()
    yield server
    server.stop()


@pytest.fixture
def new_issuer(make_issuer):
    """A Colombian issuer that has just uploaded its signing certificate and nothing else."""

    def make(**kw):
        issuer = make_issuer("CO", responsibilities=["O-13"], **kw)
        certificates.store(issuer, kind="p12", password="clave", p12=make_test_pkcs12(issuer.tax_id, "clave"))
        return issuer

    return make


def new_software(sandbox, invoices=2, credit_notes=1, debit_notes=1):
    """What DIAN's portal gives an issuer that registers its own software: ids, PIN and a test set."""
    software_id, test_set_id = str(uuid.uuid4()), str(uuid.uuid4())
    sandbox.register_software(software_id, SOFTWARE_PIN)
    sandbox.add_test_set(test_set_id, invoices=invoices, credit_notes=credit_notes, debit_notes=debit_notes)
    return software_id, test_set_id


def run_job_inline(job):
    """Execute a core job in this process (the worker does exactly this)."""
    from facturador.core.jobs import execute_job

    execute_job.call(job.pk)
    job.refresh_from_db()
    return job
