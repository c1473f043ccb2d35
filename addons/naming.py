"""Pipeline stage 0: the names the device reached each IP under, from its own DNS answers.

Live (the proxy's DNS mode) and replayed (captures with DNS flows) answers
arrive as mitmproxy DNSFlows; this is the one place names are learned. A
later flow to one of those IPs carries the names, and the CNAME chains that
led there, as evidence of where its server is.
"""

from __future__ import annotations

import logging
import time

from mitmproxy import dns

from shekara.geo.names import DEVICE_DNS, NameBook

log = logging.getLogger(__name__)

_A, _CNAME, _AAAA = 1, 5, 28


def answers_of(msg: dns.DNSMessage) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(CNAME alias → target, [(owner, ip)]) of one DNS response; other records are skipped."""
    cnames: dict[str, str] = {}
    addresses: list[tuple[str, str]] = []
    for rr in msg.answers:
        try:
            if rr.type == _A:
                addresses.append((rr.name, str(rr.ipv4_address)))
            elif rr.type == _AAAA:
                addresses.append((rr.name, str(rr.ipv6_address)))
            elif rr.type == _CNAME:
                cnames[rr.name] = rr.domain_name
        except (ValueError, IndexError, UnicodeError) as e:
            # A malformed record in the device's traffic: skipped, the rest still counts.
            log.debug("skipping a malformed %s record for %r: %s", rr.type, rr.name, e)
    return cnames, addresses


class Naming:
    def __init__(self, names: NameBook) -> None:
        self.names = names

    def dns_response(self, f: dns.DNSFlow) -> None:
        if f.response is None:
            return
        try:
            cnames, addresses = answers_of(f.response)
            if addresses:
                seen = f.response.timestamp or time.time()
                self.names.learn(cnames, addresses, how=DEVICE_DNS, seen_at=seen)
        except Exception:
            # Fail open: a name we could not learn must never stop the device's DNS.
            log.exception("could not learn names from DNS flow %s", f.id)
