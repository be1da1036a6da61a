from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "facturador.billing"
    label = "billing"
    verbose_name = "Facturación masiva"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from facturador.billing import jobs  # noqa: F401  (registers the job handlers)
