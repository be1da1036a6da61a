"""Build and seal CFDI 4.0 documents from plain dataclasses (satcfdi does the arithmetic).

Public entry points (each returns the sealed, XSD-validated XML bytes):

* :func:`build_invoice` — ingreso (PUE or PPD).
* :func:`build_credit_note` — egreso related (TipoRelacion 01 by default) to invoice UUIDs.
* :func:`build_payment` — pago with the Pagos 2.0 complement, from the stamped invoices' XML.
* :func:`build_global_invoice` — factura global a público en general from tickets.

Before sealing, the CFDI 4.0 rules that PACs most often reject are checked here and raised as
:class:`~facturador.cfdi.errors.CfdiValidationError` (``code`` = SAT's CFDI40xxx where one
applies, ``field`` = offending field, Spanish ``message``).

Rounding (cfdi.md §3.7): concept Importe and taxes use satcfdi's ``Comprobante.compute`` (concept
amounts rounded to the currency decimals, tax totals from a round tracker so that header taxes equal
the rounded sums), amounts are converted to :class:`~decimal.Decimal` from their string form (never
from binary floats' full expansion).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable, Sequence

from lxml import etree
from satcfdi.cfdi import CFDI
from satcfdi.create.cfd import cfdi40

from ..taxid import GENERIC_RFCS, TaxIdError, validate_rfc
from . import xml as cx
from .catalogs import FORMAS_PAGO, REGIMENES, USOS_CFDI, usos_cfdi_for_regimen
from .csd import Csd
from .errors import CfdiValidationError

__all__ = [
    "Emisor", "Receptor", "Concepto", "Retencion", "Invoice", "CreditNote", "PaidDocument", "Payment",
    "Ticket", "GlobalInvoice", "build_invoice", "build_credit_note", "build_payment",
    "build_global_invoice", "validate_receptor", "to_decimal", "from_dict", "PUBLICO_EN_GENERAL",
    "RFC_PUBLICO_GENERAL", "RFC_EXTRANJERO",
]

RFC_PUBLICO_GENERAL = "XAXX010101000"
RFC_EXTRANJERO = "XEXX010101000"
PUBLICO_EN_GENERAL = "PUBLICO EN GENERAL"
IVA_RATES = {"16": Decimal("0.160000"), "8": Decimal("0.080000"), "0": Decimal("0.000000")}


# --------------------------------------------------------------------------- data
@dataclass
class Emisor:
    rfc: str
    nombre: str
    regimen_fiscal: str

    @classmethod
    def from_csd(cls, csd: Csd, regimen_fiscal: str) -> "Emisor":
        return cls(rfc=csd.rfc, nombre=csd.legal_name, regimen_fiscal=regimen_fiscal)


@dataclass
class Receptor:
    rfc: str
    nombre: str
    codigo_postal: str          # DomicilioFiscalReceptor
    regimen_fiscal: str         # RegimenFiscalReceptor
    uso_cfdi: str
    residencia_fiscal: str | None = None
    num_reg_id_trib: str | None = None


@dataclass
class Retencion:
    impuesto: str               # "001" ISR, "002" IVA
    tasa: Decimal | str         # e.g. "0.100000" ISR, "0.106667" IVA


@dataclass
class Concepto:
    clave_prod_serv: str
    cantidad: Decimal | str | int
    clave_unidad: str
    descripcion: str
    valor_unitario: Decimal | str | int
    iva: str | None = "16"      # "16", "8", "0", "exento" or None (not subject: ObjetoImp 01)
    unidad: str | None = None
    no_identificacion: str | None = None
    descuento: Decimal | str | None = None
    retenciones: Sequence[Retencion] = ()
    objeto_imp: str | None = None   # override (e.g. "03"); default derived from taxes


@dataclass
class _Common:
    emisor: Emisor
    receptor: Receptor
    lugar_expedicion: str
    serie: str | None = None
    folio: str | None = None
    fecha: dt.datetime | None = None      # local time of LugarExpedicion; default now there
    moneda: str = "MXN"
    tipo_cambio: Decimal | str | None = None
    exportacion: str = "01"


@dataclass
class Invoice(_Common):
    conceptos: Sequence[Concepto] = ()
    metodo_pago: str = "PUE"              # "PUE" or "PPD"
    forma_pago: str = "01"                # "99" is forced for PPD
    condiciones_de_pago: str | None = None
    relacionados: Sequence[str] = ()
    tipo_relacion: str | None = None      # e.g. "04" substitution, "07" anticipo


@dataclass
class CreditNote(_Common):
    conceptos: Sequence[Concepto] = ()
    relacionados: Sequence[str] = ()      # UUIDs of the invoices it reduces
    tipo_relacion: str = "01"             # 01 nota de crédito de los documentos relacionados
    metodo_pago: str = "PUE"
    forma_pago: str = "01"


@dataclass
class PaidDocument:
    invoice_xml: bytes                    # the stamped PPD invoice
    imp_pagado: Decimal | str | None = None   # default: the whole remaining balance
    imp_saldo_ant: Decimal | str | None = None  # default: invoice total
    num_parcialidad: int = 1


@dataclass
class Payment:
    emisor: Emisor
    lugar_expedicion: str
    fecha_pago: dt.datetime
    forma_pago: str
    documentos: Sequence[PaidDocument]
    receptor: Receptor | None = None      # default: the invoices' receptor (UsoCFDI becomes CP01)
    serie: str | None = None
    folio: str | None = None
    fecha: dt.datetime | None = None


@dataclass
class Ticket:
    number: str                           # NoIdentificacion
    subtotal: Decimal | str               # amount before taxes
    iva: str | None = "16"
    descripcion: str = "Venta"
    descuento: Decimal | str | None = None


@dataclass
class GlobalInvoice:
    emisor: Emisor
    lugar_expedicion: str
    periodicidad: str                     # 01 diario, 02 semanal, 03 quincenal, 04 mensual, 05 bimestral
    meses: str                            # 01-12, 13-18 (bimestres, only with 05)
    anio: int
    tickets: Sequence[Ticket]
    forma_pago: str = "01"
    serie: str | None = None
    folio: str | None = None
    fecha: dt.datetime | None = None
    moneda: str = "MXN"


# --------------------------------------------------------------------------- helpers
def to_decimal(value, field: str = "") -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise CfdiValidationError("importe_invalido", f"El valor «{value}» no es un número válido.",
                                  field=field, english=f"{field}: not a number: {value!r}") from exc
    if not d.is_finite():
        raise CfdiValidationError("importe_invalido", f"El valor «{value}» no es un número válido.", field=field)
    return d


_CP_RE = re.compile(r"^[0-9]{5}$")
_UUID_RE = re.compile(r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$")


def _fail(code: str, message: str, field: str, english: str | None = None):
    raise CfdiValidationError(code, message, field=field, english=english or f"{field}: {code}")


def _check_rfc(rfc: str, field: str) -> str:
    try:
        return validate_rfc(rfc)
    except TaxIdError as exc:
        raise CfdiValidationError(exc.code, exc.message, field=field, english=str(exc)) from exc


def _check_cp(cp: str, field: str) -> str:
    cp = str(cp).strip()
    if not _CP_RE.match(cp):
        _fail("codigo_postal", f"El código postal «{cp}» debe tener 5 dígitos.", field)
    return cp


def _check_text(value: str, field: str, max_len: int = 1000) -> str:
    value = " ".join(str(value or "").split())
    if not value:
        _fail("requerido", "Este dato es obligatorio.", field)
    if "|" in value:
        _fail("caracter_invalido", "El texto no puede contener el carácter «|».", field)
    if len(value) > max_len:
        _fail("longitud", f"El texto excede {max_len} caracteres.", field)
    return value


def validate_receptor(r: Receptor, *, lugar_expedicion: str, global_invoice: bool = False,
                      tipo: str = "I") -> Receptor:
    """Check the receptor against the CFDI 4.0 rules PACs apply; returns a normalised copy."""
    rfc = _check_rfc(r.rfc, "receptor.rfc")
    nombre = _check_text(r.nombre, "receptor.nombre", 300).upper() if rfc in GENERIC_RFCS else _check_text(r.nombre, "receptor.nombre", 300)
    cp = _check_cp(r.codigo_postal, "receptor.codigo_postal")
    regimen = str(r.regimen_fiscal).strip()
    uso = str(r.uso_cfdi).strip().upper()
    if regimen not in REGIMENES:
        _fail("CFDI40157", f"El régimen fiscal «{regimen}» no existe en el catálogo c_RegimenFiscal.",
              "receptor.regimen_fiscal")
    if uso not in USOS_CFDI:
        _fail("CFDI40160", f"El uso de CFDI «{uso}» no existe en el catálogo c_UsoCFDI.", "receptor.uso_cfdi")
    if rfc in GENERIC_RFCS:
        if regimen != "616":
            _fail("CFDI40159", "Con RFC genérico el régimen fiscal del receptor debe ser 616 (Sin obligaciones fiscales).",
                  "receptor.regimen_fiscal")
        if cp != lugar_expedicion:
            _fail("CFDI40149", "Con RFC genérico el código postal del receptor debe ser el del lugar de expedición.",
                  "receptor.codigo_postal")
        if tipo != "P" and uso != "S01":
            _fail("CFDI40161", "Con RFC genérico el uso de CFDI debe ser S01 (Sin efectos fiscales).",
                  "receptor.uso_cfdi")
    if nombre.upper() == PUBLICO_EN_GENERAL and rfc != RFC_PUBLICO_GENERAL:
        _fail("CFDI40146", "El nombre «PUBLICO EN GENERAL» solo se permite con el RFC XAXX010101000.",
              "receptor.nombre")
    if rfc == RFC_PUBLICO_GENERAL and nombre.upper() == PUBLICO_EN_GENERAL and not global_invoice:
        _fail("CFDI40130", "Una factura a «PUBLICO EN GENERAL» con XAXX010101000 es una factura global: "
              "use build_global_invoice (requiere InformacionGlobal).", "receptor.nombre")
    persona_moral = len(rfc) == 12 if rfc not in GENERIC_RFCS else None
    if persona_moral is not None:
        from .catalogs import REGIMENES_FISICA, REGIMENES_MORAL
        allowed = REGIMENES_MORAL if persona_moral else REGIMENES_FISICA
        if regimen not in allowed:
            kind = "moral" if persona_moral else "física"
            _fail("CFDI40158", f"El régimen fiscal {regimen} no corresponde a una persona {kind} (RFC {rfc}).",
                  "receptor.regimen_fiscal")
    expected_uso = {"P": "CP01"}.get(tipo)
    if expected_uso and uso != expected_uso:
        uso = expected_uso
    if uso not in usos_cfdi_for_regimen(regimen, persona_moral=persona_moral):
        _fail("CFDI40161", f"El uso de CFDI {uso} ({USOS_CFDI[uso]}) no corresponde al régimen fiscal "
              f"{regimen} ({REGIMENES[regimen]}) del receptor.", "receptor.uso_cfdi")
    return Receptor(rfc=rfc, nombre=nombre, codigo_postal=cp, regimen_fiscal=regimen, uso_cfdi=uso,
                    residencia_fiscal=r.residencia_fiscal, num_reg_id_trib=r.num_reg_id_trib)


def _emisor(e: Emisor, csd: Csd) -> cfdi40.Emisor:
    rfc = _check_rfc(e.rfc, "emisor.rfc")
    if rfc != csd.rfc:
        _fail("CFDI40140", f"El RFC del emisor ({rfc}) no corresponde al del certificado ({csd.rfc}).", "emisor.rfc")
    if str(e.regimen_fiscal) not in REGIMENES:
        _fail("CFDI40139", f"El régimen fiscal del emisor «{e.regimen_fiscal}» no existe.", "emisor.regimen_fiscal")
    from .catalogs import REGIMENES_FISICA, REGIMENES_MORAL
    if str(e.regimen_fiscal) not in (REGIMENES_MORAL if len(rfc) == 12 else REGIMENES_FISICA):
        kind = "moral" if len(rfc) == 12 else "física"
        _fail("CFDI40139", f"El régimen fiscal {e.regimen_fiscal} del emisor no corresponde a una persona {kind}.",
              "emisor.regimen_fiscal")
    return cfdi40.Emisor(rfc=rfc, nombre=_check_text(e.nombre, "emisor.nombre", 300),
                         regimen_fiscal=str(e.regimen_fiscal))


def _receptor(r: Receptor) -> cfdi40.Receptor:
    return cfdi40.Receptor(rfc=r.rfc, nombre=r.nombre, domicilio_fiscal_receptor=r.codigo_postal,
                           regimen_fiscal_receptor=r.regimen_fiscal, uso_cfdi=r.uso_cfdi,
                           residencia_fiscal=r.residencia_fiscal, num_reg_id_trib=r.num_reg_id_trib)


def _concepto(c: Concepto, i: int) -> cfdi40.Concepto:
    f = f"conceptos[{i}]"
    cantidad = to_decimal(c.cantidad, f + ".cantidad")
    valor = to_decimal(c.valor_unitario, f + ".valor_unitario")
    if cantidad <= 0:
        _fail("CFDI40163", "La cantidad debe ser mayor que cero.", f + ".cantidad")
    if valor < 0:
        _fail("valor_negativo", "El valor unitario no puede ser negativo.", f + ".valor_unitario")
    descuento = to_decimal(c.descuento, f + ".descuento") if c.descuento not in (None, "") else None
    traslados = []
    iva = None if c.iva is None else str(c.iva).strip().lower().rstrip("%")
    if iva is not None:
        if iva in ("exento", "exenta", "e"):
            traslados.append(cfdi40.Traslado(impuesto="002", tipo_factor="Exento"))
        elif iva in IVA_RATES:
            traslados.append(cfdi40.Traslado(impuesto="002", tipo_factor="Tasa", tasa_o_cuota=IVA_RATES[iva]))
        else:
            _fail("tasa_iva", f"Tasa de IVA «{c.iva}» no válida; use 16, 8, 0 o exento.", f + ".iva")
    retenciones = [cfdi40.Retencion(impuesto=r.impuesto, tipo_factor="Tasa",
                                    tasa_o_cuota=to_decimal(r.tasa, f + ".retenciones").quantize(Decimal("0.000001")))
                   for r in c.retenciones]
    impuestos = None
    if traslados or retenciones:
        impuestos = cfdi40.Impuestos(traslados=traslados or None, retenciones=retenciones or None)
    return cfdi40.Concepto(
        clave_prod_serv=_check_text(c.clave_prod_serv, f + ".clave_prod_serv", 8),
        cantidad=cantidad, clave_unidad=_check_text(c.clave_unidad, f + ".clave_unidad", 3),
        descripcion=_check_text(c.descripcion, f + ".descripcion", 1000), valor_unitario=valor,
        objeto_imp=c.objeto_imp or ("02" if impuestos else "01"),
        no_identificacion=c.no_identificacion or None, unidad=c.unidad or None, descuento=descuento,
        impuestos=impuestos)


def _check_uuid(u: str, field: str) -> str:
    u = str(u).strip().upper()
    if not _UUID_RE.match(u):
        _fail("uuid_invalido", f"«{u}» no es un UUID (folio fiscal) válido.", field)
    return u


def _relacionados(uuids: Iterable[str], tipo: str | None, field: str):
    uuids = [_check_uuid(u, f"{field}[{i}]") for i, u in enumerate(uuids or ())]
    if not uuids:
        return None
    if not tipo:
        _fail("tipo_relacion", "Indique el tipo de relación de los CFDI relacionados.", "tipo_relacion")
    return cfdi40.CfdiRelacionados(tipo_relacion=tipo, cfdi_relacionado=uuids)


def _payment_method(metodo: str, forma: str) -> tuple[str, str]:
    metodo = str(metodo).upper()
    forma = str(forma)
    if metodo not in ("PUE", "PPD"):
        _fail("CFDI40123", f"Método de pago «{metodo}» no válido; use PUE o PPD.", "metodo_pago")
    if forma not in FORMAS_PAGO:
        _fail("CFDI40116", f"Forma de pago «{forma}» no existe en el catálogo c_FormaPago.", "forma_pago")
    if metodo == "PPD":
        forma = "99"       # Anexo 20: PPD → FormaPago 99 "Por definir"
    elif forma == "99":
        _fail("CFDI40121", "Con método de pago PUE la forma de pago no puede ser 99 (Por definir).", "forma_pago")
    return metodo, forma


def _fecha(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.replace(microsecond=0)


def _seal(comprobante: cfdi40.Comprobante, csd: Csd) -> bytes:
    if comprobante.get("Fecha") is not None and csd is not None:
        fecha = comprobante["Fecha"]
        naive = fecha.replace(tzinfo=None)
        if not (csd.not_before.replace(tzinfo=None) - dt.timedelta(days=1) <= naive
                <= csd.not_after.replace(tzinfo=None) + dt.timedelta(days=1)):
            _fail("CFDI40104", "La fecha del comprobante está fuera de la vigencia del certificado (CSD).", "fecha")
    # Seal on the lxml tree satcfdi produces (one serialisation instead of three): cadena original
    # from SAT's XSLT via libxslt, RSA-SHA256 with the CSD key, then XSD, then bytes.
    comprobante["NoCertificado"] = csd.certificate_number
    comprobante["Certificado"] = csd.certificate_base64
    root = comprobante.to_xml()
    root.set("Sello", csd.sign_sha256(cx.cadena_original(root).encode("utf-8")))
    cx.validate_xsd(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _tipo_cambio(moneda: str, tipo_cambio) -> Decimal | None:
    if moneda in ("MXN", "XXX"):
        return None
    if tipo_cambio in (None, ""):
        _fail("CFDI40113", "Indique el tipo de cambio para una moneda distinta de MXN.", "tipo_cambio")
    return to_decimal(tipo_cambio, "tipo_cambio")


def _check_lugar(cp: str) -> str:
    cp = _check_cp(cp, "lugar_expedicion")
    try:
        from satcfdi.catalogs import select
        if select("C756_c_CodigoPostal", cp) is None:
            _fail("CFDI40111", f"El código postal {cp} no existe en el catálogo c_CodigoPostal.", "lugar_expedicion")
    except CfdiValidationError:
        raise
    except Exception:   # catalog unavailable: let the PAC decide
        pass
    return cp


# --------------------------------------------------------------------------- dict input
_NESTED = {
    "emisor": "Emisor", "receptor": "Receptor", "conceptos": ["Concepto"], "retenciones": ["Retencion"],
    "documentos": ["PaidDocument"], "tickets": ["Ticket"],
}


def from_dict(cls, data, field: str = ""):
    """Build one of this module's dataclasses from a plain dict (nested dicts/lists allowed).

    Unknown keys raise :class:`CfdiValidationError` (code ``campo_desconocido``)."""
    import dataclasses
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        _fail("tipo_invalido", f"Se esperaba un objeto con los datos de {cls.__name__}.", field or cls.__name__)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in data.items():
        path = f"{field}.{k}" if field else k
        if k not in names:
            _fail("campo_desconocido", f"Campo desconocido «{k}».", path)
        target = _NESTED.get(k)
        if isinstance(target, str) and v is not None:
            v = from_dict(globals()[target], v, path)
        elif isinstance(target, list) and v is not None:
            v = [from_dict(globals()[target[0]], x, f"{path}[{i}]") for i, x in enumerate(v)]
        kwargs[k] = v
    try:
        return cls(**kwargs)
    except TypeError as exc:
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in kwargs
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        _fail("requerido", f"Faltan datos obligatorios: {', '.join(missing)}.",
              f"{field}.{missing[0]}" if field and missing else (missing[0] if missing else field),
              english=str(exc))


# --------------------------------------------------------------------------- builders
def _build_io(doc, csd: Csd, tipo: str, relacionados, tipo_relacion) -> bytes:
    lugar = _check_lugar(doc.lugar_expedicion)
    receptor = validate_receptor(doc.receptor, lugar_expedicion=lugar, tipo=tipo)
    if not doc.conceptos:
        _fail("conceptos", "El comprobante debe tener al menos un concepto.", "conceptos")
    metodo, forma = _payment_method(doc.metodo_pago, doc.forma_pago)
    comp = cfdi40.Comprobante(
        emisor=_emisor(doc.emisor, csd), lugar_expedicion=lugar, receptor=_receptor(receptor),
        conceptos=[_concepto(c, i) for i, c in enumerate(doc.conceptos)],
        moneda=doc.moneda, tipo_cambio=_tipo_cambio(doc.moneda, doc.tipo_cambio), tipo_de_comprobante=tipo,
        exportacion=doc.exportacion, serie=doc.serie or None, folio=doc.folio or None,
        forma_pago=forma, metodo_pago=metodo,
        condiciones_de_pago=getattr(doc, "condiciones_de_pago", None) or None,
        cfdi_relacionados=_relacionados(relacionados, tipo_relacion, "relacionados"),
        fecha=_fecha(doc.fecha))
    if comp["Total"] < 0:
        _fail("CFDI40108", "El total no puede ser negativo (descuentos mayores al importe).", "conceptos")
    return _seal(comp, csd)


def build_invoice(invoice: Invoice | dict, csd: Csd) -> bytes:
    """Ingreso (tipo I), PUE or PPD (PPD forces FormaPago 99)."""
    invoice = from_dict(Invoice, invoice)
    return _build_io(invoice, csd, "I", invoice.relacionados, invoice.tipo_relacion)


def build_credit_note(note: CreditNote | dict, csd: Csd) -> bytes:
    """Egreso (tipo E) with CfdiRelacionados (TipoRelacion 01 by default) to the invoices' UUIDs."""
    note = from_dict(CreditNote, note)
    if not note.relacionados:
        _fail("relacionados", "Una nota de crédito debe relacionar el UUID de la factura que modifica.",
              "relacionados")
    return _build_io(note, csd, "E", note.relacionados, note.tipo_relacion)


def build_payment(payment: Payment | dict, csd: Csd) -> bytes:
    """Pago (tipo P) with Pagos 2.0, one Pago node covering the given PPD invoices."""
    payment = from_dict(Payment, payment)
    if not payment.documentos:
        _fail("documentos", "Indique al menos una factura pagada.", "documentos")
    lugar = _check_lugar(payment.lugar_expedicion)
    items = []
    first = None
    for i, d in enumerate(payment.documentos):
        f = f"documentos[{i}]"
        try:
            inv = CFDI.from_string(d.invoice_xml)
        except Exception as exc:
            raise CfdiValidationError("xml_factura", "El XML de la factura pagada no se pudo leer.", field=f,
                                      english=f"{f}: cannot parse invoice: {exc}") from exc
        if "TimbreFiscalDigital" not in (inv.get("Complemento") or {}):
            _fail("factura_sin_timbre", "La factura pagada debe estar timbrada (sin UUID no se puede relacionar).", f)
        if inv.get("MetodoPago") != "PPD":
            _fail("CRP20238", "Solo se emiten complementos de pago para facturas con método de pago PPD.", f)
        first = first or inv
        total = inv["Total"]
        saldo = to_decimal(d.imp_saldo_ant, f + ".imp_saldo_ant") if d.imp_saldo_ant not in (None, "") else total
        pagado = to_decimal(d.imp_pagado, f + ".imp_pagado") if d.imp_pagado not in (None, "") else saldo
        if pagado <= 0 or pagado > saldo:
            _fail("CRP20219", "El importe pagado debe ser mayor que cero y no mayor que el saldo anterior.",
                  f + ".imp_pagado")
        items.append(cfdi40.PagoComprobante(comprobante=inv, num_parcialidad=int(d.num_parcialidad),
                                            imp_saldo_ant=saldo, imp_pagado=pagado))
    if payment.receptor is not None:
        receptor = validate_receptor(payment.receptor, lugar_expedicion=lugar, tipo="P")
    else:
        r = cx.parse(payment.documentos[0].invoice_xml).find("cfdi:Receptor", cx.NS)
        receptor = validate_receptor(Receptor(rfc=r.get("Rfc"), nombre=r.get("Nombre"),
                                              codigo_postal=r.get("DomicilioFiscalReceptor"),
                                              regimen_fiscal=r.get("RegimenFiscalReceptor"), uso_cfdi="CP01"),
                                     lugar_expedicion=lugar, tipo="P")
    if str(payment.forma_pago) not in FORMAS_PAGO or str(payment.forma_pago) == "99":
        _fail("CRP20210", "La forma de pago del pago debe ser una del catálogo distinta de 99.", "forma_pago")
    try:
        comp = cfdi40.Comprobante.pago_comprobantes(
            comprobantes=items, fecha_pago=_fecha(payment.fecha_pago), forma_pago=str(payment.forma_pago),
            emisor=_emisor(payment.emisor, csd), lugar_expedicion=lugar, receptor=_receptor(receptor),
            serie=payment.serie or None, folio=payment.folio or None, fecha=_fecha(payment.fecha))
    except ValueError as exc:
        raise CfdiValidationError("pago_documentos", "Las facturas pagadas deben ser del mismo emisor, receptor y moneda.",
                                  field="documentos", english=str(exc)) from exc
    return _seal(comp, csd)


def build_global_invoice(g: GlobalInvoice | dict, csd: Csd) -> bytes:
    """Factura global (público en general): one Concepto per ticket (01010101 / ACT / NoIdentificacion)."""
    g = from_dict(GlobalInvoice, g)
    lugar = _check_lugar(g.lugar_expedicion)
    periodicidad = str(g.periodicidad).zfill(2)
    meses = str(g.meses).zfill(2)
    if periodicidad not in ("01", "02", "03", "04", "05"):
        _fail("CFDI40131", "Periodicidad no válida (01 diario, 02 semanal, 03 quincenal, 04 mensual, 05 bimestral).",
              "periodicidad")
    if not ("01" <= meses <= "18"):
        _fail("CFDI40132", "El mes debe ser 01–12 (o 13–18 para bimestres).", "meses")
    if periodicidad == "05" and meses <= "12":
        _fail("CFDI40132", "Con periodicidad bimestral (05) el campo Meses debe ser 13–18.", "meses")
    if periodicidad != "05" and meses > "12":
        _fail("CFDI40132", "Los bimestres (13–18) solo se usan con periodicidad 05.", "meses")
    if periodicidad == "05" and str(g.emisor.regimen_fiscal) != "621":
        _fail("CFDI40131", "La periodicidad bimestral solo aplica al Régimen de Incorporación Fiscal (621).",
              "periodicidad")
    fecha = _fecha(g.fecha)
    year_ref = (fecha or dt.datetime.now()).year
    if int(g.anio) not in (year_ref, year_ref - 1):
        _fail("CFDI40133", "El año de la información global debe ser el del comprobante o el anterior.", "anio")
    if not g.tickets:
        _fail("conceptos", "La factura global debe incluir al menos un ticket.", "tickets")
    seen = set()
    conceptos = []
    for i, t in enumerate(g.tickets):
        num = _check_text(t.number, f"tickets[{i}].number", 100)
        if num in seen:
            _fail("ticket_duplicado", f"El ticket {num} aparece dos veces.", f"tickets[{i}].number")
        seen.add(num)
        conceptos.append(Concepto(clave_prod_serv="01010101", cantidad=1, clave_unidad="ACT",
                                  descripcion=t.descripcion or "Venta", valor_unitario=t.subtotal, iva=t.iva,
                                  no_identificacion=num, descuento=t.descuento))
    receptor = Receptor(rfc=RFC_PUBLICO_GENERAL, nombre=PUBLICO_EN_GENERAL, codigo_postal=lugar,
                        regimen_fiscal="616", uso_cfdi="S01")
    validate_receptor(receptor, lugar_expedicion=lugar, global_invoice=True)
    metodo, forma = _payment_method("PUE", g.forma_pago)
    comp = cfdi40.Comprobante(
        emisor=_emisor(g.emisor, csd), lugar_expedicion=lugar, receptor=_receptor(receptor),
        conceptos=[_concepto(c, i) for i, c in enumerate(conceptos)], moneda=g.moneda,
        tipo_de_comprobante="I", exportacion="01", serie=g.serie or None, folio=g.folio or None,
        forma_pago=forma, metodo_pago=metodo,
        informacion_global=cfdi40.InformacionGlobal(periodicidad=periodicidad, meses=meses, ano=int(g.anio)),
        fecha=fecha)
    return _seal(comp, csd)
