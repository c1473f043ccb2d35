"""mitmproxy flows rebuilt from a packet capture, handed to the addons as the proxy would.

Each reassembled TCP connection becomes, by its first client bytes:
plaintext HTTP/1.x → one ``HTTPFlow`` per request/response (parsed with
mitmproxy's own HTTP/1 head readers), then the server connection's
disconnection; TLS → the ``TCPFlow`` the live proxy makes of TLS it passes
through unopened (ClientHello first, on its own), so that the same
passthrough and traffic stages fingerprint it, count its bytes and record it
as a transfer of undetermined content; anything else → a ``TCPFlow`` whose
messages the stream decoders sniff (MQTT, GB/T 32960, JT/T 808, …). UDP
datagrams become ``UDPFlow`` messages, port 53 ``DNSFlow`` query/response
pairs, whose answers also name the servers of later flows. Connections end
when the capture says they did (``timestamp_end``), so their records and
findings are the same at every replay.

Flow ids are derived from the connection's 4-tuple and first timestamp, so
replaying the same capture twice gives the same ids (``shekara diff`` matches
findings by them).
"""

from __future__ import annotations

import logging
import re
import struct
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mitmproxy import connection, dns, eventsequence, http, tcp, udp
from mitmproxy import flow as mflow
from mitmproxy.connection import ConnectionState
from mitmproxy.net.http.http1 import expected_http_body_size, read_request_head, read_response_head
from mitmproxy.net.tls import starts_like_tls_record
from mitmproxy.proxy.layers.dns import DnsErrorHook, DnsRequestHook, DnsResponseHook
from mitmproxy.proxy.layers.tcp import TcpEndHook, TcpMessageHook, TcpStartHook
from mitmproxy.proxy.layers.udp import UdpEndHook, UdpMessageHook, UdpStartHook
from mitmproxy.proxy.server_hooks import ServerConnectionHookData, ServerDisconnectedHook

from shekara.proxy import tlsfacts
from shekara.proxy.packets import TCP, UDP, Packet, ip_text
from shekara.proxy.reassembly import Budget, Connection, Reassembler

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("0c6f3b7e-52c1-4f0e-9a55-7061636b6574")
DNS_PORT = 53
#: Consecutive bytes of one direction handed to the decoders as one TCP message.
COALESCE = 64 * 1024
#: Largest HTTP head, and body, read from a stream; beyond, the stream is given up on (noted).
HEAD_LIMIT = 64 * 1024
BODY_LIMIT = 16 * 1024 * 1024
#: Client bytes looked at to tell HTTP, TLS and other protocols apart.
SNIFF_BYTES = 8
SERVER_FIRST_LIMIT = 16 * 1024
#: Requests of one connection held while waiting for their responses.
MAX_UNANSWERED = 32
#: Names remembered from DNS answers, UDP flows and DNS queries open at once.
MAX_NAMES = 200_000
MAX_UDP_FLOWS = 20_000
MAX_DNS_PENDING = 20_000

_HTTP_METHOD = re.compile(rb"(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|TRACE|CONNECT) ")

Trigger = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Remark:
    """Something about a flow that the capture, not a decoder, tells: cut short, missing."""

    flow_id: str
    source: str
    reason: str
    host: str | None
    ip: str
    port: int
    sni: str | None
    ts: float


@dataclass
class Stats:
    flows: int = 0
    http: int = 0
    tcp: int = 0
    tls: int = 0
    udp: int = 0
    dns: int = 0
    gaps: int = 0
    cut: int = 0


@dataclass
class Converter:
    """Turns packets into flows and events; ``trigger`` runs the addons, ``remark`` records."""

    trigger: Trigger
    remark: Callable[[Remark], None]
    budget: Budget = field(default_factory=Budget)
    stats: Stats = field(default_factory=Stats)
    names: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.tcp = Reassembler(self._open, self.budget)
        self._udp: OrderedDict[tuple[bytes, int, bytes, int], _UdpFlow] = OrderedDict()
        self._dns: OrderedDict[tuple[str, int, int], dns.DNSFlow] = OrderedDict()

    # -- identities --------------------------------------------------------------

    def flow_id(self, kind: str, key: tuple[bytes, int, bytes, int], ts: float, n: int = 0) -> str:
        c, cp, s, sp = key
        # Whole microseconds: pcap and pcapng store the same instant as different floats.
        us = round(ts * 1_000_000)
        return str(uuid.uuid5(NAMESPACE, f"{kind}|{c.hex()}:{cp}|{s.hex()}:{sp}|{us}|{n}"))

    def name_of(self, ip: str) -> str | None:
        return self.names.get(ip)

    def conns(
        self, key: tuple[bytes, int, bytes, int], ts: float, host: str | None, sni: str | None
    ) -> tuple[connection.Client, connection.Server]:
        c, cp, s, sp = key
        cip, sip = ip_text(c), ip_text(s)
        fid = self.flow_id("conn", key, ts)
        client = connection.Client(
            id=fid + "-c",
            peername=(cip, cp),
            sockname=(sip, sp),
            timestamp_start=ts,
            state=ConnectionState.CLOSED,
            tls=sni is not None,
            sni=sni,
        )
        server = connection.Server(
            id=fid + "-s",
            address=(host or self.name_of(sip) or sip, sp),
            peername=(sip, sp),
            timestamp_start=ts,
            state=ConnectionState.CLOSED,
            tls=sni is not None,
            sni=sni,
        )
        return client, server

    # -- packets -----------------------------------------------------------------

    def packet(self, p: Packet) -> None:
        if p.proto == TCP:
            self.tcp.packet(p)
        elif p.proto == UDP:
            if DNS_PORT in (p.sport, p.dport) and p.payload:
                self._dns_packet(p)
            else:
                self._udp_packet(p)

    def close(self) -> None:
        """The capture ended: connections, datagram flows and unanswered queries are closed."""
        self.tcp.close_all()
        while self._udp:
            _, f = self._udp.popitem(last=False)
            f.end()
        while self._dns:
            _, d = self._dns.popitem(last=False)
            self._unanswered(d)

    def _emit(self, f: mflow.Flow) -> None:
        self.stats.flows += 1
        for event in eventsequence.iterate(f):
            self.trigger(event)

    # -- TCP ---------------------------------------------------------------------

    def _open(self, conn: Connection) -> _Sniffer:
        return _Sniffer(self, conn)

    # -- UDP and DNS ---------------------------------------------------------------

    def _udp_packet(self, p: Packet) -> None:
        key = (p.src, p.sport, p.dst, p.dport)
        f = self._udp.get(key)
        from_client = True
        if f is None:
            f = self._udp.get((p.dst, p.dport, p.src, p.sport))
            from_client = False
        if f is None:
            f = self._udp[key] = _UdpFlow(self, key, p.ts)
            from_client = True
            if len(self._udp) > MAX_UDP_FLOWS:
                _, old = self._udp.popitem(last=False)
                old.end()
        else:
            self._udp.move_to_end(f.key)
        f.message(from_client, p.payload, p.ts)

    def _dns_packet(self, p: Packet) -> None:
        try:
            msg = dns.DNSMessage.unpack(p.payload, p.ts)
        except (struct.error, ValueError, IndexError, UnicodeError) as e:
            self.remark(
                Remark(
                    self.flow_id("dns", (p.src, p.sport, p.dst, p.dport), p.ts),
                    "dns",
                    f"undecodable DNS message: {e}",
                    None,
                    ip_text(p.dst),
                    p.dport,
                    None,
                    p.ts,
                )
            )
            return
        if msg.query:
            key = (ip_text(p.src), p.sport, msg.id)
            f = dns.DNSFlow(*self.conns((p.src, p.sport, p.dst, p.dport), p.ts, None, None))
            f.id = self.flow_id("dns", (p.src, p.sport, p.dst, p.dport), p.ts, msg.id)
            f.request = msg
            self._dns[key] = f
            self.trigger(DnsRequestHook(f))
            if len(self._dns) > MAX_DNS_PENDING:
                self._unanswered(self._dns.popitem(last=False)[1])
            return
        self._learn_names(msg)
        pending = self._dns.pop((ip_text(p.dst), p.dport, msg.id), None)
        self.stats.flows += 1
        self.stats.dns += 1
        if pending is not None:
            pending.response = msg
            self.trigger(DnsResponseHook(pending))
            return
        # The query was not captured: the answer stands for it.
        f = dns.DNSFlow(*self.conns((p.dst, p.dport, p.src, p.sport), p.ts, None, None))
        f.id = self.flow_id("dns", (p.dst, p.dport, p.src, p.sport), p.ts, msg.id)
        request = dns.DNSMessage.from_state(msg.get_state())
        request.query = True
        request.answers, request.authorities, request.additionals = [], [], []
        f.request, f.response = request, msg
        self.trigger(DnsRequestHook(f))
        self.trigger(DnsResponseHook(f))

    def _unanswered(self, f: dns.DNSFlow) -> None:
        f.error = mflow.Error("no answer in the capture")
        self.stats.flows += 1
        self.stats.dns += 1
        self.trigger(DnsErrorHook(f))

    def _learn_names(self, msg: dns.DNSMessage) -> None:
        if not msg.questions:
            return
        asked = msg.questions[0].name
        for rr in msg.answers:
            if rr.type in (1, 28) and len(rr.data) in (4, 16):  # A, AAAA
                ip = ip_text(rr.data)
                self.names.pop(ip, None)
                self.names[ip] = asked
                if len(self.names) > MAX_NAMES:
                    self.names.popitem(last=False)


class _UdpFlow:
    def __init__(self, conv: Converter, key: tuple[bytes, int, bytes, int], ts: float) -> None:
        self.conv = conv
        self.key = key
        self.flow = udp.UDPFlow(*conv.conns(key, ts, None, None))
        self.flow.id = conv.flow_id("udp", key, ts)
        self.flow.timestamp_created = ts
        self.last_ts = ts
        conv.stats.flows += 1
        conv.stats.udp += 1
        conv.trigger(UdpStartHook(self.flow))

    def message(self, from_client: bool, data: bytes, ts: float) -> None:
        self.last_ts = ts
        self.flow.messages.append(udp.UDPMessage(from_client, data, ts))
        self.conv.trigger(UdpMessageHook(self.flow))
        del self.flow.messages[:-1]  # the decoders read the newest; memory stays flat

    def end(self) -> None:
        _ended(self.flow.client_conn, self.flow.server_conn, self.last_ts)
        self.conv.trigger(UdpEndHook(self.flow))


def _ended(client: connection.Client, server: connection.Server, ts: float) -> None:
    """The connection closed when its last packet was captured."""
    client.timestamp_end = server.timestamp_end = ts


# -- TCP connection handlers ------------------------------------------------------------


class _Sniffer:
    """Holds a connection's first bytes until its protocol is known, then hands over."""

    def __init__(self, conv: Converter, conn: Connection) -> None:
        self.conv = conv
        self.conn = conn
        self.inner: _Http | _Tls | _RawTcp | None = None
        self.events: list[tuple[bool, bytes | int, float]] = []
        self.client_bytes = b""
        self.held = 0

    def data(self, from_client: bool, data: bytes, ts: float) -> None:
        if self.inner is not None:
            self.inner.data(from_client, data, ts)
            return
        self.events.append((from_client, data, ts))
        self.held += len(data)
        self.conv.budget.used += len(data)
        if from_client and len(self.client_bytes) < SNIFF_BYTES:
            self.client_bytes += data[: SNIFF_BYTES - len(self.client_bytes)]
        if len(self.client_bytes) >= SNIFF_BYTES or self.held > SERVER_FIRST_LIMIT:
            self._decide()

    def gap(self, from_client: bool, missing: int, ts: float) -> None:
        if self.inner is not None:
            self.inner.gap(from_client, missing, ts)
        else:
            self.events.append((from_client, missing, ts))

    def close(self, cut: str | None) -> None:
        if self.inner is None:
            if not self.events:
                return  # a handshake and nothing else: no flow
            self._decide()
        assert self.inner is not None
        self.inner.close(cut)

    def _decide(self) -> None:
        first = self.client_bytes
        if _HTTP_METHOD.match(first):
            self.inner = _Http(self.conv, self.conn)
        elif starts_like_tls_record(first):
            self.inner = _Tls(self.conv, self.conn)
        else:
            self.inner = _RawTcp(self.conv, self.conn)
        events, self.events = self.events, []
        self.conv.budget.used -= self.held
        self.held = 0
        for from_client, item, ts in events:
            if isinstance(item, int):
                self.inner.gap(from_client, item, ts)
            else:
                self.inner.data(from_client, item, ts)


class _Base:
    def __init__(self, conv: Converter, conn: Connection, kind: str) -> None:
        self.conv = conv
        self.conn = conn
        self.kind = kind
        self.id = conv.flow_id(kind, conn.key, conn.first_ts)
        self.sip = ip_text(conn.server)

    def remark(self, source: str, reason: str, ts: float) -> None:
        self.conv.remark(
            Remark(
                self.id,
                source,
                reason,
                self.conv.name_of(self.sip),
                self.sip,
                self.conn.server_port,
                None,
                ts,
            )
        )

    def noted_gap(self, from_client: bool, missing: int, ts: float) -> None:
        self.conv.stats.gaps += 1
        side = "client" if from_client else "server"
        self.remark(
            "tcp.reassembly",
            f"{missing} bytes the {side} sent are missing from the capture; "
            "what follows was read after the hole",
            ts,
        )

    def noted_cut(self, cut: str | None, ts: float) -> None:
        if cut:
            self.conv.stats.cut += 1
            self.remark("tcp.reassembly", f"connection closed early: {cut}", ts)


class _RawTcp(_Base):
    kind = "tcp"

    def __init__(self, conv: Converter, conn: Connection) -> None:
        super().__init__(conv, conn, self.kind)
        self.flow = tcp.TCPFlow(*conv.conns(conn.key, conn.first_ts, None, None))
        self.flow.id = self.id
        self.flow.timestamp_created = conn.first_ts
        self.pending = bytearray()
        self.pending_from_client = True
        self.pending_ts = conn.first_ts
        self.last_ts = conn.first_ts
        conv.stats.flows += 1
        self.starting()
        conv.trigger(TcpStartHook(self.flow))

    def starting(self) -> None:
        self.conv.stats.tcp += 1

    def data(self, from_client: bool, data: bytes, ts: float) -> None:
        if self.pending and (
            from_client != self.pending_from_client or len(self.pending) >= COALESCE
        ):
            self.flush()
        if not self.pending:
            self.pending_from_client, self.pending_ts = from_client, ts
        self.pending += data
        self.conv.budget.used += len(data)
        self.last_ts = ts

    def flush(self, size: int | None = None) -> None:
        """Hands the pending bytes (or their first ``size``) on as one message."""
        if not self.pending:
            return
        if size is None or size >= len(self.pending):
            content = bytes(self.pending)
            self.pending.clear()
        else:
            content = bytes(memoryview(self.pending)[:size])
            del self.pending[:size]
        self.conv.budget.used -= len(content)
        self.flow.messages.append(
            tcp.TCPMessage(self.pending_from_client, content, self.pending_ts)
        )
        self.conv.trigger(TcpMessageHook(self.flow))
        del self.flow.messages[:-1]

    def gap(self, from_client: bool, missing: int, ts: float) -> None:
        self.flush()
        self.noted_gap(from_client, missing, ts)

    def close(self, cut: str | None) -> None:
        self.flush()
        self.noted_cut(cut, self.last_ts)
        _ended(self.flow.client_conn, self.flow.server_conn, self.last_ts)
        self.conv.trigger(TcpEndHook(self.flow))


class _Tls(_RawTcp):
    """An encrypted connection, as the live proxy sees TLS it passes through unopened.

    Its bytes go on as TCP messages (coalesced, then dropped by the traffic
    stage once counted), the ClientHello first and on its own, as mitmproxy
    hands it over; the passthrough stage knows it by that first record.
    """

    kind = "tls"

    def starting(self) -> None:
        self.conv.stats.tls += 1
        self.hello = True  # the client's first bytes are its ClientHello

    def data(self, from_client: bool, data: bytes, ts: float) -> None:
        super().data(from_client, data, ts)
        if not self.hello:
            return
        if not from_client:
            self.hello = False  # the server spoke first; what the client sent stands as is
            return
        end = tlsfacts.records_length(self.pending)
        if end is not None:
            self.hello = False
            self.flush(end)
        elif len(self.pending) >= tlsfacts.HELLO_LIMIT:
            self.hello = False

    def gap(self, from_client: bool, missing: int, ts: float) -> None:
        self.hello = False
        super().gap(from_client, missing, ts)


class _Http(_Base):
    """Plaintext HTTP/1.x: requests and responses paired in order, one HTTPFlow each."""

    def __init__(self, conv: Converter, conn: Connection) -> None:
        super().__init__(conv, conn, "http")
        self.up = bytearray()
        self.down = bytearray()
        self.up_ts = conn.first_ts
        self.down_ts = conn.first_ts
        self.request: tuple[http.Request, int | None] | None = None
        self.response: tuple[http.Response, int | None] | None = None
        self.waiting: deque[http.Request] = deque()
        self.up_failed = False
        self.down_failed = False
        self.count = 0
        self.last_ts = conn.first_ts
        self.endpoints: tuple[connection.Client, connection.Server] | None = None
        self.endpoints_host: str | None = None

    def data(self, from_client: bool, data: bytes, ts: float) -> None:
        self.last_ts = ts
        if from_client:
            if self.up_failed:
                return
            if not self.up:
                self.up_ts = ts
            self.up += data
            self.conv.budget.used += len(data)
            self._requests(ts)
        else:
            if self.down_failed:
                return
            if not self.down:
                self.down_ts = ts
            self.down += data
            self.conv.budget.used += len(data)
            self._responses(ts, closing=False)

    def gap(self, from_client: bool, missing: int, ts: float) -> None:
        self.noted_gap(from_client, missing, ts)
        if from_client:
            self._fail_up(ts, None)
        else:
            self._fail_down(None)

    def _take(self, buf: bytearray, n: int) -> bytes:
        out = bytes(buf[:n])
        del buf[:n]
        self.conv.budget.used -= n
        return out

    def _head(self, buf: bytearray) -> list[bytes] | None:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > HEAD_LIMIT:
                raise ValueError(f"HTTP head longer than {HEAD_LIMIT} bytes")
            return None
        head = self._take(buf, end + 4)
        return [line for line in head.split(b"\r\n") if line]

    def _body(self, buf: bytearray, size: int | None) -> bytes | None:
        if size is None:
            return self._chunked(buf)
        if size > BODY_LIMIT:
            raise ValueError(f"HTTP body of {size} bytes, more than the {BODY_LIMIT} read")
        if len(buf) < size:
            return None
        return self._take(buf, size)

    def _chunked(self, buf: bytearray) -> bytes | None:
        body = bytearray()
        pos = 0
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                if len(buf) - pos > 1024:
                    raise ValueError("chunk size line too long")
                return None
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip() or b"x", 16)
            if size < 0 or len(body) + size > BODY_LIMIT:
                raise ValueError(f"chunked HTTP body beyond {BODY_LIMIT} bytes")
            pos = eol + 2
            if size == 0:
                end = buf.find(b"\r\n\r\n", pos - 2)  # trailers, if any, end with an empty line
                if end < 0:
                    return None
                self._take(buf, end + 4)
                return bytes(body)
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos : pos + size]
            pos += size + 2

    def _requests(self, ts: float) -> None:
        try:
            while True:
                if self.request is None:
                    lines = self._head(self.up)
                    if lines is None:
                        return
                    req = read_request_head(lines)
                    req.timestamp_start = self.up_ts
                    size = expected_http_body_size(req)
                    self.request = (req, 0 if size == -1 else size)
                req, size = self.request
                body = self._body(self.up, size)
                if body is None:
                    return
                req.data.content = body
                req.timestamp_end = ts
                self.request = None
                self.up_ts = ts
                self.waiting.append(req)
                if self.down_failed:
                    self._emit(self.waiting.popleft(), None, "response missing from the capture")
                elif len(self.waiting) > MAX_UNANSWERED:
                    # A capture of one direction only, or a server far behind: the requests
                    # are analysed without their answers rather than held.
                    self._fail_down(
                        f"{len(self.waiting)} requests without a response; "
                        "the server's side is not read further"
                    )
                else:
                    self._responses(ts, closing=False)
        except (ValueError, IndexError) as e:
            self._fail_up(ts, f"unreadable HTTP request: {e}")

    def _responses(self, ts: float, closing: bool) -> None:
        try:
            while self.waiting:
                req = self.waiting[0]
                if self.response is None:
                    lines = self._head(self.down)
                    if lines is None:
                        return
                    resp = read_response_head(lines)
                    resp.timestamp_start = self.down_ts
                    if 100 <= resp.status_code < 200:
                        continue  # an interim answer (100 Continue): the real one follows
                    self.response = (resp, expected_http_body_size(req, resp))
                resp, size = self.response
                if size == -1:  # the body runs until the server closes the connection
                    if not closing:
                        if len(self.down) > BODY_LIMIT:
                            raise ValueError(f"HTTP body beyond {BODY_LIMIT} bytes")
                        return
                    size = len(self.down)
                body = self._body(self.down, size)
                if body is None:
                    return
                resp.data.content = body
                resp.timestamp_end = ts
                self.response = None
                self.down_ts = ts
                self._emit(self.waiting.popleft(), resp, None)
            if len(self.down) > HEAD_LIMIT:
                raise ValueError("server bytes with no request to answer")
        except (ValueError, IndexError) as e:
            self._fail_down(f"unreadable HTTP response: {e}")

    def _fail_up(self, ts: float, reason: str | None) -> None:
        if reason:
            self.remark("http", reason, ts)
        self.up_failed = True
        self.conv.budget.used -= len(self.up)
        self.up.clear()
        if self.request is not None:
            req = self.request[0]
            self.request = None
            self.waiting.append(req)  # its head was read; what there is of the body counts
        if self.down_failed:
            self._flush_waiting("response missing from the capture")

    def _fail_down(self, reason: str | None) -> None:
        if reason:
            self.remark("http", reason, self.last_ts)
        self.down_failed = True
        self.conv.budget.used -= len(self.down)
        self.down.clear()
        self.response = None
        self._flush_waiting("response missing from the capture")

    def _flush_waiting(self, why: str) -> None:
        while self.waiting:
            self._emit(self.waiting.popleft(), None, why)

    def _emit(self, req: http.Request, resp: http.Response | None, error: str | None) -> None:
        host = req.host_header or self.conv.name_of(self.sip) or self.sip
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if not req.host:
            # Set on the data: the property setters would rewrite the Host header too.
            req.data.host = host
            req.data.port = self.conn.server_port
            req.data.scheme = b"http"
        if self.endpoints is None or self.endpoints_host != host:
            # One client and server connection for all the requests of the connection.
            self.endpoints = self.conv.conns(self.conn.key, self.conn.first_ts, host, None)
            self.endpoints_host = host
        f = http.HTTPFlow(*self.endpoints)
        f.id = f"{self.id}-{self.count}" if self.count else self.id
        f.timestamp_created = req.timestamp_start
        self.count += 1
        f.request = req
        f.response = resp
        if error:
            f.error = mflow.Error(error, req.timestamp_end or req.timestamp_start)
        self.conv.stats.http += 1
        self.conv._emit(f)

    def close(self, cut: str | None) -> None:
        if not self.down_failed and self.waiting:
            self._responses(self.last_ts, closing=True)
        if self.request is not None and not self.up_failed:
            req, _ = self.request
            self.request = None
            body = self._take(self.up, len(self.up))
            req.data.content = body
            self.remark("http", "request body cut short by the end of the connection", self.last_ts)
            self.waiting.append(req)
        self._flush_waiting("no response in the capture")
        self.conv.budget.used -= len(self.up) + len(self.down)
        self.up.clear()
        self.down.clear()
        self.noted_cut(cut, self.last_ts)
        if self.endpoints is not None:
            # As live: the exchanges of one server connection are summed when it closes.
            client, server = self.endpoints
            _ended(client, server, self.last_ts)
            self.conv.trigger(ServerDisconnectedHook(ServerConnectionHookData(server, client)))


def iter_flows_summary(stats: Stats) -> Iterator[str]:
    for name in ("http", "tcp", "tls", "udp", "dns"):
        n = getattr(stats, name)
        if n:
            yield f"{n} {name}"
