from django.urls import path

from facturador.imports import views

app_name = "imports"

urlpatterns = [
    path("", views.queue, name="queue"),
]
