import pytest

from facturador.taxid import TaxIdError, nit_check_digit, validate_nit, validate_rfc

# Verified NIT/DV pairs from DIAN samples (reference notes §6).
NITS = [("800197268", "4"), ("890930534", "0"), ("900643855", "4"), ("900106251", "3"), ("900373076", "4"),
        ("700085371", "1"), ("800199436", "4"), ("900197264", "8"), ("860034313", "7"), ("830122566", "1"),
        ("1001186599", "2")]


@pytest.mark.parametrize("nit,dv", NITS)
def test_nit_check_digit_matches_dian_samples(nit, dv):
    assert nit_check_digit(nit) == dv
    assert validate_nit(f"{nit}-{dv}") == (nit, dv)


def test_nit_with_dots_and_separate_dv():
    assert validate_nit("800.197.268", "4") == ("800197268", "4")


@pytest.mark.parametrize("value,code", [("800197268-5", "nit_dv"), ("800197268", "nit_dv_missing"), ("80019A268-4", "nit_format")])
def test_invalid_nit_has_spanish_reason(value, code):
    with pytest.raises(TaxIdError) as err:
        validate_nit(value)
    assert err.value.code == code
    assert "NIT" in err.value.message


@pytest.mark.parametrize("rfc", ["EKU9003173C9", "XIQB891116QE4", "H&E951128469", "XAXX010101000", "XEXX010101000"])
def test_valid_rfcs(rfc):
    assert validate_rfc(rfc.lower()) == rfc


@pytest.mark.parametrize("rfc,code", [("EKU9003173C8", "rfc_check_digit"), ("VACE460910SX6", "rfc_check_digit"),
                                      ("EKU900317", "rfc_length"), ("EKU9013173C9", "rfc_format")])
def test_invalid_rfcs(rfc, code):
    with pytest.raises(TaxIdError) as err:
        validate_rfc(rfc)
    assert err.value.code == code
