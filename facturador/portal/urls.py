from django.urls import path, re_path

from facturador.portal import views_backoffice as bo
from facturador.portal import views_public as pub

app_name = "portal"

urlpatterns = [
    path("", bo.backoffice, name="backoffice"),
    path("tickets/<int:pk>/bloquear/", bo.ticket_block, name="ticket_block"),
    path("tickets/cargar/", bo.ticket_upload, name="ticket_upload"),
    path("facturas/", bo.invoices, name="invoices"),
    path("facturas/<int:pk>/cancelar/", bo.invoice_cancel, name="invoice_cancel"),
    re_path(r"^facturas/(?P<pk>\d+)/(?P<what>xml|pdf)/$", bo.invoice_file, name="invoice_file"),
    path("global/", bo.global_invoice, name="global_invoice"),
    path("configuracion/", bo.settings_view, name="settings"),
    # public portal
    path("p/<slug:slug>/", pub.start, name="start"),
    path("p/<slug:slug>/rfc/", pub.rfc, name="rfc"),
    path("p/<slug:slug>/ingresar/", pub.login, name="login"),
    path("p/<slug:slug>/tickets/", pub.tickets, name="tickets"),
    path("p/<slug:slug>/datos-fiscales/", pub.fiscal, name="fiscal"),
    path("p/<slug:slug>/usos/", pub.usos, name="usos"),
    path("p/<slug:slug>/vista-previa/", pub.preview, name="preview"),
    path("p/<slug:slug>/factura/<str:uuid>/", pub.result, name="result"),
    re_path(r"^p/(?P<slug>[-\w]+)/factura/(?P<uuid>[-\w]+)/(?P<what>xml|pdf)/$", pub.download, name="download"),
    path("p/<slug:slug>/mis-facturas/", pub.panel, name="panel"),
    path("p/<slug:slug>/mis-facturas/ingresar/", pub.signin, name="signin"),
    path("p/<slug:slug>/mis-datos/", pub.profile, name="profile"),
    path("p/<slug:slug>/clave/", pub.change_password, name="change_password"),
    path("p/<slug:slug>/recuperar/", pub.recover, name="recover"),
    path("p/<slug:slug>/verificacion.png", pub.captcha, name="captcha"),
    path("p/<slug:slug>/salir/", pub.logout, name="logout"),
]
