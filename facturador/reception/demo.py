"""Demo inbox: documents received by the demo issuers, so *Recepción* can be tried at once.

Colombia: four invoices from a demo supplier to the Colombian demo issuer, made the way a supplier using
Facturador makes them — built and XAdES-signed by `facturador.dian`, validated by the local DIAN service
(`DianSandbox.process_document`, in process: its signed ApplicationResponse), wrapped in the signed
AttachedDocument and zipped — then received through `reception.services` like an upload. The first one has its
acuse (030), recibo (032) and aceptación expresa (033) registered, the second its acuse: the events are built
and signed by `reception.radian` with the demo issuer's certificate and answered by the same local DIAN service.
Mexico: two CFDI from a demo supplier to the Mexican demo issuer, sealed with a self-made CSD and stamped by a
local PAC started for the moment; its stamping certificate is put in the SAT-certificate cache, so their stamp
shows "Verificado".

Idempotent (nothing is added when the demo issuers already received something); about a second of CPU.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from facturador.dian import enablement
from facturador.reception.models import EventSettings, ReceivedDocument, Source

logger = logging.getLogger(__name__)
COT = ZoneInfo("America/Bogota")

SUPPLIER_NIT = "901234567"
SUPPLIER_NAME = "Suministros Eléctricos Andinos S.A.S."
SUPPLIER_SOFTWARE = ("3c1d9e2f-8a4b-4c6d-9e0f-1a2b3c4d5e6f", "51234")
MX_SUPPLIER = ("XIA190128J61", "XENON INDUSTRIAL ARTICLES")
#: (issue date offset in days, lines as (description, quantity, unit price, IVA %)), events registered
CO_INVOICES = [
    (-20, [("Luminaria LED vial 150 W", 12, "685000.00", "19"), ("Fotocontrol electrónico", 12, "48500.00", "19")],
     ["030", "032", "033"]),
    (-9, [("Cable de cobre THHN 12 AWG (rollo 100 m)", 8, "312000.00", "19")], ["030"]),
    (-4, [("Poste de concreto 12 m", 3, "1850000.00", "19"), ("Transporte e izaje", 1, "950000.00", "19")], []),
    (-1, [("Mantenimiento preventivo de subestación", 1, "4200000.00", "19")], []),
]
MX_INVOICES = [("Papelería y artículos de oficina", "3", "850.00"), ("Servicio de limpieza mensual", "1", "12500.00")]


def seed(co_issuer, mx_issuer):
    if co_issuer is not None and not ReceivedDocument.objects.filter(issuer=co_issuer).exists():
        _seed_colombia(co_issuer)
    if mx_issuer is not None and not ReceivedDocument.objects.filter(issuer=mx_issuer).exists():
        try:
            _seed_mexico(mx_issuer)
        except Exception:  # noqa: BLE001 — the demo works without them (e.g. no free local port)
            logger.exception("Demo: the Mexican received documents could not be made")


def _party(tax_id: str, name: str, *, email: str, address=None):
    from facturador.dian.model import Address, Party

    return Party(tax_id, name, responsibilities=["O-13"], tax_scheme="01", email=email,
                 address=address or Address("11001", "Bogotá, D.C.", "Bogotá", "Carrera 7 # 71-21"))


def _seed_colombia(issuer):
    from facturador.dian import xades
    from facturador.dian.attached import build_attached_document
    from facturador.dian.model import Address, Document, Line, Numbering, Payment, Software, Tax
    from facturador.dian.sandbox import DianSandbox
    from facturador.einvoice.demo import DEMO_PIN, DEMO_SOFTWARE_ID
    from facturador.reception import radian, services

    signer = xades.load_pkcs12(_supplier_pkcs12(), "demo")
    dian = DianSandbox(software={SUPPLIER_SOFTWARE[0]: SUPPLIER_SOFTWARE[1], DEMO_SOFTWARE_ID: DEMO_PIN})
    supplier = _party(SUPPLIER_NIT, SUPPLIER_NAME, email="facturacion@suministros-andinos.example")
    buyer = _party(issuer.tax_id, issuer.legal_name, email=issuer.email or "facturas@demo.example",
                   address=Address(issuer.municipality_code or "11001", issuer.city or "Bogotá, D.C.",
                                   issuer.department or "Bogotá", issuer.address or "Calle 26 # 13-19"))
    today = dt.date.today()
    documents = []
    for i, (days, lines, codes) in enumerate(CO_INVOICES):
        number = enablement.TEST_RANGE[0] + 7100 + i
        issued = today + dt.timedelta(days=days)
        doc = Document(
            kind="invoice",
            numbering=Numbering("SETP", number, enablement.TEST_RESOLUTION, *enablement.TEST_RANGE,
                                enablement.TEST_VALID_FROM, enablement.TEST_VALID_TO, enablement.TEST_TECHNICAL_KEY),
            software=Software(SUPPLIER_SOFTWARE[0], SUPPLIER_SOFTWARE[1], SUPPLIER_NIT),
            supplier=supplier, customer=buyer, issue_date=issued, issue_time=dt.time(9 + i, 15, 0),
            lines=[Line(desc, D(qty), D(price), code=f"SE-{i}{n}", taxes=[Tax("01", D(rate))])
                   for n, (desc, qty, price, rate) in enumerate(lines)],
            payment=Payment("2", "42", issued + dt.timedelta(days=30)))
        when = dt.datetime.combine(issued, doc.issue_time, tzinfo=COT)
        signed = xades.sign_document(doc, signer, signing_time=when)
        answer = dian.process_document(signed, f"fv{number}.xml")
        if not answer.is_valid:
            logger.warning("Demo: the local DIAN service rejected the demo supplier's invoice: %s",
                           answer.messages[:3])
            continue
        attached = xades.sign(build_attached_document(signed, answer.application_response, when=when),
                              signer, role="supplier", signing_time=when)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"ad{SUPPLIER_NIT}{number}.xml", attached)
        name = f"z{SUPPLIER_NIT}{number}.zip"
        intake = services.record_intake(issuer, source=Source.UPLOAD, name=name, data=buf.getvalue())
        services.process_intake(intake, buf.getvalue())
        documents.append((ReceivedDocument.objects.filter(issuer=issuer, intake=intake).first(), codes))
    # the person named in 030/032 events; the demo's suppliers are not real, so events are not e-mailed to them
    EventSettings.objects.update_or_create(issuer=issuer, defaults=dict(
        person_id_type="13", person_id_number="52123456", person_first_name="Laura", person_family_name="Gómez Ruiz",
        person_job_title="Jefe de compras", person_department="Compras", email_supplier=False))
    client = _LocalDian(dian)
    for document, codes in documents:
        for code in codes if document is not None else ():
            event = radian.send_event(radian.create_event(document, code), client=client)
            if event.state != event.State.ACCEPTED:
                logger.warning("Demo: event %s of %s not accepted: %s", code, document.number, event.dian_message)
                break


def _supplier_pkcs12() -> bytes:
    """The demo supplier's test certificate, valid since before its oldest demo invoice was signed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from facturador.dian.testing import make_test_certificate

    since = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=min(days for days, _, _ in CO_INVOICES) - 1)
    key, cert, ca_cert = make_test_certificate(SUPPLIER_NIT, days_valid=730, now=since)
    return pkcs12.serialize_key_and_certificates(b"demo", key, cert, [ca_cert],
                                                 serialization.BestAvailableEncryption(b"demo"))


class _LocalDian:
    """The two calls `reception.radian.send_event` makes, answered by the local DIAN service in this process."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def send_event(self, name: str, xml: bytes):
        return self.sandbox.process_event(xml, name)

    def get_status_event(self, cude: str):
        return self.sandbox.op_GetStatusEvent(cude)


def _seed_mexico(issuer):
    from facturador.cfdi.build import Concepto, Emisor, Invoice, Receptor, build_invoice
    from facturador.cfdi.csd import load_csd
    from facturador.cfdi.pac import FinkokPac
    from facturador.cfdi.sandbox import PacSandbox
    from facturador.cfdi.testing import make_test_csd
    from facturador.reception import satcerts, services

    rfc, name = MX_SUPPLIER
    cer, key = make_test_csd(rfc, name, "demo-1234", certificate_number="30001000000500007701")
    csd = load_csd(cer, key, "demo-1234")
    receptor = Receptor(rfc=issuer.tax_id, nombre=issuer.legal_name, codigo_postal=issuer.postal_code or "42501",
                        regimen_fiscal=issuer.fiscal_regime or "601", uso_cfdi="G03")
    pac_server = PacSandbox().start()
    satcerts.remember(pac_server.certificate)  # as if downloaded from SAT's certificate repository
    try:
        pac = FinkokPac("demo", "demo", pac_server.url, csd=csd, retries=0, timeout=10)
        for i, (description, qty, price) in enumerate(MX_INVOICES, 1):
            invoice = Invoice(emisor=Emisor.from_csd(csd, "601"), lugar_expedicion="06600", serie="XI",
                              folio=str(400 + i), receptor=receptor,
                              conceptos=[Concepto("01010101" if i == 1 else "84111506", qty, "H87" if i == 1
                                                  else "E48", description, price, iva="16")])
            xml = pac.stamp(build_invoice(invoice, csd)).xml_bytes
            intake = services.record_intake(issuer, source=Source.UPLOAD, name=f"{rfc}-XI{400 + i}.xml", data=xml)
            services.process_intake(intake, xml)
    finally:
        pac_server.stop()
