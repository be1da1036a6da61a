"""Where the platform may send requests on a tenant's behalf (DIAN's web service, PACs, SAT's CFDI status service and
certificate repository): no server-side
requests to arbitrary or private addresses.

A tenant administrator can type the DIAN endpoint of an operation mode and the PAC's URL; the workers then
POST signed documents there. `check_endpoint` is called when such an address is saved (the action refuses it)
and again right before each connection (a stored address, or one whose DNS answer changed, is refused):

- the address must be ``https`` to one of the service's known hosts (DIAN, Finkok, SW Sapien), or
- start with one of ``settings.FACTURADOR_ALLOWED_ENDPOINTS`` (a deployment's explicit choice, e.g. the local
  DIAN and PAC test services of the demo: ``http://127.0.0.1:8089``; an entry without a port allows any port);
- otherwise a host that resolves to a loopback, private, link-local, reserved or multicast address is refused.

Connection failures are reported to people generically (`CONNECTION_FAILED`), so error texts cannot be used to
probe which ports answer.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from facturador.core.errors import Invalid

KNOWN_HOSTS = {
    "dian": {"vpfe.dian.gov.co", "vpfe-hab.dian.gov.co"},
    "pac": {"facturacion.finkok.com", "demo-facturacion.finkok.com", "services.sw.com.mx",
            "services.test.sw.com.mx", "api.sw.com.mx", "api.test.sw.com.mx"},
    "sat": {"consultaqr.facturaelectronica.sat.gob.mx"},
    "sat_certificates": {"rdc.sat.gob.mx"},
}
SERVICE_NAMES = {"dian": "la DIAN", "pac": "el PAC", "sat": "el servicio de consulta del SAT",
                 "sat_certificates": "el repositorio de certificados del SAT"}
CONNECTION_FAILED = "No fue posible comunicarse con el servicio; intente más tarde o revise la configuración."


def _explicitly_allowed(url: str, parts) -> bool:
    for entry in settings.FACTURADOR_ALLOWED_ENDPOINTS:
        allowed = urlsplit(entry)
        if (allowed.scheme, allowed.hostname) != (parts.scheme, parts.hostname):
            continue
        if allowed.port is None or allowed.port == (parts.port or {"http": 80, "https": 443}.get(parts.scheme)):
            return True
    return False


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast
                or ip.is_unspecified)


def check_endpoint(url: str, *, service: str, field: str = "url", resolve: bool = True) -> str:
    """The URL if the platform may send `service` ("dian" or "pac") requests there; else a refusal."""
    url = (url or "").strip()
    parts = urlsplit(url)

    def refuse(reason: str):
        return Invalid("core.endpoint.not_allowed",
                       f"La dirección «{url}» no está permitida para {SERVICE_NAMES[service]}: {reason} "
                       "Si su instalación necesita otra, el administrador de la plataforma debe autorizarla "
                       "(FACTURADOR_ALLOWED_ENDPOINTS).", field=field)

    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise refuse("no es una dirección web válida.")
    if _explicitly_allowed(url, parts):
        return url
    if parts.scheme != "https":
        raise refuse("debe usar https.")
    if parts.hostname.lower() not in KNOWN_HOSTS[service]:
        raise refuse(f"use el servicio oficial ({', '.join(sorted(KNOWN_HOSTS[service]))}).")
    if resolve:
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            return url  # unresolvable now: the connection will fail, and say so generically
        if not all(_is_public(info[4][0]) for info in infos):
            raise refuse("apunta a una red privada.")
    return url


MAIL_SCHEMES = ("imap", "imaps")


def check_mail_server(host: str, port: int, *, tls: bool, field: str = "host", resolve: bool = True) -> str:
    """The host if the platform may connect to this mail (IMAP) server on a tenant's behalf; else a refusal.

    Mail servers are the tenant's own (no list of known hosts), so any public address is allowed, with TLS
    (IMAPS or STARTTLS). A private or loopback address, or no TLS, only when the deployment lists the server
    in ``FACTURADOR_ALLOWED_ENDPOINTS`` as ``imap://host[:port]`` (or ``imaps://``; no port: any port).
    """
    host = (host or "").strip().rstrip(".")

    def refuse(reason: str):
        return Invalid("core.endpoint.not_allowed",
                       f"El servidor de correo «{host}:{port}» no está permitido: {reason} Si su instalación "
                       "necesita otro, el administrador de la plataforma debe autorizarlo "
                       "(FACTURADOR_ALLOWED_ENDPOINTS, imap://servidor:puerto).", field=field)

    if not host or any(c in host for c in "/@?#[] ") or not 0 < int(port) < 65536:
        raise refuse("no es un servidor válido.")
    for entry in settings.FACTURADOR_ALLOWED_ENDPOINTS:
        allowed = urlsplit(entry)
        if allowed.scheme in MAIL_SCHEMES and (allowed.hostname or "").lower() == host.lower() \
                and allowed.port in (None, int(port)):
            return host
    if not tls:
        raise refuse("debe usar TLS (IMAPS o STARTTLS).")
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    if literal and not _is_public(host):
        raise refuse("apunta a una red privada.")
    if resolve and not literal:
        try:
            infos = socket.getaddrinfo(host, int(port), proto=socket.IPPROTO_TCP)
        except OSError:
            return host  # unresolvable now: the connection will fail, and say so generically
        if not all(_is_public(info[4][0]) for info in infos):
            raise refuse("apunta a una red privada.")
    return host
