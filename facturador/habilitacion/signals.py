"""Signals of the enablement: what other parts may react to without the actions knowing them.

``resolution_registered(sender=Enablement, issuer, numbering_range, mode)`` — the issuer registered a numbering
DIAN authorised with form 1876 (`actions.register_resolution`), sent once its transaction is committed.
The demo connects a receiver that tells the local DIAN service (`habilitacion.demo`); the product itself
connects none."""

from django.dispatch import Signal

resolution_registered = Signal()
