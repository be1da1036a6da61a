import datetime as dt
from decimal import Decimal

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from facturador.printing.barcodes import (
    FNC1,
    GS,
    QR_DATA_MASK,
    BarcodeError,
    code128_modules,
    code128_svg,
    code128_values,
    gs1_check_digit,
    payment_barcode_data,
    qr_png,
    qr_svg,
)


def _raster(data: str, scale: int = 3) -> Image.Image:
    widths = code128_modules(data)
    total = sum(widths) + 20
    im = Image.new("L", (total * scale, 80), 255)
    draw = ImageDraw.Draw(im)
    x = 10
    for k, w in enumerate(widths):
        if k % 2 == 0:
            draw.rectangle([x * scale, 0, (x + w) * scale - 1, 79], fill=0)
        x += w
    return im


def _decode(im):
    found = zxingcpp.read_barcodes(im, formats=zxingcpp.BarcodeFormat.Code128)
    assert len(found) == 1, found
    return found[0]


# GLNs published on real Colombian bills (peers.md §B.2); both carry a valid check digit.
REAL_GLNS = ["7709998013711", "7709998014350"]


@pytest.mark.parametrize("gln", REAL_GLNS)
def test_gs1_check_digit_on_real_glns(gln):
    assert gs1_check_digit(gln[:12]) == int(gln[12])


def test_payment_code_layout_matches_colombian_convention():
    pc = payment_barcode_data("7709998013711", "123456", Decimal("50000"), dt.date(2026, 11, 30),
                              ref_width=10, amount_width=10)
    assert pc.human_readable == "(415)7709998013711(8020)0000123456(3900)0000050000(96)20261130"
    # FNC1 (GS) after the variable-length 8020 and 3900, none after fixed 415 nor the last field.
    assert pc.element_string == ("4157709998013711" "80200000123456" + GS + "39000000050000" + GS
                                 + "9620261130")
    assert pc.code128_data.startswith(FNC1)


def test_real_example_reproduced():
    # peers.md: (415)7709998013711(8020)000010129389000011127135(3900)0001168375(96)20111207
    pc = payment_barcode_data("7709998013711", "000010129389000011127135", 1168375, "2011-12-07",
                              amount_width=10)
    assert pc.human_readable == "(415)7709998013711(8020)000010129389000011127135(3900)0001168375(96)20111207"


def test_gs1_128_decodes_with_zxing_as_gs1():
    pc = payment_barcode_data("7709998014350", "17209701643", 1983090, "20180630",
                              ref_width=16, amount_width=8)
    values = code128_values(pc.code128_data)
    assert values[:2] == [105, 102]  # Start C + FNC1 = GS1-128
    result = _decode(_raster(pc.code128_data))
    assert result.symbology_identifier == "]C1"
    assert result.bytes.decode("ascii") == pc.element_string
    assert result.text == pc.human_readable


def test_without_due_date_has_no_trailing_separator():
    pc = payment_barcode_data("7709998013711", "99", 10, None)
    assert pc.element_string == "415770999801371180209" "9" + GS + "390010"
    assert pc.human_readable == "(415)7709998013711(8020)99(3900)10"
    assert _decode(_raster(pc.code128_data)).bytes.decode() == pc.element_string


def test_amount_with_decimals_uses_ai_3902():
    pc = payment_barcode_data("7709998013711", "1", Decimal("1234.5"), None, amount_decimals=2)
    assert pc.human_readable.endswith("(3902)123450")


@pytest.mark.parametrize(
    "kwargs,code,field",
    [
        (dict(gln="7709998013712"), "gln_check_digit", "gln"),
        (dict(gln="77099980137"), "gln_format", "gln"),
        (dict(reference="12345678901"), "reference_too_long", "reference"),
        (dict(reference="ABC"), "reference_not_numeric", "reference"),
        (dict(reference="ñandú"), "reference_charset", "reference"),
        (dict(amount=Decimal("10.5")), "amount_fraction", "amount"),
        (dict(amount=-1), "amount_negative", "amount"),
        (dict(amount=12345678901), "amount_too_long", "amount"),
        (dict(due_date="20261331"), "due_date_invalid", "due_date"),
    ],
)
def test_invalid_payment_data(kwargs, code, field):
    args = dict(gln="7709998013711", reference="1", amount=1, due_date="20261130",
                ref_width=10, amount_width=10)
    args.update(kwargs)
    with pytest.raises(BarcodeError) as exc:
        payment_barcode_data(**args)
    assert exc.value.code == code
    assert exc.value.field == field
    assert exc.value.message  # Spanish text for users


@pytest.mark.parametrize(
    "data",
    [
        "Hello World",
        "abc123456789xyz",
        "12345",
        "x1234y",
        "7",
        "A\x01b\x02C",
        "".join(chr(c) for c in range(32, 127)),  # every code set B value
        "".join(f"{i:02d}" for i in range(100)),  # every code set C value
        "".join(chr(c) for c in range(0, 32)) + "AZ",  # control chars: code set A
    ],
)
def test_code128_round_trip(data):
    values = code128_values(data)
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:-2], start=1))) % 103
    assert values[-2] == check and values[-1] == 106
    assert _decode(_raster(data)).bytes.decode("latin-1") == data


def test_code128_every_symbol_has_11_modules():
    data = "".join(chr(c) for c in range(32, 127))
    values = code128_values(data)
    widths = code128_modules(data)
    assert len(widths) == (len(values) - 1) * 6 + 7
    assert sum(widths) == (len(values) - 1) * 11 + 13
    assert all(1 <= w <= 4 for w in widths)


def test_code128_rejects_non_ascii():
    with pytest.raises(BarcodeError) as exc:
        code128_values("añ€")
    assert exc.value.code == "code128_charset"


def test_code128_svg_size_in_mm():
    pc = payment_barcode_data("7709998013711", "123456", 50000, "20261130", 10, 10)
    svg = code128_svg(pc.code128_data, height_mm=12, module_mm=0.25)
    modules = sum(code128_modules(pc.code128_data)) + 20
    assert f'width="{modules * 0.25:.3f}mm"' in svg
    assert 'height="12.000mm"' in svg


def test_qr_svg_decodes():
    import io

    import pypdfium2  # noqa: F401  (only to ensure the rendering stack is present)

    text = "NumFac: SETP990000002\nCUFE: " + "a" * 96 + "\nhttps://catalogo-vpfe.dian.gov.co/document/searchqr?documentkey=" + "a" * 96
    svg = qr_svg(text)
    assert svg.startswith("<svg")
    # Rasterise the SVG via Typst (already a dependency) and decode it.
    import typst

    src = f'#set page(width: 6cm, height: 6cm, margin: 0.5cm)\n#image(bytes({_typst_str(svg)}), format: "svg", width: 100%)'
    png = typst.compile(src.encode(), format="png", ppi=300)
    im = Image.open(io.BytesIO(png))
    found = zxingcpp.read_barcodes(im, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [f.text for f in found] == [text]


def _typst_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def test_qr_png_is_one_pixel_per_module_and_decodes():
    import io

    text = "NumFac: SETP990000002\nCUFE: " + "b" * 96
    im = Image.open(io.BytesIO(bytes(qr_png(text))))
    assert im.mode == "1"
    found = zxingcpp.read_barcodes(im.convert("L").resize((im.width * 4, im.height * 4), Image.NEAREST),
                                   formats=zxingcpp.BarcodeFormat.QRCode)
    assert [f.text for f in found] == [text]
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    assert im.size == symbol.to_image(scale=1, add_quiet_zones=True).shape[1::-1]


def test_qr_png_fixed_mask_still_decodes_and_differs_from_another_mask():
    import io

    text = "NumFac: SETP990000003\nCUFE: " + "c" * 96
    pngs = {m: bytes(qr_png(text, data_mask=m)) for m in (QR_DATA_MASK, (QR_DATA_MASK + 1) % 8)}
    assert pngs[QR_DATA_MASK] != pngs[(QR_DATA_MASK + 1) % 8]  # the option is honoured
    im = Image.open(io.BytesIO(pngs[QR_DATA_MASK])).convert("L")
    found = zxingcpp.read_barcodes(im.resize((im.width * 3, im.height * 3), Image.NEAREST),
                                   formats=zxingcpp.BarcodeFormat.QRCode)
    assert [f.text for f in found] == [text]


def test_qr_png_rejects_a_mask_out_of_range():
    with pytest.raises(BarcodeError) as e:
        qr_png("x", data_mask=8)
    assert e.value.code == "qr_data_mask"
