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


# The SAT catalogs with tens of thousands of xs:enumeration values make libxml2's validation slow
# (a linear scan per attribute: ~15 ms per CFDI for c_CodigoPostal and c_ClaveProdServ). The fast
# schema is the same set of XSDs with those enumerations lifted out of catCFDI.xsd (in memory) and
# checked against Python sets instead; the verdict is the same (tests compare both).
BIG_CATALOGS = ("c_CodigoPostal", "c_ClaveProdServ", "c_ClaveUnidad", "c_Colonia", "c_Municipio")
# (element path, attribute, catalog) of the CFDI 4.0 attributes typed with those catalogs
_CATALOG_ATTRS = (
    ("/cfdi:Comprobante", "LugarExpedicion", "c_CodigoPostal"),
    ("/cfdi:Comprobante/cfdi:Conceptos/cfdi:Concepto", "ClaveProdServ", "c_ClaveProdServ"),
    ("/cfdi:Comprobante/cfdi:Conceptos/cfdi:Concepto", "ClaveUnidad", "c_ClaveUnidad"),
    ("/cfdi:Comprobante/cfdi:Conceptos/cfdi:Concepto/cfdi:Parte", "ClaveProdServ", "c_ClaveProdServ"),
)
_XS = "{http://www.w3.org/2001/XMLSchema}"


@lru_cache(maxsize=1)
def _lean_catalogs() -> tuple[bytes, dict]:
    tree = etree.parse(sat_file("catalogos/catCFDI.xsd"))
    values: dict[str, frozenset] = {}
    for st in tree.getroot().iter(_XS + "simpleType"):
        if st.get("name") in BIG_CATALOGS:
            restriction = st.find(_XS + "restriction")
            enums = restriction.findall(_XS + "enumeration")
            values[st.get("name")] = frozenset(e.get("value") for e in enums)
            for e in enums:
                restriction.remove(e)
    return etree.tostring(tree), values


class _LeanResolver(etree.Resolver):
    def resolve(self, url, pubid, context):
        if url and url.replace("\\", "/").endswith("/catalogos/catCFDI.xsd"):
            return self.resolve_string(_lean_catalogs()[0], context, base_url=url)
        return None


def _schema_fast() -> etree.XMLSchema:
    s = _cache.get("schema_fast")
    if s is None:
        parser = etree.XMLParser()
        parser.resolvers.add(_LeanResolver())
        s = _cache["schema_fast"] = etree.XMLSchema(etree.fromstring(_schema_doc(), parser))
    return s


def catalog_values(name: str) -> frozenset:
    """All keys of one of SAT's big catalogs (c_CodigoPostal, c_ClaveProdServ, c_ClaveUnidad, ...)."""
    return _lean_catalogs()[1][name]


def validate_xsd(doc, *, full: bool = False) -> None:
    """Validate a CFDI 4.0 (bytes or element) against cfdv40 + TFD 1.1 + Pagos 2.0 XSDs.

    ``full=True`` uses SAT's files untouched; the default uses the same schemas with the five
    huge catalog enumerations checked through Python sets (same verdict, several times faster).
    Raises :class:`SchemaError` listing the messages.
    """
    if isinstance(doc, (bytes, str)):
        doc = parse(doc)
    with _lock:
        schema = _schema() if full else _schema_fast()
        ok = schema.validate(doc)
        errors = [] if ok else [f"línea {e.line}: {e.message}" for e in schema.error_log]
    if not full and doc.tag == f"{{{NS_CFDI}}}Comprobante":
        values = _lean_catalogs()[1]
        for path, attr, catalog in _CATALOG_ATTRS:
            for el in doc.xpath(path, namespaces=NS):
                v = el.get(attr)
                if v is not None and " ".join(v.split()) not in values[catalog]:
                    errors.append(f"línea {el.sourceline}: Element '{etree.QName(el).localname}', attribute "
                                  f"'{attr}': [facet 'enumeration'] The value '{v}' is not an element of "
                                  f"the set of catalog {catalog}.")
    if errors:
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
