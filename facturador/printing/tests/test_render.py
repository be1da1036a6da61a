import io
import tracemalloc

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from facturador.printing.invoice import (
    default_template,
    format_money,
    sample_invoice_data,
    sample_invoice_raw,
    prepare_invoice_data,
)
from facturador.printing.pdfconcat import PdfConcatenator, PdfConcatError, _SourcePdf, concat_pdfs
from facturador.printing.render import TemplateError, render_many, render_pdf


def _pdf(data: bytes) -> pdfium.PdfDocument:
    return pdfium.PdfDocument(data)


def _page_text(pdf: bytes, index: int = 0) -> str:
    doc = _pdf(pdf)
    try:
        page = doc[index]
        return page.get_textpage().get_text_range()
    finally:
        doc.close()


def _codes(pdf: bytes) -> dict:
    doc = _pdf(pdf)
    try:
        image = doc[0].render(scale=4, grayscale=True).to_pil()  # 288 dpi
    finally:
        doc.close()
    return {r.format: r for r in zxingcpp.read_barcodes(image)}


@pytest.fixture(scope="module")
def sample():
    return sample_invoice_data(3)


@pytest.fixture(scope="module")
def sample_pdf(sample):
    return render_pdf(default_template(), sample)


def test_money_format():
    assert format_money(1234567) == "$ 1.234.567"
    assert format_money("1234567.5") == "$ 1.234.567,50"
    assert format_money(-20172.15) == "-$ 20.172,15"
    assert format_money(0) == "$ 0"


def test_default_template_renders_one_page_with_reference_and_total(sample, sample_pdf):
    assert sample_pdf.startswith(b"%PDF-")
    doc = _pdf(sample_pdf)
    assert len(doc) == 1
    w, h = doc[0].get_size()
    doc.close()
    assert (round(w), round(h)) == (595, 842)  # A4 in points
    text = _page_text(sample_pdf)
    assert sample["payment"]["reference"] in text
    assert sample["totals"]["total"] in text
    assert sample["customer"]["holder"] in text
    assert sample["dian"]["cufe"][:20] in text.replace("\u200b", "")


def test_totals_are_computed(sample):
    raw = sample_invoice_raw(3)
    from decimal import Decimal

    lines = raw["lines"]
    current = sum(
        (Decimal(str(l["amount"])) if "amount" in l else (Decimal(l["quantity"]) * l["unit_price"]).quantize(Decimal("0.01")))
        for l in lines
    )
    expected = (current + raw["previous_balance"] + raw["arrears_interest"]).quantize(Decimal("1"), rounding="ROUND_HALF_UP")
    assert sample["totals"]["total_plain"] == str(expected)
    assert sample["payment"]["human_readable"].split("(3900)")[1].startswith(str(expected).zfill(10))


def test_barcode_and_qr_decode_from_rendered_page(sample, sample_pdf):
    found = _codes(sample_pdf)
    gs1 = found[zxingcpp.BarcodeFormat.Code128]
    assert gs1.symbology_identifier == "]C1"  # GS1-128
    assert gs1.bytes.decode("ascii") == sample["payment"]["element_string"]
    assert gs1.text == sample["payment"]["human_readable"]
    qr = found[zxingcpp.BarcodeFormat.QRCode]
    raw = sample_invoice_data(3)  # same data as the fixture, QR text is deterministic
    assert qr.text.startswith("NumFac: " + raw["document"]["number"] + "\n")
    assert ("CUFE: " + sample["dian"]["cufe"]) in qr.text


def test_qr_svg_only_on_request():
    raw = sample_invoice_raw(4)
    assert "qr_svg" not in prepare_invoice_data(raw, qr_svg=False)["dian"]
    assert prepare_invoice_data(raw)["dian"]["qr_svg"].startswith("<svg")  # custom templates may still draw it


def test_non_electronic_invoice_has_no_qr():
    raw = sample_invoice_raw(5)
    raw["dian"] = None
    data = prepare_invoice_data(raw)
    pdf = render_pdf(default_template(), data)
    found = _codes(pdf)
    assert zxingcpp.BarcodeFormat.QRCode not in found
    assert zxingcpp.BarcodeFormat.Code128 in found
    assert "CUFE" not in _page_text(pdf)


def test_logo_asset_is_used():
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(buf, format="PNG")
    data = sample_invoice_data(6)
    data["issuer"]["logo"] = "logo.png"
    pdf = render_pdf(default_template(), data, assets={"logo.png": buf.getvalue()})
    doc = _pdf(pdf)
    image = doc[0].render(scale=1).to_pil().convert("RGB")
    doc.close()
    colors = image.crop((0, 0, 200, 120)).getcolors(maxcolors=1 << 16)
    reds = sum(n for n, px in colors if px[0] > 180 and px[1] < 60 and px[2] < 60)
    assert reds > 100


def test_syntax_error_raises_template_error_with_location():
    src = "#let data = json(bytes(sys.inputs.data))\nHola\n#let x = (1, 2\n"
    with pytest.raises(TemplateError) as exc:
        render_pdf(src, {"a": 1})
    err = exc.value
    assert err.line == 3 and err.column is not None
    assert "Error en la plantilla" in err.message_es
    assert "unclosed delimiter" in err.diagnostic


def test_undefined_field_raises_template_error_with_location(sample):
    src = default_template().replace("field(\"Titular\", cust.holder)", "field(\"Titular\", cust.nombre_titular)", 1)
    assert src != default_template()
    line = next(i for i, l in enumerate(src.splitlines(), 1) if "cust.nombre_titular" in l)
    with pytest.raises(TemplateError) as exc:
        render_pdf(src, sample)
    assert exc.value.line == line
    assert "nombre_titular" in exc.value.message_es


def test_undefined_variable():
    with pytest.raises(TemplateError) as exc:
        render_pdf("Hola\n\n#cliente", {})
    assert exc.value.line == 3
    assert "variable desconocida: cliente" in exc.value.message_es


def test_sandbox_cannot_read_outside_root():
    with pytest.raises(TemplateError) as exc:
        render_pdf('#read("/etc/passwd")', {})
    assert exc.value.line == 1
    with pytest.raises(TemplateError):
        render_pdf('#read("../../../../etc/hostname")', {})
    with pytest.raises(TemplateError) as exc:
        render_pdf('#import "@preview/tiaoma:0.3.0": ean\nx', {})
    assert exc.value.line == 1


def test_render_many_streamed_merge(tmp_path):
    n = 60
    items = (sample_invoice_data(i) for i in range(n))
    result = render_many(default_template(), items, tmp_path, individual=False)
    assert result.count == n and result.paths == []
    merged = result.merged_path.read_bytes()
    doc = _pdf(merged)
    assert len(doc) == n
    assert "SP-202611000059" in doc[n - 1].get_textpage().get_text_range()
    assert "SP-202611000000" in doc[0].get_textpage().get_text_range()
    doc.close()
    # every xref entry points at the right object (not just pdfium being lenient)
    src = _SourcePdf(merged)
    assert len(src.offsets) == int(src.trailer[b"/Size"]) - 1
    for num, off in src.offsets.items():
        assert merged[off:off + 20].startswith(b"%d 0 obj" % num)


def test_render_many_individual_files(tmp_path):
    result = render_many(default_template(), [sample_invoice_data(i) for i in range(3)], tmp_path,
                         name=lambda i, d: d["document"]["number"] + ".pdf")
    assert [p.name for p in result.paths] == ["SP-202611000000.pdf", "SP-202611000001.pdf", "SP-202611000002.pdf"]
    assert "SP-202611000001" in _page_text(result.paths[1].read_bytes())
    assert len(_pdf(result.merged_path.read_bytes())) == 3


def test_concat_memory_does_not_depend_on_page_count(tmp_path):
    # Design check: the concatenator keeps no per-page state in Python memory. Adding the
    # same document 20 or 200 times must peak at about the same traced allocation.
    one = render_pdf(default_template(), sample_invoice_data(1))

    def peak(count: int) -> int:
        tracemalloc.start()
        with PdfConcatenator(tmp_path / f"m{count}.pdf") as cat:
            for _ in range(count):
                cat.add(one)
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak_bytes

    small, large = peak(20), peak(200)
    assert large < small * 1.5 + 200_000, (small, large)
    assert (tmp_path / "m200.pdf").stat().st_size > 9 * (tmp_path / "m20.pdf").stat().st_size
    doc = _pdf((tmp_path / "m200.pdf").read_bytes())
    assert len(doc) == 200
    doc.close()


def test_concat_rejects_garbage(tmp_path):
    with pytest.raises(PdfConcatError):
        concat_pdfs([b"not a pdf"], tmp_path / "x.pdf")


def _handmade_pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_concat_keeps_strings_and_inherited_attributes(tmp_path):
    content = b"BT /F1 24 Tf 72 720 Td (Hola 3 0 R) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        # MediaBox and Resources inherited from the page tree node
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 300 400] /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Annots [6 0 R] >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /P 3 0 R % comment 9 0 R\n"
        b" /A << /S /URI /URI (http://x.example/?q=\\(1 0 R\\)) >> >>",
    ]
    pdf = _handmade_pdf(objects)
    out = tmp_path / "m.pdf"
    assert concat_pdfs([pdf, pdf], out) == 2
    merged = out.read_bytes()
    assert merged.count(b"(http://x.example/?q=\\(1 0 R\\))") == 2
    doc = _pdf(merged)
    assert len(doc) == 2
    assert [round(x) for x in doc[1].get_size()] == [300, 400]
    assert "Hola 3 0 R" in doc[1].get_textpage().get_text_range()
    doc.close()


def test_render_many_chunked_merge(tmp_path):
    items = [sample_invoice_data(i) for i in range(23)]
    result = render_many(default_template(), iter(items), tmp_path, individual=False, chunk_size=10)
    doc = _pdf(result.merged_path.read_bytes())
    assert len(doc) == 23
    for i in (0, 9, 10, 22):
        assert items[i]["document"]["number"] in doc[i].get_textpage().get_text_range()
    doc.close()


def test_render_many_reports_failing_item(tmp_path):
    items = [sample_invoice_data(i) for i in range(6)]
    del items[4]["customer"]["meter"]
    for kwargs in ({"individual": True}, {"individual": False, "chunk_size": 3}):
        with pytest.raises(TemplateError) as exc:
            render_many(default_template(), items, tmp_path / str(len(kwargs)), **kwargs)
        assert exc.value.item_index == 4
        assert "meter" in exc.value.message_es


def _with(raw_changes: dict) -> bytes:
    raw = sample_invoice_raw(1)
    for part, values in raw_changes.items():
        raw[part] = {**raw[part], **values}
    return render_pdf(default_template(), prepare_invoice_data(raw))


def test_address_without_city_has_no_dangling_comma():
    text = _page_text(_with({"customer": {"address": "Calle 5 # 38-14", "city": ""}}))
    assert "Calle 5 # 38-14" in text and "Calle 5 # 38-14," not in text


def test_issuer_email_without_website_has_no_stray_separator():
    text = _page_text(_with({"issuer": {"email": "atencion@espve.example.co", "website": ""}}))
    line = next(x for x in text.splitlines() if "atencion@espve.example.co" in x)
    assert "·" not in line


def test_issuer_without_phone_or_city_leaves_no_empty_separators():
    text = _page_text(_with({"issuer": {"phone": "", "city": "", "address": "Carrera 5 # 10-20"}}))
    assert "Carrera 5 # 10-20" in text and "Carrera 5 # 10-20," not in text


def _left_edge(pdf: bytes, page: int, needle: str) -> float:
    doc = _pdf(pdf)
    try:
        text = doc[page].get_textpage()
        index, _ = text.search(needle).get_next()
        return text.get_charbox(index)[0]
    finally:
        doc.close()


def test_long_concept_table_continues_at_the_left_margin_with_the_summary_on_the_first_page():
    # the concepts and the summary sit side by side in a stack (cheaper than a grid): a table too long for the first
    # page must still go on at the left of the next one, the summary staying beside its start
    raw = sample_invoice_raw(1)
    raw["lines"] = [{"concept": f"Línea {k:03d}", "quantity": 1, "unit": "mes", "unit_price": 1000 + k} for k in range(80)]
    pdf = render_pdf(default_template(), prepare_invoice_data(raw))
    assert len(_pdf(pdf)) == 2
    first, last = _page_text(pdf, 0), _page_text(pdf, 1)
    assert "Línea 000" in first and "Línea 079" in last and "Línea 079" not in first
    assert "Valor del periodo" in first and "Valor del periodo" not in last
    assert abs(_left_edge(pdf, 0, "Línea 000") - _left_edge(pdf, 1, "Línea 079")) < 0.5
