from django.urls import path

from facturador.core import views

app_name = "core"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("emisor/cambiar/", views.switch_issuer, name="switch_issuer"),
    path("emisor/", views.issuer_edit, name="issuer"),
    path("emisor/nuevo/", views.issuer_new, name="issuer_new"),
    path("sucursales/", views.branches, name="branches"),
    path("sucursales/nueva/", views.branch_edit, name="branch_new"),
    path("sucursales/<int:pk>/", views.branch_edit, name="branch_edit"),
    path("certificados/", views.certificate_list, name="certificates"),
    path("certificados/cargar/", views.certificate_upload, name="certificate_upload"),
    path("numeraciones/", views.numbering_list, name="numbering"),
    path("numeraciones/nueva/", views.numbering_edit, name="numbering_new"),
    path("numeraciones/<int:pk>/", views.numbering_edit, name="numbering_edit"),
    path("tareas/", views.job_list, name="jobs"),
    path("tareas/<int:pk>/", views.job_detail, name="job"),
    path("tareas/<int:pk>/progreso/", views.job_progress, name="job_progress"),
    path("tareas/<int:pk>/cancelar/", views.job_cancel, name="job_cancel"),
    path("tareas/<int:pk>/eliminar/", views.job_delete, name="job_delete"),
    path("auditoria/", views.audit_list, name="audit"),
    path("api-token/", views.api_token, name="api_token"),
]
