"""Main navigation. An entry whose URL is not installed yet shows as unavailable."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

SECTIONS = [
    (_("Inicio"), [(_("Panel"), "core:dashboard")]),
    (_("Colombia — DIAN"), [
        (_("Documentos electrónicos"), "einvoice:list"),
        (_("Habilitación DIAN"), "habilitacion:wizard"),
    ]),
    (_("Recepción"), [
        (_("Documentos recibidos"), "reception:inbox"),
        (_("Buzón de recepción"), "reception:mailbox"),
    ]),
    (_("Facturación masiva"), [
        (_("Importación de datos"), "imports:queue"),
        (_("Cuentas y cartera"), "billing:accounts"),
        (_("Lotes de facturación"), "billing:batches"),
        (_("Plantillas de factura"), "billing:templates"),
    ]),
    (_("Envíos de correo"), [(_("Envíos masivos"), "mailing:list")]),
    (_("México — CFDI"), [
        (_("Tickets y autofacturación"), "portal:backoffice"),
    ]),
    (_("Configuración"), [
        (_("Emisor"), "core:issuer"),
        (_("Sucursales"), "core:branches"),
        (_("Certificados"), "core:certificates"),
        (_("Numeraciones"), "core:numbering"),
        (_("Tareas en segundo plano"), "core:jobs"),
        (_("Auditoría"), "core:audit"),
        (_("API y token"), "core:api_token"),
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
