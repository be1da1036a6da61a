from django.urls import path

from facturador.habilitacion import views

app_name = "habilitacion"

urlpatterns = [
    path("", views.wizard, name="wizard"),
    path("registro/", views.register, name="register"),
    path("software/", views.mode, name="mode"),
    path("numeracion-pruebas/", views.test_numbering, name="test_numbering"),
    path("sets/nuevo/", views.run_new, name="run_new"),
    path("sets/<int:pk>/", views.run_detail, name="run"),
    path("sets/<int:pk>/excel/", views.run_export, name="run_export"),
    path("sets/<int:pk>/reanudar/", views.run_resume, name="run_resume"),
    path("sets/<int:pk>/documentos/<int:entry_pk>/corregir/", views.correct, name="correct"),
    path("produccion/", views.production, name="production"),
    path("resolucion/", views.resolution, name="resolution"),
    path("sincronizar/", views.sync, name="sync"),
    path("prefijo/", views.prefix, name="prefix"),
    path("rut/", views.s2, name="s2"),
]
