from django.apps import AppConfig


class HabilitacionConfig(AppConfig):
    name = "facturador.habilitacion"
    label = "habilitacion"
    verbose_name = "Habilitación DIAN"

    def ready(self):
        from facturador.habilitacion import jobs  # noqa: F401  (registers job handlers)
