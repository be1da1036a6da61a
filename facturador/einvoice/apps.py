from django.apps import AppConfig


class EinvoiceConfig(AppConfig):
    name = "facturador.einvoice"
    label = "einvoice"
    verbose_name = "Documentos electrónicos DIAN"

    def ready(self):
        from facturador.core.models import register_files_provider
        from facturador.einvoice import jobs  # noqa: F401  (registers job handlers)
        from facturador.einvoice.files import write_files

        register_files_provider("einvoice.document", write_files)
