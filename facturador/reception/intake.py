"""Reading what arrived: unpack a file or an email, find the electronic documents in it, verify them.

No database here: `read_arrival` turns the bytes of one arrival into `Candidate` documents (each with its
verification, the fields to file and its files) and member errors; `reception.services` files them.

Limits are checked before anything is loaded: the arrival's size, the number of members of a zip or email,
the real (counted, not declared) uncompressed bytes of each zip member and of all together, nesting depth,
and the size of each XML document (the verifiers' 20 MB cap). A member that cannot be read is an error
naming the member; the others are still read.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath

from lxml import etree

from facturador.cfdi.verify import verify_cfdi
from facturador.dian import enablement
from facturador.dian._read import MAX_XML_BYTES, RULE_PREFIX, XmlInputError, document_info, parse, text, xp
from facturador.dian.ns import CAC, CBC, ROOT
from facturador.dian.verify import _verify_root, _verify_shared, application_response_info, verify_document
from facturador.tabular.errors import ImportFileError
from facturador.tabular.limits import inflate_member

CFDI_NS = {"http://www.sat.gob.mx/cfd/4": "4.0", "http://www.sat.gob.mx/cfd/3": "3.3"}
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
CFDI_KINDS = {"I": "cfdi_ingreso", "E": "cfdi_egreso", "T": "cfdi_traslado", "P": "cfdi_pago", "N": "cfdi_nomina"}
MAX_DEPTH = 3  # an email holding a zip holding XML is depth 2


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 25 * 2**20           # one arrival (file or email)
    max_members: int = 50                 # files inside one zip or email, all levels together
    max_unpacked_bytes: int = 100 * 2**20  # real uncompressed bytes of all members together
    max_xml_bytes: int = MAX_XML_BYTES


class ArrivalError(Exception):
    """The whole arrival cannot be read (too large, not a zip/xml/email, a zip bomb...)."""

    def __init__(self, code: str, message: str):
        super().__init__(code)
        self.code, self.message = code, message


@dataclass
class Part:
    name: str
    data: bytes


@dataclass
class Candidate:
    """One document found in the arrival, verified, with the fields to file."""
    member: str
    country: str
    fields: dict
    xml: bytes
    application_response: bytes | None = None
    findings: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    #: where its container ("container") and its supplier's PDF ("pdf") are in the arrival: [position, name] of
    #: the member among the arrival's unpacked parts (`read_member`), so they are read from the arrival's copy when
    #: needed instead of being stored again
    members: dict[str, list] = field(default_factory=dict)

    @property
    def uuid(self) -> str:
        return self.fields["uuid"]


@dataclass
class Arrival:
    candidates: list[Candidate] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {"member", "code", "message"}
    ignored: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------- unpacking
def _kind(name: str, data: bytes) -> str:
    if data[:4] == b"PK\x03\x04":
        return "zip"
    if data[:5] == b"%PDF-":
        return "pdf"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"<":
        return "xml"
    lower = name.lower()
    if lower.endswith(".eml") or _looks_like_email(head):
        return "eml"
    return "other"


def _looks_like_email(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0]
    key = first.split(b":", 1)[0]
    return b":" in first and key.replace(b"-", b"").isalnum() and key.lower() in (
        b"received", b"return-path", b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
        b"delivered-to", b"x-mailer", b"content-type", b"dkim-signature", b"reply-to", b"arc-seal")


class _Unpacker:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.members = 0
        self.budget = [0]
        self.ignored: list[str] = []

    def _count(self, name: str):
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArrivalError("reception.file.too_many_members",
                               f"«{name}»: el envío contiene más de {self.limits.max_members} archivos; "
                               "no se procesa.")

    def unpack(self, name: str, data: bytes, depth: int = 0) -> Iterator[Part]:
        """The arrival's documents (xml, pdf) in order, unpacked one member at a time: a reader of one member
        (`read_member`) stops there instead of inflating the whole arrival."""
        kind = _kind(name, data)
        if kind in ("xml", "pdf"):
            yield Part(name, data)
            return
        if depth >= MAX_DEPTH:
            raise ArrivalError("reception.file.too_deep",
                               f"«{name}»: hay demasiados niveles de archivos dentro de otros archivos.")
        if kind == "zip":
            yield from self._zip(name, data, depth)
        elif kind == "eml":
            yield from self._email(name, data, depth)
        elif depth == 0:
            raise ArrivalError("reception.file.unknown_type",
                               f"«{name}» no es un XML, un zip ni un correo (.eml); se admiten el "
                               "AttachedDocument de la DIAN (xml o zip), el CFDI (xml) y correos con esos adjuntos.")
        else:
            self.ignored.append(name)

    def _zip(self, name: str, data: bytes, depth: int) -> Iterator[Part]:
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            infos = [i for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise ArrivalError("reception.file.bad_zip", f"«{name}» no es un zip válido: {exc}.") from exc
        fh = io.BytesIO(data)
        for info in infos:
            member = f"{name}/{info.filename}"
            self._count(member)
            if info.flag_bits & 0x1:
                raise ArrivalError("reception.file.encrypted", f"«{member}» está cifrado; no se puede leer.")
            if info.file_size > self.limits.max_xml_bytes:
                raise ArrivalError("reception.file.member_too_large",
                                   f"«{member}» ocupa {info.file_size:,} bytes descomprimido; el máximo es "
                                   f"{self.limits.max_xml_bytes:,}.")
            try:
                chunks, got = [], 0
                for chunk in inflate_member(fh, zf, info, max_bytes=self.limits.max_unpacked_bytes, name=member,
                                            budget=self.budget):
                    got += len(chunk)
                    if got > self.limits.max_xml_bytes:
                        raise ArrivalError("reception.file.member_too_large",
                                           f"«{member}» ocupa más de {self.limits.max_xml_bytes:,} bytes "
                                           "descomprimido (más de lo que declara el zip).")
                    chunks.append(chunk)
            except ImportFileError as exc:
                raise ArrivalError("reception.file.too_large_unpacked", exc.message) from exc
            except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
                raise ArrivalError("reception.file.bad_zip", f"«{member}» está dañado: {exc}.") from exc
            yield from self.unpack(member, b"".join(chunks), depth + 1)

    def _email(self, name: str, data: bytes, depth: int) -> Iterator[Part]:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        for part in msg.walk():
            if part.is_multipart():
                continue
            filename = part.get_filename()
            ctype = part.get_content_type()
            if not filename and ctype not in ("application/xml", "text/xml", "application/zip", "application/pdf",
                                              "application/x-zip-compressed"):
                continue  # the message's text and inline images
            member = f"{name}/{filename or 'adjunto'}"
            self._count(member)
            try:
                payload = part.get_payload(decode=True) or b""
            except Exception as exc:  # noqa: BLE001 — a malformed transfer encoding
                raise ArrivalError("reception.file.bad_attachment", f"«{member}» no se puede decodificar: {exc}.")
            self.budget[0] += len(payload)
            if self.budget[0] > self.limits.max_unpacked_bytes:
                raise ArrivalError("reception.file.too_large_unpacked",
                                   f"«{name}»: los adjuntos ocupan más de {self.limits.max_unpacked_bytes:,} bytes.")
            yield from self.unpack(member, payload, depth + 1)


# ----------------------------------------------------------------------------------------- reading
def _dec(value) -> Decimal:
    try:
        return Decimal(value or "0").quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal("0.00")


def _digits(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isalnum()).upper()


def _findings_of(report, prefix: str = "") -> list[dict]:
    """Every failed check (error), notification (warning) and check that could not run (info)."""
    out = []
    for c in report.checks:
        if c.ok is False:
            out.append({"severity": "error", "check": prefix + c.name, "code": c.rule or c.name, "message": c.message})
        elif c.ok is None:
            out.append({"severity": "info", "check": prefix + c.name, "code": "", "message": c.message})
    for w in report.warnings:
        out.append({"severity": "warning", "check": prefix + w.name, "code": w.rule or w.name, "message": w.message})
    for key, sub in report.embedded.items():
        label = {"document": "documento.", "application_response": "respuesta_dian."}.get(key, key + ".")
        out.extend(_findings_of(sub, prefix + label))
    return out


def _dian_answer(ar_xml: bytes | None, root=None) -> dict:
    if not ar_xml:
        return {"dian_validation": "missing", "dian_response_code": "", "dian_rules": [], "dian_validated_at": ""}
    root = parse(ar_xml) if root is None else root
    info = application_response_info(root)
    code = info.get("response_code") or ""
    rules = []
    for lr in xp(root, "cac:DocumentResponse/cac:LineResponse/cac:Response"):
        rc, desc = text(lr, "cbc:ResponseCode") or "", text(lr, "cbc:Description") or ""
        if rc and rc not in ("0000",):
            rules.append({"code": rc, "message": desc})
    validation = {"02": "accepted", "04": "rejected"}.get(code, "rejected" if code else "missing")
    return {"dian_validation": validation, "dian_response_code": code, "dian_rules": rules,
            "dian_validated_at": f"{info.get('issue_date') or ''} {info.get('issue_time') or ''}".strip(),
            "_reference_uuid": (info.get("reference_uuid") or "").lower()}


def _extract(root) -> tuple[bytes, bytes | None]:
    """The embedded document and ApplicationResponse of a parsed AttachedDocument (as `dian.attached.extract`,
    without parsing it again)."""
    doc = root.find(f"{{{CAC}}}Attachment/{{{CAC}}}ExternalReference/{{{CBC}}}Description")
    ar = root.find(f"{{{CAC}}}ParentDocumentLineReference/{{{CAC}}}DocumentReference/{{{CAC}}}Attachment/"
                   f"{{{CAC}}}ExternalReference/{{{CBC}}}Description")
    return doc.text.encode("utf-8"), (ar.text.encode("utf-8") if ar is not None and ar.text else None)


def verdict(findings: list[dict]) -> str:
    if any(f["severity"] == "error" for f in findings):
        return "failed"
    if any(f["severity"] == "warning" for f in findings):
        return "findings"
    return "ok"


def read_colombian(member: str, xml: bytes, *, container: bytes | None, ar: bytes | None,
                   schema_dir: str | None = None, root=None, container_root=None) -> Candidate:
    """``root`` / ``container_root``: `xml` / `container` already parsed (within the XML size cap), so each
    nested document is parsed once and its tree shared with the verifier (`dian.verify._verify_root`)."""
    root = parse(xml) if root is None or len(xml) > MAX_XML_BYTES else root  # the verifier's cap, as before
    # habilitación documents use DIAN's public test technical key; a production CUFE needs the supplier's key,
    # which the buyer does not have (DIAN's validation in the ApplicationResponse vouches for it)
    key = enablement.TEST_TECHNICAL_KEY if text(root, "cbc:ProfileExecutionID") == "2" else None
    trees = {"document": (xml, root)}
    if container is not None:
        if container_root is None or len(container) > MAX_XML_BYTES:
            report = verify_document(container, technical_key=key, schema_dir=schema_dir or None)
        else:
            report = _verify_root(container, container_root, technical_key=key, schema_dir=schema_dir or None,
                                  trees=trees)
    else:
        report = _verify_root(xml, root, technical_key=key, schema_dir=schema_dir or None)
    info = _document_info(report.embedded.get("document") if container is not None else report, root)
    findings = _findings_of(report)
    if container is None and ar is not None:  # a loose ApplicationResponse: verified on its own
        ar_report = _verify_shared(trees, "application_response", ar, schema_dir=schema_dir or None,
                                   max_bytes=MAX_XML_BYTES)
        findings.extend(_findings_of(ar_report, "respuesta_dian."))
    shared_ar = trees.get("application_response")
    answer = _dian_answer(ar, shared_ar[1] if shared_ar is not None and shared_ar[0] == ar else None)
    uuid = (info.get("uuid") or "").lower()
    if answer.get("_reference_uuid") and answer["_reference_uuid"] != uuid and container is None:
        findings.append({"severity": "error", "check": "respuesta_dian", "code": "ZB01",
                         "message": "La ApplicationResponse responde a otro documento."})
    answer.pop("_reference_uuid", None)
    if answer["dian_validation"] == "missing":
        findings.append({"severity": "warning", "check": "respuesta_dian", "code": "sin_respuesta_dian",
                         "message": "No llegó la ApplicationResponse de la DIAN que valida el documento."})
    elif answer["dian_validation"] == "rejected":
        findings.append({"severity": "error", "check": "respuesta_dian", "code": answer["dian_response_code"],
                         "message": "La DIAN no validó el documento: " +
                                    "; ".join(f"{r['code']} {r['message']}" for r in answer["dian_rules"][:5])})
    number = info.get("number") or ""
    supplier_party = "cac:AccountingSupplierParty/cac:Party"
    fields = {
        "country": "CO", "kind": info.get("kind") or "invoice", "type_code": info.get("type") or "",
        "supplier_tax_id": _digits(info.get("supplier_nit")), "supplier_check_digit": (info.get("supplier_dv") or "")[:1],
        "supplier_name": (info.get("supplier_name") or "")[:300],
        "supplier_email": (text(root, f"{supplier_party}/cac:Contact/cbc:ElectronicMail") or "")[:254],
        "buyer_tax_id": _digits(info.get("customer_id")), "buyer_name": (info.get("customer_name") or "")[:300],
        "series": _prefix(root, number), "number": number[:60],
        "issue_date": info.get("issue_date") or None, "issue_time": (info.get("issue_time") or "")[:20],
        "due_date": text(root, "cbc:DueDate") or None, "currency": (info.get("currency") or "COP")[:3],
        "subtotal": _dec(info.get("line_extension")),
        "tax_total": sum((_dec(v) for v in xp(root, "cac:TaxTotal/cbc:TaxAmount/text()")), Decimal("0.00")),
        "withholding_total": sum((_dec(v) for v in xp(root, "cac:WithholdingTaxTotal/cbc:TaxAmount/text()")),
                                 Decimal("0.00")),
        "total": _dec(info.get("payable")), "uuid": uuid,
        "uuid_scheme": info.get("uuid_scheme") or "", "environment": (info.get("environment") or "")[:1],
        **answer,
    }
    return Candidate(member=member, country="CO", fields=fields, xml=xml, application_response=ar,
                     findings=findings, report=report.to_json())


def _document_info(read, root) -> dict:
    """`document_info(root)`: the verifier's, from its report of the document (``read``), when it read it as an
    invoice or note (the same tree, or the same bytes); else read here."""
    if read is not None and read.document.get("kind") in RULE_PREFIX:
        return read.document
    return document_info(root)


def _prefix(root, number: str) -> str:
    prefix = text(root, "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions/"
                        "sts:InvoiceControl/sts:AuthorizedInvoices/sts:Prefix") or ""
    return prefix if prefix and number.startswith(prefix) else ""


#: why the TimbreFiscalDigital failed (cfdi.verify.verify_tfd_seal), for people
TFD_FAILURES = {
    "sello_sat": "Sello del SAT no válido: el SelloSAT no corresponde a la cadena original del timbre con el "
                 "certificado del SAT que el timbre nombra.",
    "sello_cfd": "Sello del SAT no válido: el SelloCFD del timbre no es el sello del comprobante.",
    "no_certificado_sat": "Sello del SAT no válido: el certificado del SAT no es el que el timbre nombra.",
}


def read_mexican(member: str, xml: bytes, root, *, pac_certificates=None, max_xml_bytes: int = MAX_XML_BYTES) -> Candidate:
    result = verify_cfdi(xml, pac_certificates, require_stamp=True, max_bytes=max_xml_bytes)
    findings = []
    for err in result.errors:
        code, _, message = err.partition(":")
        severity = "info" if code == "timbre_no_verificado" else "error"
        if code == "timbre":
            message = TFD_FAILURES.get(message.strip(), message)
        findings.append({"severity": severity, "check": "cfdi", "code": code.strip()[:40] if message else "cfdi",
                         "message": (message or err).strip()})
    ns = {"cfdi": etree.QName(root).namespace, "tfd": TFD_NS}
    tfd = root.find("cfdi:Complemento/tfd:TimbreFiscalDigital", ns)
    emisor, receptor = root.find("cfdi:Emisor", ns), root.find("cfdi:Receptor", ns)
    impuestos = root.find("cfdi:Impuestos", ns)
    serie, folio = root.get("Serie") or "", root.get("Folio") or ""
    fecha = root.get("Fecha") or ""
    uuid = ((tfd.get("UUID") if tfd is not None else "") or "").lower()
    fields = {
        "country": "MX", "kind": CFDI_KINDS.get(root.get("TipoDeComprobante") or "", "cfdi_ingreso"),
        "type_code": (root.get("TipoDeComprobante") or "")[:4],
        "supplier_tax_id": (emisor.get("Rfc") if emisor is not None else "") or "",
        "supplier_name": ((emisor.get("Nombre") if emisor is not None else "") or "")[:300],
        "buyer_tax_id": (receptor.get("Rfc") if receptor is not None else "") or "",
        "buyer_name": ((receptor.get("Nombre") if receptor is not None else "") or "")[:300],
        "series": serie[:25], "number": (f"{serie}{folio}" or uuid[:8])[:60],
        "issue_date": fecha[:10] or None, "issue_time": fecha[11:19],
        "currency": (root.get("Moneda") or "MXN")[:3],
        "subtotal": _dec(root.get("SubTotal")),
        "tax_total": _dec(impuestos.get("TotalImpuestosTrasladados") if impuestos is not None else None),
        "withholding_total": _dec(impuestos.get("TotalImpuestosRetenidos") if impuestos is not None else None),
        "total": _dec(root.get("Total")), "uuid": uuid, "uuid_scheme": "UUID", "environment": "",
        "dian_validation": "",
    }
    return Candidate(member=member, country="MX", fields=fields, xml=xml, findings=findings, report=result.to_json())


def read_arrival(name: str, data: bytes, *, limits: Limits = Limits(), schema_dir: str | None = None,
                 pac_certificates=None) -> Arrival:
    """Everything in one arrival. Raises `ArrivalError` when the arrival as a whole is refused."""
    if len(data) > limits.max_bytes:
        raise ArrivalError("reception.file.too_large", f"«{name}» ocupa {len(data):,} bytes; el máximo es "
                                                        f"{limits.max_bytes:,} ({limits.max_bytes / 2**20:.0f} MB).")
    if not data:
        raise ArrivalError("reception.file.empty", f"«{name}» está vacío.")
    unpacker = _Unpacker(limits)
    parts = list(unpacker.unpack(name, data))
    out = Arrival(ignored=unpacker.ignored)
    bare: dict[str, tuple] = {}
    responses: dict[str, bytes] = {}
    pdfs: list[tuple[int, Part]] = []
    pending: list[tuple] = []  # (member, kind, payload, position of the AttachedDocument among the parts or None)
    for position, part in enumerate(parts):
        if _kind(part.name, part.data) == "pdf":
            pdfs.append((position, part))
            continue
        try:
            root = parse(part.data, max_bytes=limits.max_xml_bytes)
        except etree.XMLSyntaxError as exc:
            out.errors.append({"member": part.name, "code": "reception.xml.malformed",
                               "message": f"«{part.name}»: XML mal formado ({exc})."})
            continue
        except XmlInputError as exc:
            out.errors.append({"member": part.name, "code": f"reception.{exc.code}",
                               "message": f"«{part.name}»: {exc.message}"})
            continue
        qname = etree.QName(root)
        if qname.namespace in CFDI_NS and qname.localname == "Comprobante":
            pending.append((part.name, "mx", (part.data, root), None))
        elif ROOT.get(qname.localname) == qname.namespace and qname.localname == "AttachedDocument":
            try:
                doc, ar = _extract(root)
            except (AttributeError, UnicodeError):
                out.errors.append({"member": part.name, "code": "reception.attached.no_document",
                                   "message": f"«{part.name}»: el AttachedDocument no contiene un documento "
                                              "electrónico legible."})
                continue
            pending.append((part.name, "co", (doc, part.data, ar, root), position))
        elif ROOT.get(qname.localname) == qname.namespace and qname.localname in ("Invoice", "CreditNote", "DebitNote"):
            uuid = (text(root, "cbc:UUID") or "").lower()
            bare[uuid] = (part.name, part.data, root)
        elif ROOT.get(qname.localname) == qname.namespace and qname.localname == "ApplicationResponse":
            responses[(application_response_info(root).get("reference_uuid") or "").lower()] = part.data
        else:
            out.errors.append({"member": part.name, "code": "reception.xml.not_a_document",
                               "message": f"«{part.name}»: no es una factura electrónica de la DIAN ni un CFDI "
                                          f"(raíz {qname.localname})."})
    for uuid, (member, xml, root) in bare.items():
        pending.append((member, "co", (xml, None, responses.get(uuid), root), None))
    for member, kind, payload, position in pending:
        try:
            if kind == "co":
                doc, container, ar, parsed = payload
                if container is None:
                    cand = read_colombian(member, doc, container=None, ar=ar, schema_dir=schema_dir, root=parsed)
                else:
                    cand = read_colombian(member, doc, container=container, ar=ar, schema_dir=schema_dir,
                                          container_root=parsed)
                    cand.members["container"] = [position, member]
            else:
                xml, root = payload
                cand = read_mexican(member, xml, root, pac_certificates=pac_certificates,
                                    max_xml_bytes=limits.max_xml_bytes)
        except (etree.XMLSyntaxError, XmlInputError, ValueError) as exc:
            out.errors.append({"member": member, "code": "reception.document.unreadable",
                               "message": f"«{member}»: no se pudo leer el documento ({exc})."})
            continue
        if not cand.uuid:
            out.errors.append({"member": member, "code": "reception.document.no_uuid",
                               "message": f"«{member}»: el documento no tiene CUFE/CUDE ni UUID; no se puede "
                                          "registrar."})
            continue
        out.candidates.append(cand)
    _attach_pdfs(out.candidates, pdfs)
    return out


def _attach_pdfs(candidates: list[Candidate], pdfs: list[tuple[int, Part]]) -> None:
    if not pdfs or not candidates:
        return
    if len(candidates) == 1:
        position, chosen = pdfs[0]
        candidates[0].members["pdf"] = [position, chosen.name]
        return
    for cand in candidates:
        for position, p in pdfs:
            stem = PurePosixPath(p.name).stem.lower()
            if cand.fields["number"].lower() in stem or cand.uuid[:12] in stem:
                cand.members["pdf"] = [position, p.name]
                break


def read_member(name: str, data: bytes, where: list, *, limits: Limits = Limits()) -> bytes | None:
    """The member of an arrival that `read_arrival` found at ``where`` ([position, name], `Candidate.members`),
    unpacked again the same way; None when the arrival has no such member there (its copy is not what was read)."""
    position, member_name = where
    for k, part in enumerate(_Unpacker(limits).unpack(name, data)):
        if k == position:
            return part.data if part.name == member_name else None
    return None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
