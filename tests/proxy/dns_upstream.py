"""The Wi-Fi lab's 'internet': a name server and a line server, run inside its namespace.

argv: address to listen on, JSON map of name -> IPv4 address, TCP port of the
line server. The name server answers A queries from the map (NXDOMAIN
otherwise) on UDP port 53; the line server answers every line with "ok".
Prints "ready" once both listen.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

address, names_json, tcp_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = {k.rstrip(".").lower(): v for k, v in json.loads(names_json).items()}


def answer(wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    for q in query.question:
        ip = names.get(q.name.to_text().rstrip(".").lower())
        if ip is not None and q.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", ip))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
    return response.to_wire()


class Lines(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for _line in self.rfile:
            self.wfile.write(b"ok\n")


udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((address, 53))
lines = socketserver.ThreadingTCPServer((address, tcp_port), Lines)
lines.daemon_threads = True
threading.Thread(target=lines.serve_forever, daemon=True).start()
print("ready", flush=True)
while True:
    wire, peer = udp.recvfrom(4096)
    try:
        udp.sendto(answer(wire), peer)
    except Exception as exc:  # a bad query must not stop the server
        print(f"bad query from {peer}: {exc}", file=sys.stderr, flush=True)
