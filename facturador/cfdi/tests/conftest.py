import itertools
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
_folios = itertools.count(1)


def shared_dir() -> Path:
    return Path(os.environ.get("FACTURADOR_SHARED_DIR") or (REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def sat_csd_files():
    """SAT's own public test CSD (../shared): only for the cross-checks that need SAT's certificate."""
    d = shared_dir() / "sat" / "csd"
    cer, key = d / "EKU9003173C9.cer", d / "EKU9003173C9.key"
    if not cer.exists() or not key.exists():
        pytest.skip(f"SAT test CSD not found in {d} (set FACTURADOR_SHARED_DIR)")
    return cer.read_bytes(), key.read_bytes()


@pytest.fixture(scope="session")
def csd_files():
    """(.cer, .key) with password 12345678a: SAT's test CSD when ../shared is there, else a CSD-shaped test
    certificate made here with the same RFC, name, certificate number and validity (2023-05-18 to 2027-05-18)."""
    d = shared_dir() / "sat" / "csd"
    cer, key = d / "EKU9003173C9.cer", d / "EKU9003173C9.key"
    if cer.exists() and key.exists():
        return cer.read_bytes(), key.read_bytes()
    import datetime as dt

    from facturador.cfdi.testing import make_test_csd
    utc = dt.timezone.utc
    return make_test_csd("EKU9003173C9", "ESCUELA KEMPER URGATE", "12345678a",
                         certificate_number="30001000000500003416", valid_from=dt.datetime(2023, 5, 18, tzinfo=utc),
                         valid_to=dt.datetime(2027, 5, 18, 12, tzinfo=utc))


@pytest.fixture(scope="session")
def csd(csd_files):
    from facturador.cfdi.csd import load_csd
    return load_csd(csd_files[0], csd_files[1], "12345678a")


@pytest.fixture(scope="session")
def sat_csd(sat_csd_files):
    from facturador.cfdi.csd import load_csd
    return load_csd(sat_csd_files[0], sat_csd_files[1], "12345678a")


@pytest.fixture()
def emisor(csd):
    from facturador.cfdi.build import Emisor
    return Emisor.from_csd(csd, "601")


@pytest.fixture()
def receptor():
    from facturador.cfdi.build import Receptor
    # A receptor from SAT's test taxpayer list (RFC, name, CP, régimen), as used in public PAC examples.
    return Receptor(rfc="URE180429TM6", nombre="UNIVERSIDAD ROBOTICA ESPAÑOLA", codigo_postal="86991",
                    regimen_fiscal="601", uso_cfdi="G03")


@pytest.fixture(scope="session")
def sandbox():
    from facturador.cfdi.sandbox import PacSandbox
    sb = PacSandbox().start()
    yield sb
    sb.stop()


def make_pac(kind: str, url: str, csd=None, **kw):
    from facturador.cfdi.pac import FinkokPac, SwSapienPac
    if kind == "finkok":
        return FinkokPac("demo", "demo", url, csd=csd, **kw)
    return SwSapienPac(url, user="demo", password="demo", status_url=url + "/ConsultaCFDIService.svc", **kw)


@pytest.fixture(params=["finkok", "sw"])
def pac(request, sandbox, csd):
    return make_pac(request.param, sandbox.url, csd, retries=0, timeout=10)


@pytest.fixture()
def invoice(emisor, receptor):
    from facturador.cfdi.build import Concepto, Invoice
    return Invoice(emisor=emisor, receptor=receptor, lugar_expedicion="42501", serie="A", folio=str(next(_folios)), conceptos=[
        # a fresh folio per test: equal documents sealed in the same second are duplicates for a PAC
        Concepto("84111506", "2", "E48", "Servicio de consultoría", "100.005", iva="16"),
        Concepto("43211503", "1", "H87", "Equipo frontera", "33.33", iva="8"),
        Concepto("50121500", "3", "KGM", "Alimento", "10.10", iva="0"),
        Concepto("86121700", "1", "E48", "Colegiatura", "1500", iva="exento"),
    ])
