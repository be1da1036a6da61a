from django.urls import path

from facturador.billing import views

app_name = "billing"

urlpatterns = [
    path("cuentas/", views.accounts, name="accounts"),
    path("lotes/", views.batches, name="batches"),
    path("plantillas/", views.templates, name="templates"),
]
