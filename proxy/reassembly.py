"""TCP streams rebuilt from captured segments, in bounded memory.

Each connection gets a handler that receives each direction's bytes in order.
Segments that arrive early wait (out of order); segments seen before are
dropped (retransmissions); bytes the capture never had are reported to the
handler as a gap with their length, so "missing" is recorded, never guessed.

Memory is bounded twice: per connection (early segments beyond
``per_connection`` are given up on, noted as a gap) and in total across
connections and their handlers (the least recently active connections are
closed early, noted, when ``total`` is exceeded), so a capture of any size
replays in the same memory.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from shekara.proxy.packets import Packet

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
_M32 = 0xFFFFFFFF

#: Early segments kept per direction before the missing bytes are given up on.
PER_CONNECTION = 4 * 1024 * 1024
#: Bytes held across all connections and their handlers.
TOTAL = 256 * 1024 * 1024
#: Connections open at once; beyond, the least recently active one is closed.
MAX_CONNECTIONS = 50_000


class Budget:
    """Bytes held in reassembly and handler buffers, shared by every connection."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int = TOTAL) -> None:
        self.limit = limit
        self.used = 0


class Handler(Protocol):
    def data(self, from_client: bool, data: bytes, ts: float) -> None: ...

    def gap(self, from_client: bool, missing: int, ts: float) -> None: ...

    def close(self, cut: str | None) -> None:
        """The connection ended; ``cut`` says why it was closed early, if it was."""
        ...


@dataclass(slots=True)
class Direction:
    base: int | None = None  # sequence number of the first byte
    next: int = 0  # offset of the next byte expected
    early: dict[int, bytes] = field(default_factory=dict)  # out-of-order segments by offset
    early_bytes: int = 0
    fin: bool = False


@dataclass(slots=True, eq=False)
class Connection:
    client: bytes
    client_port: int
    server: bytes
    server_port: int
    first_ts: float
    #: The capture starts after the handshake: who is the client was inferred from the ports.
    midstream: bool
    up: Direction = field(default_factory=Direction)
    down: Direction = field(default_factory=Direction)
    handler: Handler | None = None

    @property
    def key(self) -> tuple[bytes, int, bytes, int]:
        return (self.client, self.client_port, self.server, self.server_port)


class Reassembler:
    def __init__(
        self,
        open_handler: Callable[[Connection], Handler],
        budget: Budget | None = None,
        per_connection: int = PER_CONNECTION,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.open_handler = open_handler
        self.budget = budget or Budget()
        self.per_connection = per_connection
        self.max_connections = max_connections
        # Both directions' 4-tuples point at the connection; ``lru`` orders them by activity.
        self._index: dict[tuple[bytes, int, bytes, int], tuple[Connection, bool]] = {}
        self._lru: OrderedDict[tuple[bytes, int, bytes, int], Connection] = OrderedDict()
        self.retransmitted = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._lru)

    def packet(self, p: Packet) -> None:
        key = (p.src, p.sport, p.dst, p.dport)
        hit = self._index.get(key)
        flags = p.flags
        if hit is not None:
            conn, from_client = hit
            if not p.payload and not flags & (SYN | FIN | RST):
                return  # a bare acknowledgement: nothing to deliver, nothing ends
            if flags & SYN and not flags & ACK and from_client and conn.up.base is not None:
                if (p.seq + 1) & _M32 != conn.up.base:  # the 4-tuple reused by a new connection
                    self._close(conn, None)
                    hit = None
            else:
                self._lru.move_to_end(conn.key)
        if hit is None:
            if not p.payload and not flags & SYN:
                return  # a lone ACK/FIN/RST of a connection already closed or never seen
            conn, from_client = self._open(p)
        d = conn.up if from_client else conn.down
        self._segment(conn, d, from_client, p)
        if flags & RST or (conn.up.fin and conn.down.fin):
            self._close(conn, None)
        if self.budget.used > self.budget.limit:
            self._shed()

    def _open(self, p: Packet) -> tuple[Connection, bool]:
        flags = p.flags
        if flags & SYN:
            from_client = not flags & ACK
            midstream = False
        else:
            # No handshake in the capture: the server is the side on the lower port.
            from_client = p.dport < p.sport or (p.dport == p.sport)
            midstream = True
        if from_client:
            conn = Connection(p.src, p.sport, p.dst, p.dport, p.ts, midstream)
        else:
            conn = Connection(p.dst, p.dport, p.src, p.sport, p.ts, midstream)
        key = conn.key
        self._index[key] = (conn, True)
        self._index[(conn.server, conn.server_port, conn.client, conn.client_port)] = (conn, False)
        self._lru[key] = conn
        conn.handler = self.open_handler(conn)
        if len(self._lru) > self.max_connections:
            self.evicted += 1
            self._close(next(iter(self._lru.values())), "too many connections open at once")
        return conn, from_client

    def _segment(self, conn: Connection, d: Direction, from_client: bool, p: Packet) -> None:
        flags = p.flags
        payload = p.payload
        if d.base is None:
            if flags & SYN:
                d.base = (p.seq + 1) & _M32
                return
            d.base = p.seq
        elif flags & SYN:
            return  # a repeated SYN
        n = len(payload)
        # Sequence numbers wrap at 2**32; offsets do not.
        delta = (((p.seq - d.base - d.next) & _M32) + 0x80000000 & _M32) - 0x80000000
        off = d.next + delta
        if n:
            end = off + n
            handler = conn.handler
            assert handler is not None
            if end <= d.next:
                self.retransmitted += 1
            elif off <= d.next:
                handler.data(
                    from_client, payload[d.next - off :] if off < d.next else payload, p.ts
                )
                d.next = end
                if d.early:
                    self._drain(d, from_client, handler, p.ts, force=False)
            else:
                if d.early_bytes + n > self.per_connection:
                    # The missing bytes are not coming within reach: give up waiting.
                    self._drain(d, from_client, handler, p.ts, force=True)
                    if off > d.next:
                        handler.gap(from_client, off - d.next, p.ts)
                        d.next = off
                    handler.data(from_client, payload, p.ts)
                    d.next = end
                else:
                    old = d.early.get(off)
                    if old is None or len(old) < n:
                        d.early[off] = payload
                        grown = n - (len(old) if old else 0)
                        d.early_bytes += grown
                        self.budget.used += grown
        if flags & FIN:
            d.fin = True

    def _drain(
        self, d: Direction, from_client: bool, handler: Handler, ts: float, force: bool
    ) -> None:
        """Deliver the early segments that now follow on; with ``force``, jump the holes."""
        for off in sorted(d.early):
            if off > d.next and not force:
                return  # still waiting for what comes before it
            seg = d.early.pop(off)
            d.early_bytes -= len(seg)
            self.budget.used -= len(seg)
            if off > d.next:
                handler.gap(from_client, off - d.next, ts)
                d.next = off
            end = off + len(seg)
            if end > d.next:
                handler.data(from_client, seg[d.next - off :], ts)
                d.next = end

    def _close(self, conn: Connection, cut: str | None) -> None:
        handler = conn.handler
        assert handler is not None
        for d, from_client in ((conn.up, True), (conn.down, False)):
            if d.early:
                self._drain(d, from_client, handler, conn.first_ts, force=True)
        self._lru.pop(conn.key, None)
        self._index.pop(conn.key, None)
        self._index.pop((conn.server, conn.server_port, conn.client, conn.client_port), None)
        handler.close(cut)

    def _shed(self) -> None:
        """Close the least recently active connections until the budget holds again."""
        while self.budget.used > self.budget.limit and self._lru:
            self.evicted += 1
            self._close(next(iter(self._lru.values())), "memory bound reached")

    def close_all(self) -> None:
        """The capture ended: every open connection is closed as it stands."""
        while self._lru:
            self._close(next(iter(self._lru.values())), None)
