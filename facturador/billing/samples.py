"""Sample files for the manuals: an accounts register, an operator's consumption detail ("Detalle de consumo"),
the references file of a batch and the invoice template to upload.

Both are xlsx as a clerk gets them: title rows above the header, Spanish headers with accents, references as
text with their leading zeros, a totals row in the consumption file. They are offered on the pages that take
them ("Descargar archivo de ejemplo", `billing:sample_file`) and the demo writes them to the data dir
(`facturador serve --seed-demo`, see `billing.demo`). The references are those of the demo's accounts
(`0000000001`...), so the consumption file matches them and the accounts file adds new ones.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from django.utils import timezone

from facturador.tabular.sheets import CONTENT_TYPES, DATE, DECIMAL, INTEGER, MONEY, Column, TableWriter

CENT = Decimal("0.01")
IVA = Decimal("0.19")

ACCOUNTS_COLUMNS = [Column("Referencia", width=14), Column("Propietario", width=30), Column("Tipo documento"),
                    Column("Documento", width=16), Column("Dirección", width=28), Column("Municipio"),
                    Column("Estrato"), Column("Clase"), Column("Correo", width=28), Column("Teléfono", width=14),
                    Column("Saldo anterior", MONEY, width=16)]
ACCOUNTS_ROWS = [
    ("0000000101", "Rosa Elena Martínez", "CC", "41234567", "Calle 45 # 12-30", "11001", "2", "Residencial",
     "rosa.martinez@example.com", "3104567890", "18500.00"),
    ("0000000102", "Panadería La Espiga S.A.S.", "NIT", "800197268-4", "Carrera 7 # 22-15 Local 2", "11001", "",
     "Comercial", "pagos@laespiga.example.com", "6014567890", "0"),
    ("0000000103", "José Ñáñez Ortiz", "CC", "79876543", "Diagonal 68 Sur # 70-12", "11001", "1", "Residencial",
     "", "3201234567", "42300.50"),
    ("0000000104", "Colegio Distrital El Progreso", "NIT", "899999061", "Avenida Boyacá # 64-20", "11001", "",
     "Oficial", "tesoreria@progreso.example.edu.co", "", "0"),
    ("0000000105", "Andrea Gómez Ruiz", "CE", "E1234567", "Transversal 3 # 56-09 Apto 501", "11001", "4",
     "Residencial", "andrea.gomez@example.com", "3157654321", "0"),
    ("0000000106", "Industrias Metálicas del Sur Ltda.", "NIT", "860002964-4", "Autopista Sur # 60-51", "11001", "",
     "Industrial", "cartera@imsur.example.com", "6017770000", "125000.00"),
    ("0000000107", "Luis Fernando Peña", "CC", "1020304050", "Calle 127 # 15-40", "11001", "5", "Residencial",
     "lf.pena@example.com", "3009998877", "-5000.00"),
    ("0000000108", "Finca El Recreo", "CC", "17345678", "Vereda El Hato km 3", "25754", "", "Rural", "", "", "9800.00"),
]

CONSUMPTION_COLUMNS = [Column("Línea", width=13), Column("Cuenta", width=13), Column("Centro de costo", width=18),
                       Column("Plan", width=18), Column("Concepto", width=22), Column("Minutos", INTEGER),
                       Column("Datos (MB)", DECIMAL), Column("SMS", INTEGER), Column("Valor sin IVA", MONEY, width=15),
                       Column("IVA", MONEY), Column("Valor total", MONEY, width=15), Column("Fecha corte", DATE)]
PLANS = [("Plan Empresarial 20 GB", Decimal("54621.85")), ("Plan Voz Ilimitada", Decimal("33529.41")),
         ("Plan Datos 50 GB", Decimal("75546.22"))]
COST_CENTERS = ["Administración", "Operaciones", "Mantenimiento", "Comercial"]


@dataclass(frozen=True)
class SampleFile:
    filename: str
    build: Callable[[], bytes]
    content_type: str = CONTENT_TYPES["xlsx"]


def last_period(today: dt.date | None = None) -> str:
    today = today or timezone.localdate()
    prev = today.replace(day=1) - dt.timedelta(days=1)
    return f"{prev.year}-{prev.month:02d}"


def accounts_xlsx() -> bytes:
    """The accounts register (padrón) with a title, synonyms («Propietario», «Documento»...) and opening balances."""
    buf = io.BytesIO()
    with TableWriter(buf, "xlsx", ACCOUNTS_COLUMNS, sheet_name="Cuentas", title="Padrón de suscriptores",
                     notes=["Archivo de ejemplo: referencias de pago con sus ceros a la izquierda; el NIT con o sin "
                            "dígito de verificación; el saldo anterior se registra como un cargo."]) as w:
        for row in ACCOUNTS_ROWS:
            w.row([*row[:-1], Decimal(row[-1])])
    return buf.getvalue()


def consumption_rows(period: str, references: list[str]) -> list[list]:
    """Lines of a mobile operator's detail for `period`: several phone lines per account, IVA 19 %."""
    year, month = int(period[:4]), int(period[5:7])
    cut = dt.date(year, month, 25)
    rows = []
    for i, ref in enumerate(references):
        for j in range(1 + i % 3):
            n = i * 3 + j
            plan, net = PLANS[n % len(PLANS)]
            iva = (net * IVA).quantize(CENT, rounding=ROUND_HALF_UP)
            rows.append([f"3{(101234567 + n * 7919) % 1_000_000_000:09d}", ref, COST_CENTERS[n % len(COST_CENTERS)],
                         plan, "Cargo básico mensual", 180 + (n * 37) % 900, Decimal(1024 + (n * 613) % 20000),
                         (n * 11) % 60, net, iva, net + iva, cut])
    return rows


def consumption_xlsx(period: str | None = None, references: list[str] | None = None) -> bytes:
    """A "Detalle de consumo" for `period` (default: last month) with a totals row."""
    period = period or last_period()
    references = references or [f"{i:010d}" for i in range(1, 9)]
    rows = consumption_rows(period, references)
    buf = io.BytesIO()
    with TableWriter(buf, "xlsx", CONSUMPTION_COLUMNS, sheet_name="Detalle", title="Detalle de consumo",
                     notes=[f"Periodo {period} · Operador móvil (archivo de ejemplo)"]) as w:
        for r in rows:
            w.row(r)
        w.row(["TOTAL", "", "", "", "", sum(r[5] for r in rows), sum(r[6] for r in rows), sum(r[7] for r in rows),
               sum(r[8] for r in rows), sum(r[9] for r in rows), sum(r[10] for r in rows), None], bold=True)
    return buf.getvalue()


def references_txt() -> bytes:
    """The plain-text file of manual 000 (step 6): the references to bill, one a line, as copied from the
    portfolio list into Notepad (Windows line ends)."""
    return "".join(f"{i:010d}\r\n" for i in range(1, 11)).encode("ascii")


def invoice_template_typ() -> bytes:
    """The built-in invoice design as a Typst file (manual 000, step 11: the template to upload)."""
    from facturador.billing.invoice_templates import default_template

    return default_template().encode("utf-8")


SAMPLES = {
    "cuentas": SampleFile("cuentas-ejemplo.xlsx", accounts_xlsx),
    "consumo": SampleFile("detalle-consumo-ejemplo.xlsx", consumption_xlsx),
    "referencias": SampleFile("referencias-ejemplo.txt", references_txt, "text/plain; charset=utf-8"),
    "plantilla": SampleFile("plantilla-factura-ejemplo.typ", invoice_template_typ, "text/plain; charset=utf-8"),
}
