"""Resolution at audit time with dnspython: names, CNAME chains and PTR names.

Used when the device's own DNS traffic was not seen, and recorded as such
(``audit-resolution``): today's answer is not necessarily where the device's
data went. The server may be given (``--dns-server``), so tests and
air-gapped stations ask a resolver of their choosing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a resolver said about one name: CNAMEs (alias → target) and (owner, ip) pairs."""

    name: str
    cnames: dict[str, str]
    addresses: tuple[tuple[str, str], ...]
    error: str | None = None


def parse_server(text: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``[::1]:5353`` → (address, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


class DnsLookup:
    def __init__(self, server: str | None = None, timeout: float = 2.0) -> None:
        if server:
            host, port = parse_server(server)
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [host]
            self.resolver.port = port
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.lifetime = timeout
        self.resolver.timeout = timeout

    def resolve(self, name: str) -> Resolution:
        cnames: dict[str, str] = {}
        addresses: list[tuple[str, str]] = []
        errors: list[str] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                answer = self.resolver.resolve(name, rdtype, search=False)
            except dns.resolver.NoAnswer as e:
                if e.response() is not None:
                    _collect(e.response(), cnames, addresses)
                continue
            except (dns.exception.DNSException, OSError) as e:
                errors.append(f"{dns.rdatatype.to_text(rdtype)}: {type(e).__name__}: {e}")
                continue
            if answer.response is not None:
                _collect(answer.response, cnames, addresses)
        return Resolution(
            name.rstrip(".").lower(),
            cnames,
            tuple(dict.fromkeys(addresses)),
            "; ".join(errors) if errors and not addresses else None,
        )

    def ptr(self, ip: str) -> tuple[str, ...]:
        try:
            answer = self.resolver.resolve(dns.reversename.from_address(ip), "PTR")
        except (dns.exception.DNSException, OSError, ValueError):
            return ()
        return tuple(str(r.target).rstrip(".").lower() for r in answer)  # type: ignore[attr-defined]


def _collect(msg: object, cnames: dict[str, str], addresses: list[tuple[str, str]]) -> None:
    for rrset in getattr(msg, "answer", ()):
        owner = str(rrset.name).rstrip(".").lower()
        for rd in rrset:
            if rrset.rdtype == dns.rdatatype.CNAME:
                cnames[owner] = str(rd.target).rstrip(".").lower()
            elif rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                addresses.append((owner, rd.address))
