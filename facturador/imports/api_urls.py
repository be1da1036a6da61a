from rest_framework.routers import SimpleRouter

from facturador.imports import api

router = SimpleRouter()
router.register("imports/operators", api.OperatorViewSet, basename="import-operator")
router.register("imports/templates", api.ImportTemplateViewSet, basename="import-template")
router.register("imports/jobs", api.ImportJobViewSet, basename="import-job")
router.register("imports/lines", api.LineViewSet, basename="import-line")

urlpatterns = router.urls
