"""RADIAN events: the ApplicationResponse a party registers about an invoice (Anexo técnico de RADIAN, Anexo
técnico 1.9 §11.5), built, given its CUDE and signed with the issuer's certificate (``xades.sign``).

Events of this module: 030 acuse de recibo, 031 reclamo (with DIAN's claim concept in ``ResponseCode/@listID``),
032 recibo del bien y/o prestación del servicio, 033 aceptación expresa (all four by the invoice's buyer) and 034
aceptación tácita (by the invoice's supplier, after the legal term without a claim).

The event CUDE is SHA-384 over ``NumDE + FecEmi + HorEmi + NitFE + DocAdq + ResponseCode + ID + DocumentTypeCode
+ Software-PIN``: the event's own number, date and time, the NIT of who sends it (SenderParty) and of who receives
it (ReceiverParty), its ResponseCode, the referenced invoice's number and type code, and the PIN of the sending
software. No amounts and no environment digit. The annex's worked example:

>>> event_cude("1", "2019-04-30", "19:48:50-05:00", "99998888", "800197268", "030", "FE123", "01", "11111")
'0d91ba25b01f5e7dbda870a11b274501d3a62a73e91932c473c86c93f12a142a2ac45876efcde3e679024a01c0be41f9'

Building one (unsigned) and reading its CUDE back:

>>> import datetime as dt
>>> from .model import Party, Software
>>> ev = Event("030", "1", dt.date(2019, 4, 30), dt.time(19, 48, 50), "2",
...            Software("sw-1", "11111", "99998888"), Party("99998888", "Comprador S.A.S."),
...            Party("800197268", "Proveedor S.A."), "FE123", "a" * 96)
>>> root = build_event(ev)
>>> root.findtext(f"{{{NS['cbc']}}}UUID") == event_cude_of(ev)
True
>>> root.find(f"{{{NS['cbc']}}}UUID").get("schemeName")
'CUDE-SHA384'
>>> Event("031", "2", dt.date(2019, 4, 30), dt.time(19, 0), "2", ev.software, ev.sender, ev.receiver,
...       "FE123", "a" * 96).problems()
['El reclamo (031) necesita el concepto de reclamo (01, 02, 03 o 04).']
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from lxml import etree

from .model import COT, DIAN_DV, DIAN_NIT, Party, Software
from .ns import NS, ROOT

#: ResponseCode -> DIAN's description (Anexo RADIAN, tabla de eventos)
EVENTS = {"030": "Acuse de recibo de Factura Electrónica de Venta",
          "031": "Reclamo de la Factura Electrónica de Venta",
          "032": "Recibo del bien y/o prestación del servicio",
          "033": "Aceptación expresa",
          "034": "Aceptación tácita"}
#: concepto de reclamo of a 031 (``cbc:ResponseCode/@listID``)
CLAIM_REASONS = {"01": "Documento con inconsistencias", "02": "Mercancía no entregada totalmente",
                 "03": "Mercancía no entregada parcialmente", "04": "Servicio no prestado"}
#: events the invoice's buyer registers; 034 is the supplier's
BUYER_EVENTS = ("030", "031", "032", "033")
#: events that must name the person who received / accepted (cac:DocumentResponse/cac:IssuerParty/cac:Person)
PERSON_REQUIRED = ("032",)
#: what must be registered on the invoice before each event
PREREQUISITES = {"030": (), "032": ("030",), "031": ("030", "032"), "033": ("030", "032"), "034": ("030", "032")}
#: business days after the 032 during which the buyer may claim; after them without a claim the invoice is
#: tacitly accepted and the supplier may register 034 (Decreto 1074/2015 art. 2.2.2.53.4, parágrafo: tres días
#: hábiles siguientes a la recepción de la mercancía o del servicio)
TACIT_TERM_BUSINESS_DAYS = 3
PROFILE_ID = "DIAN 2.1: ApplicationResponse de la Factura Electrónica de Venta"
AGENCY = {"schemeAgencyID": "195", "schemeAgencyName": "CO, DIAN (Dirección de Impuestos y Aduanas Nacionales)"}
QR_BASE = {"1": "https://catalogo-vpfe.dian.gov.co/document/searchqr?documentkey=",
           "2": "https://catalogo-vpfe-hab.dian.gov.co/document/searchqr?documentkey="}


@dataclass
class Person:
    """Who received the goods or accepts, for the events that name a person (cac:IssuerParty/cac:Person)."""
    id_number: str
    first_name: str
    family_name: str
    job_title: str = ""
    department: str = ""
    id_type: str = "13"


@dataclass
class Event:
    code: str                       # 030..034
    number: str                     # cbc:ID of the event: the issuer's own event sequence
    issue_date: dt.date
    issue_time: dt.time             # Colombian legal time (written with -05:00)
    environment: str                # 1 producción, 2 habilitación/pruebas
    software: Software              # the sending software: its id and PIN (CUDE, SoftwareSecurityCode)
    sender: Party                   # who registers the event (buyer for 030-033, supplier for 034)
    receiver: Party                 # the other party of the invoice
    invoice_number: str             # cbc:ID of the referenced invoice (prefix + number)
    invoice_cufe: str
    invoice_type_code: str = "01"
    claim_reason: str | None = None  # 031 only: 01..04
    person: Person | None = None
    note: str = ""

    def problems(self) -> list[str]:
        """What makes this event one DIAN would refuse before looking at the invoice (Spanish)."""
        out = []
        if self.code not in EVENTS:
            out.append(f"Código de evento no admitido: {self.code!r} (030, 031, 032, 033 o 034).")
        if self.code == "031" and self.claim_reason not in CLAIM_REASONS:
            out.append("El reclamo (031) necesita el concepto de reclamo (01, 02, 03 o 04).")
        if self.code != "031" and self.claim_reason:
            out.append("Solo el reclamo (031) lleva concepto de reclamo.")
        if self.code in PERSON_REQUIRED and self.person is None:
            out.append(f"El evento {self.code} debe identificar a la persona que recibe (nombre, documento, cargo).")
        if self.environment not in ("1", "2"):
            out.append("El ambiente debe ser 1 (producción) o 2 (pruebas).")
        if not self.invoice_number or len(self.invoice_cufe or "") != 96:
            out.append("El evento debe referenciar la factura por su número y su CUFE (96 caracteres).")
        return out


def event_cude_string(number: str, issue_date: str, issue_time: str, sender_nit: str, receiver_nit: str,
                      code: str, reference_id: str, reference_type_code: str, pin: str) -> str:
    """The string hashed by the event CUDE (strings as written in the XML; NITs without check digit)."""
    return f"{number}{issue_date}{issue_time}{sender_nit}{receiver_nit}{code}{reference_id}{reference_type_code}{pin}"


def event_cude(number: str, issue_date: str, issue_time: str, sender_nit: str, receiver_nit: str, code: str,
               reference_id: str, reference_type_code: str, pin: str) -> str:
    """SHA-384 hex of ``event_cude_string`` (see the module's doctest for DIAN's worked example)."""
    return hashlib.sha384(event_cude_string(number, issue_date, issue_time, sender_nit, receiver_nit, code,
                                            reference_id, reference_type_code, pin).encode("utf-8")).hexdigest()


def _date(ev: Event) -> str:
    return ev.issue_date.isoformat()


def _time(ev: Event) -> str:
    return ev.issue_time.strftime("%H:%M:%S") + "-05:00"


def event_cude_of(ev: Event) -> str:
    return event_cude(ev.number, _date(ev), _time(ev), ev.sender.id_number, ev.receiver.id_number, ev.code,
                      ev.invoice_number, ev.invoice_type_code, ev.software.pin)


def software_security_code(software_id: str, pin: str, number: str) -> str:
    return hashlib.sha384(f"{software_id}{pin}{number}".encode("utf-8")).hexdigest()


def _q(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _e(parent, tag: str, text: str | None = None, **attrib):
    el = etree.SubElement(parent, _q(tag), {k: v for k, v in attrib.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _party(parent, tag: str, p: Party):
    pts = _e(_e(parent, tag), "cac:PartyTaxScheme")
    _e(pts, "cbc:RegistrationName", p.name)
    _e(pts, "cbc:CompanyID", p.id_number, **AGENCY, schemeID=p.dv if p.id_type == "31" else None,
       schemeName=p.id_type, schemeVersionID=p.organization_code)
    _e(pts, "cbc:TaxLevelCode", ";".join(p.responsibilities) or "R-99-PN")
    ts = _e(pts, "cac:TaxScheme")
    _e(ts, "cbc:ID", p.tax_scheme)
    _e(ts, "cbc:Name", {"01": "IVA", "04": "INC", "ZA": "IVA e INC"}.get(p.tax_scheme, "No aplica"))


def build_event(ev: Event) -> etree._Element:
    """The unsigned event (root element), with its CUDE; the second UBLExtension is left for the signature.
    Raises ``ValueError`` with the Spanish problems of ``ev.problems()``."""
    problems = ev.problems()
    if problems:
        raise ValueError(" ".join(problems))
    cude = event_cude_of(ev)
    ns_root = ROOT["ApplicationResponse"]
    root = etree.Element(f"{{{ns_root}}}ApplicationResponse",
                         nsmap={None: ns_root, **{k: NS[k] for k in ("cac", "cbc", "ext", "sts", "ds", "xades")}})
    exts = _e(root, "ext:UBLExtensions")
    dian = _e(_e(_e(exts, "ext:UBLExtension"), "ext:ExtensionContent"), "sts:DianExtensions")
    _e(_e(dian, "sts:InvoiceSource"), "cbc:IdentificationCode", "CO", listAgencyID="6",
       listAgencyName="United Nations Economic Commission for Europe",
       listSchemeURI="urn:oasis:names:specification:ubl:codelist:gc:CountryIdentificationCode-2.1")
    sp = _e(dian, "sts:SoftwareProvider")
    _e(sp, "sts:ProviderID", ev.software.provider_nit, **AGENCY, schemeID=ev.software.provider_dv,
       schemeName="31")
    _e(sp, "sts:SoftwareID", ev.software.id, **AGENCY)
    _e(dian, "sts:SoftwareSecurityCode", software_security_code(ev.software.id, ev.software.pin, ev.number),
       **AGENCY)
    ap = _e(dian, "sts:AuthorizationProvider")
    _e(ap, "sts:AuthorizationProviderID", DIAN_NIT, **AGENCY, schemeID=DIAN_DV, schemeName="31")
    _e(dian, "sts:QRCode", QR_BASE[ev.environment] + ev.invoice_cufe)
    _e(_e(exts, "ext:UBLExtension"), "ext:ExtensionContent")
    _e(root, "cbc:UBLVersionID", "UBL 2.1")
    _e(root, "cbc:CustomizationID", "1")
    _e(root, "cbc:ProfileID", PROFILE_ID)
    _e(root, "cbc:ProfileExecutionID", ev.environment)
    _e(root, "cbc:ID", ev.number)
    _e(root, "cbc:UUID", cude, schemeID=ev.environment, schemeName="CUDE-SHA384")
    _e(root, "cbc:IssueDate", _date(ev))
    _e(root, "cbc:IssueTime", _time(ev))
    if ev.note:
        _e(root, "cbc:Note", ev.note)
    _party(root, "cac:SenderParty", ev.sender)
    _party(root, "cac:ReceiverParty", ev.receiver)
    dr = _e(root, "cac:DocumentResponse")
    resp = _e(dr, "cac:Response")
    _e(resp, "cbc:ResponseCode", ev.code, listID=ev.claim_reason if ev.code == "031" else None,
       name=CLAIM_REASONS.get(ev.claim_reason or "") if ev.code == "031" else None)
    _e(resp, "cbc:Description", EVENTS[ev.code])
    ref = _e(dr, "cac:DocumentReference")
    _e(ref, "cbc:ID", ev.invoice_number)
    _e(ref, "cbc:UUID", ev.invoice_cufe, schemeName="CUFE-SHA384")
    _e(ref, "cbc:DocumentTypeCode", ev.invoice_type_code)
    if ev.person is not None and ev.code != "034":
        p = ev.person
        person = _e(_e(dr, "cac:IssuerParty"), "cac:Person")
        _e(person, "cbc:ID", p.id_number, schemeName=p.id_type)
        _e(person, "cbc:FirstName", p.first_name)
        _e(person, "cbc:FamilyName", p.family_name)
        if p.job_title:
            _e(person, "cbc:JobTitle", p.job_title)
        if p.department:
            _e(person, "cbc:OrganizationDepartment", p.department)
    return root


def sign_event(ev: Event, signer, signing_time: dt.datetime | None = None) -> bytes:
    """Build and sign ``ev`` with the sender's certificate (XAdES-EPES, ``xades.sign``); the signed bytes.

    DIAN wants the signature made at the event's date and time (rule AAD09e): by default the signing time is
    the event's own issue date and time."""
    from .xades import sign
    when = signing_time or dt.datetime.combine(ev.issue_date, ev.issue_time, COT)
    return sign(build_event(ev), signer, role="supplier", signing_time=when)


def event_fields(root) -> dict:
    """The fields of an event ApplicationResponse the CUDE and the order rules use (strings, '' if absent)."""
    def t(path):
        found = root.xpath(path, namespaces=NS)
        if not found:
            return ""
        v = found[0]
        return (v if isinstance(v, str) else (v.text or "")).strip()
    dr = "cac:DocumentResponse"
    return {"number": t("cbc:ID"), "cude": t("cbc:UUID").lower(), "environment": t("cbc:ProfileExecutionID"),
            "issue_date": t("cbc:IssueDate"), "issue_time": t("cbc:IssueTime"),
            "sender_nit": t("cac:SenderParty/cac:PartyTaxScheme/cbc:CompanyID"),
            "sender_name": t("cac:SenderParty/cac:PartyTaxScheme/cbc:RegistrationName"),
            "receiver_nit": t("cac:ReceiverParty/cac:PartyTaxScheme/cbc:CompanyID"),
            "receiver_name": t("cac:ReceiverParty/cac:PartyTaxScheme/cbc:RegistrationName"),
            "code": t(f"{dr}/cac:Response/cbc:ResponseCode"),
            "claim_reason": t(f"{dr}/cac:Response/cbc:ResponseCode/@listID"),
            "reference_id": t(f"{dr}/cac:DocumentReference/cbc:ID"),
            "reference_uuid": t(f"{dr}/cac:DocumentReference/cbc:UUID").lower(),
            "reference_type_code": t(f"{dr}/cac:DocumentReference/cbc:DocumentTypeCode"),
            "software_id": t("ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions/"
                             "sts:SoftwareProvider/sts:SoftwareID"),
            "person_id": t(f"{dr}/cac:IssuerParty/cac:Person/cbc:ID")}


def recompute_cude(fields: dict, pin: str) -> str:
    """The CUDE an event with these ``event_fields`` must carry, given the sending software's PIN."""
    return event_cude(fields["number"], fields["issue_date"], fields["issue_time"], fields["sender_nit"],
                      fields["receiver_nit"], fields["code"], fields["reference_id"], fields["reference_type_code"],
                      pin)


def add_business_days(start: dt.date, days: int, holidays=None) -> dt.date:
    """``days`` business days (días hábiles: Monday-Friday but Colombian public holidays, from the
    ``holidays`` package, unless a set is given) after ``start``.

    >>> add_business_days(dt.date(2026, 12, 4), 3)   # Friday; Tuesday 8 December is a holiday
    datetime.date(2026, 12, 10)
    >>> add_business_days(dt.date(2026, 12, 4), 3, holidays=set())
    datetime.date(2026, 12, 9)
    """
    if holidays is None:
        import holidays as _holidays
        holidays = _holidays.country_holidays("CO", years=range(start.year, start.year + 2))
    d = start
    while days > 0:
        d += dt.timedelta(days=1)
        if d.weekday() < 5 and d not in holidays:
            days -= 1
    return d


def tacit_acceptance_date(receipt_date: dt.date, holidays=None) -> dt.date:
    """First day the supplier may register 034: the day after the term of ``TACIT_TERM_BUSINESS_DAYS``
    business days following the 032 (recibo del bien) ends.

    >>> tacit_acceptance_date(dt.date(2026, 12, 4))
    datetime.date(2026, 12, 11)
    """
    return add_business_days(receipt_date, TACIT_TERM_BUSINESS_DAYS, holidays) + dt.timedelta(days=1)
