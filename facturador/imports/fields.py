"""The target fields of an imported line: names, Spanish labels, parsers, header synonyms and default rules.

One catalog for the mapper's proposals (`tabular.suggest`), the template checks (`pipeline.normalize_mapping`),
the typed line (`models.Line`) and the Líneas screen. Any other mapped column is an extra attribute named
``extra.<name>`` (kept typed in the line's charge, `Charge.extra`).
"""

from __future__ import annotations

from decimal import Decimal

from facturador.tabular.suggest import FieldSpec

EXTRA_PREFIX = "extra."
NON_NEGATIVE = {"non_negative": True}

LINE_FIELDS = [
    FieldSpec("reference", "Cuenta", "text", ("cuenta", "numero de cuenta", "no cuenta", "cuenta de facturacion",
                                               "referencia", "contrato", "codigo cliente", "cliente"),
              required=True, options={"max_length": 48}),
    FieldSpec("service_line", "Línea", "text", ("linea", "numero de linea", "no linea", "celular", "telefono",
                                                "numero", "msisdn", "medidor", "numero de medidor", "servicio",
                                                "identificador", "linea de servicio"),
              parser_by_kind={"phone": "phone"}),
    FieldSpec("concept", "Concepto", "text", ("concepto", "descripcion", "detalle", "cargo", "item", "descripcion cargo"),
              options={"max_length": 200}),
    FieldSpec("plan", "Plan", "text", ("plan", "plan tarifario", "nombre plan", "paquete")),
    FieldSpec("cost_center", "Centro de costo", "text", ("centro de costo", "centro de costos", "centro costo",
                                                         "centro costos", "c costo", "ccosto", "ceco", "cc", "area",
                                                         "dependencia")),
    FieldSpec("quantity", "Cantidad", "decimal", ("cantidad", "unidades", "consumo", "cant"), rules=NON_NEGATIVE,
              money=False),
    FieldSpec("unit", "Unidad", "text", ("unidad", "unidad de medida", "um")),
    FieldSpec("unit_price", "Valor unitario", "decimal", ("valor unitario", "precio unitario", "tarifa unitaria",
                                                          "vr unitario", "precio")),
    FieldSpec("minutes", "Minutos", "decimal", ("minutos", "minutos consumidos", "min consumidos", "minutos voz", "voz"),
              rules=NON_NEGATIVE, money=False, other_units=("segundos", "seg", "horas", "hh")),
    FieldSpec("data_mb", "Datos (MB)", "decimal", ("datos mb", "datos", "mb", "megas", "consumo datos", "navegacion mb"),
              rules=NON_NEGATIVE, money=False, other_units=("gb", "gigas", "gigabytes", "kb", "kilobytes", "tb", "bytes")),
    FieldSpec("sms", "SMS", "decimal", ("sms", "mensajes", "mensajes de texto", "cantidad sms"), rules=NON_NEGATIVE,
              money=False),
    FieldSpec("kwh", "kWh", "decimal", ("kwh", "consumo kwh", "energia kwh", "energia"), rules=NON_NEGATIVE,
              money=False, other_units=("mwh", "wh", "kvarh")),
    FieldSpec("net_amount", "Valor sin IVA", "decimal", ("valor sin iva", "subtotal", "valor neto", "neto",
                                                         "base gravable", "valor antes de iva", "base",
                                                         "valor consumo", "valor del consumo", "valor servicio",
                                                         "valor del servicio", "sin iva", "antes de iva"),
              options={"decimal_places": 2}),
    FieldSpec("iva_rate", "Tarifa IVA (%)", "percent", ("tarifa iva", "porcentaje iva", "tasa iva", "iva porcentaje", "porc iva",
                                                          "tarifa de iva", "tasa de iva", "porcentaje de iva")),
    FieldSpec("iva_amount", "IVA", "decimal", ("iva", "valor iva", "vr iva", "impuesto iva"),
              options={"decimal_places": 2}),
    FieldSpec("other_tax_rate", "Tarifa otros impuestos (%)", "percent", ("tarifa impoconsumo", "tasa otros impuestos",
                                                                             "porcentaje impoconsumo", "impoconsumo porcentaje")),
    FieldSpec("other_tax_amount", "Otros impuestos", "decimal", ("otros impuestos", "impoconsumo",
                                                                 "impuesto al consumo", "impuestos", "contribucion",
                                                                 "contribucion de solidaridad", "sobretasa"),
              options={"decimal_places": 2}),
    FieldSpec("amount", "Valor total", "decimal", ("valor total", "total", "valor", "total a pagar", "valor a pagar",
                                                   "importe", "vr total"),
              options={"decimal_places": 2}),
    FieldSpec("cut_date", "Fecha de corte", "date", ("fecha corte", "fecha de corte", "corte", "fecha"),
              rules={"period_days": 62}),
    FieldSpec("usage_from", "Consumo desde", "date", ("desde", "fecha inicio", "inicio periodo", "fecha desde")),
    FieldSpec("usage_to", "Consumo hasta", "date", ("hasta", "fecha fin", "fin periodo", "fecha hasta")),
    # Both usage dates in one cell («01/08/2026 - 31/08/2026»): kept as usage_from and usage_to.
    FieldSpec("usage_period", "Periodo de consumo", "date_range", ("periodo", "periodo facturado", "periodo de consumo",
                                                                   "periodo consumo", "periodo de facturacion",
                                                                   "periodo facturacion", "periodo del servicio")),
]
LINE_FIELD_NAMES = tuple(f.name for f in LINE_FIELDS)
LABELS = {f.name: f.label for f in LINE_FIELDS}
NUMERIC = ("quantity", "unit_price", "minutes", "data_mb", "sms", "kwh", "net_amount", "iva_rate", "iva_amount",
           "other_tax_rate", "other_tax_amount", "amount")
DATES = ("cut_date", "usage_from", "usage_to")
USAGE_PERIOD = "usage_period"  # a date_range field that fills usage_from and usage_to (no column of its own)
USAGE = ("minutes", "data_mb", "sms", "kwh")
MONEY = ("net_amount", "iva_amount", "other_tax_amount", "amount")  # in cents (decimal_places 2)
# What a line's columns hold (billing.Charge): a longer text or a larger number is refused (numeric(p, s): |value| <
# 10 ** (p - s); one unit of margin where the database rounds the last places).
REFERENCE_MAX, CONCEPT_MAX = 48, 200
TEXT_MAX = {"service_line": 48, "plan": 120, "cost_center": 120, "unit": 20}
MAX_AMOUNT = Decimal("1e16")  # numeric(18, 2)
MAX_PRICE = Decimal("1e14")   # numeric(18, 4)
MAX_QTY = Decimal("1e10")     # numeric(14, 4)
NUM_MAX = {"quantity": MAX_QTY - 1, "minutes": Decimal("1e12") - 1, "data_mb": Decimal("1e13") - 1,
           "sms": Decimal("1e12") - 1, "kwh": Decimal("1e11") - 1, "net_amount": MAX_AMOUNT - 1,
           "iva_rate": Decimal("999"), "iva_amount": MAX_AMOUNT - 1, "other_tax_rate": Decimal("999"),
           "other_tax_amount": MAX_AMOUNT - 1}
# The cross-field check a proposal adds when the template maps its fields (one peso of rounding).
TAX_CHECKS = [
    {"kind": "sum", "fields": ["net_amount", "iva_amount", "other_tax_amount"], "equals": "amount", "tolerance": "1"},
    {"kind": "sum", "fields": ["net_amount", "iva_amount"], "equals": "amount", "tolerance": "1"},
    {"kind": "sum", "fields": ["net_amount", "other_tax_amount"], "equals": "amount", "tolerance": "1"},
]


def label(name: str) -> str:
    """The Spanish label of a target field (extra attributes: their own name)."""
    if name.startswith(EXTRA_PREFIX):
        return name[len(EXTRA_PREFIX):].replace("_", " ")
    return LABELS.get(name, name)
