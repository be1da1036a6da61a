from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from facturador.core import views as core_views

urlpatterns = [
    path("cuenta/ingresar/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("cuenta/salir/", auth_views.LogoutView.as_view(), name="logout"),
    path("cuenta/clave/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("cuenta/clave/lista/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("cuenta/recuperar/", core_views.PasswordResetView.as_view(), name="password_reset"),
    path("cuenta/recuperar/enviado/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("cuenta/recuperar/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("cuenta/recuperar/listo/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("idioma/", include("django.conf.urls.i18n")),  # set_language: the top bar's language selector
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("facturador.core.api_urls")),
]
# Each capability app mounts its UI at /<prefix>/ and its API under /api/v1/issuers/<issuer_pk>/.
UI_PREFIXES = {"einvoice": "documentos/", "habilitacion": "habilitacion/", "imports": "importaciones/",
               "billing": "facturacion/", "mailing": "envios/", "portal": "autofacturacion/",
               "reception": "recepcion/"}
for _name in settings.CAPABILITY_APPS:
    if f"facturador.{_name}" not in settings.INSTALLED_APPS:
        continue
    urlpatterns.append(path(UI_PREFIXES[_name], include(f"facturador.{_name}.urls")))
    urlpatterns.append(path("api/v1/issuers/<int:issuer_pk>/", include(f"facturador.{_name}.api_urls")))
urlpatterns.append(path("", include("facturador.core.urls")))
