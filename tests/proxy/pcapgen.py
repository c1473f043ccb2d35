"""Packet captures written with scapy, and the equivalent mitmproxy flow file, from one script.

A conversation is what a device and a server said to each other; it is
written once as TCP/UDP packets (handshake, segments split, reordered and
retransmitted at will, teardown) and once as the mitmproxy flows a proxy
would have recorded, so a replay of either must give the same findings.
"""

from __future__ import annotations

import json
import random
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mitmproxy import connection, http, io, tcp, udp
from mitmproxy.connection import ConnectionState
from mitmproxy.net.http.http1.assemble import assemble_request, assemble_response
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS
from scapy.packet import Packet, Raw
from scapy.utils import PcapNgWriter, PcapWriter

DATA = Path(__file__).resolve().parents[1] / "data" / "protocol_samples"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "captures"))

from samplegen import mqtt  # noqa: E402

T0 = 1_732_000_000.0
DEVICE = "10.42.0.17"
DEVICE6 = "fd00:42::17"
RESOLVER = "10.42.0.1"
# Fixed addresses: scapy would otherwise look the MAC of each destination up.
DEV_MAC = "02:00:00:00:00:17"
GW_MAC = "02:00:00:00:00:01"
VIN = "LSVAU218XN2183294"
PHONE = "+77011234567"


def sample(name: str, index: int = 0) -> bytes:
    return bytes.fromhex(json.loads((DATA / f"{name}.json").read_text())["samples"][index]["hex"])


def teltonika_datagram(imei: str = "356307042441013") -> bytes:
    """A Teltonika AVL datagram (UDP) around the real Codec 8 record of the samples."""
    samples = json.loads((DATA / "teltonika.json").read_text())["samples"]
    [tcp_frame] = [
        bytes.fromhex(x["hex_or_text"]) for x in samples if x["protocol"] == "Teltonika Codec 8"
    ]
    body = b"\xca\xfe\x01\x07" + len(imei).to_bytes(2, "big") + imei.encode() + tcp_frame[8:-4]
    return len(body).to_bytes(2, "big") + body


@dataclass
class Conversation:
    host: str
    ip: str
    port: int
    up: list[bytes]
    down: list[bytes] = field(default_factory=list)
    kind: str = "tcp"  # tcp | http | tls | udp
    # For HTTP: the mitmproxy messages the bytes were assembled from.
    requests: list[http.Request] = field(default_factory=list)
    responses: list[http.Response] = field(default_factory=list)
    client_port: int = 0
    segment: int = 40  # bytes a segment: small, so messages span several
    shuffle: bool = False  # send each message's segments out of order
    retransmit: bool = False  # send some segments twice
    drop: int | None = None  # index (in the client's stream) of a segment never sent
    resolve: bool = True  # a DNS answer for host precedes the connection


def http_conversation(
    host: str, ip: str, method: str, path: str, body: bytes, ctype: str, **kw: object
) -> Conversation:
    req = http.Request.make(
        method,
        f"http://{host}{path}",
        body,
        http.Headers(Host=host, content_type=ctype, user_agent="okhttp/4.12.0"),
    )
    resp = http.Response.make(200, b'{"ok":true}', {"Content-Type": "application/json"})
    return Conversation(
        host,
        ip,
        80,
        [assemble_request(req)],
        [assemble_response(resp)],
        kind="http",
        requests=[req],
        responses=[resp],
        **kw,  # type: ignore[arg-type]
    )


def client_hello(sni: str) -> bytes:
    hello = TLSClientHello(
        ciphers=[0x1301, 0x1302, 0xC02F],
        ext=[TLS_Ext_ServerName(servernames=[ServerName(servername=sni.encode())])],
    )
    return bytes(TLS(msg=[hello]))


def standard_conversations() -> list[Conversation]:
    """DNS-named HTTP split and reordered, MQTT, GB/T 32960, JT/T 808, and a TLS connection."""
    telemetry = json.dumps(
        {"vin": VIN, "gps": {"lat": 55.751244, "lon": 37.618423}, "phone": PHONE}
    ).encode()
    return [
        http_conversation(
            "tsp.example-cn-oem.cn",
            "223.5.5.5",
            "POST",
            "/api/v1/telemetry?imei=356938035643809",
            telemetry,
            "application/json",
            shuffle=True,
            retransmit=True,
            segment=33,
        ),
        http_conversation(
            "api.example-insurer.kz",
            "2.133.0.1",
            "PUT",
            "/v2/trips",
            json.dumps({"vin": VIN, "lat": 51.128207, "lon": 71.430411}).encode(),
            "application/json",
        ),
        Conversation(
            "mqtt.example-tracker.ru",
            "77.88.8.8",
            1883,
            [
                mqtt.connect("car-1", "user@example.com", "s3cret-Passw0rd"),
                mqtt.publish(f"vehicles/{VIN}/telemetry", telemetry, qos=1),
            ],
            [mqtt.connack(), mqtt.puback(1)],
            shuffle=True,
        ),
        Conversation("gb.example-cn-oem.cn", "114.114.114.114", 32960, [sample("gbt32960")]),
        Conversation(
            "jt.example-tracker.ru", "77.88.8.8", 7611, [sample("jt808")], retransmit=True
        ),
        Conversation(
            "avl.example-tracker.ru",
            "77.88.8.10",
            5027,
            [teltonika_datagram(), teltonika_datagram()],
            [b"\x00\x05\xca\xfe\x01\x07\x02"],
            kind="udp",
        ),
        Conversation(
            "push.example-cn-oem.cn",
            "223.5.5.5",
            443,
            [client_hello("push.example-cn-oem.cn") + bytes(300)],
            [b"\x16\x03\x03" + bytes(900)],
            kind="tls",
        ),
    ]


class _Tcp:
    """One TCP connection's packets."""

    def __init__(self, c: Conversation, cport: int, v6: bool, rng: random.Random) -> None:
        self.c = c
        self.cport = cport
        self.v6 = v6
        self.rng = rng
        self.cseq = rng.randrange(1 << 32)
        self.sseq = rng.randrange(1 << 32)

    def _ip(self, from_client: bool) -> Packet:
        src, dst = (DEVICE, self.c.ip) if from_client else (self.c.ip, DEVICE)
        if self.v6:
            src, dst = (
                (DEVICE6, "64:ff9b::" + self.c.ip)
                if from_client
                else (
                    "64:ff9b::" + self.c.ip,
                    DEVICE6,
                )
            )
            return Ether(src=DEV_MAC, dst=GW_MAC) / IPv6(src=src, dst=dst)
        return Ether(src=DEV_MAC, dst=GW_MAC) / IP(src=src, dst=dst)

    def _seg(self, from_client: bool, flags: str, seq: int, ack: int, data: bytes = b"") -> Packet:
        sport, dport = (self.cport, self.c.port) if from_client else (self.c.port, self.cport)
        pkt = self._ip(from_client) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
        return pkt / Raw(data) if data else pkt

    def packets(self) -> list[Packet]:
        M = 0xFFFFFFFF
        out = [self._seg(True, "S", self.cseq, 0), self._seg(False, "SA", self.sseq, self.cseq + 1)]
        cnext, snext = (self.cseq + 1) & M, (self.sseq + 1) & M
        out.append(self._seg(True, "A", cnext, snext))
        client_segments = 0
        turns = max(len(self.c.up), len(self.c.down))
        for i in range(turns):
            for from_client, msgs in ((True, self.c.up), (False, self.c.down)):
                if i >= len(msgs):
                    continue
                data = msgs[i]
                segs = []
                for off in range(0, len(data), self.c.segment):
                    chunk = data[off : off + self.c.segment]
                    seq = (cnext if from_client else snext) + off
                    segs.append(
                        self._seg(
                            from_client, "PA", seq & M, snext if from_client else cnext, chunk
                        )
                    )
                if from_client:
                    first = client_segments
                    client_segments += len(segs)
                    if self.c.drop is not None and first <= self.c.drop < client_segments:
                        del segs[self.c.drop - first]
                if self.c.shuffle and len(segs) > 2:
                    head, tail = segs[:1], segs[1:]
                    self.rng.shuffle(tail)
                    segs = tail + head  # the first segment last: the stream starts late
                if self.c.retransmit and segs:
                    segs = [*segs, segs[0], segs[len(segs) // 2]]
                out += segs
                if from_client:
                    cnext = (cnext + len(data)) & M
                else:
                    snext = (snext + len(data)) & M
        out.append(self._seg(True, "FA", cnext, snext))
        out.append(self._seg(False, "FA", snext, (cnext + 1) & M))
        out.append(self._seg(True, "A", (cnext + 1) & M, (snext + 1) & M))
        return out


def _udp_packets(c: Conversation, v6: bool) -> list[Packet]:
    server = "64:ff9b::" + c.ip if v6 else c.ip
    device = DEVICE6 if v6 else DEVICE
    l3 = IPv6 if v6 else IP
    eth = Ether(src=DEV_MAC, dst=GW_MAC)
    out = []
    for i in range(max(len(c.up), len(c.down))):
        if i < len(c.up):
            out.append(
                eth
                / l3(src=device, dst=server)
                / UDP(sport=c.client_port, dport=c.port)
                / Raw(c.up[i])
            )
        if i < len(c.down):
            out.append(
                eth
                / l3(src=server, dst=device)
                / UDP(sport=c.port, dport=c.client_port)
                / Raw(c.down[i])
            )
    return out


def dns_exchange(name: str, ip: str, qid: int, v6: bool = False) -> list[Packet]:
    """A query and its answer: A over IPv4, AAAA (NAT64 address) over IPv6."""
    if v6:
        dev, res, rtype, addr = DEVICE6, "fd00:42::1", "AAAA", "64:ff9b::" + ip
        l3 = IPv6
    else:
        dev, res, rtype, addr = DEVICE, RESOLVER, "A", ip
        l3 = IP  # type: ignore[assignment]
    eth = Ether(src=DEV_MAC, dst=GW_MAC)
    q = eth / l3(src=dev, dst=res) / UDP(sport=50000 + qid, dport=53)
    q = q / DNS(id=qid, rd=1, qd=DNSQR(qname=name, qtype=rtype))
    a = eth / l3(src=res, dst=dev) / UDP(sport=53, dport=50000 + qid)
    a = a / DNS(
        id=qid,
        qr=1,
        ra=1,
        qd=DNSQR(qname=name, qtype=rtype),
        an=DNSRR(rrname=name, type=rtype, rdata=addr, ttl=60),
    )
    return [q, a]


def capture_packets(
    conversations: Sequence[Conversation], v6: bool = False, seed: int = 7
) -> list[Packet]:
    rng = random.Random(seed)
    out: list[Packet] = []
    for n, c in enumerate(conversations):
        c.client_port = c.client_port or 40000 + n
        if c.resolve:
            out += dns_exchange(c.host, c.ip, n + 1, v6)
        if c.kind == "udp":
            out += _udp_packets(c, v6)
        else:
            out += _Tcp(c, c.client_port, v6, rng).packets()
    for i, p in enumerate(out):
        p.time = T0 + i * 0.001
    return out


def write_pcap(path: Path, pkts: Sequence[Packet], ng: bool = False) -> Path:
    writer = PcapNgWriter(str(path)) if ng else PcapWriter(str(path), sync=False)
    for p in pkts:
        writer.write(p)
    writer.close()
    return path


def write_mitm(path: Path, conversations: Sequence[Conversation]) -> Path:
    """The flows a proxy would have recorded for the same conversations (TLS: none readable)."""
    flows: list[http.HTTPFlow | tcp.TCPFlow | udp.UDPFlow] = []
    for n, c in enumerate(conversations):
        if c.kind == "tls":
            continue
        t = T0 + n
        client = connection.Client(
            peername=(DEVICE, c.client_port or 40000 + n),
            sockname=(c.ip, c.port),
            timestamp_start=t,
            state=ConnectionState.CLOSED,
        )
        server = connection.Server(
            address=(c.host, c.port), peername=(c.ip, c.port), state=ConnectionState.CLOSED
        )
        if c.kind == "udp":
            u_flow = udp.UDPFlow(client, server)
            u_flow.messages = [udp.UDPMessage(True, m, t) for m in c.up] + [
                udp.UDPMessage(False, m, t) for m in c.down
            ]
            flows.append(u_flow)
        elif c.kind == "http":
            for req, resp in zip(c.requests, c.responses, strict=True):
                f = http.HTTPFlow(client, server)
                f.request, f.response = req.copy(), resp.copy()
                f.request.timestamp_start = t
                flows.append(f)
        else:
            t_flow = tcp.TCPFlow(client, server)
            t_flow.messages = [tcp.TCPMessage(True, m, t) for m in c.up] + [
                tcp.TCPMessage(False, m, t) for m in c.down
            ]
            flows.append(t_flow)
    with path.open("wb") as fh:
        w = io.FlowWriter(fh)
        for each in flows:
            w.add(each)
    return path


def record_offsets(path: Path) -> list[int]:
    """Start offsets of a classic pcap file's records (after the 24-byte file header)."""
    data = path.read_bytes()
    offs, pos = [], 24
    while pos + 16 <= len(data):
        offs.append(pos)
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        pos += 16 + caplen
    return offs
