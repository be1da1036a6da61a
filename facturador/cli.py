"""The `facturador` console script.

Standards tools that need no database (`dian verify|build`, `cfdi verify`, `dian-sandbox`, `pac-sandbox`) run
directly; everything else is a Django management command (`facturador migrate`, `facturador
worker`, ...), so `facturador --help` lists them all.
"""

from __future__ import annotations

import gc
import os
import sys

OWN_COMMANDS = [
    ("serve", "Run the web UI and background workers (migrates first; --seed-demo adds demo data)"),
    ("worker", "Run one background worker (start many, on one or many machines)"),
    ("seed_demo", "Create demo issuers, users and numbering ranges"),
    ("issuer create|list|add-user", "Issuers (tenants) and their users"),
    ("certificate upload|list", "Store a DIAN .p12 or SAT CSD, validated and encrypted"),
    ("numbering add|list", "Numbering resolutions"),
    ("einvoice issue|status|retry|list|acquirer", "DIAN documents of an issuer (numbered, signed, sent); buyer lookup"),
    ("portal import-tickets|tickets|block|unblock|cancel|global|settings|recover", "Self-invoicing portal: tickets, CFDI, global invoice"),
    ("nit dv NIT | nit check NIT-DV", "Colombian NIT check digit / validation"),
    ("rfc check RFC", "Mexican RFC validation"),
    ("dian verify FILE.xml | dian build INPUT.json", "Verify or build+sign a DIAN UBL 2.1 document"),
    ("cfdi verify FILE.xml [--pac-cert CER]", "Verify a CFDI 4.0: XSD, seal, stamp (SelloSAT)"),
    ("dian-sandbox --port N", "Local DIAN web service for tests and demos"),
    ("pac-sandbox --port N", "Local CFDI PAC for tests and demos"),
    ("habilitacion run|resume|documents|status|production|resolution|sync|...",
     "DIAN enablement: test set, production, numbering sync (and register, mode, numbering, prefix, rut)"),
    ("import run FILE [--dry-run --json] | template suggest FILE | status ID | list | cancel | delete",
     "Import billing data (operators' files)"),
    ("batch create|status|cancel|resume", "Mass-invoicing batches (lotes)"),
    ("cartera export", "Export the portfolio report (xlsx)"),
    ("payments import FILE", "Apply an Asobancaria 2001 payment file"),
    ("accounts import FILE [--dry-run] [--valid-only]", "Import the accounts register (xlsx, xls, ods, csv)"),
    ("billing settings show|set key=value", "Billing settings of an issuer (GLNs, payment tolerance, days to pay...)"),
    ("mail create|preview|test|start|stop|resume|resend-failed|status|export|bounces|test-recipients", "Mass email of invoices"),
]

ALIASES = {"dian-sandbox": "dian_sandbox", "pac-sandbox": "pac_sandbox", "import": "import_data", "seed-demo": "seed_demo"}


def _help() -> str:
    lines = ["Facturador — e-invoicing and mass billing (DIAN, SAT)", "", "Usage: facturador <command> [options]", "",
             "Main commands:"]
    width = max(len(c) for c, _ in OWN_COMMANDS)
    lines += [f"  {c.ljust(width)}  {d}" for c, d in OWN_COMMANDS]
    lines += ["", "Run `facturador <command> --help` for a command's options.",
              "All Django management commands (migrate, createsuperuser, ...) are available too; list them with `facturador help --all`."]
    return "\n".join(lines)


def _pure(argv: list[str]) -> int | None:
    """Commands served by the pure libraries, without Django."""
    if not argv:
        return None
    if argv[0] == "dian" and len(argv) > 1 and argv[1] in ("verify", "build"):
        from facturador.dian.cli import main as dian_main

        return dian_main(argv[1:], environ=os.environ)
    if argv[0] == "cfdi" and len(argv) > 1 and argv[1] == "verify":
        from facturador.cfdi.cli import main as cfdi_main

        return cfdi_main(argv[1:])
    if argv[0] in ("dian-sandbox", "dian_sandbox"):
        from facturador.dian.sandbox import main as sandbox_main

        return sandbox_main(argv[1:])
    if argv[0] in ("pac-sandbox", "pac_sandbox"):
        from facturador.cfdi.sandbox import main as pac_main

        return pac_main(argv[1:])
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv == ["help"]:
        print(_help())
        return 0
    code = _pure(argv)
    if code is not None:
        return code
    if argv[:2] == ["help", "--all"]:
        argv = ["help"]
    argv[0] = ALIASES.get(argv[0], argv[0])
    _default_options(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facturador.settings")
    if argv[0] == "worker":
        preload_allocator(argv)
    import django
    from django.core.management import execute_from_command_line

    django.setup()
    settle_heap()
    try:
        execute_from_command_line(["facturador", *argv])
    except BrokenPipeError:  # `facturador ... | head`: the reader has gone; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141  # 128 + SIGPIPE, what a shell reports for a tool the pipe ended
    return 0


RESTARTED = "FACTURADOR_WORKER_MALLOC_LOADED"  # in the environment of a worker started again with its allocator


def preload_allocator(argv: list[str]) -> None:
    """Start this worker process again (same pid) with FACTURADOR_WORKER_MALLOC preloaded: a malloc replacement
    must be in place before the process starts. Once, before Django is set up; if it cannot, the worker goes on
    with the allocator it has."""
    from django.conf import settings

    lib = getattr(settings, "FACTURADOR_WORKER_MALLOC", "")
    preload = os.environ.get("LD_PRELOAD", "")
    if not lib or os.environ.get(RESTARTED) or lib in preload.split():
        return
    env = dict(os.environ, LD_PRELOAD=f"{lib} {preload}".strip(), **{RESTARTED: "1"})
    try:
        os.execve(sys.executable, [sys.executable, "-m", "facturador", *argv], env)
    except OSError as exc:
        print(f"worker: could not start again with {lib} preloaded ({exc})", file=sys.stderr)


def _default_options(argv: list[str]) -> None:
    """Apply Django's `--settings` and `--pythonpath` before `django.setup()` (as `django-admin` does): the
    commands parse them only after the settings have been loaded, too late to choose them."""
    import argparse

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--settings")
    parser.add_argument("--pythonpath")
    known, _ = parser.parse_known_args(argv[1:])
    if known.pythonpath:
        sys.path.insert(0, known.pythonpath)
    if known.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = known.settings


def settle_heap() -> None:
    """Keep what is loaded at start-up (Django, the apps and their modules: a few hundred thousand objects that live
    as long as the process) out of the cyclic garbage collector's full collections, after collecting what is
    already garbage (`gc.freeze`). Each full collection then walks only the objects made since: a folder import
    spent ~0.4 ms per received document in full collections walking the framework's objects again and again
    (bench/reception.py). Called once a Django command process is set up (the worker, `serve`, every CLI
    command); nothing frozen is ever freed, so never later."""
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
