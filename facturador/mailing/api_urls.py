from rest_framework.routers import SimpleRouter

from facturador.mailing import api

router = SimpleRouter()
router.register("mail-sends", api.MailSendViewSet, basename="mail-send")

urlpatterns = router.urls
