"""Seeded inputs that hold no personal data, so any finding on them is a false positive.

Four kinds: random bytes; bytes that start like a tracker protocol and then go
random (a sniffer's and a framer's worst case); well-formed frames that carry no
identifier (heartbeats, pings, no-fix reports at 0,0, acknowledgements); and the
request side of the flows the capture manifests mark as having no findings.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import reduce
from operator import xor
from pathlib import Path

from shekara.audit.decoders import egts, gt06

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = (ROOT / "captures" / "labelled.mitm", ROOT / "captures" / "sample.mitm")

#: First bytes of each stream protocol (and MQTT, HTTP, TLS) that noise is grown from.
MARKERS: tuple[bytes, ...] = (
    b"##\x01\xfe",  # GB/T 32960
    b"\x7e\x02\x00",  # JT/T 808
    b"\x78\x78",  # GT06 short
    b"\x79\x79",  # GT06 long
    b"\x00\x00\x00\x00\x00\x00\x00\x40\x08",  # Teltonika AVL codec 8
    b"\x00\x0f",  # Teltonika IMEI handshake length
    b"\x01\x00\x00\x0b",  # EGTS header
    b"*HQ,",  # H02
    b"(0",  # TK103
    b"+RESP:GT",  # Queclink
    b"[3G*",  # 3G watch
    b"[SG*",
    b"#SD#",  # Wialon
    b"#L#",
    b"$GPRMC,",  # NMEA
    b"\x10",  # MQTT CONNECT
    b"POST / HTTP/1.1\r\n",
    b"\x16\x03\x01",  # TLS ClientHello
)
# Text noise keeps digit runs short: a random 15-digit run with a valid Luhn digit is an
# IMEI as far as anyone can tell, so it would not be benign.
_TEXT = string.ascii_letters + ",;*#.:-_ " + "0123456789"


@dataclass(frozen=True)
class Benign:
    """One benign input: ``stream`` bytes for the sniffer, or an HTTP part."""

    id: str
    kind: str  # "stream", "stream-all" (also forced through every decoder), "body", "query", "ws"
    data: bytes
    content_type: str | None = None
    #: From a capture bench/accuracy.py also replays (its hits are already counted there).
    from_capture: bool = False


def _short_digit_text(rng: random.Random, size: int) -> bytes:
    out: list[str] = []
    run = 0
    while len(out) < size:
        ch = rng.choice(_TEXT)
        run = run + 1 if ch.isdigit() else 0
        if run > 4:
            ch, run = "x", 0
        out.append(ch)
    return "".join(out).encode()


def random_inputs(rng: random.Random, count: int = 200) -> Iterator[Benign]:
    for i in range(count):
        size = rng.choice((1, 8, 64, 300, 1460, 4096))
        yield Benign(f"random[{i}]", "stream-all", rng.randbytes(size))


def marker_noise(rng: random.Random, per_marker: int = 12) -> Iterator[Benign]:
    for marker in MARKERS:
        for i in range(per_marker):
            size = rng.choice((4, 32, 200, 1400))
            tail = rng.randbytes(size) if i % 2 else _short_digit_text(rng, size)
            end = rng.choice((b"", b"#", b")", b"$", b"]", b"\r\n", b"\x0d\x0a", b"\x7e"))
            data = marker + tail + end
            yield Benign(f"noise[{marker[:8]!r}][{i}]", "stream-all", data)


# --- well-formed frames without identifiers ------------------------------------------------


def gt06_heartbeat(serial: int, info: int, voltage: int, signal: int) -> bytes:
    """GT06 status (0x13): terminal info, voltage level, GSM signal, alarm/language."""
    body = bytes([10, gt06.STATUS, info, voltage, signal, 0, 2]) + serial.to_bytes(2, "big")
    return b"\x78\x78" + body + gt06.crc_itu(body).to_bytes(2, "big") + b"\r\n"


def jt808_frame(msg_id: int, terminal: str, serial: int, body: bytes = b"") -> bytes:
    """A JT/T 808-2013 frame with checksum and 0x7e/0x7d escaping."""
    head = msg_id.to_bytes(2, "big") + len(body).to_bytes(2, "big") + bytes.fromhex(terminal)
    data = head + serial.to_bytes(2, "big") + body
    data += bytes([reduce(xor, data, 0)])
    escaped = data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")
    return b"\x7e" + escaped + b"\x7e"


def egts_response(pid: int, rpid: int) -> bytes:
    """An EGTS transport response (PT 0) to packet ``rpid``: result 0, no records."""
    body = rpid.to_bytes(2, "little") + b"\x00"
    head = bytes([1, 0, 0, 11, 0]) + len(body).to_bytes(2, "little")
    head += pid.to_bytes(2, "little") + b"\x00"
    head += bytes([egts.crc8(head)])
    return head + body + egts.crc16(body).to_bytes(2, "little")


def nmea(sentence: str) -> bytes:
    checksum = reduce(xor, sentence.encode(), 0)
    return f"${sentence}*{checksum:02X}\r\n".encode()


def watch_link(device: str, steps: int, rolls: int, battery: int) -> bytes:
    content = f"LK,{steps},{rolls},{battery}"
    return f"[3G*{device}*{len(content):04X}*{content}]".encode()


def _mqtt_string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _mqtt_packet(first: int, body: bytes) -> bytes:
    if len(body) >= 128:  # a one-byte remaining length is all these packets need
        raise ValueError(f"MQTT packet body of {len(body)} bytes needs a longer length")
    return bytes([first, len(body)]) + body


def mqtt_session(client_id: str, celsius: float) -> bytes:
    """CONNECT (clean session, no credentials), a QoS 0 PUBLISH of a reading, PINGREQ."""
    connect = _mqtt_string("MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big")
    payload = json.dumps({"celsius": celsius, "humidity": 40}).encode()
    return (
        _mqtt_packet(0x10, connect + _mqtt_string(client_id))
        + _mqtt_packet(0x30, _mqtt_string("home/greenhouse/climate") + payload)
        + b"\xc0\x00"
    )


def benign_frames(rng: random.Random, count: int = 10) -> Iterator[Benign]:
    for i in range(count):
        serial = rng.randrange(1, 0xFFFF)
        yield Benign(
            f"gt06-heartbeat[{i}]",
            "stream",
            b"".join(
                gt06_heartbeat(serial + k, rng.randrange(256), rng.randrange(7), rng.randrange(5))
                for k in range(3)
            ),
        )
        # An all-zero terminal number identifies nobody (and is no phone number).
        yield Benign(
            f"jt808-heartbeat[{i}]",
            "stream",
            b"".join(jt808_frame(0x0002, "000000000000", serial + k) for k in range(3)),
        )
        yield Benign(f"egts-response[{i}]", "stream", egts_response(serial, serial - 1))
        yield Benign(
            f"watch3g-link[{i}]",
            "stream",
            watch_link("0000000000", rng.randrange(20000), rng.randrange(50), rng.randrange(101)),
        )
        hh, mm, ss = rng.randrange(24), rng.randrange(60), rng.randrange(60)
        yield Benign(
            f"nmea-nofix[{i}]",
            "stream",
            nmea(f"GPRMC,{hh:02d}{mm:02d}{ss:02d}.00,V,,,,,,,010125,,,N")
            + nmea(f"GPGSV,1,1,02,{rng.randrange(1, 33):02d},45,120,30,12,10,300,")
            + nmea("GPGSA,A,1,,,,,,,,,,,,,99.9,99.9,99.9"),
        )
        yield Benign(
            f"h02-nofix[{i}]",
            "stream",
            f"*HQ,0000000000,V1,{hh:02d}{mm:02d}{ss:02d},V,0000.0000,N,00000.0000,E,"
            f"0.00,0,010125,FFFFFFFF#".encode(),
        )
        yield Benign(f"wialon-ping[{i}]", "stream", b"#P#\r\n")
        yield Benign(
            f"mqtt-session[{i}]",
            "stream",
            mqtt_session(f"sensor-{i}", rng.randrange(150, 300) / 10),
        )


# --- benign flows of the labelled captures -------------------------------------------------


def capture_flows(captures: tuple[Path, ...] = CAPTURES) -> Iterator[Benign]:
    """The request bodies, queries, client WebSocket messages and client TCP bytes of every
    flow a manifest lists with no findings."""
    from mitmproxy import http, io, tcp  # bench only: the core never imports mitmproxy

    for capture in captures:
        manifest = capture.with_name(capture.name.removesuffix(".mitm") + ".manifest.json")
        flows = json.loads(manifest.read_text())["flows"]
        benign = {fid for fid, entry in flows.items() if not entry["findings"]}
        with capture.open("rb") as fh:
            for flow in io.FlowReader(fh).stream():
                if flow.id not in benign:
                    continue
                name = f"{capture.stem}:{flows[flow.id]['name']}"
                if isinstance(flow, http.HTTPFlow):
                    req = flow.request
                    try:
                        body = req.get_content(strict=True) or b""
                    except ValueError:
                        body = req.raw_content or b""  # a broken encoding: bytes as sent
                    yield Benign(name, "body", body, req.headers.get("content-type"), True)
                    if req.query:
                        yield Benign(
                            f"{name}?", "query", req.url.split("?", 1)[1].encode(), None, True
                        )
                    if flow.websocket is not None:
                        for n, msg in enumerate(flow.websocket.messages):
                            if msg.from_client:
                                yield Benign(f"{name}#ws{n}", "ws", msg.content, None, True)
                elif isinstance(flow, tcp.TCPFlow):
                    data = b"".join(m.content for m in flow.messages if m.from_client)
                    yield Benign(name, "stream", data, None, True)


def corpus(seed: int = 20240) -> list[Benign]:
    rng = random.Random(seed)
    return [
        *random_inputs(rng),
        *marker_noise(rng),
        *benign_frames(rng),
        *capture_flows(),
    ]
