"""XML namespaces of DIAN's documents (UBL 2.1 + DIAN extensions + XMLDSig/XAdES): the one place they live.

>>> NS["cbc"]
'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'
>>> ROOT["ApplicationResponse"]
'urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2'
"""

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
STS = "dian:gov:co:facturaelectronica:Structures-2-1"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"

# prefix -> namespace, for lxml's find/xpath and for building
NS = {"cac": CAC, "cbc": CBC, "ext": EXT, "sts": STS, "ds": DS, "xades": XADES, "xades141": XADES141}

# root element local name -> its UBL namespace
ROOT = {name: f"urn:oasis:names:specification:ubl:schema:xsd:{name}-2"
        for name in ("Invoice", "CreditNote", "DebitNote", "ApplicationResponse", "AttachedDocument")}

# path of DIAN's extension block inside a document
DIAN_EXTENSIONS = "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions"
