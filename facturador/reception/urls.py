from django.urls import path

from facturador.reception import views, views_events

app_name = "reception"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cargar/", views.upload, name="upload"),
    path("exportar.xlsx", views.export, name="export"),
    path("llegadas/", views.intakes, name="intakes"),
    path("llegadas/<int:pk>/", views.intake_detail, name="intake"),
    path("llegadas/<int:pk>/reprocesar/", views.reprocess, name="reprocess"),
    path("buzon/", views.mailbox, name="mailbox"),
    path("buzon/consultar/", views.poll, name="poll"),
    path("eventos/lote/", views_events.events_bulk, name="events_bulk"),
    path("eventos/configuracion/", views_events.event_settings, name="event_settings"),
    path("eventos/aceptacion-tacita/", views_events.tacit, name="tacit"),
    path("eventos/<int:pk>/archivo/", views_events.event_file, name="event_file"),
    path("<int:pk>/evento/", views_events.event, name="event"),
    path("<int:pk>/sat/", views_events.sat_status, name="sat_status"),
    path("<int:pk>/dian/", views_events.dian_status, name="dian_status"),
    path("<int:pk>/timbre/", views_events.stamp_check, name="stamp_check"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<str:what>/", views.download, name="download"),
]
