"""Registers the app's job handlers ("billing.batch", "billing.batch_render")."""

from facturador.billing import batch  # noqa: F401
