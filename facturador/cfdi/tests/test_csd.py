import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from facturador.cfdi.csd import load_csd
from facturador.cfdi.errors import CsdError


def test_load_sat_test_csd(sat_csd):
    # Facts published by SAT for its test CSD (see shared/reference/cfdi.md §2).
    csd = sat_csd
    assert csd.rfc == "EKU9003173C9"
    assert csd.legal_name == "ESCUELA KEMPER URGATE"          # régimen capital "SA DE CV" stripped
    assert csd.certificate_number == "30001000000500003416"
    assert csd.not_before.date() == dt.date(2023, 5, 18)
    assert csd.not_after.date() == dt.date(2027, 5, 18)
    assert csd.signer.certificate_number == csd.certificate_number   # usable by satcfdi


def test_wrong_password(csd_files):
    with pytest.raises(CsdError) as e:
        load_csd(csd_files[0], csd_files[1], "wrong-password")
    assert e.value.code == "csd_password"
    assert "contraseña" in e.value.message


def test_key_not_matching_certificate(csd_files):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_der = other.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"12345678a"))
    with pytest.raises(CsdError) as e:
        load_csd(csd_files[0], key_der, "12345678a")
    assert e.value.code == "csd_no_corresponde"
    assert "no corresponde" in e.value.message


def test_expired_certificate(csd_files):
    with pytest.raises(CsdError) as e:
        load_csd(csd_files[0], csd_files[1], "12345678a", at=dt.datetime(2027, 6, 1, tzinfo=dt.timezone.utc))
    assert e.value.code == "csd_vencido"
    assert "venció" in e.value.message and "18/05/2027" in e.value.message


def test_not_a_certificate(csd_files):
    with pytest.raises(CsdError) as e:
        load_csd(b"not a certificate", csd_files[1], "12345678a")
    assert e.value.code == "csd_cer_invalido"
