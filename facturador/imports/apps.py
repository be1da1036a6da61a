from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "facturador.imports"
    label = "imports"
    verbose_name = "Importación de datos de facturación"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from facturador.imports import jobs  # noqa: F401  (registers the "imports.run" job handler)
