"""Small SAT catalogs needed for checks before sealing (c_RegimenFiscal, c_UsoCFDI compatibility).

The régimen → UsoCFDI table transcribes the "Régimen Fiscal Receptor" column of SAT's
c_UsoCFDI catalog (CFDI 4.0). PACs reject mismatches with CFDI40161.
"""

from __future__ import annotations

REGIMENES: dict[str, str] = {
    "601": "General de Ley Personas Morales",
    "603": "Personas Morales con Fines no Lucrativos",
    "605": "Sueldos y Salarios e Ingresos Asimilados a Salarios",
    "606": "Arrendamiento",
    "607": "Régimen de Enajenación o Adquisición de Bienes",
    "608": "Demás ingresos",
    "610": "Residentes en el Extranjero sin Establecimiento Permanente en México",
    "611": "Ingresos por Dividendos (socios y accionistas)",
    "612": "Personas Físicas con Actividades Empresariales y Profesionales",
    "614": "Ingresos por intereses",
    "615": "Régimen de los ingresos por obtención de premios",
    "616": "Sin obligaciones fiscales",
    "620": "Sociedades Cooperativas de Producción que optan por diferir sus ingresos",
    "621": "Incorporación Fiscal",
    "622": "Actividades Agrícolas, Ganaderas, Silvícolas y Pesqueras",
    "623": "Opcional para Grupos de Sociedades",
    "624": "Coordinados",
    "625": "Régimen de las Actividades Empresariales con ingresos a través de Plataformas Tecnológicas",
    "626": "Régimen Simplificado de Confianza",
    "628": "Hidrocarburos",
    "629": "De los Regímenes Fiscales Preferentes y de las Empresas Multinacionales",
    "630": "Enajenación de acciones en bolsa de valores",
}

# Regímenes allowed for personas físicas (13-char RFC) and morales (12-char RFC), from the
# "Física"/"Moral" columns of c_RegimenFiscal (610 and 626 apply to both).
REGIMENES_FISICA = frozenset({"605", "606", "607", "608", "610", "611", "612", "614", "615", "616",
                              "621", "625", "626", "629", "630"})
REGIMENES_MORAL = frozenset({"601", "603", "610", "620", "622", "623", "624", "626", "628"})



def regimenes_for_rfc(rfc: str) -> frozenset[str]:
    """The c_RegimenFiscal keys a receptor with this RFC may have: 12 characters is a persona moral, 13 a persona
    física.

    >>> sorted(regimenes_for_rfc("EKU9003173C9"))[:3], "612" in regimenes_for_rfc("XAXX010101000")
    (['601', '603', '610'], True)
    """
    return REGIMENES_MORAL if len((rfc or "").strip()) == 12 else REGIMENES_FISICA


USOS_CFDI: dict[str, str] = {
    "G01": "Adquisición de mercancías",
    "G02": "Devoluciones, descuentos o bonificaciones",
    "G03": "Gastos en general",
    "I01": "Construcciones",
    "I02": "Mobiliario y equipo de oficina por inversiones",
    "I03": "Equipo de transporte",
    "I04": "Equipo de cómputo y accesorios",
    "I05": "Dados, troqueles, moldes, matrices y herramental",
    "I06": "Comunicaciones telefónicas",
    "I07": "Comunicaciones satelitales",
    "I08": "Otra maquinaria y equipo",
    "D01": "Honorarios médicos, dentales y gastos hospitalarios",
    "D02": "Gastos médicos por incapacidad o discapacidad",
    "D03": "Gastos funerales",
    "D04": "Donativos",
    "D05": "Intereses reales efectivamente pagados por créditos hipotecarios (casa habitación)",
    "D06": "Aportaciones voluntarias al SAR",
    "D07": "Primas por seguros de gastos médicos",
    "D08": "Gastos de transportación escolar obligatoria",
    "D09": "Depósitos en cuentas para el ahorro, primas que tengan como base planes de pensiones",
    "D10": "Pagos por servicios educativos (colegiaturas)",
    "S01": "Sin efectos fiscales",
    "CP01": "Pagos",
    "CN01": "Nómina",
}

_BUSINESS = ("601", "603", "606", "612", "620", "621", "622", "623", "624", "625", "626")
_PERSONAL = ("605", "606", "607", "608", "611", "612", "614", "615", "625")
_ALL_BUT_SPECIAL = ("601", "603", "605", "606", "607", "608", "610", "611", "612", "614", "615", "616",
                    "620", "621", "622", "623", "624", "625", "626")

_USO_REGIMENES: dict[str, tuple[str, ...]] = {
    "G01": _BUSINESS,
    "G02": _BUSINESS + ("616",),
    "G03": _BUSINESS,
    **{f"I0{i}": _BUSINESS for i in range(1, 9)},
    **{f"D0{i}": _PERSONAL for i in range(1, 10)},
    "D10": _PERSONAL,
    "S01": _ALL_BUT_SPECIAL,
    "CP01": _ALL_BUT_SPECIAL,
    "CN01": ("605",),
}

# Usos only for personas físicas (D01–D10, CN01).
USOS_SOLO_FISICA = frozenset({f"D{i:02d}" for i in range(1, 11)} | {"CN01"})


def usos_cfdi_for_regimen(regimen: str, *, persona_moral: bool | None = None) -> list[str]:
    """UsoCFDI keys SAT accepts for a receptor in ``regimen`` (catalog order).

    ``persona_moral`` (from the RFC length: 12 → moral) drops the personas-físicas-only usos.
    Unknown régimen → empty list.
    """
    regimen = str(regimen).strip()
    out = [uso for uso, regs in _USO_REGIMENES.items() if regimen in regs]
    if persona_moral:
        out = [u for u in out if u not in USOS_SOLO_FISICA]
    return out


def uso_compatible(uso: str, regimen: str, *, persona_moral: bool | None = None) -> bool:
    return uso in usos_cfdi_for_regimen(regimen, persona_moral=persona_moral)


FORMAS_PAGO: dict[str, str] = {
    "01": "Efectivo", "02": "Cheque nominativo", "03": "Transferencia electrónica de fondos",
    "04": "Tarjeta de crédito", "05": "Monedero electrónico", "06": "Dinero electrónico",
    "08": "Vales de despensa", "12": "Dación en pago", "13": "Pago por subrogación",
    "14": "Pago por consignación", "15": "Condonación", "17": "Compensación", "23": "Novación",
    "24": "Confusión", "25": "Remisión de deuda", "26": "Prescripción o caducidad",
    "27": "A satisfacción del acreedor", "28": "Tarjeta de débito", "29": "Tarjeta de servicios",
    "30": "Aplicación de anticipos", "31": "Intermediario pagos", "99": "Por definir",
}

TIPOS_COMPROBANTE = {"I": "Ingreso", "E": "Egreso", "T": "Traslado", "N": "Nómina", "P": "Pago"}

MOTIVOS_CANCELACION = {
    "01": "Comprobante emitido con errores con relación",
    "02": "Comprobante emitido con errores sin relación",
    "03": "No se llevó a cabo la operación",
    "04": "Operación nominativa relacionada en una factura global",
}
