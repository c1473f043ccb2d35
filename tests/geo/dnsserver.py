"""A small authoritative DNS server on loopback for tests, answering from a dict with dnspython."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

# name -> list of (type, value): ("CNAME", "target."), ("A", "1.2.3.4"), ("PTR", "x.example.")
Zone = Mapping[str, Sequence[tuple[str, str]]]


def _answer(query: dns.message.Message, zone: Zone) -> dns.message.Message:
    response = dns.message.make_response(query)
    q = query.question[0]
    name = q.name.to_text().lower()
    qtype = dns.rdatatype.to_text(q.rdtype)
    seen = 0
    while seen < 8:
        seen += 1
        records = zone.get(name, ())
        if not records:
            if seen == 1:
                response.set_rcode(dns.rcode.NXDOMAIN)
            break
        cname = [v for t, v in records if t == "CNAME"]
        if cname and qtype != "CNAME":
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "CNAME", cname[0]))
            name = cname[0].lower()
            continue
        values = [v for t, v in records if t == qtype]
        if values:
            response.answer.append(dns.rrset.from_text(name, 60, "IN", qtype, *values))
        break
    return response


@contextmanager
def dns_server(zone: Zone) -> Iterator[str]:
    """Serve ``zone`` over UDP on 127.0.0.1; yields ``127.0.0.1:port``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = _answer(dns.message.from_wire(data), zone)
            except Exception:
                continue
            sock.sendto(reply.to_wire(), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        t.join(2)
        sock.close()
