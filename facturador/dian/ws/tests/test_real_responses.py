"""The parser over DIAN's own answers: the Anexo Técnico 1.9 examples and the 2019 captures in shared/dian/responses/.

Anexo 1.9 error lines read ``Regla: AC38b Documento ...`` (no ``, Rechazo:``); the older form is
``Regla: FAD06, Rechazo: ...``. Both must give the rule code, the severity and the text."""
import pytest
from lxml import etree

from facturador.dian.ws import responses, soap
from facturador.dian.ws.responses import NOTIFICATION, REJECTION, RuleMessage

GETSTATUSZIP_2019 = ["FAJ26", "FAB27b", "FAD06", "FAJ40", "FAU04", "FAK26", "FAJ27", "FAJ41", "FAJ29", "FAJ09",
                     "FAU06", "FAS02", "FAJ28", "FAJ32", "FAJ12", "FAK08", "FAJ08", "FAB34", "FAB31", "FAU14", "FAN02"]


def _operation(root) -> str:
    body = root.find(f"{{{soap.SOAP}}}Body")
    return etree.QName(body[0]).localname.removesuffix("Response")


def check_sendbillsync_anexo(r):
    assert r.status_code == "99" and not r.is_valid and r.rejected and not r.accepted
    assert [(m.code, m.severity) for m in r.messages] == [
        ("AC38b", REJECTION), ("ZB01", REJECTION), ("AA08d", REJECTION), ("AA09", REJECTION)]
    assert [m.code for m in r.rejections] == ["AC38b", "ZB01", "AA08d", "AA09"]
    assert r.rejections[0].message == "Documento fue enviado para el ambiente errado (producción o pruebas)"
    assert r.rejections[3].message == "Valor del CUFE no está calculado correctamente."
    assert r.notifications == []
    assert r.xml_file_name == "invoice-1-firmado-SHA256"
    assert r.application_response is None  # the Anexo's placeholder "xmlbase64" is not base64


def check_getstatuszip_anexo(rs):
    (r,) = rs
    assert r.status_code == "00" and r.is_valid and r.accepted and r.final
    assert [(m.code, m.severity) for m in r.messages] == [("FAJ40", NOTIFICATION), ("FAJ41", NOTIFICATION)]
    assert r.rejections == []
    assert r.notifications[0].message == "El contenido de este elemento no corresponde a un contenido valido"
    assert r.status_message == "La Factura electrónica SETP-990058987, ha sido autorizada."
    assert r.application_response.startswith(b'<?xml version="1.0"')
    assert r.xml_file_name == "invoice-1-firmado-SHA256"


def check_sendtestsetasync_anexo(up):
    assert up.ok and up.zip_key == "358f9538-1f80-4ed5-a3f6-aaa1ef36bebd" and up.errors == []


def check_getstatuszip_2019(rs):
    (r,) = rs
    assert r.status_code == "99" and r.rejected
    assert [m.code for m in r.rejections] == GETSTATUSZIP_2019
    assert r.notifications == []
    fab27b = r.rejections[1]
    # the capture wraps long lines: the text is kept in one line
    assert fab27b.message == "Huella no corresponde a un software autorizado para este OFE."
    assert r.xml_file_name == "face_f08300448580000000003"
    assert r.xml_document_key.startswith("840ca7a4")


def check_numbering_range_2019(nr):
    assert nr.operation_code == "401" and not nr.ok and nr.ranges == []
    assert " ".join(nr.operation_description.split()) == \
        "NIT: 154845 no autorizado para consultar rangos de numeración del NIT: 1111111111111"


def check_sendtestsetasync_2019_success(up):
    assert up.ok and up.zip_key == "ef9998bd-8081-4882-9762-3d7cc53ac497" and up.errors == []


def check_sendtestsetasync_2019_error(up):
    assert not up.ok and up.zip_key is None
    (e,) = up.errors
    assert not e.success and e.xml_file_name == "invoiceSigned_sergiov2"
    assert e.document_key == "604128a1bbf0a49098411bbcd6c7b059e4d35cd1" and e.sender_code is None
    assert e.processed_message == "Error al parsear xml. Namespace prefix 'ds' is not defined."


RESPONSES = {
    "respuesta-sendbillsync-anexo.xml": check_sendbillsync_anexo,
    "respuesta-getstatuszip-anexo.xml": check_getstatuszip_anexo,
    "respuesta-sendtestsetasync-anexo.xml": check_sendtestsetasync_anexo,
    "captured-2019-response_getstatusZip_with_errors.xml": check_getstatuszip_2019,
    "captured-2019-response_getnumberingrange_with_erorr.xml": check_numbering_range_2019,
    "captured-2019-response_sendtestasync_success.xml": check_sendtestsetasync_2019_success,
    "captured-2019-response_sendtestasys_with_error.xml": check_sendtestsetasync_2019_error,
}
OTHERS_FAULT = "respuesta-fault-certificado-no-confiable.xml"
OTHERS = {OTHERS_FAULT, "captured-2019-request_getStatus.xml"}


def test_every_shared_response_is_covered(shared):
    names = {p.name for p in (shared / "dian" / "responses").glob("*.xml")}
    assert names == set(RESPONSES) | OTHERS


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_shared_response_is_parsed(shared, name):
    root = etree.fromstring((shared / "dian" / "responses" / name).read_bytes(), soap.PARSER)
    assert soap.find_fault(root) is None
    RESPONSES[name](responses.parse_result(root, _operation(root)))


def test_shared_fault(shared):
    root = etree.fromstring((shared / "dian" / "responses" / OTHERS_FAULT).read_bytes(), soap.PARSER)
    f = soap.find_fault(root)
    assert f is not None and f.code == "Client" and f.is_sender
    assert f.reason == "The creator of this fault did not specify a Reason."


def test_shared_request_is_parsed(shared):
    req = soap.parse_request((shared / "dian" / "responses" / "captured-2019-request_getStatus.xml").read_bytes())
    assert req.operation == "GetStatus" and req.params == {"trackId": "123456666"}


@pytest.mark.parametrize("raw,code,severity,message", [
    ("Regla: AC38b Documento fue enviado para el ambiente errado", "AC38b", REJECTION,
     "Documento fue enviado para el ambiente errado"),
    ("Regla: 90 Documento procesado anteriormente.", "90", REJECTION, "Documento procesado anteriormente."),
    ("Regla: FAD06, Rechazo: Valor del CUFE", "FAD06", REJECTION, "Valor del CUFE"),
    ("Regla: FAJ40, Notificación: El contenido", "FAJ40", NOTIFICATION, "El contenido"),
    ("Regla: FAJ43b, Notificacion: Nombre", "FAJ43b", NOTIFICATION, "Nombre"),
    ("Regla:ZB01 Fallo en el Schema XML - detalle -", "ZB01", REJECTION, "Fallo en el Schema XML - detalle -"),
    ("  Regla: FAB27b, Rechazo: Huella no\n     corresponde  ", "FAB27b", REJECTION, "Huella no corresponde"),
])
def test_rule_forms(raw, code, severity, message):
    m = RuleMessage.parse(raw, REJECTION)
    assert (m.code, m.severity, m.message, m.raw) == (code, severity, message, raw)


def test_rule_without_severity_word_takes_the_verdicts():
    assert RuleMessage.parse("Regla: FAK55 No se informó el correo.", NOTIFICATION).severity == NOTIFICATION
    no_context = RuleMessage.parse("Regla: FAK55 No se informó el correo.")
    assert (no_context.code, no_context.severity) == ("FAK55", "unknown")
    assert RuleMessage.parse(no_context.format()) == RuleMessage("FAK55", "unknown", "No se informó el correo.",
                                                                  "Regla: FAK55 No se informó el correo.")


def test_broken_application_response_still_fails_on_an_accepted_document(shared):
    data = (shared / "dian" / "responses" / "respuesta-getstatuszip-anexo.xml").read_bytes()
    data = data.replace(b"PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0idXRmLTgiIHN0YW5kYWxvbmU9Im5vIj8+", b"xmlbase64")
    with pytest.raises(soap.SoapError) as e:
        responses.parse_result(etree.fromstring(data), "GetStatusZip")
    assert e.value.field == "XmlBase64Bytes"
