import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from lxml import etree

from facturador.cfdi import xml as cx
from facturador.cfdi.build import (Concepto, CreditNote, GlobalInvoice, Invoice, PaidDocument, Payment, Receptor,
                                   Ticket, build_credit_note, build_global_invoice, build_invoice, build_payment)
from facturador.cfdi.catalogs import usos_cfdi_for_regimen
from facturador.cfdi.errors import CfdiValidationError, SchemaError
from facturador.cfdi.verify import verify_cfdi

NS = cx.NS
C2 = Decimal("0.01")


def r2(d: Decimal) -> Decimal:
    return d.quantize(C2, rounding=ROUND_HALF_UP)


def D(el, name) -> Decimal:
    return Decimal(el.get(name))


def check_arithmetic(xml: bytes) -> etree._Element:
    """Anexo 20 arithmetic, recomputed here from the XML (not by the code under test)."""
    doc = etree.fromstring(xml)
    conceptos = doc.findall("cfdi:Conceptos/cfdi:Concepto", NS)
    subtotal = Decimal(0)
    by_rate: dict[tuple, Decimal] = defaultdict(Decimal)
    base_by_rate: dict[tuple, Decimal] = defaultdict(Decimal)
    for c in conceptos:
        importe = D(c, "Importe")
        assert abs(importe - D(c, "Cantidad") * D(c, "ValorUnitario")) <= C2 / 2    # CFDI40153-style limits
        subtotal += importe
        for t in c.findall("cfdi:Impuestos/cfdi:Traslados/cfdi:Traslado", NS):
            key = (t.get("Impuesto"), t.get("TipoFactor"), t.get("TasaOCuota"))
            assert D(t, "Base") == importe - Decimal(c.get("Descuento") or 0)
            base_by_rate[key] += D(t, "Base")
            if t.get("TipoFactor") == "Exento":
                assert t.get("Importe") is None and t.get("TasaOCuota") is None
            else:
                assert abs(D(t, "Importe") - D(t, "Base") * D(t, "TasaOCuota")) <= C2   # base × tasa, rounded
                by_rate[key] += D(t, "Importe")
    assert D(doc, "SubTotal") == subtotal
    assert len(doc.get("SubTotal").split(".")[1]) == 2 and len(doc.get("Total").split(".")[1]) == 2
    header = {(t.get("Impuesto"), t.get("TipoFactor"), t.get("TasaOCuota")): t
              for t in doc.findall("cfdi:Impuestos/cfdi:Traslados/cfdi:Traslado", NS)}
    assert set(header) == set(base_by_rate)
    total_tras = Decimal(0)
    for key, t in header.items():
        assert D(t, "Base") == r2(base_by_rate[key])
        if key[1] != "Exento":
            assert D(t, "Importe") == r2(by_rate[key])          # header = rounded sum of concept taxes
            total_tras += D(t, "Importe")
    imp = doc.find("cfdi:Impuestos", NS)
    if by_rate:
        assert D(imp, "TotalImpuestosTrasladados") == total_tras
    ret_by_tax: dict[str, Decimal] = defaultdict(Decimal)
    for c in conceptos:
        for t in c.findall("cfdi:Impuestos/cfdi:Retenciones/cfdi:Retencion", NS):
            assert abs(D(t, "Importe") - D(t, "Base") * D(t, "TasaOCuota")) <= C2
            ret_by_tax[t.get("Impuesto")] += D(t, "Importe")
    header_ret = {t.get("Impuesto"): D(t, "Importe") for t in doc.findall("cfdi:Impuestos/cfdi:Retenciones/cfdi:Retencion", NS)}
    assert header_ret == {k: r2(v) for k, v in ret_by_tax.items()}
    total_ret = sum(header_ret.values(), Decimal(0))
    if header_ret:
        assert D(imp, "TotalImpuestosRetenidos") == total_ret
    descuento = sum((Decimal(c.get("Descuento") or 0) for c in conceptos), Decimal(0))
    assert Decimal(doc.get("Descuento") or 0) == descuento
    assert D(doc, "Total") == D(doc, "SubTotal") - descuento + total_tras - total_ret
    return doc


def test_invoice_pue_all_iva_rates(invoice, csd):
    xml = build_invoice(invoice, csd)
    res = verify_cfdi(xml)
    assert res.xsd_ok and res.sello_ok, res.errors
    doc = check_arithmetic(xml)
    assert doc.get("TipoDeComprobante") == "I" and doc.get("MetodoPago") == "PUE" and doc.get("FormaPago") == "01"
    rates = {(t.get("TipoFactor"), t.get("TasaOCuota"))
             for t in doc.findall("cfdi:Impuestos/cfdi:Traslados/cfdi:Traslado", NS)}
    assert rates == {("Tasa", "0.160000"), ("Tasa", "0.080000"), ("Tasa", "0.000000"), ("Exento", None)}
    # hand check: 2 × 100.005 = 200.01 → IVA 32.00; 33.33 → 2.67; 30.30 → 0; 1500 exento
    assert doc.get("SubTotal") == "1763.64" and doc.get("Total") == "1798.31"
    assert doc.get("NoCertificado") == "30001000000500003416"


def test_rounding_many_small_lines(emisor, receptor, csd):
    inv = Invoice(emisor=emisor, receptor=receptor, lugar_expedicion="42501", conceptos=[
        Concepto("01010101", "3", "H87", f"Artículo {i}", "0.333333", iva="16") for i in range(25)])
    check_arithmetic(build_invoice(inv, csd))


def test_discounts_and_withholdings(emisor, csd):
    from facturador.cfdi.build import Retencion
    receptor = Receptor("XIQB891116QE4", "BERENICE XIMO QUEZADA", "40968", "612", "G03")   # SAT test PF
    inv = Invoice(emisor=emisor, receptor=receptor, lugar_expedicion="42501", conceptos=[
        Concepto("80111600", 1, "E48", "Honorarios", "10000.00", descuento="1000.00",
                 retenciones=[Retencion("001", "0.10"), Retencion("002", "0.106667")]),
        Concepto("80111600", 3, "E48", "Asesoría", "333.33", retenciones=[Retencion("001", "0.10")]),
    ])
    xml = build_invoice(inv, csd)
    assert verify_cfdi(xml).sello_ok
    doc = check_arithmetic(xml)
    assert doc.get("Descuento") == "1000.00"
    first = doc.find("cfdi:Conceptos/cfdi:Concepto/cfdi:Impuestos/cfdi:Traslados/cfdi:Traslado", NS)
    assert first.get("Base") == "9000.00" and first.get("Importe") == "1440.00"


def test_ppd_forces_forma_pago_99(invoice, csd):
    invoice.metodo_pago = "PPD"
    doc = etree.fromstring(build_invoice(invoice, csd))
    assert doc.get("MetodoPago") == "PPD" and doc.get("FormaPago") == "99"


def test_pue_with_99_rejected(invoice, csd):
    invoice.forma_pago = "99"
    with pytest.raises(CfdiValidationError) as e:
        build_invoice(invoice, csd)
    assert e.value.code == "CFDI40121" and e.value.field == "forma_pago"


def test_credit_note_related_to_invoice(emisor, receptor, csd):
    uuid = "9FB6ED1A-5F37-4FEF-980A-7F8C83B51894"
    receptor.uso_cfdi = "G02"
    note = CreditNote(emisor=emisor, receptor=receptor, lugar_expedicion="42501", relacionados=[uuid.lower()],
                      conceptos=[Concepto("84111506", 1, "ACT", "Descuento sobre factura A-1", "50.00")])
    xml = build_credit_note(note, csd)
    res = verify_cfdi(xml)
    assert res.xsd_ok and res.sello_ok, res.errors
    doc = check_arithmetic(xml)
    assert doc.get("TipoDeComprobante") == "E"
    rel = doc.find("cfdi:CfdiRelacionados", NS)
    assert rel.get("TipoRelacion") == "01"
    assert [r.get("UUID") for r in rel.findall("cfdi:CfdiRelacionado", NS)] == [uuid]
    assert doc.get("Total") == "58.00"


def test_credit_note_requires_related_uuid(emisor, receptor, csd):
    note = CreditNote(emisor=emisor, receptor=receptor, lugar_expedicion="42501",
                      conceptos=[Concepto("84111506", 1, "ACT", "Descuento", "50.00")])
    with pytest.raises(CfdiValidationError) as e:
        build_credit_note(note, csd)
    assert e.value.field == "relacionados"


def _stamp(sandbox, xml):
    from facturador.cfdi.pac import FinkokPac
    return FinkokPac("demo", "demo", sandbox.url, retries=0).stamp(xml)


def test_payment_pagos20(invoice, csd, sandbox):
    invoice.metodo_pago = "PPD"
    stamped = _stamp(sandbox, build_invoice(invoice, csd))
    inv_doc = etree.fromstring(stamped.xml_bytes)
    total = D(inv_doc, "Total")
    pay = Payment(emisor=invoice.emisor, lugar_expedicion="42501", forma_pago="03",
                  fecha_pago=dt.datetime(2026, 11, 20, 12, 0, 0),
                  documentos=[PaidDocument(stamped.xml_bytes, imp_pagado="1000.00", num_parcialidad=1)])
    xml = build_payment(pay, csd)
    res = verify_cfdi(xml)
    assert res.xsd_ok and res.sello_ok, res.errors
    doc = etree.fromstring(xml)
    assert doc.get("TipoDeComprobante") == "P" and doc.get("Moneda") == "XXX" and doc.get("Total") == "0"
    assert doc.find("cfdi:Receptor", NS).get("UsoCFDI") == "CP01"
    pago = doc.find("cfdi:Complemento/pago20:Pagos/pago20:Pago", NS)
    assert pago.get("FormaDePagoP") == "03" and Decimal(pago.get("Monto")) == Decimal("1000.00")
    dr = pago.find("pago20:DoctoRelacionado", NS)
    assert dr.get("IdDocumento") == stamped.uuid
    assert D(dr, "ImpSaldoAnt") == total and D(dr, "ImpPagado") == Decimal("1000.00")
    assert D(dr, "ImpSaldoInsoluto") == total - Decimal("1000.00")
    # Pagos 2.0 tax arithmetic: DR taxes proportional to the payment, P taxes = rounded sums of DR
    share = Decimal("1000.00") / total
    dr_sum: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for t in dr.findall("pago20:ImpuestosDR/pago20:TrasladosDR/pago20:TrasladoDR", NS):
        key = (t.get("ImpuestoDR"), t.get("TipoFactorDR"), t.get("TasaOCuotaDR"))
        inv_t = [x for x in inv_doc.findall("cfdi:Impuestos/cfdi:Traslados/cfdi:Traslado", NS)
                 if (x.get("Impuesto"), x.get("TipoFactor"), x.get("TasaOCuota")) == key][0]
        assert abs(D(t, "BaseDR") - D(inv_t, "Base") * share) <= C2
        if t.get("ImporteDR") is not None:
            assert abs(D(t, "ImporteDR") - D(inv_t, "Importe") * share) <= C2
            dr_sum[key][1] += D(t, "ImporteDR")
        dr_sum[key][0] += D(t, "BaseDR")
    p_taxes = pago.findall("pago20:ImpuestosP/pago20:TrasladosP/pago20:TrasladoP", NS)
    assert len(p_taxes) == len(dr_sum) == 4
    for t in p_taxes:
        key = (t.get("ImpuestoP"), t.get("TipoFactorP"), t.get("TasaOCuotaP"))
        assert D(t, "BaseP") == r2(dr_sum[key][0])
        if t.get("ImporteP") is not None:
            assert D(t, "ImporteP") == r2(dr_sum[key][1])
    totales = doc.find("cfdi:Complemento/pago20:Pagos/pago20:Totales", NS)
    iva16 = [t for t in p_taxes if t.get("TasaOCuotaP") == "0.160000"][0]
    assert D(totales, "TotalTrasladosImpuestoIVA16") == D(iva16, "ImporteP")
    assert D(totales, "MontoTotalPagos") == Decimal("1000.00")
    # second instalment pays the rest
    pay2 = Payment(emisor=invoice.emisor, lugar_expedicion="42501", forma_pago="03",
                   fecha_pago=dt.datetime(2026, 11, 21, 12, 0, 0),
                   documentos=[PaidDocument(stamped.xml_bytes, imp_saldo_ant=total - Decimal("1000.00"),
                                            num_parcialidad=2)])
    doc2 = etree.fromstring(build_payment(pay2, csd))
    dr2 = doc2.find(".//pago20:DoctoRelacionado", NS)
    assert dr2.get("NumParcialidad") == "2" and D(dr2, "ImpSaldoInsoluto") == 0


def test_payment_only_for_ppd(invoice, csd, sandbox):
    stamped = _stamp(sandbox, build_invoice(invoice, csd))     # PUE
    pay = Payment(emisor=invoice.emisor, lugar_expedicion="42501", forma_pago="03",
                  fecha_pago=dt.datetime(2026, 11, 20, 12), documentos=[PaidDocument(stamped.xml_bytes)])
    with pytest.raises(CfdiValidationError) as e:
        build_payment(pay, csd)
    assert e.value.code == "CRP20238"


def test_global_invoice(emisor, csd):
    now = dt.datetime.now()
    g = GlobalInvoice(emisor=emisor, lugar_expedicion="42501", periodicidad="01", meses=f"{now.month:02d}",
                      anio=now.year, forma_pago="01", serie="G", folio="15", tickets=[
                          Ticket("T-0001", "86.21"), Ticket("T-0002", "100.00", iva="0"),
                          Ticket("T-0003", "43.10", iva="exento")])
    xml = build_global_invoice(g, csd)
    res = verify_cfdi(xml)
    assert res.xsd_ok and res.sello_ok, res.errors
    doc = check_arithmetic(xml)
    ig = doc.find("cfdi:InformacionGlobal", NS)
    assert (ig.get("Periodicidad"), ig.get("Meses"), ig.get("Año")) == ("01", f"{now.month:02d}", str(now.year))
    r = doc.find("cfdi:Receptor", NS)
    assert (r.get("Rfc"), r.get("Nombre"), r.get("RegimenFiscalReceptor"), r.get("UsoCFDI"),
            r.get("DomicilioFiscalReceptor")) == ("XAXX010101000", "PUBLICO EN GENERAL", "616", "S01", "42501")
    conceptos = doc.findall("cfdi:Conceptos/cfdi:Concepto", NS)
    assert [c.get("NoIdentificacion") for c in conceptos] == ["T-0001", "T-0002", "T-0003"]
    assert {(c.get("ClaveProdServ"), c.get("ClaveUnidad"), c.get("Cantidad")) for c in conceptos} == {("01010101", "ACT", "1")}
    assert doc.get("MetodoPago") == "PUE"


def test_global_invoice_rules(emisor, csd):
    now = dt.datetime.now()
    base = dict(emisor=emisor, lugar_expedicion="42501", anio=now.year, tickets=[Ticket("T1", "10")])
    with pytest.raises(CfdiValidationError) as e:
        build_global_invoice(GlobalInvoice(periodicidad="05", meses="13", **base), csd)   # 601 is not RIF
    assert e.value.code == "CFDI40131"
    with pytest.raises(CfdiValidationError) as e:
        build_global_invoice(GlobalInvoice(periodicidad="04", meses="14", **base), csd)
    assert e.value.code == "CFDI40132"
    with pytest.raises(CfdiValidationError) as e:
        build_global_invoice(GlobalInvoice(periodicidad="04", meses="01", **{**base, "tickets": [Ticket("T1", "1"), Ticket("T1", "2")]}), csd)
    assert e.value.code == "ticket_duplicado"


@pytest.mark.parametrize("changes, code, field", [
    (dict(rfc="XAXX010101000", nombre="JUAN PEREZ", codigo_postal="42501", regimen_fiscal="601", uso_cfdi="S01"), "CFDI40159", "receptor.regimen_fiscal"),
    (dict(rfc="XAXX010101000", nombre="JUAN PEREZ", codigo_postal="01000", regimen_fiscal="616", uso_cfdi="S01"), "CFDI40149", "receptor.codigo_postal"),
    (dict(rfc="XAXX010101000", nombre="PUBLICO EN GENERAL", codigo_postal="42501", regimen_fiscal="616", uso_cfdi="S01"), "CFDI40130", "receptor.nombre"),
    (dict(nombre="PUBLICO EN GENERAL"), "CFDI40146", "receptor.nombre"),
    (dict(uso_cfdi="D01"), "CFDI40161", "receptor.uso_cfdi"),
    (dict(regimen_fiscal="605"), "CFDI40158", "receptor.regimen_fiscal"),
    (dict(rfc="URE180429TM5"), "rfc_check_digit", "receptor.rfc"),
    (dict(codigo_postal="8699"), "codigo_postal", "receptor.codigo_postal"),
])
def test_receptor_rules(invoice, csd, changes, code, field):
    for k, v in changes.items():
        setattr(invoice.receptor, k, v)
    with pytest.raises(CfdiValidationError) as e:
        build_invoice(invoice, csd)
    assert (e.value.code, e.value.field) == (code, field)
    assert e.value.message and e.value.message != str(e.value.code)


def test_individual_invoice_to_generic_rfc_with_own_name(invoice, csd):
    invoice.receptor = Receptor("XAXX010101000", "JUAN PEREZ", "42501", "616", "S01")
    doc = etree.fromstring(build_invoice(invoice, csd))
    assert doc.find("cfdi:InformacionGlobal", NS) is None
    assert doc.find("cfdi:Receptor", NS).get("Nombre") == "JUAN PEREZ"


def test_usos_cfdi_for_regimen():
    assert usos_cfdi_for_regimen("616") == ["G02", "S01", "CP01"]
    pm = usos_cfdi_for_regimen("601", persona_moral=True)
    assert {"G01", "G03", "I01", "S01", "CP01"} <= set(pm) and not any(u.startswith("D") for u in pm)
    pf = usos_cfdi_for_regimen("605")
    assert {"D01", "D10", "CN01", "S01"} <= set(pf) and "G03" not in pf
    assert usos_cfdi_for_regimen("999") == []


def test_xsd_rejects_invalid_document(invoice, csd):
    xml = build_invoice(invoice, csd)
    bad = xml.replace(b'Exportacion="01"', b'Exportacion="99"')
    with pytest.raises(SchemaError) as e:
        cx.validate_xsd(bad)
    assert "Exportacion" in " ".join(e.value.errors)


@pytest.mark.parametrize("old, new", [
    (b'ClaveProdServ="84111506"', b'ClaveProdServ="84111599"'),
    (b'ClaveUnidad="E48"', b'ClaveUnidad="ZZZ"'),
    (b'LugarExpedicion="42501"', b'LugarExpedicion="01000"'),     # valid, other CP
    (None, None),
])
def test_fast_schema_same_verdict_as_sat_files(invoice, csd, old, new):
    xml = build_invoice(invoice, csd)
    if old:
        assert old in xml
        xml = xml.replace(old, new)

    def verdict(full):
        try:
            cx.validate_xsd(xml, full=full)
            return True
        except SchemaError:
            return False
    assert verdict(False) == verdict(True)
    assert verdict(True) is (old is None or new == b'LugarExpedicion="01000"')


def test_fast_schema_checks_codigo_postal(invoice, csd):
    # (an unknown CP takes libxml2 seconds to report with SAT's full file, so only the fast path here)
    xml = build_invoice(invoice, csd).replace(b'LugarExpedicion="42501"', b'LugarExpedicion="00002"')
    with pytest.raises(SchemaError) as e:
        cx.validate_xsd(xml)
    assert "c_CodigoPostal" in e.value.errors[0] and "00002" in e.value.errors[0]
    assert "00002" not in cx.catalog_values("c_CodigoPostal") and "42501" in cx.catalog_values("c_CodigoPostal")


def test_plain_dict_input(csd):
    data = {
        "emisor": {"rfc": "EKU9003173C9", "nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "601"},
        "receptor": {"rfc": "URE180429TM6", "nombre": "UNIVERSIDAD ROBOTICA ESPAÑOLA", "codigo_postal": "86991",
                     "regimen_fiscal": "601", "uso_cfdi": "G01"},
        "lugar_expedicion": "42501", "metodo_pago": "PUE", "forma_pago": "03",
        "conceptos": [{"clave_prod_serv": "43211503", "cantidad": "1", "clave_unidad": "H87",
                       "descripcion": "Laptop", "valor_unitario": "15000", "iva": "16"}],
    }
    doc = etree.fromstring(build_invoice(data, csd))
    assert doc.get("Total") == "17400.00" and doc.get("FormaPago") == "03"
    data["conceptos"][0]["precio"] = "1"
    with pytest.raises(CfdiValidationError) as e:
        build_invoice(data, csd)
    assert (e.value.code, e.value.field) == ("campo_desconocido", "conceptos[0].precio")
    del data["conceptos"][0]["precio"], data["conceptos"][0]["descripcion"]
    with pytest.raises(CfdiValidationError) as e:
        build_invoice(data, csd)
    assert (e.value.code, e.value.field) == ("requerido", "conceptos[0].descripcion")


def test_emisor_regimen_must_fit_persona_type(invoice, csd):
    from facturador.cfdi.build import Emisor
    invoice.emisor = Emisor(csd.rfc, csd.legal_name, "612")   # personas físicas; EKU9003173C9 is a moral
    with pytest.raises(CfdiValidationError) as e:
        build_invoice(invoice, csd)
    assert (e.value.code, e.value.field) == ("CFDI40139", "emisor.regimen_fiscal")
