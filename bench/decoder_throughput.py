"""MB/s of each protocol decoder and payload decoder, alone and with detection, next to a
bytes.find scan of the same data.

Usage:
    python bench/decoder_throughput.py [--size-mb 8] [--body-mb 2] [--repeat 3]
                                       [--only gt06,jt808,...]

For each stream protocol a connection is built by repeating its real samples
(tests/data/protocol_samples, plus the benign corpus' generated frames where there
are some) to ``--size-mb`` and fed to a fresh ``Stream`` in 1460-byte chunks (one TCP
segment); "+detect" also runs ``detect`` over every Document. The baseline walks the
same buffer with ``bytes.find`` from one frame-start marker to the next: a framer
that touches every byte once and does nothing else. Payload formats (JSON, protobuf,
msgpack, CBOR bodies built from the real JSON samples) go through ``decode_body`` one
body at a time; their baseline is one ``bytes.find`` of an absent needle per body.
Every figure is the best of ``--repeat`` runs; ratio = decoder / baseline. Exit 0
always (there is no target ratio), 2 when a built stream does not decode cleanly.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cbor2
import msgpack
from benign_corpus import benign_frames, mqtt_session
from protocol_corpus import SAMPLES_DIR, load_samples

from shekara.audit.decoders import DecodeError, decode_body, streams
from shekara.audit.detectors import detect

CHUNK = 1460  # one Ethernet-MTU TCP segment's payload
MB = 1_000_000

#: The byte(s) each protocol's frames start with, for the find baseline.
MARKERS = {
    "mqtt": b"\x30",
    "gbt32960": b"##",
    "jt808": b"\x7e",
    "gt06": b"\x78\x78",
    "teltonika": b"\x00\x00\x00\x00",
    "egts": b"\x01\x00",
    "watch3g": b"[",
    "h02": b"*HQ",
    "tk103": b"(",
    "queclink": b"+RESP",
    "wialon": b"#",
    "nmea": b"$",
}
#: Sent once at the start of a connection, not repeated (Teltonika's IMEI handshake).
PREAMBLE_PREFIX = {"teltonika": b"\x00\x0f"}


@dataclass
class Row:
    name: str
    size: int
    units: int  # Documents decoded (streams) or bodies
    decode_s: float
    detect_s: float
    base_s: float
    hits: int

    def mbps(self, seconds: float) -> float:
        return self.size / MB / seconds if seconds else float("inf")


def best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


# --- streams -----------------------------------------------------------------------------


def _clean(protocol: streams.StreamProtocol, data: bytes) -> bool:
    """Whether ``data`` alone decodes to Documents with no error (usable as a repeat unit)."""
    stream = protocol.stream(from_client=True)
    try:
        return bool(stream.feed(data))
    except DecodeError:
        return False


def stream_units() -> dict[str, tuple[bytes, list[bytes]]]:
    """Per protocol: bytes sent once first, and the frames to repeat after it."""
    by_name = {p.name: p for p in streams.PROTOCOLS}
    units: dict[str, tuple[bytes, list[bytes]]] = {}
    for sample in load_samples():
        protocol = by_name.get(sample.file)
        if protocol is None or not sample.from_client or not _clean(protocol, sample.data):
            continue
        head, frames = units.setdefault(sample.file, (b"", []))
        prefix = PREAMBLE_PREFIX.get(sample.file)
        if prefix is not None and sample.data.startswith(prefix):
            units[sample.file] = (head or sample.data, frames)
        else:
            frames.append(sample.data)
    for benign in benign_frames(random.Random(1), count=3):
        name = benign.id.split("-", 1)[0]
        if name in by_name and name != "mqtt" and _clean(by_name[name], benign.data):
            units.setdefault(name, (b"", []))[1].append(benign.data)
    # MQTT: one CONNECT, then PUBLISHes of a real tracker JSON (OwnTracks sample).
    owntracks = json.loads((SAMPLES_DIR / "owntracks.json").read_text())["samples"][0]
    payload = owntracks["hex_or_text"].encode()
    topic = b"owntracks/qtripp/865284041968706"
    body = len(topic).to_bytes(2, "big") + topic + payload
    publish = b"\x30" + _remaining_length(len(body)) + body
    units["mqtt"] = (mqtt_session("tracker-1", 20.0)[:-2], [publish])
    return units


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def build_stream(head: bytes, frames: list[bytes], size: int) -> tuple[bytes, int]:
    unit = b"".join(frames)
    count = max(1, (size - len(head)) // len(unit))
    return head + unit * count, count * len(frames) + (1 if head else 0)


def feed_all(protocol: streams.StreamProtocol, data: bytes, with_detect: bool) -> tuple[int, int]:
    stream = protocol.stream(from_client=True)
    docs = hits = 0
    for at in range(0, len(data), CHUNK):
        for doc in stream.feed(data[at : at + CHUNK]):
            docs += 1
            if with_detect:
                hits += len(detect(doc))
    return docs, hits


def find_scan(data: bytes, marker: bytes) -> int:
    count, at = 0, data.find(marker)
    while at >= 0:
        count += 1
        at = data.find(marker, at + len(marker))
    return count


def bench_stream(
    protocol: streams.StreamProtocol, head: bytes, frames: list[bytes], size: int, repeat: int
) -> Row:
    data, units = build_stream(head, frames, size)
    decode_s, (docs, _) = best(repeat, lambda: feed_all(protocol, data, False))
    detect_s, (_, hits) = best(repeat, lambda: feed_all(protocol, data, True))
    base_s, _ = best(repeat, lambda: find_scan(data, MARKERS[protocol.name]))
    if docs < units - (1 if head else 0):
        raise SystemExit(f"{protocol.name}: {docs} documents from {units} frames: not clean")
    return Row(protocol.name, len(data), docs, decode_s, detect_s, base_s, hits)


# --- payload bodies ------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def to_protobuf(tree: Any) -> bytes:
    """A JSON tree as protobuf wire bytes, keys numbered 1.. in order (schema-less)."""
    items: Iterable[tuple[int, Any]]
    items = enumerate(tree.values(), 1) if isinstance(tree, dict) else ((1, v) for v in tree)
    out = bytearray()
    for number, value in items:
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, bool | int):
                out += _varint(number << 3) + _varint(int(v))
            elif isinstance(v, float):
                out += _varint(number << 3 | 1) + struct.pack("<d", v)
            elif v is None:
                continue
            else:
                raw = v.encode() if isinstance(v, str) else to_protobuf(v)
                out += _varint(number << 3 | 2) + _varint(len(raw)) + raw
    return bytes(out)


def json_trees() -> list[Any]:
    """The real JSON payloads among the samples: OwnTracks and the OEM API responses."""
    texts = [json.loads((SAMPLES_DIR / "owntracks.json").read_text())["samples"][0]]
    texts += json.loads((SAMPLES_DIR / "gt06.json").read_text())["other_protocols"]
    trees = []
    for sample in texts:
        if sample["encoding"] == "text" and sample["hex_or_text"].lstrip().startswith("{"):
            trees.append(json.loads(sample["hex_or_text"]))
    return trees


PAYLOADS: dict[str, tuple[str, Callable[[Any], bytes]]] = {
    "json": ("application/json", lambda t: json.dumps(t).encode()),
    "protobuf": ("application/x-protobuf", to_protobuf),
    "msgpack": ("application/msgpack", msgpack.packb),
    "cbor": ("application/cbor", cbor2.dumps),
}


def bench_bodies(name: str, trees: list[Any], size: int, repeat: int) -> Row:
    content_type, encode = PAYLOADS[name]
    unit = [encode(t) for t in trees]
    per_unit = sum(len(b) for b in unit)
    bodies = unit * max(1, size // per_unit)
    total = sum(len(b) for b in bodies)

    def run(with_detect: bool) -> int:
        hits = 0
        for body in bodies:
            doc = decode_body(body, content_type)
            if with_detect:
                hits += len(detect(doc))
        return hits

    def scan() -> int:
        return sum(body.find(b"\xff\xfe\xfd\xfc") for body in bodies)

    decode_s, _ = best(repeat, lambda: run(False))
    detect_s, hits = best(repeat, lambda: run(True))
    base_s, _ = best(repeat, scan)
    return Row(f"body:{name}", total, len(bodies), decode_s, detect_s, base_s, hits)


def print_rows(rows: list[Row]) -> None:
    print(
        f"{'decoder':<16}{'MB':>7}{'docs':>9}{'decode':>9}{'+detect':>9}{'find':>10}"
        f"{'dec/find':>10}{'det/find':>10}{'hits':>9}"
    )
    print(f"{'':<16}{'':>7}{'':>9}{'MB/s':>9}{'MB/s':>9}{'MB/s':>10}{'ratio':>10}{'ratio':>10}")
    for r in rows:
        dec, det, base = r.mbps(r.decode_s), r.mbps(r.detect_s), r.mbps(r.base_s)
        print(
            f"{r.name:<16}{r.size / MB:>7.2f}{r.units:>9}{dec:>9.2f}{det:>9.2f}{base:>10.1f}"
            f"{dec / base:>10.4f}{det / base:>10.4f}{r.hits:>9}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=8.0, help="stream size per protocol")
    parser.add_argument("--body-mb", type=float, default=2.0, help="bytes of bodies per format")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated names (protocols, json, ...)")
    args = parser.parse_args(argv)
    only = {n for n in args.only.split(",") if n}

    rows: list[Row] = []
    units = stream_units()
    for protocol in streams.PROTOCOLS:
        if (only and protocol.name not in only) or protocol.name not in units:
            continue
        head, frames = units[protocol.name]
        rows.append(bench_stream(protocol, head, frames, int(args.size_mb * MB), args.repeat))
        print(f"  {protocol.name} done", file=sys.stderr)
    trees = json_trees()
    for name in PAYLOADS:
        if not only or name in only:
            rows.append(bench_bodies(name, trees, int(args.body_mb * MB), args.repeat))
    print(f"\nbest of {args.repeat}; streams fed in {CHUNK}-byte chunks\n")
    print_rows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
