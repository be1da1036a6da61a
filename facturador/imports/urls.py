from django.urls import path

from facturador.imports import views

app_name = "imports"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("programar/", views.schedule, name="schedule"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/cancelar/", views.cancel, name="cancel"),
    path("<int:pk>/eliminar/", views.delete, name="delete"),
    path("<int:pk>/errores.<str:fmt>", views.error_report, name="error_report"),
    path("<int:pk>/conciliacion/", views.reconciliation, name="reconciliation"),
    path("<int:pk>/conciliacion.csv", views.reconciliation_export, name="reconciliation_export"),
    path("lineas/", views.lines, name="lines"),
    path("lineas.<str:fmt>", views.lines_export, name="lines_export"),
    path("operadores/", views.operators, name="operators"),
    path("operadores/nuevo/", views.operator_edit, name="operator_new"),
    path("operadores/<int:pk>/", views.operator_edit, name="operator_edit"),
    path("plantillas/", views.templates, name="templates"),
    path("plantillas/mapear/", views.mapper, name="mapper"),
    path("plantillas/nueva/", views.template_edit, name="template_new"),
    path("plantillas/<int:pk>/", views.template_edit, name="template_edit"),
    path("plantillas/<int:pk>/versiones/", views.template_versions, name="template_versions"),
]
