from django.urls import path

from facturador.einvoice import views

app_name = "einvoice"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("nuevo/", views.document_new, name="new"),
    path("adquiriente/", views.acquirer, name="acquirer"),
    path("<int:pk>/", views.document_detail, name="detail"),
    path("<int:pk>/reintentar/", views.document_retry, name="retry"),
    path("<int:pk>/xml/", views.download, {"what": "xml"}, name="xml"),
    path("<int:pk>/respuesta/", views.download, {"what": "response"}, name="response"),
    path("<int:pk>/pdf/", views.download, {"what": "pdf"}, name="pdf"),
    path("<int:pk>/zip/", views.download, {"what": "zip"}, name="zip"),
    path("<int:pk>/contenedor/", views.download, {"what": "attached"}, name="attached"),
    path("software/", views.modes, name="modes"),
    path("software/nuevo/", views.mode_edit, name="mode_new"),
    path("software/<int:pk>/", views.mode_edit, name="mode_edit"),
]
