from rest_framework.routers import SimpleRouter

from facturador.portal import api

router = SimpleRouter()
router.register("portal/tickets", api.TicketViewSet, basename="portal-ticket")
router.register("portal/cfdi", api.CfdiViewSet, basename="portal-cfdi")
urlpatterns = router.urls
