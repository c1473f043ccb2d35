"""Wialon IPS 1.1 / 2.0 (Gurtam): the text protocol of many CIS trackers, ``#<type>#<msg>\\r\\n``.

Hand-written (no maintained Python parser exists). Packet types from the device: ``L``
login (1.1 ``imei;password``, 2.0 ``2.0;imei;password;crc16``), ``SD`` short data
(``date;time;lat;N;lon;E;speed;course;height;sats``), ``D`` extended data (adds
``hdop;inputs;outputs;adc;ibutton;params`` where params are ``name:type:value`` with
type 1 int, 2 double, 3 string), ``B`` black box (several SD/D bodies joined by ``|``),
``P`` ping, ``M`` message to the driver, ``I`` photo (a binary body of ``sz`` bytes
follows the header line). From the server: ``A<type>`` answers, ``M`` messages, ``QI``
photo requests and ``US``/``UC`` firmware/configuration uploads (binary bodies).
In 2.0 the last ``;``-field is a CRC-16/ARC (poly 0xA001 reflected, init 0) of the
message body up to and including the ``;`` before it — verified on traccar's real 2.0
frames; a mismatch is a note. Passwords are never kept (``password_present``).
Over UDP a packet may be prefixed ``<imei>#`` or ``2.0;<imei>#``; that is accepted too.
"""

from __future__ import annotations

import re
from typing import Any

from fastcrc import crc16

from ..model import Document
from .errors import DecodeError
from .framed_stream import MAX_FRAME, FramedStream
from .tracker_stream import ddmm, device_ids, frame_text, number, position, put_time

NAME = "wialon"
DEFAULT_PORTS: frozenset[int] = frozenset({5039, 20332, 20163})

_LINE_MAX = 16 * 1024
_PACKET = re.compile(r"(?:(?:\d\.\d;)?([^#;]{1,32}))?#([A-Z]{1,3})#(.*)", re.DOTALL)
_CRC_FIELD = re.compile(r"(?:0x)?[0-9A-Fa-f]{1,4}")
_BINARY_PACKETS = frozenset({"I", "US", "UC"})
_DEVICE_TYPES = frozenset({"L", "SD", "D", "B", "P", "M", "I", "IT", "T"})
_SERVER_NAMES = {
    "AL": "answer to login", "ASD": "answer to short data", "AD": "answer to data",
    "AB": "answer to black box", "AP": "answer to ping", "AM": "answer to message",
    "AI": "answer to photo", "QI": "request photo", "QT": "request tachograph file",
    "US": "upload firmware", "UC": "upload configuration", "M": "message to driver",
}  # fmt: skip


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC, the checksum of Wialon IPS 2.0 (computed by ``fastcrc``)."""
    return crc16.arc(data)


#: Device ids are IMEIs or short unit names; anything else is not a Wialon login.
_DEVICE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,40}")


def looks_like(first: bytes) -> bool:
    """Whether a client's first bytes are a Wialon IPS packet (``#L#…``, ``#D#…``, ``#SD#…``)."""
    return bool(re.match(rb"#(?:L|SD|D|B|P)#", first[:5]))


class Stream(FramedStream[bytes]):
    """One direction of a Wialon IPS connection."""

    NAME = NAME

    def __init__(self, *, from_client: bool = True, max_frame: int = MAX_FRAME) -> None:
        super().__init__(from_client=from_client, max_frame=max_frame)
        self._version = "1.1"  # a 2.0 login switches the CRC checks on

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        limit = min(_LINE_MAX, self.max_frame)
        end = buf.find(b"\r\n", 0, limit + 2)
        if end < 0:
            if len(buf) > limit:
                raise DecodeError(f"wialon: no CRLF within {limit} bytes")
            return None
        head = bytes(buf[:end])
        # "#I#sz;…\r\nBIN" (photo) and "#US#sz…", "#UC#sz…" (uploads): a binary body follows.
        match = re.match(rb"[^#\r\n]{0,40}#(?:I|US|UC)#(\d{1,9})", head)
        body_size = int(match.group(1)) if match else 0
        size = end + 2 + body_size
        self.check_frame_size(size)
        if len(buf) < size:
            return None
        frame = bytes(buf[:size]) if body_size else head
        del buf[:size]
        return frame

    def _decode_frame(self, frame: bytes) -> list[Document]:
        head, _, binary = frame.partition(b"\r\n")
        if not head.strip():
            return []  # a stray empty line
        text = frame_text(head, NAME)
        match = _PACKET.fullmatch(text)
        if match is None:
            raise DecodeError(f"wialon: not a '#type#' packet: {text[:24]!r}")
        udp_id, kind, body = match.groups()
        if self.from_client and kind not in _DEVICE_TYPES:
            raise DecodeError(f"wialon: unknown packet type {kind!r}")
        source = self.source(kind.lower())
        if not self.from_client:
            return [self._server(kind, body, binary)]
        tree: dict[str, Any] = device_ids(udp_id) if udp_id else {}
        tree["message_type"] = kind
        if kind == "L":
            tree |= self._login(body)
        elif kind in ("SD", "D"):
            tree |= _data(self._checked(kind, body), extended=kind == "D")
        elif kind == "B":
            tree |= self._black_box(body)
        elif kind == "M":
            tree["message_text"] = self._checked(kind, body).rstrip(";")
        elif kind == "I":
            tree |= _photo_header(self._checked(kind, body))
            tree["binary_bytes"] = len(binary)
        elif kind in ("IT", "T"):
            tree["fields"] = self._checked(kind, body).split(";")
        return [Document(source, tree)]

    def _checked(self, kind: str, body: str) -> str:
        """The body without its trailing CRC16 field, when it has one (version 2.0).

        A 1.1 stream has no CRC field; a stream seen from its middle (no login) is taken
        as 2.0 once a trailing field matches as CRC. A mismatch is noted, but the text is
        still decoded: what the device sent is readable whatever its checksum says.
        """
        cut = body.rfind(";")
        crc_text = body[cut + 1 :]
        if cut < 0 or not _CRC_FIELD.fullmatch(crc_text):
            if self._version == "2.0":
                self.note(kind.lower(), f"wialon: {kind} packet without its CRC16")
            return body
        matches = crc16_arc(body[: cut + 1].encode("utf-8")) == int(crc_text, 16)
        if matches:
            self._version = "2.0"
        elif self._version == "2.0":
            self.note(kind.lower(), f"wialon: {kind} packet CRC16 mismatch (decoded anyway)")
        else:
            return body  # 1.1: that last field is data, not a checksum
        return body[:cut]

    def _login(self, body: str) -> dict[str, Any]:
        parts = body.split(";")
        if len(parts) >= 3 and re.fullmatch(r"\d\.\d", parts[0]):
            self._version = parts[0]
            if self._version == "2.0":
                self._checked("L", body)
            parts = parts[1:3]
        if not parts or not parts[0]:
            raise DecodeError("wialon: login without a device id")
        if not _DEVICE_ID.fullmatch(parts[0]):
            # Not a login at all (noise that happens to start with "#L#"): no credentials.
            raise DecodeError(f"wialon: implausible device id {parts[0][:20]!r}")
        tree: dict[str, Any] = {"protocol_version": self._version} | device_ids(parts[0])
        password = parts[1] if len(parts) > 1 else ""
        # The password is a secret, not personal data: only whether one was sent.
        tree["password_present"] = password not in ("", "NA")
        return tree

    def _black_box(self, body: str) -> dict[str, Any]:
        parts = body.split("|")
        if len(parts) > 1 and _CRC_FIELD.fullmatch(parts[-1]):
            # 2.0: "#B#msg|msg|crc16". Which bytes the CRC covers is *uncertain* (the 2.0
            # text gives no example): with or without the last '|' are both accepted.
            covered = "|".join(parts[:-1])
            expected = int(parts[-1], 16)
            if expected not in (crc16_arc(covered.encode()), crc16_arc(covered.encode() + b"|")):
                self.note("b", "wialon: B packet CRC16 not verified (decoded anyway)")
            parts = parts[:-1]
        records = []
        for part in parts:
            if part:
                records.append(_data(part, extended=part.count(";") > 9))
        return {"points": records}

    def _server(self, kind: str, body: str, binary: bytes) -> Document:
        tree: dict[str, Any] = {"message_type": kind}
        if kind == "M":
            tree["command"] = _SERVER_NAMES["M"]
            tree["message_text"] = body.rsplit(";", 1)[0] if ";" in body else body
        elif kind in ("QI", "QT", "US", "UC"):
            tree["command"] = _SERVER_NAMES[kind]
            if binary:
                tree["binary_bytes"] = len(binary)
        elif kind.startswith("A"):
            tree["answer"] = _SERVER_NAMES.get(kind, kind)
            tree["result"] = body
        else:
            tree["command"] = f"wialon {kind}"
            tree["params"] = body.split(";")
        return Document(self.source(kind.lower()), tree)


def _na(value: str) -> str:
    return "" if value.strip() in ("NA", "") else value.strip()


def _data(body: str, *, extended: bool) -> dict[str, Any]:
    """An SD/D body: ``date;time;lat;N;lon;E;speed;course;height;sats[;hdop;…;params]``."""
    fields = body.split(";")
    if len(fields) < 6:
        raise DecodeError("wialon: data packet has too few fields")
    tree: dict[str, Any] = {}
    date, clock = _na(fields[0]), _na(fields[1]).split(".", 1)[0]
    if date and clock:
        put_time(tree, date, clock, NAME)
    lat, ns, lon, ew = (_na(v) for v in fields[2:6])
    if lat and lon:
        tree["position"] = position(ddmm(lat, ns, NAME, limit=90), ddmm(lon, ew, NAME, limit=180))
    names = ("speed_kmh", "course", "altitude", "satellites")
    for name, value in zip(names, fields[6:10], strict=False):
        if _na(value):
            tree[name] = number(_na(value))
    if extended and len(fields) > 10:
        extra = ("hdop", "inputs", "outputs", "adc", "ibutton")
        for name, value in zip(extra, fields[10:15], strict=False):
            if _na(value):
                tree[name] = number(_na(value)) if name != "adc" else _na(value)
        if len(fields) > 15 and _na(fields[15]):
            params = _params(";".join(fields[15:]))
            tree["params"] = params
            cells = _cells(params)
            if cells:
                tree["cells"] = cells
    return tree


def _cells(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Cell towers sent as params ``mcc``/``mnc``/``lac``/``cell_id`` (suffixes "", 1…9)."""
    cells = []
    for suffix in ("", *map(str, range(1, 10))):
        keys = [f"{name}{suffix}" for name in ("mcc", "mnc", "lac", "cell_id")]
        if all(key in params for key in keys):
            mcc, mnc, lac, cell_id = (params[key] for key in keys)
            cells.append({"mcc": mcc, "mnc": mnc, "lac": lac, "cell_id": cell_id})
    return cells


def _params(text: str) -> dict[str, Any]:
    """``name:type:value,…``; names keep the device's spelling so key hints still work."""
    params: dict[str, Any] = {}
    for item in text.split(","):
        name, sep, rest = item.partition(":")
        kind, sep2, value = rest.partition(":")
        if not (sep and sep2) or not name:
            continue
        if kind in ("1", "2"):
            params[name] = number(value)
        elif value.lower() in ("true", "false"):
            params[name] = value.lower() == "true"
        else:
            params[name] = value
    return params


def _photo_header(body: str) -> dict[str, Any]:
    fields = body.split(";")
    names = ("size", "index", "count", "date", "time", "name")
    return {f"photo_{name}": value for name, value in zip(names, fields, strict=False)}
