"""`facturador habilitacion run|status|production|resolution|sync`: DIAN enablement from the terminal."""

import datetime as dt
import json
import os
import sys
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from facturador.core.models import Issuer, Job
from facturador.core.progress import follow_job
from facturador.habilitacion import services


def issuer_from(value: str) -> Issuer:
    nit = (value or "").strip().replace(".", "").split("-")[0]
    issuer = Issuer.objects.filter(country="CO", tax_id=nit).first()
    if issuer is None:
        raise CommandError(f"No se encontró el emisor con NIT «{value}» (escríbalo sin dígito de verificación).")
    return issuer




class Command(BaseCommand):
    help = "Habilitación DIAN: set de pruebas, paso a producción y sincronización de numeración."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="Generar y enviar el set de pruebas")
        run.add_argument("--issuer", required=True, help="NIT del emisor (sin DV)")
        run.add_argument("--test-set-id", required=True, help="TestSetId (GUID) del portal de la DIAN")
        run.add_argument("--software-id", help="Identificador del software (registra o actualiza el modo de operación)")
        run.add_argument("--pin", help="PIN del software")
        run.add_argument("--pin-env", help="Variable de entorno con el PIN (evita dejarlo en el historial)")
        run.add_argument("--provider", action="store_true", help="Software de un proveedor tecnológico (prefijo SETT)")
        run.add_argument("--provider-nit", help="NIT del proveedor tecnológico (por omisión, el del emisor)")
        run.add_argument("--endpoint", help="URL del servicio web (por omisión, el de habilitación de la DIAN)")
        run.add_argument("--email", help="Correo de recepción registrado en la DIAN")
        run.add_argument("--invoices", type=int, help=f"Facturas (por omisión {services.DEFAULT_COUNTS['invoices']})")
        run.add_argument("--credit-notes", type=int, help=f"Notas crédito (por omisión {services.DEFAULT_COUNTS['credit_notes']})")
        run.add_argument("--debit-notes", type=int, help=f"Notas débito (por omisión {services.DEFAULT_COUNTS['debit_notes']})")
        run.add_argument("--wait", action="store_true", help="Esperar el resultado mostrando una barra de progreso")
        run.add_argument("--inline", action="store_true", help="Procesar en este proceso (sin trabajadores)")
        run.add_argument("--timeout", type=float, default=None)

        st = sub.add_parser("status", help="Estado de la habilitación (JSON)")
        st.add_argument("--issuer", required=True)

        prod = sub.add_parser("production", help="Confirmar la fecha de inicio en producción (una sola vez)")
        prod.add_argument("--issuer", required=True)
        prod.add_argument("--start-date", required=True, help="AAAA-MM-DD")
        prod.add_argument("--endpoint", help="URL del servicio de producción (por omisión, el de la DIAN)")

        res = sub.add_parser("resolution", help="Registrar la numeración autorizada (formulario 1876)")
        res.add_argument("--issuer", required=True)
        res.add_argument("--resolution", required=True)
        res.add_argument("--prefix", required=True)
        res.add_argument("--from", dest="range_from", type=int, required=True)
        res.add_argument("--to", dest="range_to", type=int, required=True)
        res.add_argument("--valid-from", required=True)
        res.add_argument("--valid-to", required=True)
        res.add_argument("--billing-type", default="electronica", choices=[k for k, _ in services.BILLING_TYPES])

        sy = sub.add_parser("sync", help="Sincronizar numeración (GetNumberingRange)")
        sy.add_argument("--issuer", required=True)

    def handle(self, *args, **o):
        try:
            return getattr(self, f"do_{o['action']}")(o)
        except services.HabilitacionError as exc:
            raise CommandError(exc.message) from exc

    def _date(self, value, name):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise CommandError(f"{name}: la fecha «{value}» no tiene el formato AAAA-MM-DD.") from exc

    def do_run(self, o):
        issuer = issuer_from(o["issuer"])
        test_set_id = services.validate_test_set_id(o["test_set_id"])
        if o.get("email") or services.enablement_for(issuer).state == "pending":
            services.register(issuer, reception_email=o.get("email") or issuer.email or "", channel="cli")
        pin = o.get("pin")
        if o.get("pin_env"):
            pin = os.environ.get(o["pin_env"]) or None
            if pin is None:
                raise CommandError(f"La variable de entorno {o['pin_env']} está vacía.")
        if o.get("software_id"):
            services.save_mode(issuer, software_id=o["software_id"], pin=pin, test_set_id=test_set_id,
                               mode="provider" if o.get("provider") else "own", endpoint=o.get("endpoint"),
                               provider_nit=o.get("provider_nit") or "", channel="cli")
        elif o.get("endpoint"):
            mode = services.current_mode(issuer)
            if mode is None:
                raise CommandError("Indique --software-id y --pin: el emisor no tiene software registrado.")
            mode.endpoint = o["endpoint"]
            mode.save(update_fields=["endpoint"])
        run = services.start_run(issuer, test_set_id=test_set_id, invoices=o.get("invoices"),
                                 credit_notes=o.get("credit_notes"), debit_notes=o.get("debit_notes"), channel="cli")
        self.stdout.write(f"Set de pruebas {run.test_set_id}: {run.invoices} facturas, {run.credit_notes} notas crédito, "
                          f"{run.debit_notes} notas débito (ejecución #{run.pk}, tarea #{run.job_id}).")
        worker = None
        if o.get("inline"):
            worker = threading.Thread(target=self._inline, args=(run.job_id,), daemon=True)
            worker.start()
        if o.get("wait") or o.get("inline"):
            job = follow_job(Job.objects.get(pk=run.job_id), self.stdout, every=0.3, timeout=o.get("timeout"),
                             timeout_message="Se agotó el tiempo de espera; el set de pruebas sigue en segundo plano.")
            if worker:
                worker.join()
            run.refresh_from_db()
            s = services.summary(run)
            self.stdout.write(f"Resultado: {run.get_outcome_display()} — {s['accepted']} aceptados, {s['rejected']} "
                              f"rechazados, {s['remaining']} faltantes de {s['total']}.")
            if run.dian_message:
                self.stdout.write(run.dian_message)
            if job.status == Job.Status.FAILED:
                raise CommandError(job.error or "El set de pruebas falló.")
            if run.outcome != run.Outcome.ACCEPTED:
                sys.exit(2)

    @staticmethod
    def _inline(job_id):
        from facturador.core.jobs import execute_job

        try:
            close_old_connections()
            execute_job.call(job_id)
        finally:
            connection.close()

    def do_status(self, o):
        from facturador.habilitacion.api import enablement_data

        issuer = issuer_from(o["issuer"])
        self.stdout.write(json.dumps(enablement_data(issuer), ensure_ascii=False, indent=2, default=str))

    def do_production(self, o):
        issuer = issuer_from(o["issuer"])
        en = services.switch_to_production(issuer, start_date=self._date(o["start_date"], "--start-date"),
                                           endpoint=o.get("endpoint"), channel="cli")
        self.stdout.write(f"En producción desde el {en.production_start:%d/%m/%Y}. Registre la numeración autorizada "
                          "y sincronícela.")

    def do_resolution(self, o):
        issuer = issuer_from(o["issuer"])
        rng = services.register_resolution(
            issuer, prefix=o["prefix"], range_from=o["range_from"], range_to=o["range_to"],
            valid_from=self._date(o["valid_from"], "--valid-from"), valid_to=self._date(o["valid_to"], "--valid-to"),
            resolution_number=o["resolution"], billing_type=o["billing_type"], channel="cli")
        self.stdout.write(f"Numeración {rng} registrada (resolución {rng.resolution_number}). Ahora: facturador "
                          f"habilitacion sync --issuer {issuer.tax_id}")

    def do_sync(self, o):
        issuer = issuer_from(o["issuer"])
        _ranges, message = services.sync_numbering(issuer, channel="cli")
        self.stdout.write(message)
