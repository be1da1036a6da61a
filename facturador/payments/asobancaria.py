"""Asobancaria 2001 payment-collection ("recaudo") files: parser and writer.

Pure Python, no Django. Fixed-width records of 162 characters:

====  ===================  ==============================================================
Type  Record               Fields (0-based offset:length)
====  ===================  ==============================================================
01    file header          NIT 2:10, collection date 12:8 (YYYYMMDD), bank code 20:3,
                           account 23:17, file date 40:8, file time 48:4 (HHMM),
                           file modifier 52:1, account type 53:2, reserved 55:107
05    lot header           service code (EAN-13 / GLN) 2:13, lot number 15:4, reserved
06    detail (payment)     reference 2:48, amount 50:14 (2 implied decimals), origin 64:2,
                           channel 66:2, operation id 68:6, authorisation 74:6,
                           financial entity 80:3, office 83:4, sequence 87:7,
                           refund reason 94:3, reserved 97:65
08    lot control          detail count 2:9, amount 11:18 (2 implied decimals),
                           lot number 29:4, reserved
09    file control         detail count 2:9, amount 11:18 (2 implied decimals), reserved
====  ===================  ==============================================================

The layout follows the public 2001 parser in dnetix/asoban (see
``docs/invoice-templates.md`` §Payments). The file control count is taken to be the
number of detail (06) records in the file, as in that parser; the meaning of the
origin/channel codes is bank specific and kept as raw codes.

Every problem raises :class:`AsobancariaError` with the 1-based line number, the
field name and a Spanish message.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import BinaryIO, Iterable, TextIO

__all__ = [
    "LINE_LENGTH",
    "AsobancariaError",
    "FileHeader",
    "Detail",
    "Lot",
    "AsobancariaFile",
    "parse",
    "check_collector",
    "write",
]

LINE_LENGTH = 162
_CENT = Decimal("0.01")


class AsobancariaError(ValueError):
    """Invalid Asobancaria file. ``line_no`` is 1-based (0 = whole file)."""

    def __init__(self, line_no: int, field: str, message_es: str, code: str = "asobancaria_invalid"):
        super().__init__(f"line {line_no}, {field}: {message_es}")
        self.line_no = line_no
        self.field = field
        self.message_es = message_es
        self.message = message_es
        self.code = code


@dataclass
class FileHeader:
    nit: str
    collection_date: _dt.date
    bank_code: str
    account: str
    file_date: _dt.date
    file_time: str = "0000"
    file_modifier: str = "A"
    account_type: str = "01"
    line_no: int = 0


@dataclass
class Detail:
    reference: str          # without leading zeros ("0" if all zeros)
    amount: Decimal
    payment_date: _dt.date  # the collection date of the file header
    bank_code: str          # from the file header
    origin: str = "01"
    channel: str = "01"
    operation_id: str = ""
    authorization: str = ""
    entity: str = ""
    office: str = ""
    sequence: int = 0
    refund_reason: str = ""
    reference_raw: str = ""  # the 48-character field as found
    line_no: int = 0


@dataclass
class Lot:
    service_code: str
    number: int
    details: list[Detail] = field(default_factory=list)
    control_count: int | None = None
    control_amount: Decimal | None = None
    line_no: int = 0

    @property
    def total(self) -> Decimal:
        return sum((d.amount for d in self.details), Decimal("0.00"))


@dataclass
class AsobancariaFile:
    header: FileHeader
    lots: list[Lot] = field(default_factory=list)
    control_count: int | None = None
    control_amount: Decimal | None = None
    fingerprint: str = ""  # set by parse(): see _FILE_STAMP

    @property
    def details(self) -> list[Detail]:
        return [d for lot in self.lots for d in lot.details]

    @property
    def total(self) -> Decimal:
        return sum((lot.total for lot in self.lots), Decimal("0.00"))


# ------------------------------------------------------------------------- parsing

_LINE_END = re.compile(r"\r\n|\r|\n")


def _read_lines(source) -> list[str]:
    """The file's lines, without the byte order mark some Windows tools write."""
    data = source if isinstance(source, (str, bytes, bytearray, memoryview)) else source.read()
    if not isinstance(data, str):
        data = bytes(data).removeprefix(b"\xef\xbb\xbf")
        for encoding in ("ascii", "utf-8", "latin-1"):  # the last two only to name a bad character as written
            try:
                data = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    # Only CR and LF end a record: str.splitlines() would also split at \x0b, \x0c, \x1c-\x1e and \x85 (a Latin-1
    # "…"), which are bad characters inside a record, not line ends.
    return _LINE_END.split(data.removeprefix("\ufeff"))


class _Line:
    def __init__(self, text: str, line_no: int):
        self.text = text
        self.no = line_no

    def raw(self, start: int, length: int) -> str:
        return self.text[start:start + length]

    def digits(self, start: int, length: int, name: str, label: str) -> str:
        value = self.raw(start, length)
        if not value.isdigit() or len(value) != length:
            raise AsobancariaError(self.no, name, f"El campo «{label}» debe ser numérico de {length} dígitos "
                                               f"(se encontró «{value}»).", "numeric_field")
        return value

    def integer(self, start: int, length: int, name: str, label: str) -> int:
        return int(self.digits(start, length, name, label))

    def money(self, start: int, length: int, name: str, label: str) -> Decimal:
        return (Decimal(self.digits(start, length, name, label)) / 100).quantize(_CENT)

    def date(self, start: int, name: str, label: str) -> _dt.date:
        value = self.digits(start, 8, name, label)
        try:
            return _dt.datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            raise AsobancariaError(self.no, name, f"La fecha «{value}» del campo «{label}» no es válida.",
                                   "invalid_date")

    def text_field(self, start: int, length: int) -> str:
        return self.raw(start, length).strip()


# Field names (as in the errors) by record type: (offset, length, name); anything else is reserved.
_FIELDS = {
    "01": ((2, 10, "nit"), (12, 8, "fecha_recaudo"), (20, 3, "codigo_banco"), (23, 17, "cuenta"),
           (40, 8, "fecha_archivo"), (48, 4, "hora_archivo"), (52, 1, "modificador_archivo"), (53, 2, "tipo_cuenta")),
    "05": ((2, 13, "codigo_servicio"), (15, 4, "numero_lote")),
    "06": ((2, 48, "referencia"), (50, 14, "valor"), (64, 2, "procedencia"), (66, 2, "medio_pago"),
           (68, 6, "numero_operacion"), (74, 6, "autorizacion"), (80, 3, "entidad"), (83, 4, "oficina"),
           (87, 7, "secuencia"), (94, 3, "causal_devolucion")),
    "08": ((2, 9, "total_registros_lote"), (11, 18, "valor_total_lote"), (29, 4, "numero_lote")),
    "09": ((2, 9, "total_registros"), (11, 18, "valor_total")),
}


def _span(rtype: str, first: str, last: str) -> slice:
    """The positions of a record's fields `first` to `last` (`_FIELDS`)."""
    at = {name: (start, length) for start, length, name in _FIELDS[rtype]}
    return slice(at[first][0], sum(at[last]))


# The header's file date, file time and file modifier say when the bank wrote the file, not what it reports: a
# portal that writes the moment of each download gives the same collection a new header each time.
_FILE_STAMP = _span("01", "fecha_archivo", "modificador_archivo")
# What a record may hold: printable ASCII. Anything else is another encoding (UTF-8, Latin-1 accents), binary
# data or a damaged transfer, and would shift or corrupt the fixed-width fields.
_BAD_CHARACTER = re.compile(r"[^\x20-\x7e]")


def _field_at(rtype: str, offset: int) -> str:
    for start, length, name in _FIELDS[rtype]:
        if start <= offset < start + length:
            return name
    return "tipo_registro" if offset < 2 else "reservado"


# Minimum length per record type in lenient mode (end of the last numeric field;
# trailing text fields may be blank and stripped).
_SIGNIFICANT = {"01": 52, "05": 19, "06": 94, "08": 33, "09": 29}


def parse(source: bytes | str | BinaryIO | TextIO, *, strict_length: bool = True) -> AsobancariaFile:
    """Parse an Asobancaria 2001 file and check its structure and control totals.

    ``strict_length``: every record must be exactly 162 characters. With ``False``,
    lines whose trailing reserved blanks were stripped are accepted as long as all
    defined fields are present, and so are lines with more blanks after the 162nd position.

    The result's ``fingerprint`` (SHA-256, hex) identifies what the file reports: it is the
    same whatever the line endings, a byte order mark, trailing blanks or a missing final
    newline, and whatever the header's file date, time and modifier (see ``_FILE_STAMP``).
    """
    lines = _read_lines(source)
    while lines and not lines[-1].strip(" \t\x1a"):  # blank lines and a DOS end-of-file mark (Ctrl-Z) at the end
        lines.pop()
    if not lines:
        raise AsobancariaError(0, "archivo", "El archivo de recaudo está vacío.", "empty_file")

    header: FileHeader | None = None
    result: AsobancariaFile | None = None
    lot: Lot | None = None
    closed = False
    digest = hashlib.sha256()

    for idx, text in enumerate(lines, start=1):
        line = _Line(text, idx)
        rtype = text[:2]
        if rtype not in _SIGNIFICANT:
            raise AsobancariaError(idx, "tipo_registro",
                                   f"Tipo de registro «{rtype}» desconocido (se esperaba 01, 05, 06, 08 o 09).",
                                   "record_type")
        bad = _BAD_CHARACTER.search(text)
        if bad:
            shown = bad.group() if bad.group().isprintable() else f"\\x{ord(bad.group()):02x}"
            where = _field_at(rtype, bad.start())
            raise AsobancariaError(idx, where, f"Carácter no válido «{shown}» en la posición {bad.start() + 1} (campo "
                                   f"«{where}»): el archivo debe ser texto ASCII de ancho fijo.", "invalid_character")
        if len(text) != LINE_LENGTH:
            if strict_length or len(text) < _SIGNIFICANT[rtype] or text[LINE_LENGTH:].strip(" "):
                raise AsobancariaError(idx, "longitud",
                                       f"La línea tiene {len(text)} caracteres; deben ser {LINE_LENGTH}.",
                                       "line_length")
            line.text = text[:LINE_LENGTH].ljust(LINE_LENGTH)
        record = line.text
        if rtype == "01":
            record = record[:_FILE_STAMP.start] + " " * (_FILE_STAMP.stop - _FILE_STAMP.start) + record[_FILE_STAMP.stop:]
        digest.update(record.rstrip(" ").encode("utf-8", "surrogatepass") + b"\n")
        if closed:
            raise AsobancariaError(idx, "tipo_registro",
                                   "Hay registros después del registro de control de archivo (09).",
                                   "after_file_control")

        if rtype == "01":
            if header is not None or idx != 1:
                raise AsobancariaError(idx, "tipo_registro",
                                       "El encabezado de archivo (01) debe ser la primera línea y único.",
                                       "record_order")
            header = FileHeader(
                nit=line.digits(2, 10, "nit", "NIT del recaudador").lstrip("0") or "0",
                collection_date=line.date(12, "fecha_recaudo", "fecha de recaudo"),
                bank_code=line.digits(20, 3, "codigo_banco", "código de la entidad"),
                account=line.text_field(23, 17).lstrip("0") or "0",
                file_date=line.date(40, "fecha_archivo", "fecha de archivo"),
                file_time=line.digits(48, 4, "hora_archivo", "hora de archivo"),
                file_modifier=line.raw(52, 1),
                account_type=line.raw(53, 2),
                line_no=idx,
            )
            result = AsobancariaFile(header=header)
            continue

        if result is None:
            raise AsobancariaError(idx, "tipo_registro", "Falta el encabezado de archivo (01) en la primera línea.",
                                   "record_order")

        if rtype == "05":
            if lot is not None:
                raise AsobancariaError(idx, "tipo_registro",
                                       f"Se abre un lote sin cerrar el lote {lot.number} (falta el registro 08).",
                                       "record_order")
            lot = Lot(
                service_code=line.digits(2, 13, "codigo_servicio", "código del servicio (EAN)"),
                number=line.integer(15, 4, "numero_lote", "número de lote"),
                line_no=idx,
            )
            result.lots.append(lot)
        elif rtype == "06":
            if lot is None:
                raise AsobancariaError(idx, "tipo_registro", "Registro de detalle (06) fuera de un lote.",
                                       "record_order")
            raw_ref = line.raw(2, 48)
            ref = raw_ref.strip()
            if not ref:
                raise AsobancariaError(idx, "referencia", "La referencia de pago está vacía.", "empty_reference")
            lot.details.append(Detail(
                reference=ref.lstrip("0") or "0",
                amount=line.money(50, 14, "valor", "valor recaudado"),
                payment_date=header.collection_date,
                bank_code=header.bank_code,
                origin=line.raw(64, 2),
                channel=line.raw(66, 2),
                operation_id=line.text_field(68, 6),
                authorization=line.text_field(74, 6),
                entity=line.text_field(80, 3),
                office=line.text_field(83, 4),
                sequence=line.integer(87, 7, "secuencia", "número de secuencia"),
                refund_reason=line.text_field(94, 3),
                reference_raw=raw_ref,
                line_no=idx,
            ))
        elif rtype == "08":
            if lot is None:
                raise AsobancariaError(idx, "tipo_registro", "Control de lote (08) sin lote abierto (05).",
                                       "record_order")
            lot.control_count = line.integer(2, 9, "total_registros_lote", "total de registros del lote")
            lot.control_amount = line.money(11, 18, "valor_total_lote", "valor total del lote")
            number = line.integer(29, 4, "numero_lote", "número de lote")
            if number != lot.number:
                raise AsobancariaError(idx, "numero_lote",
                                       f"El control cierra el lote {number} pero el lote abierto es {lot.number}.",
                                       "lot_number")
            if lot.control_count != len(lot.details):
                raise AsobancariaError(idx, "total_registros_lote",
                                       f"El lote {lot.number} declara {lot.control_count} registros "
                                       f"pero tiene {len(lot.details)}.", "lot_count")
            if lot.control_amount != lot.total:
                raise AsobancariaError(idx, "valor_total_lote",
                                       f"El lote {lot.number} declara {lot.control_amount} "
                                       f"pero sus registros suman {lot.total}.", "lot_amount")
            lot = None
        else:  # 09
            if lot is not None:
                raise AsobancariaError(idx, "tipo_registro",
                                       f"Control de archivo (09) con el lote {lot.number} sin cerrar.",
                                       "record_order")
            result.control_count = line.integer(2, 9, "total_registros", "total de registros del archivo")
            result.control_amount = line.money(11, 18, "valor_total", "valor total del archivo")
            n_details = len(result.details)
            if result.control_count != n_details:
                raise AsobancariaError(idx, "total_registros",
                                       f"El archivo declara {result.control_count} registros "
                                       f"pero tiene {n_details}.", "file_count")
            if result.control_amount != result.total:
                raise AsobancariaError(idx, "valor_total",
                                       f"El archivo declara {result.control_amount} "
                                       f"pero sus registros suman {result.total}.", "file_amount")
            closed = True

    if not closed:
        raise AsobancariaError(len(lines), "tipo_registro",
                               "Falta el registro de control de archivo (09) al final.", "missing_file_control")
    result.fingerprint = digest.hexdigest()
    return result


# ------------------------------------------------------------------------- collector checks

def _digits(value) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def check_collector(f: AsobancariaFile, *, nit: str, check_digit: str = "",
                    service_codes: Iterable[str] = ()) -> None:
    """Refuse a file that is not addressed to this collector (the company that bills and receives the money).

    The header's NIT (10 digits, zero padded) must be ``nit``, written with or without its check digit;
    every lot's service code (EAN-13 / GLN of the collection agreement) must be one of ``service_codes``
    (not checked when none is given).

    >>> import datetime as dt
    >>> h = FileHeader(nit="900373076", collection_date=dt.date(2026, 10, 1), bank_code="007",
    ...                account="1", file_date=dt.date(2026, 10, 1))
    >>> f = AsobancariaFile(header=h, lots=[Lot(service_code="7709998000001", number=1, line_no=2)])
    >>> check_collector(f, nit="900373076", check_digit="4", service_codes=["7709998000001"])
    >>> h.nit = "9003730764"  # NIT written with its check digit
    >>> check_collector(f, nit="900373076", check_digit="4", service_codes=["7709998000001"])
    >>> try:
    ...     check_collector(f, nit="800197268", check_digit="4")
    ... except AsobancariaError as e:
    ...     print(e.code, e.line_no, e.message_es)
    nit_mismatch 1 El NIT del encabezado del archivo (9003730764) no es el del recaudador (800197268): el archivo es de otra empresa.
    >>> try:
    ...     check_collector(f, nit="900373076", check_digit="4", service_codes=["7709998000018"])
    ... except AsobancariaError as e:
    ...     print(e.code, e.line_no, e.message_es)
    service_code_unknown 2 El código de servicio (EAN) 7709998000001 del lote 1 no es un GLN de recaudo del recaudador (7709998000018).
    """
    own = _digits(nit).lstrip("0") or "0"
    accepted = {own}
    if check_digit:
        accepted.add(own + _digits(check_digit))
    found = _digits(f.header.nit).lstrip("0") or "0"
    if found not in accepted:
        raise AsobancariaError(f.header.line_no or 1, "nit",
                               f"El NIT del encabezado del archivo ({found}) no es el del recaudador ({own}): "
                               "el archivo es de otra empresa.", "nit_mismatch")
    codes = [_digits(c) for c in service_codes if _digits(c)]
    if not codes:
        return
    for lot in f.lots:
        if lot.service_code not in codes:
            raise AsobancariaError(lot.line_no, "codigo_servicio",
                                   f"El código de servicio (EAN) {lot.service_code} del lote {lot.number} no es "
                                   f"un GLN de recaudo del recaudador ({', '.join(codes)}).", "service_code_unknown")


# ------------------------------------------------------------------------- writing

def _num(value: int | str, length: int, name: str) -> str:
    s = str(value)
    if not s.isdigit() or len(s) > length:
        raise AsobancariaError(0, name, f"El valor «{value}» no cabe en {length} dígitos.", "write_field")
    return s.zfill(length)


def _txt(value: str, length: int, name: str) -> str:
    s = str(value or "")
    if len(s) > length or not s.isascii():
        raise AsobancariaError(0, name, f"El valor «{value}» no cabe en {length} caracteres ASCII.", "write_field")
    return s.ljust(length)


def _cents(amount: Decimal, length: int, name: str) -> str:
    cents = Decimal(amount).quantize(_CENT) * 100
    if cents < 0:
        raise AsobancariaError(0, name, "Los valores no pueden ser negativos.", "write_field")
    return _num(int(cents), length, name)


def _line(*parts: str) -> str:
    s = "".join(parts)
    assert len(s) <= LINE_LENGTH, len(s)
    return s.ljust(LINE_LENGTH)


def _iter_records(f: AsobancariaFile) -> Iterable[str]:
    h = f.header
    yield _line("01", _num(h.nit, 10, "nit"), h.collection_date.strftime("%Y%m%d"),
                _num(h.bank_code, 3, "codigo_banco"), _num(h.account, 17, "cuenta") if str(h.account).isdigit()
                else _txt(h.account, 17, "cuenta"), h.file_date.strftime("%Y%m%d"), _num(h.file_time, 4, "hora"),
                _txt(h.file_modifier, 1, "modificador"), _txt(h.account_type, 2, "tipo_cuenta"))
    n_total = 0
    amount_total = Decimal("0.00")
    for lot in f.lots:
        yield _line("05", _num(lot.service_code, 13, "codigo_servicio"), _num(lot.number, 4, "numero_lote"))
        for seq, d in enumerate(lot.details, start=1):
            ref = str(d.reference)
            ref_field = _num(ref, 48, "referencia") if ref.isdigit() else _txt(ref, 48, "referencia")
            yield _line("06", ref_field, _cents(d.amount, 14, "valor"), _txt(d.origin, 2, "origen"),
                        _txt(d.channel, 2, "canal"), _txt(d.operation_id, 6, "id_operacion"),
                        _txt(d.authorization, 6, "autorizacion"), _txt(d.entity, 3, "entidad"),
                        _txt(d.office, 4, "oficina"), _num(d.sequence or seq, 7, "secuencia"),
                        _txt(d.refund_reason, 3, "causal_devolucion"))
        yield _line("08", _num(len(lot.details), 9, "total_registros_lote"),
                    _cents(lot.total, 18, "valor_total_lote"), _num(lot.number, 4, "numero_lote"))
        n_total += len(lot.details)
        amount_total += lot.total
    yield _line("09", _num(n_total, 9, "total_registros"), _cents(amount_total, 18, "valor_total"))


def write(f: AsobancariaFile, *, line_ending: str = "\r\n") -> bytes:
    """Serialise ``f`` as an Asobancaria 2001 file. Control records (08, 09) are
    computed from the details; ``control_*`` attributes of ``f`` are ignored."""
    out = io.StringIO()
    for rec in _iter_records(f):
        out.write(rec)
        out.write(line_ending)
    return out.getvalue().encode("ascii")
