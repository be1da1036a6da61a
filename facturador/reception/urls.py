from django.urls import path

from facturador.reception import views

app_name = "reception"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cargar/", views.upload, name="upload"),
    path("exportar.xlsx", views.export, name="export"),
    path("llegadas/", views.intakes, name="intakes"),
    path("llegadas/<int:pk>/", views.intake_detail, name="intake"),
    path("buzon/", views.mailbox, name="mailbox"),
    path("buzon/consultar/", views.poll, name="poll"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<str:what>/", views.download, name="download"),
]
