"""Demo only: the local DIAN service learns the numbering the demo's issuers register in step 7.

In real life DIAN learns an authorised range from MUISCA's form 1876 (and gives it its technical key), and
GetNumberingRange answers it afterwards. In the demo there is no MUISCA: `facturador serve --seed-demo` calls
`connect_local_dian` with the local service it started, so that registering the resolution in the wizard also
registers it in that service (its administration, not DIAN's WSDL). The product never does this: the receiver is
connected only by the demo, and only for issuers whose software talks to that local service.
"""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from facturador.habilitacion import signals

logger = logging.getLogger(__name__)

DISPATCH_UID = "habilitacion.demo.local_dian"


def seed(co_issuer, mx_issuer):
    """Nothing to seed: the demo's issuer walks the enablement from the start in the wizard (manual 002)."""


def _same_service(a: str, b: str) -> bool:
    ua, ub = urlparse(a or ""), urlparse(b or "")
    return (ua.hostname, ua.port) == (ub.hostname, ub.port) and bool(ua.hostname)


def tell_local_dian(sandbox, issuer, rng, mode) -> None:
    """Register ``rng`` (a production range of ``issuer``) as authorised for ``mode``'s software in ``sandbox``
    (a `dian.sandbox.DianSandbox`, or a `SandboxAdmin` for one running elsewhere)."""
    sandbox.register_range(issuer.tax_id, rng.prefix, rng.range_from, rng.range_to, software_id=mode.software_id,
                           resolution_number=rng.resolution_number, resolution_date=rng.valid_from.isoformat(),
                           valid_date_from=rng.valid_from.isoformat(), valid_date_to=rng.valid_to.isoformat())
    logger.info("Demo: local DIAN service told of %s's authorised range %s", issuer, rng)


def connect_local_dian(sandbox, url: str) -> None:
    """Demo wiring: ranges registered from now on by issuers whose software uses the local service at ``url``
    are registered in ``sandbox`` too; those registered before (an existing demo database) are registered now."""
    from facturador.habilitacion.models import Enablement
    from facturador.habilitacion.services import current_mode

    def on_resolution(sender, issuer, numbering_range, mode, **kwargs):
        if mode is not None and _same_service(mode.url, url):
            tell_local_dian(sandbox, issuer, numbering_range, mode)

    signals.resolution_registered.connect(on_resolution, weak=False, dispatch_uid=DISPATCH_UID)
    for en in Enablement.objects.filter(production_range__isnull=False).select_related("issuer", "production_range"):
        mode = current_mode(en.issuer)
        if mode is not None and _same_service(mode.url, url):
            tell_local_dian(sandbox, en.issuer, en.production_range, mode)


def disconnect_local_dian() -> None:
    signals.resolution_registered.disconnect(dispatch_uid=DISPATCH_UID)
