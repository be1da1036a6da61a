"""The local service learns authorised ranges as DIAN does from form 1876: its own administration endpoint
(``/_admin/ranges``, loopback only, not part of DIAN's WSDL), ``SandboxAdmin`` and ``dian-sandbox register-range``."""

import json
import socket
import subprocess
import sys

import pytest
import requests

from facturador.dian.sandbox import ADMIN_RANGES_PATH, SandboxAdmin, SandboxServer
from facturador.dian.ws import DianClient

from .conftest import SUPPLIER_NIT

FORM_1876 = {"nit": "900373076-1", "prefix": "fe", "from_number": 1, "to_number": 100,
             "resolution_number": "18764031407250", "resolution_date": "2026-11-03",
             "valid_date_from": "2026-11-03", "valid_date_to": "2028-11-03"}


def test_admin_post_registers_an_authorised_range_that_getnumberingrange_answers(sandbox, signer, software_id):
    base = sandbox.url.rsplit("/", 1)[0]
    r = requests.post(base + ADMIN_RANGES_PATH, json={**FORM_1876, "software_id": software_id}, timeout=10)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["nit"] == SUPPLIER_NIT and made["prefix"] == "FE" and len(made["technical_key"]) == 64
    nr = DianClient(sandbox.url, signer, retries=0).get_numbering_range(SUPPLIER_NIT, SUPPLIER_NIT, software_id)
    assert nr.ok
    assert [(g.prefix, g.from_number, g.to_number, g.resolution_number, g.valid_date_from, g.valid_date_to,
             g.technical_key) for g in nr.ranges] == \
        [("FE", 1, 100, "18764031407250", "2026-11-03", "2028-11-03", made["technical_key"])]


def test_registering_the_same_range_again_keeps_its_technical_key(sandbox):
    admin = SandboxAdmin(sandbox.url)
    first = admin.register_range(**FORM_1876)
    again = admin.register_range(**{**FORM_1876, "to_number": 200})
    assert again.technical_key == first.technical_key and again.to_number == 200
    assert [(r.prefix, r.to_number) for r in admin.ranges_of(SUPPLIER_NIT)] == [("FE", 200)]
    given = admin.register_range(**{**FORM_1876, "prefix": "FV"}, technical_key="ab" * 20)
    assert given.technical_key == "ab" * 20


@pytest.mark.parametrize("body, text", [
    (b"{no es json", "JSON"),
    (json.dumps({**FORM_1876, "prefix": "LARGO"}).encode(), "prefijo"),
    (json.dumps({**FORM_1876, "to_number": 0}).encode(), "rango"),
    (json.dumps({k: v for k, v in FORM_1876.items() if k != "resolution_number"}).encode(), "resolution_number"),
    (json.dumps({**FORM_1876, "valid_date_to": "03/11/2028"}).encode(), "fecha"),
    (json.dumps({**FORM_1876, "admin": True}).encode(), "desconocido"),
])
def test_admin_refuses_invalid_ranges_in_spanish(sandbox, body, text):
    base = sandbox.url.rsplit("/", 1)[0]
    r = requests.post(base + ADMIN_RANGES_PATH, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and text in r.json()["error"]
    assert sandbox.sandbox.ranges == []


def _non_loopback_address():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))  # no packet is sent: only picks the outgoing interface
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") else ip


def test_admin_answers_only_on_the_loopback_interface(software_id, pin):
    ip = _non_loopback_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with SandboxServer(host="0.0.0.0") as srv:
        r = requests.post(f"http://{ip}:{srv.port}{ADMIN_RANGES_PATH}", json=FORM_1876, timeout=10)
        assert r.status_code == 403 and "local" in r.json()["error"]
        assert requests.get(f"http://{ip}:{srv.port}{ADMIN_RANGES_PATH}", timeout=10).status_code == 403
        assert srv.sandbox.ranges == []


def test_register_range_command(sandbox):
    cmd = [sys.executable, "-m", "facturador.dian.sandbox", "register-range", "--url", sandbox.url,
           "--nit", "900373076", "--prefix", "FE", "--from", "1", "--to", "100", "--resolution", "18764031407250",
           "--valid-from", "2026-11-03", "--valid-to", "2028-11-03", "--software-id", "sw-9"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "FE 1-100" in out.stdout and "clave técnica" in out.stdout
    [r] = sandbox.sandbox.ranges_of("900373076")
    assert (r.software_id, r.valid_date_to, r.resolution_date) == ("sw-9", "2028-11-03", "2026-11-03")
    listed = subprocess.run([sys.executable, "-m", "facturador.dian.sandbox", "ranges", "--url", sandbox.url,
                             "--nit", "900373076"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and r.technical_key in listed.stdout
    bad = subprocess.run(cmd[:-2] + ["--valid-to", "mañana"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Rechazado" in bad.stderr
