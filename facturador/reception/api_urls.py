from rest_framework.routers import SimpleRouter

from facturador.reception import api

router = SimpleRouter()
router.register("received", api.ReceivedDocumentViewSet, basename="received-document")
router.register("received-intakes", api.IntakeViewSet, basename="received-intake")
router.register("received-events", api.ReceptionEventViewSet, basename="received-event")

urlpatterns = router.urls
