"""`facturador habilitacion ...`: DIAN enablement from the terminal, over the same actions as the wizard and the API.

Exit status: 0 done; 1 error (bad arguments, a failed job); 2 refused (see `core.cli`, JSON on stderr with
--json); 3 `run`/`resume --wait` finished but DIAN has not accepted the test set (yet).
"""

import datetime as dt
import json
import sys
import threading
from decimal import Decimal

from django.core.management.base import CommandError
from django.db import close_old_connections, connection

from facturador.core.cli import ActionCommand, find_issuer, secret_from_env
from facturador.core.models import Job
from facturador.core.progress import follow_job
from facturador.habilitacion import actions, selectors, services
from facturador.habilitacion.models import TestSetRun

EXIT_NOT_ACCEPTED = 3

# `documents` options -> the run page's filters (selectors.run_documents)
DOCUMENT_FILTERS = {"kind": "documento", "customer": "cliente", "number": "numeracion", "status": "estado",
                    "acceptance": "aceptacion", "since": "desde", "until": "hasta"}


def _date(value, option):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{option}: la fecha «{value}» no tiene el formato AAAA-MM-DD.") from exc


class Command(ActionCommand):
    help = "Habilitación DIAN: registro, software, numeración de pruebas, set de pruebas, producción y numeración."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        def command(name, help_text):
            p = sub.add_parser(name, help=help_text)
            p.add_argument("--issuer", required=True, help="NIT del emisor (sin DV) o su id")
            return p

        reg = command("register", "Registrar el correo de recepción inscrito en la DIAN")
        reg.add_argument("--email", required=True, help="Correo de recepción registrado en la DIAN")
        reg.add_argument("--registered-on", help="Fecha de registro en la DIAN (AAAA-MM-DD; por omisión, hoy)")

        mode = command("mode", "Registrar o actualizar el software (modo de operación)")
        self._mode_arguments(mode, software_required=True)
        mode.add_argument("--test-set-id", help="TestSetId (GUID) del portal de la DIAN")
        mode.add_argument("--software-name", help="Nombre del software")
        mode.add_argument("--provider-name", help="Nombre del proveedor tecnológico")

        num = command("numbering", "Guardar la numeración de pruebas (por omisión, la de la DIAN para el software)")
        num.add_argument("--prefix", help="Prefijo de facturas (SETP software propio, SETT proveedor)")
        num.add_argument("--from", dest="range_from", type=int)
        num.add_argument("--to", dest="range_to", type=int)
        num.add_argument("--resolution", dest="resolution_number")
        num.add_argument("--valid-from")
        num.add_argument("--valid-to")
        num.add_argument("--technical-key", help="Clave técnica de habilitación")
        num.add_argument("--credit-prefix", help=f"Prefijo de notas crédito (por omisión {services.NOTE_PREFIXES['credit_note']})")
        num.add_argument("--debit-prefix", help=f"Prefijo de notas débito (por omisión {services.NOTE_PREFIXES['debit_note']})")

        run = command("run", "Generar y enviar el set de pruebas")
        run.add_argument("--test-set-id", required=True, help="TestSetId (GUID) del portal de la DIAN")
        self._mode_arguments(run, software_required=False)
        run.add_argument("--email", help="Correo de recepción registrado en la DIAN")
        run.add_argument("--invoices", type=int, help=f"Facturas (por omisión {services.DEFAULT_COUNTS['invoices']})")
        run.add_argument("--credit-notes", type=int, help=f"Notas crédito (por omisión {services.DEFAULT_COUNTS['credit_notes']})")
        run.add_argument("--debit-notes", type=int, help=f"Notas débito (por omisión {services.DEFAULT_COUNTS['debit_notes']})")
        self._wait_arguments(run)

        res = command("resume", "Procesar de nuevo un set de pruebas (envía lo pendiente)")
        res.add_argument("--run", type=int, required=True, help="Número de la ejecución")
        self._wait_arguments(res)

        cor = command("correct", "Corregir y reenviar un documento rechazado (lo omitido conserva su valor)")
        cor.add_argument("--run", type=int, required=True, help="Número de la ejecución")
        cor.add_argument("--document", required=True, help="Número del documento rechazado, p. ej. SETP990000001")
        cor.add_argument("--customer-name")
        cor.add_argument("--customer-id", help="Identificación del cliente (NIT con o sin DV)")
        cor.add_argument("--description", help="Descripción de la primera línea")
        cor.add_argument("--quantity", type=Decimal)
        cor.add_argument("--unit-price", type=Decimal)
        cor.add_argument("--iva", choices=["19", "5", "0", ""], help='Tarifa de IVA de la primera línea ("" sin IVA)')

        docs = command("documents", "Documentos de un set de pruebas (los filtros de la página del set)")
        docs.add_argument("--run", type=int, required=True, help="Número de la ejecución")
        docs.add_argument("--kind", choices=["invoice", "credit_note", "debit_note"])
        docs.add_argument("--customer", help="Parte del nombre del cliente o su identificación")
        docs.add_argument("--number", help="Prefijo y/o número, p. ej. SETP990000001")
        docs.add_argument("--status", help="Estado del documento (accepted, rejected, pending, ...)")
        docs.add_argument("--acceptance", choices=["aceptado", "rechazado", "sin_respuesta"])
        docs.add_argument("--since", help="Emitidos desde (AAAA-MM-DD)")
        docs.add_argument("--until", help="Emitidos hasta (AAAA-MM-DD)")
        docs.add_argument("--active", action="store_true", help="Solo los vigentes (no reemplazados)")

        command("status", "Estado de la habilitación (JSON)")

        prod = command("production", "Confirmar la fecha de inicio en producción (una sola vez)")
        prod.add_argument("--start-date", required=True, help="AAAA-MM-DD")
        prod.add_argument("--endpoint", help="URL del servicio de producción (por omisión, el de la DIAN)")

        res = command("resolution", "Registrar la numeración autorizada (formulario 1876)")
        res.add_argument("--resolution", required=True)
        res.add_argument("--prefix", required=True)
        res.add_argument("--from", dest="range_from", type=int, required=True)
        res.add_argument("--to", dest="range_to", type=int, required=True)
        res.add_argument("--valid-from", required=True)
        res.add_argument("--valid-to", required=True)
        res.add_argument("--billing-type", default="electronica", choices=[k for k, _ in services.BILLING_TYPES])

        command("sync", "Sincronizar numeración (GetNumberingRange)")

        pre = command("prefix", "Registrar la asociación del prefijo de la numeración autorizada al software en uso "
                                "(la hecha en el portal de la DIAN)")
        pre.add_argument("--date", help="Fecha de la asociación (AAAA-MM-DD; por omisión, hoy)")
        pre.add_argument("--prefix", help="Prefijo de la numeración autorizada (por omisión, la última registrada)")

        command("rut", "Registrar que el RUT ya tiene la responsabilidad 52 (facturador electrónico)")

    @staticmethod
    def _mode_arguments(p, *, software_required):
        p.add_argument("--software-id", required=software_required,
                       help="Identificador del software (registra o actualiza el modo de operación)")
        p.add_argument("--pin", help="PIN del software (mejor --pin-env: no queda en el historial)")
        p.add_argument("--pin-env", metavar="VARIABLE", help="Variable de entorno con el PIN del software")
        p.add_argument("--provider", action="store_true", help="Software de un proveedor tecnológico (prefijo SETT)")
        p.add_argument("--provider-nit", help="NIT del proveedor tecnológico (por omisión, el del emisor)")
        p.add_argument("--endpoint", help="URL del servicio web (por omisión, el de habilitación de la DIAN)")

    @staticmethod
    def _wait_arguments(p):
        p.add_argument("--wait", action="store_true", help="Esperar el resultado mostrando una barra de progreso")
        p.add_argument("--inline", action="store_true", help="Procesar en este proceso (sin trabajadores)")
        p.add_argument("--timeout", type=float, default=None)

    def handle(self, *args, **o):
        issuer = find_issuer(o["issuer"])
        services.require_colombia(issuer)
        return getattr(self, f"do_{o['action']}")(issuer, o)

    # --- steps of the wizard ----------------------------------------------------------------------

    def do_register(self, issuer, o):
        en = actions.register(issuer, self.actor, reception_email=o["email"],
                              registered_on=_date(o.get("registered_on"), "--registered-on"))
        self.stdout.write(f"Registro guardado: {en.reception_email} ({en.get_state_display()}).")

    def _pin(self, o):
        if o.get("pin_env"):
            return secret_from_env(o["pin_env"], option="--pin-env")
        return o.get("pin")

    def _save_mode(self, issuer, o, **extra):
        return actions.save_operation_mode(
            issuer, self.actor, software_id=o.get("software_id"), pin=self._pin(o),
            mode="provider" if o.get("provider") else None, provider_nit=o.get("provider_nit"),
            endpoint=o.get("endpoint"), **extra)

    def do_mode(self, issuer, o):
        mode = self._save_mode(issuer, o, test_set_id=o.get("test_set_id"), software_name=o.get("software_name"),
                               provider_name=o.get("provider_name"))
        self.stdout.write(f"Software guardado: {mode} ({mode.software_id}, PIN {mode.pin_masked}), {mode.url}.")

    def do_numbering(self, issuer, o):
        data = services.default_test_range(services.current_mode(issuer))
        given = {"prefix": o.get("prefix"), "range_from": o.get("range_from"), "range_to": o.get("range_to"),
                 "resolution_number": o.get("resolution_number"), "technical_key": o.get("technical_key"),
                 "valid_from": _date(o.get("valid_from"), "--valid-from"),
                 "valid_to": _date(o.get("valid_to"), "--valid-to"),
                 "credit_prefix": o.get("credit_prefix"), "debit_prefix": o.get("debit_prefix")}
        data.update({k: v for k, v in given.items() if v is not None})
        ranges = actions.save_test_numbering(issuer, self.actor, **data)
        for kind, rng in ranges.items():
            self.stdout.write(f"{services.label(kind)}: {rng.prefix} {rng.range_from}-{rng.range_to}")

    def do_run(self, issuer, o):
        test_set_id = services.validate_test_set_id(o["test_set_id"])
        if o.get("email") or services.enablement_for(issuer).state == "pending":
            actions.register(issuer, self.actor, reception_email=o.get("email") or issuer.email or "")
        if any(o.get(name) for name in ("software_id", "pin", "pin_env", "provider", "provider_nit", "endpoint")):
            self._save_mode(issuer, o, test_set_id=test_set_id)
        run = actions.start_run(issuer, self.actor, test_set_id=test_set_id, invoices=o.get("invoices"),
                                credit_notes=o.get("credit_notes"), debit_notes=o.get("debit_notes"))
        self.stdout.write(f"Set de pruebas {run.test_set_id}: {run.invoices} facturas, {run.credit_notes} notas crédito, "
                          f"{run.debit_notes} notas débito (ejecución #{run.pk}, tarea #{run.job_id}).")
        self._follow(run, o)

    def do_resume(self, issuer, o):
        run = TestSetRun.objects.filter(issuer=issuer, pk=o["run"]).first()
        job = actions.resume_run(issuer, self.actor, run=run)
        self.stdout.write(f"Set de pruebas {run.test_set_id} en proceso de nuevo (tarea #{job.pk}).")
        self._follow(TestSetRun.objects.get(pk=run.pk), o)

    def _follow(self, run, o):
        if not (o.get("wait") or o.get("inline")):
            return
        worker = None
        if o.get("inline"):
            worker = threading.Thread(target=self._inline, args=(run.job_id,), daemon=True)
            worker.start()
        job = follow_job(Job.objects.get(pk=run.job_id), self.stdout, every=0.3, timeout=o.get("timeout"),
                         timeout_message="Se agotó el tiempo de espera; el set de pruebas sigue en segundo plano.")
        if worker:
            worker.join()
        run = TestSetRun.objects.select_related("job").get(pk=run.pk)
        s = services.summary(run)
        self.stdout.write(f"Resultado: {run.get_outcome_display()} — {s['accepted']} aceptados, {s['rejected']} "
                          f"rechazados, {s['remaining']} faltantes de {s['total']}.")
        if run.dian_message:
            self.stdout.write(run.dian_message)
        if job.status == Job.Status.FAILED:
            raise CommandError(job.error or "El set de pruebas falló.")
        if run.outcome != TestSetRun.Outcome.ACCEPTED:
            sys.exit(EXIT_NOT_ACCEPTED)

    @staticmethod
    def _inline(job_id):
        from facturador.core.jobs import execute_job

        try:
            close_old_connections()
            execute_job.call(job_id)
        finally:
            connection.close()

    def do_correct(self, issuer, o):
        run = TestSetRun.objects.filter(issuer=issuer, pk=o["run"]).first()
        entry = None
        if run is not None:  # the document in force with that number, else the replaced one (which is refused)
            entry = selectors.run_documents(run, {"numeracion": o["document"]}).order_by("-active").first()
        changes = {name: o.get(name) for name in ("customer_name", "customer_id", "description", "quantity",
                                                   "unit_price", "iva")}
        new = actions.correct_document(issuer, self.actor, entry=entry, **changes)
        self.stdout.write(f"Se emitió {new.document.full_number} en reemplazo de {o['document'].upper()}; "
                          "se envía a la DIAN con el set de pruebas.")

    def do_documents(self, issuer, o):
        run = TestSetRun.objects.filter(issuer=issuer, pk=o["run"]).first()
        if run is None:
            raise CommandError(f"El emisor no tiene el set de pruebas #{o['run']}.")
        params = {param: o[option] for option, param in DOCUMENT_FILTERS.items() if o.get(option)}
        if o.get("active"):
            params["vigentes"] = "1"
        entries = selectors.run_documents(run, params).order_by("kind", "slot", "-active")
        rows = [{"id": e.pk, "kind": e.kind, "slot": e.slot, "active": e.active, "number": e.document.full_number,
                 "status": e.document.status, "state": services.STATE_LABELS.get(e.document.status, e.document.status),
                 "issue_date": e.document.issue_date.isoformat(), "customer": e.document.customer_name,
                 "rules": [r.get("code") for r in e.document.rules or [] if r.get("severity") == "rejection"]}
                for e in entries]
        if o.get("json"):
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for r in rows:
            rules = f" [{', '.join(r['rules'])}]" if r["rules"] else ""
            replaced = "" if r["active"] else " (reemplazado)"
            self.stdout.write(f"{r['number']:<16} {services.label(r['kind']):<13} {r['state']:<10} {r['customer']}"
                              f"{rules}{replaced}")

    def do_status(self, issuer, o):
        self.stdout.write(json.dumps(selectors.enablement_data(issuer), ensure_ascii=False, indent=2, default=str))

    def do_production(self, issuer, o):
        en = actions.switch_to_production(issuer, self.actor, start_date=_date(o["start_date"], "--start-date"),
                                          endpoint=o.get("endpoint"))
        self.stdout.write(f"En producción desde el {en.production_start:%d/%m/%Y}. Registre la numeración autorizada "
                          "y sincronícela.")

    def do_resolution(self, issuer, o):
        rng = actions.register_resolution(
            issuer, self.actor, prefix=o["prefix"], range_from=o["range_from"], range_to=o["range_to"],
            valid_from=_date(o["valid_from"], "--valid-from"), valid_to=_date(o["valid_to"], "--valid-to"),
            resolution_number=o["resolution"], billing_type=o["billing_type"])
        self.stdout.write(f"Numeración {rng} registrada (resolución {rng.resolution_number}). Ahora: facturador "
                          f"habilitacion sync --issuer {issuer.tax_id}")

    def do_sync(self, issuer, o):
        _ranges, message = actions.sync_numbering(issuer, self.actor)
        self.stdout.write(message)

    def do_prefix(self, issuer, o):
        rng = selectors.production_range(issuer, prefix=o.get("prefix"))
        en = actions.associate_prefix(issuer, self.actor, on=_date(o.get("date"), "--date"), numbering_range=rng)
        rng = rng or en.production_range
        self.stdout.write(f"Prefijo {rng.prefix} asociado al software {rng.associated_software_id} "
                          f"({rng.associated_on:%d/%m/%Y}).")

    def do_rut(self, issuer, o):
        actions.acknowledge_s2(issuer, self.actor)
        self.stdout.write("Quedó registrado que el RUT tiene la responsabilidad 52 (facturador electrónico).")
