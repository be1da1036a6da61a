"""API routes. Other apps add theirs under /api/v1/issuers/<issuer_pk>/ via `issuer_router`."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from facturador.core import api

router = SimpleRouter()
router.register("issuers", api.IssuerViewSet, basename="issuer")

issuer_router = SimpleRouter()
issuer_router.register("branches", api.BranchViewSet, basename="branch")
issuer_router.register("numbering-ranges", api.NumberingRangeViewSet, basename="numbering-range")
issuer_router.register("certificates", api.CertificateViewSet, basename="certificate")
issuer_router.register("jobs", api.JobViewSet, basename="job")

urlpatterns = [
    path("", include(router.urls)),
    path("issuers/<int:issuer_pk>/", include(issuer_router.urls)),
]
