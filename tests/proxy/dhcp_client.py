"""A device joining the audit Wi-Fi, run inside the car namespace: DHCP, then DNS and TCP.

argv: interface, MAC address, DHCP host name, a name to resolve, a TCP server
(ip:port) to send one line to. A real DHCP exchange (DISCOVER, OFFER,
REQUEST, ACK) with scapy, the leased address configured on the interface,
then a DNS query to the name server the lease gave and a line over TCP.
Prints one JSON object: the lease and the answers.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import subprocess
import sys
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, mac2str, srp1

iface, mac, hostname, name, tcp_server = sys.argv[1:6]
conf.checkIPaddr = False  # replies come from the server's address, not the broadcast's
subprocess.run(["ip", "link", "set", iface, "address", mac], check=True)


def options(packet: Any) -> dict[str, Any]:
    return {o[0]: o[1] for o in packet[DHCP].options if isinstance(o, tuple)}


def exchange(xid: int, dhcp_options: list[Any], expect: str) -> Any:
    request = (
        Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(chaddr=mac2str(mac), xid=xid, flags=0x8000)
        / DHCP(options=[*dhcp_options, ("hostname", hostname), "end"])
    )
    reply = srp1(request, iface=iface, timeout=3, retry=3, verbose=False)
    if reply is None or DHCP not in reply:
        sys.exit(f"no DHCP {expect} on {iface}")
    kinds = {2: "offer", 5: "ack", 6: "nak"}
    got = kinds.get(options(reply).get("message-type"), "?")
    if got != expect:
        sys.exit(f"DHCP {got} instead of {expect}: {reply.summary()}")
    return reply


xid = random.getrandbits(32)
offer = exchange(xid, [("message-type", "discover")], "offer")
offered = offer[BOOTP].yiaddr
server_id = options(offer)["server_id"]
ack = exchange(
    xid,
    [("message-type", "request"), ("requested_addr", offered), ("server_id", server_id)],
    "ack",
)
lease = options(ack)
address = ack[BOOTP].yiaddr
prefix = ipaddress.IPv4Network(f"0.0.0.0/{lease['subnet_mask']}").prefixlen
routers = lease.get("router")
name_servers = lease.get("name_server")
router = routers[0] if isinstance(routers, list) else routers
name_server = name_servers[0] if isinstance(name_servers, list) else name_servers
subprocess.run(["ip", "addr", "add", f"{address}/{prefix}", "dev", iface], check=True)
subprocess.run(["ip", "route", "add", "default", "via", router], check=True)

answer = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), name_server, timeout=10)
resolved = sorted(rr.address for rrset in answer.answer for rr in rrset)

host, port = tcp_server.rsplit(":", 1)
with socket.create_connection((host, int(port)), timeout=10) as s:
    # Not led by letters, as telematics protocols are not: the proxy would take it for HTTP.
    s.sendall(b"01 car report\n")
    reply = s.makefile("rb").readline().decode().strip()

print(
    json.dumps(
        {
            "address": address,
            "prefix": prefix,
            "router": router,
            "name_server": name_server,
            "server_id": server_id,
            "lease_time": lease.get("lease_time"),
            "resolved": resolved,
            "tcp": reply,
        }
    )
)
