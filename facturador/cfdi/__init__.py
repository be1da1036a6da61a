"""CFDI 4.0 (Mexico) library: CSD loading, building and sealing, PAC clients, a local test PAC,
independent verification, QR URL and PDF. Pure Python — no Django imports here.

Modules: ``csd`` (load_csd), ``build`` (build_invoice, build_credit_note, build_payment,
build_global_invoice), ``pac`` (Pac, FinkokPac, SwSapienPac, PacError, PacTimeout), ``sandbox``
(PacSandbox, main), ``verify`` (verify_cfdi), ``qr`` (verification_url), ``pdf`` (cfdi_pdf),
``catalogs`` (usos_cfdi_for_regimen), ``xml`` (validate_xsd, cadena_original).
"""

from .catalogs import usos_cfdi_for_regimen
from .errors import CfdiError, CfdiValidationError, CsdError, SchemaError

__all__ = ["usos_cfdi_for_regimen", "CfdiError", "CfdiValidationError", "CsdError", "SchemaError"]
