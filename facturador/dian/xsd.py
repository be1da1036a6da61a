"""XSD validation against DIAN's validation-kit schemas (UBL 2.1 + DIAN extensions + XAdES).

Two quirks of the kit (shared/reference/dian.md §2.2) are handled without touching the schema files:
1. ``DIAN_UBL_Structures.xsd`` is not imported by the UBL schemas, so ``sts:DianExtensions`` (inside the lax
   ``ext:ExtensionContent``) would go unchecked: a wrapper schema, compiled in a temporary directory, imports
   the three UBL document schemas and the DIAN extension schema together.
2. Its ``coID2Type`` enumerates ``schemeID`` as document-type codes while every accepted document puts the NIT
   check digit there: the wrapper uses a copy of the DIAN schema (in the temporary directory) in which that one
   attribute is relaxed to a string of 0-2 digits.
"""

from __future__ import annotations

import pathlib
import tempfile
import threading

from lxml import etree

from ._read import doctype_problem
from .ns import EXT, ROOT, STS

XS = "http://www.w3.org/2001/XMLSchema"
_DOCS = {ROOT[name]: f"maindoc/UBL-{name}-2.1.xsd" for name in ROOT}
_EXT = EXT
_EXT_CONTENT = f"{{{_EXT}}}UBLExtensions/{{{_EXT}}}UBLExtension/{{{_EXT}}}ExtensionContent"
_DIAN_NS = STS
_cache: dict[str, etree.XMLSchema] = {}
_lock = threading.Lock()


class SchemaDirError(ValueError):
    def __init__(self, path):
        super().__init__(f"DIAN schema directory not usable: {path}")
        self.code = "xsd_dir"
        self.field = "schema_dir"
        self.message = f"No se encuentran los esquemas XSD de la DIAN en {path}."


def _patched_dian_schema(schema_dir: pathlib.Path) -> bytes:
    tree = etree.parse(str(schema_dir / "maindoc" / "DIAN_UBL_Structures.xsd"))
    root = tree.getroot()
    for imp in root.iter("{%s}import" % XS, "{%s}include" % XS):
        loc = imp.get("schemaLocation")
        if loc:
            imp.set("schemaLocation", (schema_dir / "maindoc" / loc).resolve().as_uri())
    for ct in root.iter("{%s}complexType" % XS):
        if ct.get("name") != "coID2Type":
            continue
        for attr in ct.iter("{%s}attribute" % XS):
            if attr.get("name") == "schemeID":
                for child in list(attr):
                    if child.tag == "{%s}simpleType" % XS:
                        attr.remove(child)
                st = etree.SubElement(attr, "{%s}simpleType" % XS)
                etree.SubElement(etree.SubElement(st, "{%s}restriction" % XS, base="xsd:string"),
                                 "{%s}pattern" % XS, value="[0-9]{0,2}")
    return etree.tostring(tree)


def load_schema(schema_dir) -> etree.XMLSchema:
    """Compile (once per process and directory) the wrapper schema."""
    key = str(pathlib.Path(schema_dir).resolve())
    with _lock:
        if key in _cache:
            return _cache[key]
        base = pathlib.Path(key)
        if not (base / "maindoc" / "UBL-Invoice-2.1.xsd").is_file():
            raise SchemaDirError(schema_dir)
        with tempfile.TemporaryDirectory(prefix="dian-xsd-") as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "dian.xsd").write_bytes(_patched_dian_schema(base))
            imports = "".join(f'<xs:import namespace="{ns}" schemaLocation="{(base / rel).as_uri()}"/>'
                              for ns, rel in _DOCS.items() if (base / rel).is_file())
            imports += f'<xs:import namespace="{_DIAN_NS}" schemaLocation="{(tmp / "dian.xsd").as_uri()}"/>'
            wrapper = f'<xs:schema xmlns:xs="{XS}">{imports}</xs:schema>'
            (tmp / "wrapper.xsd").write_text(wrapper)
            schema = etree.XMLSchema(etree.parse(str(tmp / "wrapper.xsd")))
        _cache[key] = schema
        return schema


def validate_xsd(xml_bytes: bytes, schema_dir, allow_unsigned: bool = False) -> list[str]:
    """Validate a DIAN document; return a list of error strings ("line N PATH: message"), empty when valid.

    ``allow_unsigned``: an unsigned document (empty signature placeholder ``ext:UBLExtension``) is validated
    without that placeholder, which the XSD would otherwise reject.
    """
    schema = load_schema(schema_dir)
    try:
        tree = etree.fromstring(xml_bytes, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: XML mal formado: {exc.msg}"]
    problem = doctype_problem(tree)
    if problem:  # entity references left unexpanded make libxml2's validator fail with an internal error
        return [f"line 1: {problem}"]
    if allow_unsigned:
        for content in tree.iterfind(_EXT_CONTENT):
            if len(content) == 0 and not (content.text or "").strip():
                ext = content.getparent()
                ext.getparent().remove(ext)
    try:
        if schema.validate(tree):
            return []
    except etree.XMLSchemaValidateError as exc:  # e.g. an entity reference node: report, never raise
        return [f"line 1: el validador XSD no pudo procesar el documento ({exc})."]
    return [f"line {e.line} {e.path}: {e.message}" for e in schema.error_log]

