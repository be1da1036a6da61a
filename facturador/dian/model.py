"""Plain dataclasses describing a DIAN electronic document (invoice, credit note, debit note).

All money values are ``Decimal``. Nothing here talks XML; see ``ubl.build_xml``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from stdnum.co import nit as co_nit

CONSUMIDOR_FINAL = "222222222222"
DIAN_NIT, DIAN_DV = "800197268", "4"
COT = dt.timezone(dt.timedelta(hours=-5))  # Colombian legal time, no DST

# Document kinds and their DIAN type codes
INVOICE, CREDIT_NOTE, DEBIT_NOTE = "invoice", "credit_note", "debit_note"
INVOICE_TYPES = {"01": "venta", "02": "exportación", "03": "contingencia facturador", "04": "contingencia DIAN"}
KIND_TYPE_CODES = {INVOICE: tuple(INVOICE_TYPES), CREDIT_NOTE: ("91",), DEBIT_NOTE: ("92",)}

ID_TYPES = {  # TipoIdFiscal / TipoDocumento
    "11": "Registro civil", "12": "Tarjeta de identidad", "13": "Cédula de ciudadanía",
    "21": "Tarjeta de extranjería", "22": "Cédula de extranjería", "31": "NIT", "41": "Pasaporte",
    "42": "Documento de identificación extranjero", "47": "PEP", "48": "PPT", "50": "NIT de otro país",
    "91": "NUIP",
}
RESPONSIBILITIES = {"O-13": "Gran contribuyente", "O-15": "Autorretenedor", "O-23": "Agente de retención IVA",
                    "O-47": "Régimen simple de tributación", "R-99-PN": "No aplica - Otros"}
PARTY_TAX_SCHEMES = {"01": "IVA", "04": "INC", "ZA": "IVA e INC", "ZZ": "No aplica"}
TAXES = {"01": "IVA", "04": "INC", "03": "ICA"}  # taxes that add to the payable amount
WITHHOLDINGS = {"05": "ReteIVA", "06": "ReteFuente", "07": "ReteICA"}
IVA_RATES = (Decimal("0"), Decimal("5"), Decimal("19"))
CREDIT_NOTE_CONCEPTS = {"1": "Devolución parcial de los bienes", "2": "Anulación de factura electrónica",
                        "3": "Rebaja o descuento parcial o total", "4": "Ajuste de precio",
                        "5": "Descuento comercial por pronto pago", "6": "Descuento comercial por volumen de ventas"}
# PriceTypeCode of a free-of-charge line's reference price (cac:PricingReference/cac:AlternativeConditionPrice)
PRICE_TYPES = {"01": "Valor comercial", "02": "Valor en inventarios", "03": "Otro valor"}
DEBIT_NOTE_CONCEPTS = {"1": "Intereses", "2": "Gastos por cobrar", "3": "Cambio del valor", "4": "Otros"}


def nit_dv(nit: str) -> str:
    """DIAN check digit of a NIT (python-stdnum)."""
    return co_nit.calc_check_digit(nit)


@dataclass
class Address:
    city_code: str                  # DANE municipality code, 5 digits (e.g. 11001 Bogotá)
    city_name: str
    department_name: str
    line: str
    department_code: str = ""       # DANE department code, 2 digits; default: first 2 digits of city_code
    country_code: str = "CO"
    country_name: str = "Colombia"
    postal_zone: str = ""

    def __post_init__(self):
        if not self.department_code:
            self.department_code = self.city_code[:2]


@dataclass
class Party:
    id_number: str                  # NIT without DV, or the person's document number
    name: str                       # registration name (razón social / nombre)
    id_type: str = "31"             # 31 NIT, 13 cédula, 22 cédula de extranjería, 41 pasaporte, ...
    dv: str | None = None           # check digit; computed for NITs when omitted
    legal_person: bool = True       # AdditionalAccountID 1 persona jurídica / 2 persona natural
    responsibilities: list[str] = field(default_factory=lambda: ["R-99-PN"])
    tax_scheme: str = "ZZ"          # 01 IVA, 04 INC, ZA IVA e INC, ZZ No aplica
    address: Address | None = None
    email: str = ""
    commercial_name: str = ""
    phone: str = ""                 # cac:Contact/cbc:Telephone (with email in cbc:ElectronicMail)
    industry_code: str = ""         # CIIU economic activity (cbc:IndustryClassificationCode); several: "4711;6201"

    def __post_init__(self):
        if self.id_type == "31" and self.dv is None:
            self.dv = nit_dv(self.id_number)

    @property
    def is_consumidor_final(self) -> bool:
        return self.id_number == CONSUMIDOR_FINAL

    @property
    def organization_code(self) -> str:
        return "1" if self.legal_person else "2"

    @classmethod
    def consumidor_final(cls, email: str = "") -> "Party":
        return cls(id_number=CONSUMIDOR_FINAL, name="Consumidor final", id_type="13", legal_person=False,
                   responsibilities=["R-99-PN"], tax_scheme="ZZ", email=email)


@dataclass
class Tax:
    scheme: str                     # 01 IVA, 04 INC, 03 ICA
    rate: Decimal                   # percent, e.g. Decimal("19")


@dataclass
class AllowanceCharge:
    """Discount (charge=False) or surcharge (charge=True), at document or line level."""
    amount: Decimal
    charge: bool = False
    reason: str = ""
    reason_code: str = ""           # discounts: CodigoDescuento (00..11); empty for charges
    base_amount: Decimal | None = None
    percent: Decimal | None = None  # MultiplierFactorNumeric


@dataclass
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    unit_code: str = "94"           # UN/ECE rec 20; 94 = unidad
    taxes: list[Tax] = field(default_factory=list)
    allowance_charges: list[AllowanceCharge] = field(default_factory=list)
    code: str = ""                  # seller's item code (StandardItemIdentification schemeID 999)
    note: str = ""
    # Free-of-charge lines (samples, gifts: value zero) state the item's reference price (Anexo: PricingReference/
    # AlternativeConditionPrice) and its kind, PriceTypeCode 01 valor comercial / 02 en inventarios / 03 otro.
    reference_price: Decimal | None = None
    reference_price_type: str = "01"


@dataclass
class Withholding:
    """ReteIVA (05), ReteFuente (06) or ReteICA (07). Informative: not in the CUFE, not subtracted
    from the payable amount. Base defaults to the IVA total (ReteIVA) or the line extension total."""
    scheme: str
    rate: Decimal
    base: Decimal | None = None


@dataclass
class Prepayment:
    amount: Decimal
    received_date: dt.date
    id: str = ""


@dataclass
class Payment:
    method: str = "1"               # 1 contado, 2 crédito
    means_code: str = "10"          # MediosPago: 10 efectivo, 42 consignación, 47 transferencia débito, ZZZ otro
    due_date: dt.date | None = None  # required for credit
    reference: str = ""


@dataclass
class BillingReference:
    number: str                     # referenced invoice cbc:ID
    uuid: str                       # its CUFE
    issue_date: dt.date
    scheme_name: str = "CUFE-SHA384"


@dataclass
class Numbering:
    prefix: str
    number: int
    resolution: str = ""            # InvoiceAuthorization (invoices)
    range_from: int | None = None
    range_to: int | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    technical_key: str = ""         # never written in the XML; used for the CUFE

    @property
    def document_id(self) -> str:
        return f"{self.prefix}{self.number}"


@dataclass
class Software:
    id: str
    pin: str
    provider_nit: str
    provider_dv: str | None = None

    def __post_init__(self):
        if self.provider_dv is None:
            self.provider_dv = nit_dv(self.provider_nit)


@dataclass
class Document:
    kind: str                       # invoice | credit_note | debit_note
    numbering: Numbering
    software: Software
    supplier: Party
    customer: Party
    lines: list[Line]
    issue_date: dt.date
    issue_time: dt.time             # Colombian time; written as HH:MM:SS-05:00
    type_code: str = ""             # 01/02/03/04 invoice, 91 credit note, 92 debit note (default by kind)
    environment: str = "2"          # 1 producción, 2 pruebas/habilitación
    operation_type: str = ""        # CustomizationID; default 10 / 20|22 / 30|32
    currency: str = "COP"
    payment: Payment = field(default_factory=Payment)
    allowance_charges: list[AllowanceCharge] = field(default_factory=list)
    prepayments: list[Prepayment] = field(default_factory=list)
    withholdings: list[Withholding] = field(default_factory=list)
    billing_reference: BillingReference | None = None
    discrepancy_code: str = ""      # note concept (ConceptoNotaCredito / ConceptoNotaDebito)
    discrepancy_description: str = ""
    invoice_period: tuple[dt.date, dt.date] | None = None  # required for notes without reference (CAE02/CAE04)
    due_date: dt.date | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.type_code:
            self.type_code = {INVOICE: "01", CREDIT_NOTE: "91", DEBIT_NOTE: "92"}[self.kind]
        if not self.operation_type:
            if self.kind == INVOICE:
                self.operation_type = "10"
            elif self.kind == CREDIT_NOTE:
                self.operation_type = "20" if self.billing_reference else "22"
            else:
                self.operation_type = "30" if self.billing_reference else "32"

    @property
    def document_id(self) -> str:
        return self.numbering.document_id

    @property
    def uses_cude(self) -> bool:
        """Credit/debit notes and contingency-03 invoices use the CUDE (software PIN instead of key)."""
        return self.kind != INVOICE or self.type_code == "03"
