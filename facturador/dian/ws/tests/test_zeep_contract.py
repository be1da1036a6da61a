"""zeep, an independent SOAP client, against the local DIAN service, with DIAN's published WSDL (singleWsdl).

zeep builds each request from the WSDL (strict mode), adds WS-Addressing itself (the WSDL's ``wsaw:Action``) and
parses every answer with the WSDL's data contracts in strict mode (wrong element order or unknown elements fail).
zeep's own ``wsse.BinarySignature`` needs python-xmlsec (not installed) and signs Body+Timestamp with RSA-SHA1,
not the ``wsa:To`` header with RSA-SHA256 that DIAN's policy asks; so the WS-Security header is added by a small
zeep wsse plugin written here (Timestamp, BinarySecurityToken, exc-c14n RSA-SHA256 signature over ``wsa:To`` with
a ``#ThumbprintSHA1`` key reference, built with ``cryptography``, not with the product's ``soap.build_envelope``).
The product's own request envelopes are also checked against the WSDL's input messages."""
import base64
import datetime as dt
import hashlib
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from facturador.dian import attached
from facturador.dian.ws import document_filename, make_zip, make_zip_many, soap
from facturador.dian.xades import sign

from .conftest import CUSTOMER_NIT, SUPPLIER_NIT, build_event, build_signed, invoice_json, note_json

zeep = pytest.importorskip("zeep")

WSU, WSSE, DS, WSA = soap.WSU, soap.WSSE, soap.DS, soap.WSA
_n = iter(range(800, 10**6))


class DianWsse:
    """zeep wsse plugin: what DIAN's WS-Policy asks, written independently of the product's signer."""

    def __init__(self, signer):
        self.key, self.cert = signer.key, signer.certificate

    def apply(self, envelope, headers):
        header = envelope.find(f"{{{soap.SOAP}}}Header")
        to = header.find(f"{{{WSA}}}To")
        to.set(f"{{{WSU}}}Id", "to-" + uuid.uuid4().hex)
        sec = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"o": WSSE, "u": WSU})
        sec.set(f"{{{soap.SOAP}}}mustUnderstand", "true")
        now = dt.datetime.now(dt.timezone.utc)
        ts = etree.SubElement(sec, f"{{{WSU}}}Timestamp", {f"{{{WSU}}}Id": "_0"})
        etree.SubElement(ts, f"{{{WSU}}}Created").text = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        etree.SubElement(ts, f"{{{WSU}}}Expires").text = (now + dt.timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")
        der = self.cert.public_bytes(serialization.Encoding.DER)
        bst = etree.SubElement(sec, f"{{{WSSE}}}BinarySecurityToken", {
            "ValueType": soap.X509V3, "EncodingType": soap.BASE64_BINARY, f"{{{WSU}}}Id": "uuid-bst"})
        bst.text = base64.b64encode(der).decode()
        sig = etree.SubElement(sec, f"{{{DS}}}Signature", nsmap={None: DS})
        si = etree.SubElement(sig, f"{{{DS}}}SignedInfo")
        etree.SubElement(si, f"{{{DS}}}CanonicalizationMethod", Algorithm=soap.EXC_C14N)
        etree.SubElement(si, f"{{{DS}}}SignatureMethod", Algorithm=soap.RSA_SHA256)
        ref = etree.SubElement(si, f"{{{DS}}}Reference", URI="#" + to.get(f"{{{WSU}}}Id"))
        etree.SubElement(etree.SubElement(ref, f"{{{DS}}}Transforms"), f"{{{DS}}}Transform",
                         Algorithm=soap.EXC_C14N)
        etree.SubElement(ref, f"{{{DS}}}DigestMethod", Algorithm=soap.SHA256)
        etree.SubElement(ref, f"{{{DS}}}DigestValue")
        etree.SubElement(sig, f"{{{DS}}}SignatureValue")
        kid = etree.SubElement(etree.SubElement(etree.SubElement(sig, f"{{{DS}}}KeyInfo"),
                                                f"{{{WSSE}}}SecurityTokenReference"), f"{{{WSSE}}}KeyIdentifier",
                               ValueType=soap.THUMBPRINT_SHA1, EncodingType=soap.BASE64_BINARY)
        kid.text = base64.b64encode(hashlib.sha1(der).digest()).decode()
        # digest and sign the tree as the receiver will parse it
        envelope = etree.fromstring(etree.tostring(envelope))
        to = envelope.find(f"{{{soap.SOAP}}}Header/{{{WSA}}}To")
        si = envelope.find(f".//{{{DS}}}SignedInfo")

        def c14n(el):
            return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)
        si.find(f"{{{DS}}}Reference/{{{DS}}}DigestValue").text = base64.b64encode(
            hashlib.sha256(c14n(to)).digest()).decode()
        envelope.find(f".//{{{DS}}}SignatureValue").text = base64.b64encode(
            self.key.sign(c14n(si), padding.PKCS1v15(), hashes.SHA256())).decode()
        return envelope, headers

    def verify(self, envelope):
        assert envelope.find(f"{{{soap.SOAP}}}Header/{{{WSSE}}}Security/{{{WSU}}}Timestamp") is not None
        return envelope


@pytest.fixture(scope="module")
def wsdl_path():
    from conftest import shared_dir
    base = shared_dir()
    path = base / "dian" / "wsdl" / "WcfDianCustomerServices.singleWsdl.xml" if base else None
    if path is None or not path.is_file():
        pytest.skip("shared/dian/wsdl not found (set FACTURADOR_SHARED_DIR)")
    return str(path)


@pytest.fixture
def service(wsdl_path, sandbox, signer):
    client = zeep.Client(wsdl_path, wsse=DianWsse(signer), settings=zeep.Settings(strict=True))
    return client.create_service("{http://wcf.dian.colombia}WSHttpBinding_IWcfDianCustomerServices", sandbox.url)


def fname(kind="invoice"):
    return document_filename(kind, SUPPLIER_NIT, next(_n), 2026)


def test_send_bill_sync_get_status_and_xml(service, signer):
    xml = build_signed(invoice_json(990000000 + next(_n)), signer)
    name = fname()
    r = service.SendBillSync(fileName="z" + name[2:-4] + ".zip", contentFile=make_zip(name, xml))
    assert (r.StatusCode, r.IsValid, r.StatusDescription) == ("00", True, "Procesado Correctamente.")
    assert r.XmlFileName == name[:-4]
    assert b"ApplicationResponse" in r.XmlBase64Bytes
    cufe = r.XmlDocumentKey
    st = service.GetStatus(trackId=cufe)
    assert st.StatusCode == "00" and st.XmlDocumentKey == cufe
    got = service.GetXmlByDocumentKey(trackId=cufe)
    assert got.Code == "100" and base64.b64decode(got.XmlBytesBase64) == xml  # xs:string in the contract
    missing = service.GetXmlByDocumentKey(trackId="no-existe")
    assert missing.XmlBytesBase64 is None


def test_rejection_messages_are_an_array_of_strings(service, signer):
    xml = build_signed(invoice_json(990000000 + next(_n)), signer).replace(b"compras@cliente.example",
                                                                           b"otro@cliente.example")
    r = service.SendBillSync(fileName="z.zip", contentFile=make_zip(fname(), xml))
    assert r.StatusCode == "99" and not r.IsValid
    assert any(s.startswith("Regla: ZE02") for s in r.ErrorMessage.string)
    bad_zip = service.SendBillSync(fileName="z.zip", contentFile=b"not a zip")
    assert bad_zip.StatusCode == "89" and bad_zip.XmlFileName == "z"


def test_async_test_set_and_get_status_zip(service, signer, sandbox):
    sandbox.sandbox.async_pending_polls = 1
    inv = build_signed(invoice_json(990000000 + next(_n)), signer)
    up = service.SendTestSetAsync(fileName="z.zip", contentFile=make_zip(fname(), inv), testSetId="set-hab-1")
    assert up.ZipKey and not up.ErrorMessageList.XmlParamsResponseTrackId  # nil list
    pending = service.GetStatusZip(trackId=up.ZipKey)
    assert [d.StatusCode for d in pending] == ["98"]  # ArrayOfDianResponse
    final = service.GetStatusZip(trackId=up.ZipKey)
    assert [d.StatusCode for d in final] == ["00"]
    unknown = service.SendTestSetAsync(fileName="z.zip", contentFile=make_zip(fname(), inv), testSetId="nope")
    assert unknown.ZipKey is None and unknown.ErrorMessageList.XmlParamsResponseTrackId[0].Success is False
    up = service.SendBillAsync(fileName="z.zip", contentFile=make_zip(fname(), inv))
    assert up.ZipKey
    assert service.GetStatusZip(trackId="no-existe")[0].StatusCode == "66"


def test_numbering_range(service, sandbox, software_id):
    sandbox.register_range(SUPPLIER_NIT, "FEV", 1000, 5000, "f" * 40, software_id=software_id)
    nr = service.GetNumberingRange(accountCode=SUPPLIER_NIT, accountCodeT=SUPPLIER_NIT, softwareCode=software_id)
    assert nr.OperationCode == "100"
    (rg,) = nr.ResponseList.NumberRangeResponse
    assert (rg.Prefix, rg.FromNumber, rg.ToNumber, rg.TechnicalKey) == ("FEV", 1000, 5000, "f" * 40)
    refused = service.GetNumberingRange(accountCode="1111111111111", accountCodeT=SUPPLIER_NIT,
                                        softwareCode=software_id)
    assert refused.OperationCode == "401" and not refused.ResponseList.NumberRangeResponse  # nil list


def test_security_refusal_is_a_soap_fault(wsdl_path, sandbox, signer):
    client = zeep.Client(wsdl_path, settings=zeep.Settings(strict=True))  # no WS-Security at all
    svc = client.create_service("{http://wcf.dian.colombia}WSHttpBinding_IWcfDianCustomerServices", sandbox.url)
    with pytest.raises(zeep.exceptions.Fault) as e:
        svc.GetStatus(trackId="x")
    assert "WS-Security" in e.value.message


@pytest.mark.parametrize("operation,params", [
    ("SendBillSync", {"fileName": "z.zip", "contentFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}),
    ("SendBillAsync", {"fileName": "z.zip", "contentFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}),
    ("SendTestSetAsync", {"fileName": "z.zip", "contentFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==",
                          "testSetId": "t"}),
    ("GetStatus", {"trackId": "x"}), ("GetStatusZip", {"trackId": "x"}),
    ("GetNumberingRange", {"accountCode": "1", "accountCodeT": "1", "softwareCode": "s"}),
    ("GetXmlByDocumentKey", {"trackId": "x"}),
    ("SendEventUpdateStatus", {"contentFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}),
    ("GetStatusEvent", {"trackId": "x"}), ("GetReferenceNotes", {"trackId": "x"}),
    ("GetDocumentInfo", {"uuid": "x"}),
    ("GetAcquirer", {"identificationType": "31", "identificationNumber": "800199436"}),
    ("GetExchangeEmails", {}),
    ("SendBillAttachmentAsync", {"fileName": "z.zip", "contentFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}),
])
def test_product_requests_match_the_wsdl_input(wsdl_path, signer, operation, params):
    """The product's envelopes deserialize, in strict mode, as the WSDL's input message of their operation, with
    the WSDL's soapAction in wsa:Action."""
    client = zeep.Client(wsdl_path, settings=zeep.Settings(strict=True))
    binding = client.wsdl.bindings["{http://wcf.dian.colombia}WSHttpBinding_IWcfDianCustomerServices"]
    op = binding.get(operation)
    env = etree.fromstring(soap.build_envelope(operation, params, "https://vpfe-hab.dian.gov.co/"
                                               "WcfDianCustomerServices.svc", signer.key, signer.certificate))
    body = env.find(f"{{{soap.SOAP}}}Body")
    value = op.input.body.parse(body[0], client.wsdl.types)
    assert {k: value[k] for k in params} == {k: (base64.b64decode(v) if k == "contentFile" else v)
                                             for k, v in params.items()}
    assert env.findtext(f"{{{soap.SOAP}}}Header/{{{WSA}}}Action") == op.soapaction


def test_product_note_round_trip(service, signer):
    inv = build_signed(invoice_json(990000000 + next(_n)), signer)
    r = service.SendBillSync(fileName="z.zip", contentFile=make_zip(fname(), inv))
    root = etree.fromstring(inv)
    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    cn = build_signed(note_json("credit_note", next(_n), root.findtext(f"{{{cbc}}}ID"), r.XmlDocumentKey,
                                root.findtext(f"{{{cbc}}}IssueDate")), signer)
    r2 = service.SendBillSync(fileName="z.zip", contentFile=make_zip(fname("credit_note"), cn))
    assert r2.StatusCode == "00", r2.ErrorMessage


def test_out_of_order_answer_is_refused_by_strict_zeep(wsdl_path, shared):
    """The strict parsing used above has teeth: DIAN's own answer with two elements swapped does not parse."""
    client = zeep.Client(wsdl_path, settings=zeep.Settings(strict=True))
    op = client.wsdl.bindings["{http://wcf.dian.colombia}WSHttpBinding_IWcfDianCustomerServices"].get("GetStatusZip")
    data = (shared / "dian" / "responses" / "respuesta-getstatuszip-anexo.xml").read_bytes()
    assert op.output.deserialize(etree.fromstring(data))[0].StatusCode == "00"
    swapped = data.replace(b"<b:IsValid>true</b:IsValid>", b"").replace(
        b"<b:StatusCode>00</b:StatusCode>", b"<b:StatusCode>00</b:StatusCode><b:IsValid>true</b:IsValid>")
    with pytest.raises(zeep.exceptions.XMLParseError):
        op.output.deserialize(etree.fromstring(swapped))


def test_operations_cover_the_wsdl_except_payroll(wsdl_path):
    client = zeep.Client(wsdl_path, settings=zeep.Settings(strict=True))
    binding = client.wsdl.bindings["{http://wcf.dian.colombia}WSHttpBinding_IWcfDianCustomerServices"]
    assert set(binding._operations) - set(soap.OPERATIONS) == {"SendNominaSync"}


def _invoice(service, signer):
    inv = build_signed(invoice_json(990000000 + next(_n)), signer)
    r = service.SendBillSync(fileName="z.zip", contentFile=make_zip(fname(), inv))
    assert r.StatusCode == "00"
    return inv, r.XmlDocumentKey


def _event(service, code, inv, signer, **kw):
    name = document_filename("application_response", CUSTOMER_NIT, next(_n), 2026)
    return service.SendEventUpdateStatus(contentFile=make_zip(name, build_event(code, inv, signer,
                                                                                number=str(next(_n)), **kw)))


def test_events_status_event_and_document_info(service, signer):
    inv, cufe = _invoice(service, signer)
    r = _event(service, "030", inv, signer)
    assert (r.StatusCode, r.IsValid) == ("00", True) and r.XmlDocumentKey and b"ApplicationResponse" in \
        r.XmlBase64Bytes
    bad = _event(service, "033", inv, signer)  # acceptance before 032
    assert bad.StatusCode == "99" and bad.ErrorMessage.string[0].startswith("Regla: LGC03")
    st = service.GetStatusEvent(trackId=cufe)
    assert st.StatusCode == "00" and "030" in st.StatusMessage
    assert service.GetStatusEvent(trackId="no-existe").StatusCode == "66"
    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    root = etree.fromstring(inv)
    cn = build_signed(note_json("credit_note", next(_n), root.findtext(f"{{{cbc}}}ID"), cufe,
                                root.findtext(f"{{{cbc}}}IssueDate")), signer)
    rn = service.SendBillSync(fileName="z.zip", contentFile=make_zip(fname("credit_note"), cn))
    notes = service.GetReferenceNotes(trackId=cufe)
    assert notes.StatusCode == "00" and rn.XmlDocumentKey in notes.StatusMessage
    info = service.GetDocumentInfo(uuid=cufe)
    assert info.StatusCode == "200" and info.CompressedDocumentInfo is None
    (doc,) = info.DocumentInfo.Documento
    assert (doc.UUID, doc.DocumentTypeId, doc.Emisor.NumeroDoc, doc.Receptor.NumeroDoc) == \
        (cufe, "01", SUPPLIER_NIT, CUSTOMER_NIT)
    assert [e.Codigo for e in doc.Eventos.Evento] == ["030"]
    assert doc.Eventos.Evento[0].ReferenciasDocumento.ReferenciaDocumento[0].UUID == cufe
    assert [(kv.Key, kv.Value) for kv in doc.Estado.KeyValueOfintstring] == [
        (30, "Acuse de recibo de Factura Electrónica de Venta")]
    assert [n.UUID for n in doc.DocumentTags.Nota] == [rn.XmlDocumentKey]
    assert doc.DocumentTags.Nota[0].ConceptoCorreccion.Codigo == "1"
    assert doc.TotalEImpuestos.Total > 0 and doc.Referencias.ReferenciaDocumento == []  # nil list
    missing = service.GetDocumentInfo(uuid="no-existe")
    assert missing.StatusCode == "404" and not missing.DocumentInfo.Documento


def test_acquirer_and_exchange_emails(service, sandbox):
    sandbox.register_acquirer("31", CUSTOMER_NIT, "Cliente Comercial Ltda.", "recepcion@cliente.example")
    a = service.GetAcquirer(identificationType="31", identificationNumber=CUSTOMER_NIT)
    assert (a.StatusCode, a.ReceiverName, a.ReceiverEmail) == ("200", "Cliente Comercial Ltda.",
                                                               "recepcion@cliente.example")
    none = service.GetAcquirer(identificationType="13", identificationNumber="1")
    assert none.StatusCode == "404" and none.ReceiverName is None
    ex = service.GetExchangeEmails()
    assert ex.Success is True and ex.StatusCode == "200"
    assert b"recepcion@cliente.example" in base64.b64decode(ex.CsvBase64Bytes)  # xs:string in the contract


def test_send_bill_attachment_async(service, sandbox, signer):
    sandbox.sandbox.async_pending_polls = 0
    inv, cufe = _invoice(service, signer)
    container = sign(attached.build_attached_document(inv, None), signer)
    name = document_filename("attached_document", SUPPLIER_NIT, next(_n), 2026)
    up = service.SendBillAttachmentAsync(fileName="z.zip", contentFile=make_zip_many([(name, container)]))
    assert up.ZipKey
    (res,) = service.GetStatusZip(trackId=up.ZipKey)
    assert (res.StatusCode, res.XmlDocumentKey) == ("00", cufe)
