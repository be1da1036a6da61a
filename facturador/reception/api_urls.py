from rest_framework.routers import SimpleRouter

from facturador.reception import api

router = SimpleRouter()
router.register("received", api.ReceivedDocumentViewSet, basename="received-document")
router.register("received-intakes", api.IntakeViewSet, basename="received-intake")

urlpatterns = router.urls
