from django.apps import AppConfig


class MailingConfig(AppConfig):
    name = "facturador.mailing"
    label = "mailing"
    verbose_name = "Envíos masivos de facturas"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from facturador.mailing import jobs  # noqa: F401  (registers the job handlers)
