"""Bytes per connection, read or of undetermined content: the ground of decryption coverage.

Every TCP connection (and UDP association) becomes one connection record when it
ends, handed to the recording stage with the flow's last findings, so that both
are spooled in one record. HTTP exchanges the proxy decrypted (or read in the
clear) are summed per server connection, whose end is no flow's event: that
record goes to the writer on its own. A TLS connection passed through unopened is, in addition, a
finding of category ``undetermined_content``: bytes went to that server and
country, content unknown, with the ClientHello's JA3/JA4 as the device's
fingerprint. Its messages are dropped as they are counted, so a long-lived
pinned connection costs constant memory.

A replayed packet capture goes through this same stage: its encrypted
connections arrive as the TCP flows of passed-through TLS, its plaintext HTTP
connections end with the server disconnecting, as they do live.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from mitmproxy import connection, http, tcp, udp
from mitmproxy.proxy.server_hooks import ServerConnectionHookData

from shekara.addons import state
from shekara.addons.passthrough import HELLO_KEY
from shekara.audit.model import Category, Confidence, Destination, Field, Hit
from shekara.audit.verdict import Judge
from shekara.evidence.connections import READ, UNDETERMINED, ConnectionRecord
from shekara.evidence.writer import SpooledWriter, StoreWriter
from shekara.proxy.leases import LeaseBook


@dataclass(slots=True)
class _Count:
    started_at: float
    up: int = 0
    down: int = 0
    dest: Destination | None = None
    client_ip: str | None = None


def _client_ip(conn: connection.Client) -> str | None:
    return str(conn.peername[0]) if conn.peername else None


def _http_size(m: http.Message) -> int:
    return len(bytes(m.headers)) + len(m.raw_content or b"")


def _ended(*conns: connection.Connection) -> float:
    """When the connection closed: as mitmproxy or the capture recorded it, else now.

    A replayed capture's connections closed when the capture says, so that
    its records and findings are the same however often it is replayed.
    """
    for c in conns:
        if c.timestamp_end is not None:
            return c.timestamp_end
    return time.time()


class Traffic:
    def __init__(
        self,
        judge: Judge,
        writer: StoreWriter | SpooledWriter,
        run_id: int,
        leases: LeaseBook | None = None,
    ) -> None:
        self.judge = judge
        self.writer = writer
        self.run_id = run_id
        self.leases = leases or LeaseBook(None)
        self._tcp: dict[str, _Count] = {}
        self._http: dict[str, _Count] = {}

    # -- raw TCP, including TLS passed through ------------------------------------

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        c = self._tcp.get(f.id)
        if c is None:
            c = self._tcp[f.id] = _Count(f.timestamp_created, client_ip=_client_ip(f.client_conn))
        msg = f.messages[-1]
        if msg.from_client:
            c.up += len(msg.content)
        else:
            c.down += len(msg.content)
        if state.passthrough(f) is not None:
            del f.messages[:-1]

    # UDP associations (WireGuard mode, trackers over UDP) are counted the same way.
    def udp_message(self, f: udp.UDPFlow) -> None:
        c = self._tcp.get(f.id)
        if c is None:
            c = self._tcp[f.id] = _Count(f.timestamp_created, client_ip=_client_ip(f.client_conn))
        msg = f.messages[-1]
        if msg.from_client:
            c.up += len(msg.content)
        else:
            c.down += len(msg.content)

    def udp_end(self, f: udp.UDPFlow) -> None:
        self._tcp_done(f, "udp")

    def udp_error(self, f: udp.UDPFlow) -> None:
        self._tcp_done(f, "udp")

    def tcp_end(self, f: tcp.TCPFlow) -> None:
        self._tcp_done(f)

    def tcp_error(self, f: tcp.TCPFlow) -> None:
        self._tcp_done(f)

    def _tcp_done(self, f: tcp.TCPFlow | udp.UDPFlow, transport: str = "tcp") -> None:
        c = self._tcp.pop(f.id, None) or _Count(f.timestamp_created)
        dest = state.destination(f) or Destination(
            host=str(f.server_conn.address[0]) if f.server_conn.address else None,
            ip=str(f.server_conn.peername[0]) if f.server_conn.peername else None,
            port=int(f.server_conn.address[1]) if f.server_conn.address else None,
        )
        reason = state.passthrough(f)
        hello = f.metadata.get(HELLO_KEY) or {}
        ended = _ended(f.server_conn, f.client_conn)
        record = ConnectionRecord(
            flow_id=f.id,
            transport=transport,
            content=READ if reason is None else UNDETERMINED,
            started_at=c.started_at,
            ended_at=ended,
            reason=reason,
            client_ip=c.client_ip or _client_ip(f.client_conn),
            host=dest.host,
            sni=dest.sni or hello.get("sni"),
            ip=dest.ip,
            port=dest.port,
            country=dest.country,
            geo_confidence=dest.confidence.value,
            bytes_up=c.up,
            bytes_down=c.down,
            alpn=",".join(hello.get("alpn") or []) or None,
            ja3=hello.get("ja3"),
            ja3_md5=hello.get("ja3_md5"),
            ja4=hello.get("ja4"),
        )
        record = self._client(record)
        state.set_connection(f, record)
        if reason is not None and isinstance(f, tcp.TCPFlow):
            self._undetermined(f, record, dest, ended)

    def _undetermined(
        self, f: tcp.TCPFlow, r: ConnectionRecord, dest: Destination, ended: float
    ) -> None:
        summary = (
            f"TLS to {r.sni or r.ip}:{r.port} not opened ({r.reason}); "
            f"{r.bytes_up} B up, {r.bytes_down} B down in {ended - r.started_at:.1f} s"
            + (f"; JA4 {r.ja4}" if r.ja4 else "")
        )
        hit = Hit(
            Category.UNDETERMINED_CONTENT,
            Field(locator="tls.passthrough", key=None, value=None, source="tls"),
            canonical=summary,
            evidence=f"tls-passthrough: {r.reason}",
            confidence=Confidence.HIGH,
        )
        a = state.current(f) or state.begin(f, r.started_at)
        a.destination = dest
        a.findings.append(self.judge.judge(hit, dest, f.id, r.started_at, time.time()))

    # -- HTTP the proxy read --------------------------------------------------------

    def response(self, f: http.HTTPFlow) -> None:
        key = f.server_conn.id
        c = self._http.get(key)
        if c is None:
            c = self._http[key] = _Count(
                f.request.timestamp_start, client_ip=_client_ip(f.client_conn)
            )
        c.dest = state.destination(f) or c.dest
        c.up += _http_size(f.request)
        if f.response is not None:
            c.down += _http_size(f.response)

    def server_disconnected(self, data: ServerConnectionHookData) -> None:
        c = self._http.pop(data.server.id, None)
        if c is not None:
            self._http_record(data.server.id, c, _ended(data.server))

    def _client(self, r: ConnectionRecord) -> ConnectionRecord:
        lease = self.leases.lookup(r.client_ip)
        if lease is None:
            return r
        return dataclasses.replace(r, client_mac=lease.mac, client_name=lease.hostname)

    def _http_record(self, conn_id: str, c: _Count, ended: float | None = None) -> None:
        d = c.dest or Destination(host=None, ip=None, port=None)
        record = self._client(
            ConnectionRecord(
                flow_id=conn_id,
                transport="tcp",
                content=READ,
                started_at=c.started_at,
                ended_at=ended if ended is not None else time.time(),
                client_ip=c.client_ip,
                host=d.host,
                sni=d.sni,
                ip=d.ip,
                port=d.port,
                country=d.country,
                geo_confidence=d.confidence.value,
                bytes_up=c.up,
                bytes_down=c.down,
            )
        )
        # Not awaited: the connection is over, nothing of the device's waits on it.
        if isinstance(self.writer, StoreWriter):
            self.writer.submit(self.run_id, (), (), (record,))
        else:
            self.writer.acknowledge(self.run_id, (), (), (record,))

    def done(self) -> None:
        for conn_id, c in list(self._http.items()):
            self._http_record(conn_id, c)
        self._http.clear()
