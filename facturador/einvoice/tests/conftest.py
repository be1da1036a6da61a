import pytest

from facturador.core import certificates
from facturador.core.tests.helpers import make_range
from facturador.dian.testing import make_test_pkcs12
from facturador.einvoice.models import OperationMode

TEST_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"


@pytest.fixture
def dian_issuer(issuer_co, admin_co):
    """A Colombian issuer ready to invoice in habilitación: certificate, software, numbering."""
    issuer_co.responsibilities = ["O-13"]
    issuer_co.save()
    certificates.store(issuer_co, kind="p12", password="clave", p12=make_test_pkcs12(issuer_co.tax_id, "clave"))
    mode = OperationMode.objects.create(issuer=issuer_co, software_name="Facturador", software_id="5f1c9a0e-6b7d-4f3a-9d2e-1a2b3c4d5e6f",
                                        software_pin="70942", provider_nit=issuer_co.tax_id,
                                        test_set_id="3f1c9a9e-1b2c-4d5e-8f90-123456789abc", environment="test")
    make_range(issuer_co, technical_key=TEST_KEY)
    make_range(issuer_co, document_type="credit_note", prefix="NC", range_from=1, range_to=1000)
    make_range(issuer_co, document_type="debit_note", prefix="ND", range_from=1, range_to=1000)
    issuer_co.mode = mode
    return issuer_co


INVOICE = {
    "kind": "invoice",
    "customer": {"id_type": "31", "id_number": "800199436", "dv": "4", "name": "Cliente Comercial Ltda.",
                 "email": "compras@cliente.example", "responsibilities": ["O-23"], "tax_scheme": "01",
                 "address": {"city_code": "05001", "city_name": "Medellín", "department_name": "Antioquia",
                             "line": "Carrera 43A # 1-50"}},
    "lines": [{"description": "Servicio de alumbrado", "quantity": "2", "unit_price": "150000",
               "taxes": [{"scheme": "01", "rate": "19"}]},
              {"description": "Arroz 1 kg", "quantity": "3", "unit_price": "4200", "taxes": [{"scheme": "01", "rate": "0"}]}],
    "payment": {"method": "1"},
    "withholdings": [{"scheme": "06", "rate": "4"}],
}


@pytest.fixture
def invoice_payload():
    import copy

    return copy.deepcopy(INVOICE)


@pytest.fixture
def sandbox(dian_issuer):
    """The local DIAN web service over HTTP, knowing the issuer's software and test set."""
    from facturador.dian.sandbox import SandboxServer

    mode = dian_issuer.mode
    server = SandboxServer(software={mode.software_id: "70942"},
                           test_sets={mode.test_set_id: {"invoices": 2, "credit_notes": 1, "debit_notes": 1}},
                           async_pending_polls=1).start()
    mode.endpoint = server.url
    mode.save()
    yield server
    server.stop()
