"""Enablement API, mounted under /api/v1/issuers/<issuer_pk>/."""

from rest_framework.routers import SimpleRouter

from facturador.habilitacion import api

router = SimpleRouter()
router.register("habilitacion/enablement", api.EnablementViewSet, basename="habilitacion-enablement")
router.register("habilitacion/runs", api.RunViewSet, basename="habilitacion-run")

urlpatterns = router.urls
