"""Billing API, mounted under /api/v1/issuers/<issuer_pk>/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from facturador.billing import api

router = SimpleRouter()
router.register("billing/accounts", api.AccountViewSet, basename="billing-account")
router.register("billing/charges", api.ChargeViewSet, basename="billing-charge")
router.register("billing/templates", api.TemplateViewSet, basename="billing-template")
router.register("billing/batches", api.BatchViewSet, basename="billing-batch")
router.register("billing/payment-files", api.PaymentFileViewSet, basename="billing-payment-file")
router.register("billing/cartera", api.CarteraViewSet, basename="billing-cartera")
router.register("billing/tariffs", api.TariffViewSet, basename="billing-tariff")

urlpatterns = [path("billing/settings/", api.BillingSettingsView.as_view(), name="billing-settings"), *router.urls]
