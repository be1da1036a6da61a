from django.urls import path

from facturador.mailing import views

app_name = "mailing"

urlpatterns = [
    path("", views.send_list, name="list"),
    path("nuevo/", views.send_create, name="create"),
    path("vista-previa/", views.preview, name="preview"),
    path("correos-de-prueba/", views.test_recipients, name="test_recipients"),
    path("<int:pk>/", views.send_detail, name="detail"),
    path("<int:pk>/estado/", views.send_status, name="status"),
    path("<int:pk>/factura/<int:doc_pk>/", views.document_view, name="document"),
    path("<int:pk>/factura/<int:doc_pk>/<str:kind>/", views.attachment, name="attachment"),
    path("<int:pk>/prueba/", views.send_test, name="test"),
    path("<int:pk>/iniciar/", views.send_start, name="start"),
    path("<int:pk>/detener/", views.send_stop, name="stop"),
    path("<int:pk>/reanudar/", views.send_resume, name="resume"),
    path("<int:pk>/reenviar-fallidos/", views.send_resend_failed, name="resend_failed"),
    path("<int:pk>/sin-confirmar/", views.resolve_unknown, name="resolve_unknown"),
    path("<int:pk>/exportar.<str:fmt>", views.export, name="export"),
    path("baja/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("webhooks/rebotes/", views.bounce_webhook, name="bounce_webhook"),
]
