"""CFDI 4.0 (Mexico) library: CSD loading, building and sealing, PAC clients, a local test PAC,
verification, QR URL and PDF. Pure Python — no Django imports here."""
