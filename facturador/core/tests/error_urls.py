"""URLs of the error-page tests: the project's URLs plus views that fail on purpose."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.urls import path

from facturador.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("kaboom: an unexpected failure")


def denied(request):
    raise PermissionDenied


def bad(request):
    raise SuspiciousOperation("a malformed request")


urlpatterns = [
    path("pruebas/boom/", boom),
    path("pruebas/denegado/", denied),
    path("pruebas/mala/", bad),
    *project_urlpatterns,
]
