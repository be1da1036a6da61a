"""The local imitation of SAT's ConsultaCFDIService (in the local PAC): our client and satcfdi's own SAT client
get the same answers for the CFDIs the local PAC stamped."""
import pytest
from lxml import etree

from facturador.cfdi.build import build_invoice
from facturador.cfdi.pac import SatStatusClient

from .conftest import make_pac


@pytest.fixture()
def stamped(sandbox, invoice, csd):
    res = make_pac("finkok", sandbox.url, csd, retries=0, timeout=10).stamp(build_invoice(invoice, csd))
    root = etree.fromstring(res.xml_bytes)
    return res, root.get("Total")


def client(sandbox):
    return SatStatusClient(sandbox.url + "/ConsultaCFDIService.svc", retries=0, timeout=10)


def test_a_stamped_cfdi_is_vigente_and_then_cancelled(sandbox, stamped, csd, receptor):
    res, total = stamped
    st = client(sandbox).status(csd.rfc, receptor.rfc, total, res.uuid)
    assert (st.found, st.estado, st.es_cancelable, st.estatus_cancelacion, st.validacion_efos) == \
        (True, "Vigente", "Cancelable con aceptación", "", "200")
    sandbox.mark_cancelled(res.uuid, "Cancelado con aceptación")
    st = client(sandbox).status(csd.rfc, receptor.rfc, total, res.uuid)
    assert (st.estado, st.estatus_cancelacion) == ("Cancelado", "Cancelado con aceptación")


def test_not_found_unless_emisor_receptor_and_total_match(sandbox, stamped, csd, receptor):
    res, total = stamped
    assert client(sandbox).status(csd.rfc, receptor.rfc, "1.00", res.uuid).estado == "No Encontrado"
    wrong = client(sandbox).status(csd.rfc, "XAXX010101000", total, res.uuid)
    assert (wrong.found, wrong.codigo_estatus) == (False, "N - 602: Comprobante no encontrado.")
    assert client(sandbox).status(csd.rfc, receptor.rfc, total + "0000", res.uuid).estado == "Vigente"  # 6 decimals


def test_satcfdi_sat_status_client_works_against_the_local_service(sandbox, stamped, csd, receptor):
    """satcfdi's ``SAT().status(cfdi)`` builds its own request; only its host is pointed at the local service."""
    from satcfdi.cfdi import CFDI
    from satcfdi.pacs.sat import SAT

    class LocalSAT(SAT):
        def _request(self, soap_url, data, soap_action, needs_token_fn, verify=True):
            local = sandbox.url + "/" + soap_url.split("/", 3)[3]
            return super()._request(local, data, soap_action, needs_token_fn, verify)

    res, _ = stamped
    answer = LocalSAT().status(CFDI.from_string(res.xml_bytes))
    assert answer["Estado"] == "Vigente" and answer["CodigoEstatus"].startswith("S - ")
    assert set(answer) == {"CodigoEstatus", "EsCancelable", "Estado", "EstatusCancelacion", "ValidacionEFOS"}
    sandbox.mark_cancelled(res.uuid)
    assert LocalSAT().status(CFDI.from_string(res.xml_bytes))["Estado"] == "Cancelado"
