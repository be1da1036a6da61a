"""Main navigation. An entry whose URL is not installed yet shows as unavailable."""

from django.urls import NoReverseMatch, reverse

SECTIONS = [
    ("Inicio", [("Panel", "core:dashboard")]),
    ("Colombia — DIAN", [
        ("Documentos electrónicos", "einvoice:list"),
        ("Habilitación DIAN", "habilitacion:wizard"),
    ]),
    ("Facturación masiva", [
        ("Importación de datos", "imports:queue"),
        ("Cuentas y cartera", "billing:accounts"),
        ("Lotes de facturación", "billing:batches"),
        ("Plantillas de factura", "billing:templates"),
    ]),
    ("Envíos de correo", [("Envíos masivos", "mailing:list")]),
    ("México — CFDI", [
        ("Tickets y autofacturación", "portal:backoffice"),
    ]),
    ("Configuración", [
        ("Emisor", "core:issuer"),
        ("Sucursales", "core:branches"),
        ("Certificados", "core:certificates"),
        ("Numeraciones", "core:numbering"),
        ("Tareas en segundo plano", "core:jobs"),
        ("Auditoría", "core:audit"),
        ("API y token", "core:api_token"),
    ]),
]


def build(current_path=""):
    out = []
    for title, entries in SECTIONS:
        items = []
        for label, name in entries:
            try:
                url = reverse(name)
            except NoReverseMatch:
                url = None
            items.append({"label": label, "url": url, "active": bool(url) and current_path.startswith(url) and url != "/"})
        out.append({"title": title, "items": items})
    return out
