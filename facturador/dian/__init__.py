"""DIAN (Colombia) electronic invoicing documents: UBL 2.1 per Anexo Técnico 1.9.

Pure Python (no Django). Modules: model, totals, cufe, ubl, xsd, xades, verify, validate, jsonio, cli.
"""
