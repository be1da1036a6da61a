from django.urls import path

from facturador.billing import views

app_name = "billing"

urlpatterns = [
    path("cuentas/", views.accounts, name="accounts"),
    path("cuentas/nueva/", views.account_edit, name="account_create"),
    path("cuentas/<int:pk>/", views.account_edit, name="account_edit"),
    path("cuentas/cargar/", views.accounts_upload, name="accounts_upload"),
    path("cuentas/cargar/<int:pk>/", views.accounts_upload_job, name="accounts_upload_job"),
    path("ejemplos/<str:name>/", views.sample_file, name="sample_file"),
    path("cuentas/adquiriente/", views.account_acquirer, name="account_acquirer"),
    path("tarifas/", views.tariffs, name="tariffs"),
    path("configuracion/", views.settings_view, name="settings"),
    path("cartera/", views.cartera_view, name="cartera"),
    path("cartera/exportar/", views.cartera_export, name="cartera_export"),
    path("plantillas/", views.templates, name="templates"),
    path("plantillas/cargar/", views.template_upload, name="template_upload"),
    path("plantillas/<int:pk>/vista-previa/", views.template_preview, name="template_preview"),
    path("plantillas/<int:pk>/fuente/", views.template_source, name="template_source"),
    path("plantillas/<int:pk>/predeterminada/", views.template_default, name="template_default"),
    path("lotes/", views.batches, name="batches"),
    path("lotes/nuevo/", views.batch_new, name="batch_new"),
    path("lotes/confirmar/", views.batch_confirm, name="batch_confirm"),
    path("lotes/<int:pk>/", views.batch_detail, name="batch_detail"),
    path("lotes/<int:pk>/envio/", views.batch_sending, name="batch_sending"),
    path("lotes/<int:pk>/cancelar/", views.batch_cancel, name="batch_cancel"),
    path("lotes/<int:pk>/reanudar/", views.batch_resume, name="batch_resume"),
    path("lotes/<int:pk>/descargar/<str:what>/", views.batch_download, name="batch_download"),
    path("facturas/<int:pk>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("recaudo/", views.payments, name="payments"),
]
