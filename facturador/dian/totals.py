"""Line, tax and legal-monetary totals per DIAN rules.

- Line LineExtensionAmount = round2(qty x price) - line discounts + line charges.
- Tax per line and rate = round2(base x rate / 100); header TaxSubtotal per (tax, rate) sums the line values;
  one header TaxTotal per tax type (FAS01b).
- LineExtensionAmount = sum of lines (FAU06); TaxExclusiveAmount = sum of every line TaxSubtotal
  TaxableAmount, as DIAN's FAU04 literally states (a line with IVA and INC counts twice);
  TaxInclusiveAmount = LineExtension + taxes;
  PayableAmount = TaxInclusive - AllowanceTotal + ChargeTotal - Prepaid (FAU14).
- Withholdings are informative and never change the payable amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .model import TAXES, WITHHOLDINGS, Document, Line

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round2(x: Decimal) -> Decimal:
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class TaxSubtotal:
    scheme: str
    rate: Decimal
    taxable: Decimal
    amount: Decimal


@dataclass
class TaxTotal:
    scheme: str
    amount: Decimal
    subtotals: list[TaxSubtotal]

    @property
    def name(self) -> str:
        return TAXES.get(self.scheme) or WITHHOLDINGS.get(self.scheme, self.scheme)


@dataclass
class LineTotals:
    gross: Decimal                  # round2(qty x price)
    allowances: Decimal
    charges: Decimal
    extension: Decimal              # LineExtensionAmount
    taxes: list[TaxTotal] = field(default_factory=list)


@dataclass
class Totals:
    lines: list[LineTotals]
    taxes: list[TaxTotal]           # header, one per tax type, in order 01, 04, 03
    withholdings: list[TaxTotal]
    line_extension: Decimal
    tax_exclusive: Decimal
    tax_inclusive: Decimal
    allowance_total: Decimal
    charge_total: Decimal
    prepaid: Decimal
    payable: Decimal

    def tax_amount(self, scheme: str) -> Decimal:
        for t in self.taxes:
            if t.scheme == scheme:
                return t.amount
        return ZERO


def line_totals(line: Line) -> LineTotals:
    gross = round2(line.quantity * line.unit_price)
    allowances = round2(sum((round2(a.amount) for a in line.allowance_charges if not a.charge), ZERO))
    charges = round2(sum((round2(a.amount) for a in line.allowance_charges if a.charge), ZERO))
    ext = gross - allowances + charges
    taxes = []
    for t in line.taxes:
        amount = round2(ext * Decimal(t.rate) / 100)
        taxes.append(TaxTotal(t.scheme, amount, [TaxSubtotal(t.scheme, Decimal(t.rate), ext, amount)]))
    return LineTotals(gross, allowances, charges, ext, taxes)


def _group(subtotals: list[TaxSubtotal], order) -> list[TaxTotal]:
    by_scheme: dict[str, dict[Decimal, TaxSubtotal]] = {}
    for s in subtotals:
        rates = by_scheme.setdefault(s.scheme, {})
        key = Decimal(s.rate).normalize()
        if key in rates:
            rates[key].taxable += s.taxable
            rates[key].amount += s.amount
        else:
            rates[key] = TaxSubtotal(s.scheme, Decimal(s.rate), s.taxable, s.amount)
    out = []
    for scheme in sorted(by_scheme, key=lambda c: (order.index(c) if c in order else 99, c)):
        subs = sorted(by_scheme[scheme].values(), key=lambda s: s.rate)
        out.append(TaxTotal(scheme, sum((s.amount for s in subs), ZERO), subs))
    return out


def compute(doc: Document) -> Totals:
    lines = [line_totals(li) for li in doc.lines]
    taxes = _group([s for lt in lines for t in lt.taxes for s in t.subtotals], ["01", "04", "03"])
    line_extension = sum((lt.extension for lt in lines), ZERO)
    tax_exclusive = sum((s.taxable for lt in lines for t in lt.taxes for s in t.subtotals), ZERO)
    tax_total = sum((t.amount for t in taxes), ZERO)
    tax_inclusive = line_extension + tax_total
    allowance_total = sum((round2(a.amount) for a in doc.allowance_charges if not a.charge), ZERO)
    charge_total = sum((round2(a.amount) for a in doc.allowance_charges if a.charge), ZERO)
    prepaid = sum((round2(p.amount) for p in doc.prepayments), ZERO)
    payable = tax_inclusive - allowance_total + charge_total - prepaid

    iva_total = next((t.amount for t in taxes if t.scheme == "01"), ZERO)
    wh_subs = []
    for w in doc.withholdings:
        base = w.base if w.base is not None else (iva_total if w.scheme == "05" else line_extension)
        base = round2(base)
        wh_subs.append(TaxSubtotal(w.scheme, Decimal(w.rate), base, round2(base * Decimal(w.rate) / 100)))
    withholdings = _group(wh_subs, ["05", "06", "07"])
    return Totals(lines, taxes, withholdings, line_extension, tax_exclusive, tax_inclusive, allowance_total,
                  charge_total, prepaid, payable)
