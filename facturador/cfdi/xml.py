"""XSD validation and cadena original with lxml/libxslt over the SAT files that satcfdi ships.

Only the *files* of satcfdi are used here (XSD/XSLT), not its objects, so this path is
independent of satcfdi's own serialisation.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

from lxml import etree

from .errors import SchemaError

NS_CFDI = "http://www.sat.gob.mx/cfd/4"
NS_TFD = "http://www.sat.gob.mx/TimbreFiscalDigital"
NS_PAGO20 = "http://www.sat.gob.mx/Pagos20"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"cfdi": NS_CFDI, "tfd": NS_TFD, "pago20": NS_PAGO20}


def schema_root() -> str:
    import satcfdi.transform as T  # only to locate the shipped SAT files
    return T.SCHEMA_ROOT


def sat_file(rel: str) -> str:
    return os.path.join(schema_root(), "www.sat.gob.mx", "sitio_internet", "cfd", rel)


XSD_FILES = {
    NS_CFDI: "4/cfdv40.xsd",
    NS_TFD: "TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd",
    NS_PAGO20: "Pagos/Pagos20.xsd",
}
XSLT_CFDI40 = "4/cadenaoriginal_4_0/cadenaoriginal_4_0.xslt"
XSLT_TFD11 = "TimbreFiscalDigital/cadenaoriginal_TFD_1_1.xslt"

# Compiled once per process and shared; calls are serialised with a lock (validation and the
# transform take ~1-2 ms, and short-lived server threads would otherwise recompile them).
_lock = threading.RLock()
_cache: dict = {}


@lru_cache(maxsize=1)
def _schema_doc() -> bytes:
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{"file://" + sat_file(rel)}"/>'
        for ns, rel in XSD_FILES.items())
    return ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">' + imports + "</xs:schema>").encode()


def _schema() -> etree.XMLSchema:
    s = _cache.get("schema")
    if s is None:
        s = _cache["schema"] = etree.XMLSchema(etree.fromstring(_schema_doc()))
    return s


def validate_xsd(doc) -> None:
    """Validate a CFDI 4.0 (bytes or element) against cfdv40 + TFD 1.1 + Pagos 2.0 XSDs.

    Raises :class:`SchemaError` listing lxml's messages.
    """
    if isinstance(doc, (bytes, str)):
        doc = parse(doc)
    with _lock:
        schema = _schema()
        if schema.validate(doc):
            return
        errors = [f"línea {e.line}: {e.message}" for e in schema.error_log]
    raise SchemaError(errors)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)


def parse(xml: bytes | str) -> etree._Element:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    try:
        return etree.fromstring(xml, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SchemaError([str(exc)], code="xml_mal_formado") from exc


def _xslt(rel: str) -> etree.XSLT:
    t = _cache.get(rel)
    if t is None:
        t = _cache[rel] = etree.XSLT(etree.parse(sat_file(rel)))
    return t


def cadena_original(doc) -> str:
    """Cadena original of a CFDI 4.0 Comprobante (SAT XSLT via libxslt)."""
    if isinstance(doc, (bytes, str)):
        doc = parse(doc)
    with _lock:
        return str(_xslt(XSLT_CFDI40)(doc))


def cadena_original_tfd(tfd) -> str:
    """Cadena original of a TimbreFiscalDigital 1.1 element (it is re-rooted first)."""
    if isinstance(tfd, (bytes, str)):
        tfd = parse(tfd)
    else:
        tfd = etree.fromstring(etree.tostring(tfd))
    with _lock:
        return str(_xslt(XSLT_TFD11)(tfd))
