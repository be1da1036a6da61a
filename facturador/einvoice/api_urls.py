from django.urls import path
from rest_framework.routers import SimpleRouter

from facturador.einvoice import api

router = SimpleRouter()
router.register("dian/documents", api.DianDocumentViewSet, basename="dian-document")
router.register("dian/operation-modes", api.OperationModeViewSet, basename="dian-operation-mode")
urlpatterns = [path("dian/acquirer/", api.AcquirerView.as_view(), name="dian-acquirer"), *router.urls]
