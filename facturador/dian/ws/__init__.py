"""DIAN web service (WcfDianCustomerServices) client: SOAP 1.2 + WS-Security, file naming and zips.

Pure Python (no Django). ``facturador.dian.sandbox`` is a local stand-in for the service, used by the tests.
"""

from .client import (ENDPOINTS, HABILITACION_URL, PRODUCTION_URL, DianClient, DianSoapFault, DianStillProcessing,
                     DianTransportError, endpoint_for)
from .packaging import (document_filename, make_zip, make_zip_many, parse_filename, read_zip, xml_from_zip,
                        zip_filename)
from .responses import (AcquirerResponse, DianResponse, DocumentInfo, DocumentInfoResponse, EventInfo,
                        ExchangeEmailsResponse, NoteInfo, NumberingRange, NumberingRangeResponse, RuleMessage,
                        TrackIdMessage, UploadResponse, XmlDocumentResponse)

__all__ = [
    "ENDPOINTS", "HABILITACION_URL", "PRODUCTION_URL", "DianClient", "DianSoapFault", "DianStillProcessing",
    "DianTransportError", "endpoint_for", "document_filename", "make_zip", "make_zip_many", "parse_filename",
    "read_zip", "xml_from_zip", "zip_filename", "DianResponse", "NumberingRange", "NumberingRangeResponse",
    "RuleMessage", "TrackIdMessage", "UploadResponse", "XmlDocumentResponse", "AcquirerResponse", "DocumentInfo",
    "DocumentInfoResponse", "EventInfo", "ExchangeEmailsResponse", "NoteInfo",
]
