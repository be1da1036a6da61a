import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "facturador", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("serve", "worker", "nit dv", "rfc check", "dian verify"):
        assert cmd in out.stdout


def test_nit_dv_and_check():
    dv = run("nit", "dv", "800197268")
    assert dv.returncode == 0 and dv.stdout.strip() == "4"
    ok = run("nit", "check", "800197268-4")
    assert ok.returncode == 0
    bad = run("nit", "check", "800197268-5")
    assert bad.returncode == 1 and "es 4, no 5" in bad.stderr


def test_rfc_check():
    assert run("rfc", "check", "EKU9003173C9").returncode == 0
    assert run("rfc", "check", "XAXX010101000").returncode == 0
    bad = run("rfc", "check", "EKU9003173C8")
    assert bad.returncode == 1 and "dígito verificador" in bad.stderr
