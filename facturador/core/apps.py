from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "facturador.core"
    label = "core"
    verbose_name = "Facturador"
