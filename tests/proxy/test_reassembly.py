"""TCP reassembly: order restored, repeats dropped, holes reported, memory bounded."""

from __future__ import annotations

import random

from shekara.proxy.packets import TCP, Packet
from shekara.proxy.reassembly import ACK, FIN, SYN, Budget, Connection, Reassembler

C, S = b"\x0a\x00\x00\x02", b"\x01\x02\x03\x04"


class Recorder:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.up = bytearray()
        self.down = bytearray()
        self.gaps: list[tuple[bool, int]] = []
        self.closed: list[str | None] = []

    def data(self, from_client: bool, data: bytes, ts: float) -> None:
        (self.up if from_client else self.down).extend(data)

    def gap(self, from_client: bool, missing: int, ts: float) -> None:
        self.gaps.append((from_client, missing))

    def close(self, cut: str | None) -> None:
        self.closed.append(cut)


def seg(
    seq: int, data: bytes = b"", flags: int = ACK, up: bool = True, port: int = 40000
) -> Packet:
    src, dst, sp, dp = (C, S, port, 1883) if up else (S, C, 1883, port)
    return Packet(0.0, src, dst, TCP, sp, dp, data, seq & 0xFFFFFFFF, flags)


def make(**kw: object) -> tuple[Reassembler, list[Recorder]]:
    handlers: list[Recorder] = []

    def open_handler(conn: Connection) -> Recorder:
        handlers.append(Recorder(conn))
        return handlers[-1]

    return Reassembler(open_handler, **kw), handlers  # type: ignore[arg-type]


def test_out_of_order_and_retransmitted_segments_give_the_stream_once() -> None:
    r, hs = make()
    payload = bytes(range(256)) * 8
    isn = 0xFFFFFF00  # the sequence numbers wrap around 2**32 inside the stream
    pieces = [(isn + 1 + i, payload[i : i + 100]) for i in range(0, len(payload), 100)]
    shuffled = pieces[:]
    random.Random(3).shuffle(shuffled)
    r.packet(seg(isn, flags=SYN))
    r.packet(seg(0x5000, flags=SYN | ACK, up=False))
    for s, d in shuffled + pieces[2:5]:  # and three retransmissions
        r.packet(seg(s, d))
    r.packet(seg(isn + 1 + 50, payload[50:150]))  # an overlapping one
    r.packet(seg(isn + 1 + len(payload), flags=FIN | ACK))
    r.packet(seg(0x5001, flags=FIN | ACK, up=False))
    [h] = hs
    assert bytes(h.up) == payload and h.gaps == [] and h.closed == [None]
    assert len(r) == 0 and r.budget.used == 0


def test_a_missing_segment_is_a_gap_of_its_length() -> None:
    r, hs = make()
    r.packet(seg(99, flags=SYN))
    r.packet(seg(100, b"a" * 10))
    r.packet(seg(120, b"c" * 10))  # bytes 110..119 never captured
    r.close_all()
    [h] = hs
    assert bytes(h.up) == b"a" * 10 + b"c" * 10
    assert h.gaps == [(True, 10)]


def test_capture_started_mid_connection_names_the_server_by_its_port() -> None:
    r, hs = make()
    r.packet(seg(5000, b"x" * 5, up=False))
    r.packet(seg(7000, b"hello"))
    r.close_all()
    [h] = hs
    assert (h.conn.client_port, h.conn.server_port) == (40000, 1883) and h.conn.midstream
    assert bytes(h.up) == b"hello" and bytes(h.down) == b"x" * 5


def test_per_connection_bound_gives_up_on_a_hole() -> None:
    r, hs = make(per_connection=1000)
    r.packet(seg(0, flags=SYN))
    for i in range(30):  # 3,000 bytes after a hole that never fills
        r.packet(seg(1 + 100 + i * 100, b"z" * 100))
    [h] = hs
    assert h.gaps == [(True, 100)]  # given up on once 1,000 bytes waited
    assert len(h.up) >= 2000 and r.budget.used <= 1000


def test_total_bound_closes_the_least_recently_active_connections() -> None:
    budget = Budget(limit=50_000)
    r, hs = make(budget=budget, per_connection=10_000)
    for port in range(41000, 41100):  # 100 connections, each holding 9 KB out of order
        r.packet(seg(0, flags=SYN, port=port))
        for i in range(9):
            r.packet(seg(2001 + i * 1000, b"q" * 1000, port=port))
        assert budget.used <= budget.limit + 1000
    cut = [h for h in hs if h.closed == ["memory bound reached"]]
    assert cut and r.evicted == len(cut)
    assert all(h.gaps == [(True, 2000)] for h in cut)  # what they held was still delivered
    r.close_all()
    assert budget.used == 0


def test_connection_count_bound() -> None:
    r, hs = make(max_connections=10)
    for port in range(42000, 42025):
        r.packet(seg(1, b"hi", port=port))
    assert len(r) == 10 and r.evicted == 15
    assert [h.closed for h in hs[:15]] == [["too many connections open at once"]] * 15


def test_new_connection_on_a_reused_four_tuple() -> None:
    r, hs = make()
    r.packet(seg(10, flags=SYN))
    r.packet(seg(11, b"first"))
    r.packet(seg(90_000, flags=SYN))  # same ports, new ISN: the old connection is over
    r.packet(seg(90_001, b"second"))
    r.close_all()
    assert [bytes(h.up) for h in hs] == [b"first", b"second"]
