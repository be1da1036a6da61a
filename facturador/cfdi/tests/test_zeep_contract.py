"""zeep, an independent SOAP client, against the local PAC with Finkok's published WSDLs (shared/pac/finkok/):
every implemented operation called over HTTP, every answer parsed in strict mode (element order included)."""
import pytest

from facturador.cfdi.build import build_invoice

zeep = pytest.importorskip("zeep")


def finkok(shared, sandbox, wsdl: str, service: str):
    path = shared / "pac" / "finkok" / wsdl
    client = zeep.Client(str(path), settings=zeep.Settings(strict=True))
    return client.create_service("{http://facturacion.finkok.com/%s}Application" % ("stamp" if service == "stamp"
                                                                                     else "cancel"),
                                 f"{sandbox.url}/servicios/soap/{service}")


def test_stamp_quick_stamp_and_stamped(shared, sandbox, invoice, csd):
    svc = finkok(shared, sandbox, "stamp.wsdl", "stamp")
    xml = build_invoice(invoice, csd)
    never = svc.stamped(xml=xml, username="demo", password="demo")
    assert [(i.CodigoError, i.MensajeIncidencia) for i in never.Incidencias.Incidencia] == \
        [("603", "El CFDI no contiene un timbre previo")]
    r = svc.stamp(xml=xml, username="demo", password="demo")
    assert r.CodEstatus == "Comprobante timbrado satisfactoriamente" and r.UUID and r.SatSeal
    assert r.NoCertificadoSAT == sandbox.certificate_number and r.Incidencias is None  # empty <Incidencias/>
    again = svc.quick_stamp(xml=xml, username="demo", password="demo")
    assert again.UUID == r.UUID and again.Incidencias.Incidencia[0].CodigoError == "307"
    recovered = svc.stamped(xml=xml, username="demo", password="demo")
    assert recovered.UUID == r.UUID and recovered.xml == r.xml and recovered.Incidencias is None
    bad = svc.stamp(xml=xml.replace(b'Total="', b'Total="1'), username="demo", password="demo")
    (inc,) = bad.Incidencias.Incidencia
    assert inc.CodigoError == "302" and inc.RfcEmisor == csd.rfc and not bad.UUID
    denied = svc.stamp(xml=xml, username="demo", password="x")
    assert denied.Incidencias.Incidencia[0].CodigoError == "300"


def test_not_implemented_operation_is_a_fault(shared, sandbox):
    svc = finkok(shared, sandbox, "stamp.wsdl", "stamp")
    with pytest.raises(zeep.exceptions.Fault) as e:
        svc.sign_stamp(xml=b"<x/>", username="demo", password="demo")
    assert e.value.code == "senv:Server.NotImplemented"
    cancel = finkok(shared, sandbox, "cancel40.wsdl", "cancel")
    with pytest.raises(zeep.exceptions.Fault):
        cancel.get_receipt(username="demo", password="demo", taxpayer_id="X", uuid="u", type="C")


@pytest.mark.parametrize("wsdl", ["cancel40.wsdl"])
def test_cancel_and_sat_status(shared, sandbox, invoice, csd, wsdl):
    stamp = finkok(shared, sandbox, "stamp.wsdl", "stamp")
    uuid = stamp.stamp(xml=build_invoice(invoice, csd), username="demo", password="demo").UUID
    svc = finkok(shared, sandbox, wsdl, "cancel")
    st = svc.get_sat_status(username="demo", password="demo", taxpayer_id=csd.rfc, rtaxpayer_id="URE180429TM6",
                            uuid=uuid, total="1")
    assert st.error is None and st.sat.Estado == "Vigente"
    cer = csd.pem_certificate()
    key = csd.pem_private_key("demo")
    r = svc.cancel(UUIDS={"UUID": [{"UUID": uuid, "Motivo": "02", "FolioSustitucion": ""}]}, username="demo",
                   password="demo", taxpayer_id=csd.rfc, cer=cer, key=key, store_pending=False)
    (folio,) = r.Folios.Folio
    assert (folio.UUID, folio.EstatusUUID, folio.EstatusCancelacion) == (uuid, "201", "Cancelado sin aceptación")
    assert r.RfcEmisor == csd.rfc and uuid in r.Acuse
    twice = svc.cancel(UUIDS={"UUID": [{"UUID": uuid, "Motivo": "02", "FolioSustitucion": ""}]}, username="demo",
                       password="demo", taxpayer_id=csd.rfc, cer=cer, key=key, store_pending=False)
    assert twice.Folios.Folio[0].EstatusUUID == "202"
    st = svc.get_sat_status(username="demo", password="demo", taxpayer_id=csd.rfc, rtaxpayer_id="URE180429TM6",
                            uuid=uuid, total="1")
    assert st.sat.Estado == "Cancelado"
    denied = svc.get_sat_status(username="demo", password="x", taxpayer_id=csd.rfc, rtaxpayer_id="URE180429TM6",
                                uuid=uuid, total="1")
    assert denied.error.startswith("300")
    refused = svc.cancel(UUIDS={"UUID": [{"UUID": uuid, "Motivo": "01", "FolioSustitucion": ""}]},
                         username="demo", password="demo", taxpayer_id=csd.rfc, cer=cer, key=key,
                         store_pending=False)
    assert refused.Folios is None and refused.CodEstatus.startswith("cancel_sin_folio_sustitucion")
