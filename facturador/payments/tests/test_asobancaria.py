import datetime as dt
import io
from decimal import Decimal

import pytest

from facturador.payments.asobancaria import (
    LINE_LENGTH,
    AsobancariaError,
    AsobancariaFile,
    Detail,
    FileHeader,
    Lot,
    parse,
    write,
)

DAY = dt.date(2026, 11, 20)


def _detail(ref, amount, **kw):
    return Detail(reference=ref, amount=Decimal(amount), payment_date=DAY, bank_code="007", **kw)


def _sample() -> AsobancariaFile:
    header = FileHeader(nit="890904996", collection_date=DAY, bank_code="007", account="1234567890",
                        file_date=DAY, file_time="2315", file_modifier="A", account_type="01")
    lots = [
        Lot(service_code="7709998013711", number=1, details=[
            _detail("123456", "50000.00", origin="01", channel="01", office="0455", operation_id="A1B2C3"),
            _detail("987654321", "1168375.50", origin="02", channel="03", authorization="778899"),
        ]),
        Lot(service_code="7709998014350", number=2, details=[
            _detail("17209701643", "1983090", channel="05", entity="051", refund_reason=""),
        ]),
    ]
    return AsobancariaFile(header=header, lots=lots)


def _lines(data: bytes) -> list[str]:
    return data.decode("ascii").split("\r\n")[:-1]


def _join(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def test_round_trip():
    original = _sample()
    data = write(original)
    lines = _lines(data)
    assert all(len(line) == LINE_LENGTH for line in lines)
    assert [line[:2] for line in lines] == ["01", "05", "06", "06", "08", "05", "06", "08", "09"]

    parsed = parse(io.BytesIO(data))
    assert parsed.header.nit == "890904996"
    assert parsed.header.collection_date == DAY
    assert parsed.header.bank_code == "007"
    assert parsed.header.account == "1234567890"
    assert parsed.header.file_time == "2315"
    assert [lot.service_code for lot in parsed.lots] == ["7709998013711", "7709998014350"]
    got = [(d.reference, d.amount, d.channel, d.office, d.sequence, d.payment_date) for d in parsed.details]
    assert got == [
        ("123456", Decimal("50000.00"), "01", "0455", 1, DAY),
        ("987654321", Decimal("1168375.50"), "03", "", 2, DAY),
        ("17209701643", Decimal("1983090.00"), "05", "", 1, DAY),
    ]
    assert parsed.details[0].operation_id == "A1B2C3"
    assert parsed.details[1].authorization == "778899"
    assert parsed.control_count == 3
    assert parsed.control_amount == Decimal("3201465.50") == parsed.total
    assert parsed.lots[0].control_amount == Decimal("1218375.50")
    # writing the parsed file gives the same bytes
    assert write(parsed) == data
    # str and text-stream input work too
    assert parse(data.decode()).total == parsed.total
    assert parse(io.StringIO(data.decode())).control_count == 3


def test_amount_field_has_two_implied_decimals():
    line = _lines(write(_sample()))[3]
    assert line[50:64] == "00000116837550"


def _with_line(idx: int, new: str) -> bytes:
    lines = _lines(write(_sample()))
    lines[idx] = new
    return _join(lines)


def _error(data: bytes, **kw) -> AsobancariaError:
    with pytest.raises(AsobancariaError) as exc:
        parse(data, **kw)
    return exc.value


def test_wrong_lot_control_amount():
    lines = _lines(write(_sample()))
    bad = lines[4][:11] + "000000000001218376" + lines[4][29:]
    lines[4] = bad
    err = _error(_join(lines))
    assert (err.line_no, err.field, err.code) == (5, "valor_total_lote", "lot_amount")
    assert "12183.76" in err.message_es or "12183,76" in err.message_es


def test_wrong_lot_control_count():
    lines = _lines(write(_sample()))
    lines[7] = lines[7][:2] + "000000002" + lines[7][11:]
    err = _error(_join(lines))
    assert (err.line_no, err.field, err.code) == (8, "total_registros_lote", "lot_count")


def test_wrong_file_control_total():
    lines = _lines(write(_sample()))
    lines[8] = lines[8][:11] + "000000000320146551" + lines[8][29:]
    err = _error(_join(lines))
    assert (err.line_no, err.field, err.code) == (9, "valor_total", "file_amount")


def test_truncated_line():
    lines = _lines(write(_sample()))
    lines[2] = lines[2][:80]
    err = _error(_join(lines))
    assert (err.line_no, err.field, err.code) == (3, "longitud", "line_length")
    # even in lenient mode, a line cut inside the defined fields is an error
    err = _error(_join(lines), strict_length=False)
    assert err.line_no == 3


def test_trailing_blanks_stripped_is_accepted_in_lenient_mode():
    data = _join([line.rstrip() for line in _lines(write(_sample()))])
    assert _error(data).code == "line_length"
    assert parse(data, strict_length=False).total == Decimal("3201465.50")


def test_a_byte_order_mark_and_a_final_ctrl_z_are_accepted():
    """What Windows and DOS-era bank systems add around the records."""
    data = b"\xef\xbb\xbf" + write(_sample()) + b"\x1a"
    assert parse(data).total == Decimal("3201465.50")


def test_bad_record_type():
    lines = _lines(write(_sample()))
    lines[3] = "07" + lines[3][2:]
    err = _error(_join(lines))
    assert (err.line_no, err.field, err.code) == (4, "tipo_registro", "record_type")


def test_non_numeric_amount():
    lines = _lines(write(_sample()))
    lines[2] = lines[2][:50] + "0000005000O000" + lines[2][64:]
    err = _error(_join(lines))
    assert (err.line_no, err.field) == (3, "valor")


def test_missing_file_control():
    lines = _lines(write(_sample()))[:-1]
    err = _error(_join(lines))
    assert (err.line_no, err.code) == (8, "missing_file_control")


def test_detail_outside_lot_and_unclosed_lot():
    lines = _lines(write(_sample()))
    err = _error(_join([lines[0], lines[2]] + lines[8:]))
    assert (err.line_no, err.code) == (2, "record_order")
    err = _error(_join(lines[:4] + lines[5:]))  # lot 1 never closed before lot 2 opens
    assert (err.line_no, err.code) == (5, "record_order")


def test_lot_number_mismatch():
    lines = _lines(write(_sample()))
    lines[4] = lines[4][:29] + "0009" + lines[4][33:]
    err = _error(_join(lines))
    assert (err.line_no, err.field) == (5, "numero_lote")


def test_invalid_header_date():
    lines = _lines(write(_sample()))
    lines[0] = lines[0][:12] + "20261332" + lines[0][20:]
    err = _error(_join(lines))
    assert (err.line_no, err.field, err.code) == (1, "fecha_recaudo", "invalid_date")


def test_fingerprint_ignores_line_endings_trailing_blanks_and_the_moment_the_file_was_written():
    data = write(_sample())
    again = _sample()
    again.header.file_date, again.header.file_time, again.header.file_modifier = DAY + dt.timedelta(days=1), "0810", "B"
    trimmed = b"\n".join(line.rstrip() for line in data.split(b"\r\n")).rstrip(b"\n")
    prints = {parse(d, strict_length=False).fingerprint for d in (data, data.replace(b"\r\n", b"\n"), trimmed,
                                                                   b"\xef\xbb\xbf" + data, write(again))}
    assert len(prints) == 1 and len(prints.pop()) == 64


def test_fingerprint_changes_with_what_the_file_reports():
    other = _sample()
    other.lots[0].details[0].amount = Decimal("50000.01")
    assert parse(write(other)).fingerprint != parse(write(_sample())).fingerprint
    other = _sample()
    other.header.collection_date = DAY + dt.timedelta(days=1)
    assert parse(write(other)).fingerprint != parse(write(_sample())).fingerprint


def test_a_character_that_is_not_ascii_in_a_reference_is_refused_naming_line_and_field():
    """A Latin-1 file: the reference of the first payment (line 3) has an «é» where a digit was."""
    lines = _lines(write(_sample()))
    lines[2] = lines[2][:45] + "é" + lines[2][46:]
    err = _error("\r\n".join(lines).encode("latin-1"))
    assert (err.line_no, err.field, err.code) == (3, "referencia", "invalid_character")
    assert "«é»" in err.message_es and "posición 46" in err.message_es


def test_utf8_text_in_a_reserved_area_is_refused_as_a_character_not_as_a_line_length():
    lines = _lines(write(_sample()))
    data = _join(lines).replace(lines[2].encode("ascii"), (lines[2][:120] + "BOGOTÁ" + lines[2][126:]).encode("utf-8"))
    err = _error(data, strict_length=False)
    assert (err.line_no, err.field, err.code) == (3, "reservado", "invalid_character")


def test_control_characters_inside_a_record_are_refused():
    lines = _lines(write(_sample()))
    lines[1] = lines[1][:5] + "\x00" + lines[1][6:]
    err = _error(_join(lines))
    assert (err.line_no, err.field, err.code) == (2, "codigo_servicio", "invalid_character")


def test_blanks_past_the_162nd_position_are_accepted_in_lenient_mode():
    """Records written into wider fixed-length slots (a mainframe's LRECL 170): the extra positions are blank."""
    data = _join([line + "        " for line in _lines(write(_sample()))])
    assert _error(data).code == "line_length"
    parsed = parse(data, strict_length=False)
    assert parsed.total == Decimal("3201465.50") and parsed.fingerprint == parse(write(_sample())).fingerprint


def test_text_past_the_162nd_position_is_refused_even_in_lenient_mode():
    lines = _lines(write(_sample()))
    lines[2] += "   X"
    err = _error(_join(lines), strict_length=False)
    assert (err.line_no, err.field, err.code) == (3, "longitud", "line_length")
