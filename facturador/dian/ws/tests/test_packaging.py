import io
import zipfile

import pytest

from facturador.dian.ws import packaging
from facturador.dian.ws.packaging import (PackagingError, document_filename, make_zip, make_zip_many,
                                          parse_filename, read_zip, xml_from_zip, zip_filename)


def test_example_name_from_the_anexo_parses():
    # dian.md §4.3 quotes the Anexo example fv08001972680001900000011.xml
    fn = parse_filename("fv08001972680001900000011.xml")
    assert (fn.prefix, fn.nit, fn.provider, fn.year, fn.counter) == ("fv", "0800197268", "000", 19, 0x11)
    assert fn.name == "fv08001972680001900000011.xml"


def test_document_names_are_padded_and_hex():
    name = document_filename("invoice", "900373076", 26, 2026)
    assert name == "fv" + "0900373076" + "000" + "26" + "0000001a" + ".xml"
    assert len(name) == 2 + 10 + 3 + 2 + 8 + 4
    assert document_filename("credit_note", "900373076", 255, 2026).startswith("nc0900373076000")
    assert document_filename("debit_note", "900373076", 255, 2026)[-12:] == "000000ff.xml"
    assert document_filename("nd", 900373076, 1, 26, provider_code="001") == "nd0900373076001260000000" "1.xml"
    assert zip_filename("900373076-4", 4096, 2026) == "z0900373076000260000" "1000.zip"


def test_counter_round_trip_and_limits():
    for counter in (0, 1, 9, 10, 15, 16, 4095, 0xFFFFFFFF):
        assert parse_filename(document_filename("fv", "1", counter, 2030)).counter == counter
    with pytest.raises(PackagingError) as e:
        document_filename("fv", "900373076", 0x100000000, 2026)
    assert e.value.code == "file_counter"
    with pytest.raises(PackagingError):
        document_filename("fv", "900373076", -1, 2026)


@pytest.mark.parametrize("nit", ["", "12345678901", "90037307A", "abc"])
def test_bad_nits(nit):
    with pytest.raises(PackagingError) as e:
        document_filename("invoice", nit, 1, 2026)
    assert e.value.code == "file_nit" and "NIT" in e.value.message


def test_bad_kind_provider_and_names():
    with pytest.raises(PackagingError):
        document_filename("receipt", "900373076", 1, 2026)
    with pytest.raises(PackagingError):
        document_filename("fv", "900373076", 1, 2026, provider_code="01")
    for bad in ("fv0900373076000260000001a.zip", "z0900373076000260000001a.xml", "fv123.xml", "xx0900373076000260000001a.xml"):
        with pytest.raises(PackagingError):
            parse_filename(bad)


def test_zip_round_trip_is_readable_by_zipfile_and_deterministic():
    xml = '<?xml version="1.0" encoding="UTF-8"?><Invoice>ñ</Invoice>'.encode()
    data = make_zip("fv0900373076000260000001a.xml", xml)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["fv0900373076000260000001a.xml"]
        assert zf.read("fv0900373076000260000001a.xml") == xml
        assert zf.infolist()[0].compress_type == zipfile.ZIP_DEFLATED
    assert xml_from_zip(data) == ("fv0900373076000260000001a.xml", xml)
    assert make_zip("fv0900373076000260000001a.xml", xml) == data


def test_read_zip_accepts_foreign_zips_with_folders():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("carpeta/", b"")
        zf.writestr("carpeta/ar123.xml", b"<ApplicationResponse/>")
    assert read_zip(buf.getvalue()) == [("ar123.xml", b"<ApplicationResponse/>")]
    assert xml_from_zip(buf.getvalue())[1] == b"<ApplicationResponse/>"


def test_zip_many_and_errors():
    files = [(f"fv0900373076000260000000{i}.xml", f"<Invoice>{i}</Invoice>".encode()) for i in range(3)]
    assert read_zip(make_zip_many(files)) == files
    with pytest.raises(PackagingError) as e:
        xml_from_zip(make_zip_many(files))
    assert e.value.code == "zip_xml_count"
    with pytest.raises(PackagingError):
        make_zip_many([("a.xml", b"1")] * 2)
    with pytest.raises(PackagingError):
        make_zip_many([(f"{i}.xml", b"x") for i in range(packaging.MAX_ASYNC_FILES + 1)])
    with pytest.raises(PackagingError) as e:
        read_zip(b"this is not a zip")
    assert e.value.code == "zip_invalid" and "ZIP" in e.value.message


def test_zip_bomb_is_refused():
    data = make_zip("big.xml", b"0" * (2 * 1024 * 1024))
    assert len(data) < 10_000
    with pytest.raises(PackagingError) as e:
        read_zip(data, max_member_bytes=1024 * 1024)
    assert e.value.code == "zip_too_large"


def test_kind_of_xml():
    assert packaging.kind_of_xml(b'<CreditNote xmlns="urn:x"/>') == "credit_note"
    assert packaging.kind_of_xml(b"<Foo/>") is None
    assert packaging.kind_of_xml(b"not xml") is None
