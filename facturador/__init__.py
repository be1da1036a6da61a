"""Facturador: electronic invoicing and mass billing for Colombia (DIAN) and Mexico (SAT).

This package must stay importable without Django: the standards libraries
(`facturador.dian`, `facturador.cfdi`, `facturador.printing`, ...) live here too.
"""

__version__ = "0.1.0"
