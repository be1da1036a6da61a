"""Official Anexo Técnico vectors (see shared/reference/dian.md §1.2)."""

import hashlib

from facturador.dian.cufe import cude, cufe, cufe_string, dian_amount, software_security_code


def test_invoice_cufe_official_vector():
    assert cufe("323200000129", "2019-01-16", "10:53:10-05:00", "1500000.00", "285000.00", "0.00", "0.00",
                "1785000.00", "700085371", "800199436", "693ff6f2a553c3646a063436fd4dd9ded0311471", "1") == (
        "8bb918b19ba22a694f1da11c643b5e9de39adf60311cf179179e9b33381030bcd4c3c3f156c506ed5908f9276f5bd9b4")


def test_invoice_cufe_string_official():
    assert cufe_string("323200000129", "2019-01-16", "10:53:10-05:00", "1500000", "285000", None, "",
                       "1785000.00", "700085371", "800199436", "693ff6f2a553c3646a063436fd4dd9ded0311471", "1") == (
        "3232000001292019-01-1610:53:10-05:001500000.0001285000.00040.00030.001785000.00700085371800199436"
        "693ff6f2a553c3646a063436fd4dd9ded03114711")


def test_credit_note_cude_official_vector():
    assert cude("8110007871", "2019-01-12", "07:00:00-05:00", "5000.00", "950.00", "0.00", "0.00", "5950.00",
                "900373076", "8355990", "12301", "1") == (
        "907e4444decc9e59c160a2fb3b6659b33dc5b632a5008922b9a62f83f757b1c448e47f5867f2b50dbdb96f48c7681168")


def test_debit_note_cude_with_documented_erratum():
    args = ("ND1001", "2019-01-18", "10:58:00-05:00", "30000.00", "0.00", "2400.00", "0.00", "32400.00",
            "900197264", "10254102")
    # Correct value: SHA-384 of the string printed in the Anexo (which includes the PIN 10201).
    assert cude(*args, "10201", "2") == (
        "3fa73a86d57d9341c536afde1f85c4efd9d4591c2c22bce4dfb0e6b0d2e83b8f047a8bde7098292e9d2493e60d1c31da")
    assert cufe_string(*args, "10201", "2") == (
        "ND10012019-01-1810:58:00-05:0030000.00010.00042400.00030.0032400.0090019726410254102102012")
    # The digest printed in the Anexo is the same string without the PIN (the erratum).
    assert cude(*args, "", "2") == (
        "b9483dc2a17167feedf37b6bd67c4204e7b601933e0e389cffbd545e4d0ec370b403cbb41ff656776cb6cb5d8348ecd4")


def test_amounts_are_truncated_like_dian():
    assert dian_amount("3055556.0099") == "3055556.00"
    assert dian_amount("12.345") == "12.34"
    assert dian_amount(None) == "0.00"
    assert dian_amount("7") == "7.00"


def test_software_security_code_is_sha384_of_concatenation():
    expected = hashlib.sha384(b"56f2ae4e-9812-4fad-9255-08fcfcd5ccb0693ffSETP990000002").hexdigest()
    assert software_security_code("56f2ae4e-9812-4fad-9255-08fcfcd5ccb0", "693ff", "SETP990000002") == expected
    assert len(expected) == 96
