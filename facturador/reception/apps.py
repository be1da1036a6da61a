from django.apps import AppConfig


class ReceptionConfig(AppConfig):
    name = "facturador.reception"
    label = "reception"
    verbose_name = "Recepción de documentos de proveedores"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from facturador.reception import jobs  # noqa: F401  (registers "reception.poll" and the periodic poller)
