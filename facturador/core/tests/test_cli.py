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


def child_pids(pid):
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(entry)
    return found


def test_serve_runs_web_and_worker_and_stops_on_sigterm(transactional_db, settings, tmp_path):
    """`facturador serve` answers HTTP, starts its worker, and SIGTERM stops both (no hang)."""
    import os
    import signal
    import time
    import urllib.request

    from conftest import database_url_for_subprocess, free_port

    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url_for_subprocess(), FACTURADOR_DATA_DIR=str(tmp_path),
               FACTURADOR_ENCRYPTION_KEY=",".join(settings.FACTURADOR_ENCRYPTION_KEYS))
    proc = subprocess.Popen([sys.executable, "-m", "facturador", "serve", "--port", str(port), "--workers", "1",
                             "--no-migrate", "--no-collectstatic"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/cuenta/ingresar/", timeout=2).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.5)
        assert "Ingresar" in page
        children = child_pids(proc.pid)
        assert children, "no worker process was started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for child in children:
            assert not os.path.exists(f"/proc/{child}") or "zombie" in open(f"/proc/{child}/status").read().lower()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_write_limited_says_how_many_more_and_how_to_see_them():
    import io

    from facturador.core.cli import write_limited

    out = io.StringIO()
    write_limited(out, ["a", "b"], total=122, hint="use --all")
    assert out.getvalue() == "ab  … 120 más; use --all"


def test_serve_collects_static_files_again_only_when_they_changed(settings, tmp_path):
    from facturador.core.management.commands.serve import collect_static

    source, root = tmp_path / "src", tmp_path / "static"
    source.mkdir()
    (source / "app.css").write_text("body{}")
    settings.STATICFILES_DIRS = [source]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = root
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    collect_static()
    (root / "app.css").unlink()
    collect_static()  # sources unchanged: nothing is copied
    assert not (root / "app.css").exists()
    (source / "app.css").write_text("body{color:red}")
    collect_static()
    assert (root / "app.css").read_text() == "body{color:red}"


def test_a_command_runs_with_the_start_up_heap_frozen():
    """`settle_heap`: what was loaded at start-up is kept out of the garbage collector's full collections."""
    out = run("shell", "-c", "import gc; print(gc.get_freeze_count())")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) > 10_000


def test_settle_heap_collects_the_garbage_before_freezing():
    import gc
    import weakref

    from facturador.cli import settle_heap

    class Node:
        pass

    cycle = Node()
    cycle.itself = cycle
    gone = weakref.ref(cycle)
    del cycle
    try:
        settle_heap()
        assert gone() is None
    finally:
        gc.unfreeze()


def test_settings_option_chooses_the_settings_module(tmp_path):
    """`--settings` (and `--pythonpath`) apply before Django is set up, as with django-admin."""
    (tmp_path / "other_settings.py").write_text("from facturador.settings import *  # noqa\nFACTURADOR_MARK = 'other'\n")
    out = run("shell", "--settings=other_settings", "--pythonpath", str(tmp_path), "-c",
              "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.FACTURADOR_MARK)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "other_settings other"



def test_a_closed_pipe_ends_the_command_quietly():
    """`facturador import template suggest FILE | head` ended with a BrokenPipeError traceback."""
    p = subprocess.Popen([sys.executable, "-m", "facturador", "help", "--all"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    p.stdout.close()  # the reader has gone before the command writes
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141 and "Traceback" not in err and "BrokenPipe" not in err
