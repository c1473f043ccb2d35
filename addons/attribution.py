"""Pipeline stage 1: which server a flow talks to, and where that server is.

The IP is the server connection's peer address: live, the address mitmproxy
connected to; replayed, the address recorded in the capture. A replayed flow
is never re-resolved, because today's DNS answer is not where the car's data
went then.
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import flow as mflow
from mitmproxy import http, tcp, udp

from shekara.addons import state
from shekara.audit.model import Destination, destination_to_dict
from shekara.geo.locate import Locator

log = logging.getLogger(__name__)

#: Stored forms kept for reuse (each entry keeps its Destination alive, so ids stay unique).
STORED_FORMS = 1024


def endpoint(f: mflow.Flow) -> tuple[str | None, str | None, int | None, str | None]:
    """(host, ip, port, sni) as the flow recorded them."""
    sc = f.server_conn
    ip: str | None = None
    port: int | None = None
    if sc.peername:
        ip, port = str(sc.peername[0]), int(sc.peername[1])
    host: str | None = None
    if sc.address:
        host = str(sc.address[0])
        port = port or int(sc.address[1])
    sni = sc.sni
    if isinstance(f, http.HTTPFlow):
        # The Host the device asked for; SNI normally agrees, and is kept alongside.
        host = f.request.pretty_host or sni or host
        port = port or f.request.port
    else:
        host = sni or host
    if ip is None and host and _is_ip(host):
        ip = host
    return host, ip, port, sni


def tls_organisations(f: mflow.Flow) -> tuple[str | None, str | None] | None:
    """(subject organisation, issuer organisation) of the server's certificate, if intercepted."""
    certs = f.server_conn.certificate_list
    if not certs:
        return None
    cert = certs[0]
    issuer = dict(cert.issuer).get("O")
    return cert.organization, issuer


def _is_ip(s: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


class Attribution:
    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        # The stored form of each destination the locator handed out lately, by identity:
        # the locator returns the same Destination for a server's repeated flows, and one
        # shared form spares every flow a fresh copy of the evidence for the collector to walk.
        self._stored: dict[int, tuple[Destination, dict[str, Any]]] = {}

    def _attribute(self, f: mflow.Flow) -> None:
        host, ip, port, sni = endpoint(f)
        current = state.destination(f)
        if current is not None and current.ip == ip:
            return
        try:
            dest = self.locator.locate(host, ip, port, sni, tls_organisations(f))
        except Exception:
            log.exception("geolocation failed for %s (%s)", host, ip)
            dest = Destination(host=host, ip=ip, port=port, sni=sni)
        state.set_destination(f, dest, self._stored_form(dest))

    def _stored_form(self, dest: Destination) -> dict[str, Any]:
        got = self._stored.get(id(dest))
        if got is None or got[0] is not dest:
            if len(self._stored) >= STORED_FORMS:
                self._stored.clear()
            got = self._stored[id(dest)] = (dest, destination_to_dict(dest))
        return got[1]

    # HTTP is analysed once the exchange is over: only then has a live flow's
    # server connection a peer address, and the car's request is not delayed.
    def response(self, f: http.HTTPFlow) -> None:
        self._attribute(f)

    def error(self, f: http.HTTPFlow) -> None:
        self._attribute(f)

    def websocket_message(self, f: http.HTTPFlow) -> None:
        self._attribute(f)

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        self._attribute(f)

    def udp_message(self, f: udp.UDPFlow) -> None:
        self._attribute(f)
