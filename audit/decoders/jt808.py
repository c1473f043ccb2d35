"""JT/T 808 (China's vehicle-terminal protocol, 2011/2013/2019) over TCP: frames in, Documents out.

Sans-IO like ``mqtt.py``: ``Stream.feed`` takes the bytes of one direction of a connection,
cuts ``0x7E``-delimited frames, undoes the ``0x7D`` escaping, checks the XOR checksum and
returns one Document per message. PyPI has no maintained JT/T 808 parser, so the layout is
decoded by hand with ``int.from_bytes`` from the tables in the standard as summarised in
``/work/shared/reference/protocols.md`` and traccar's decoder (Apache-2.0, read, not copied).

What is decoded: the header of every message (terminal phone, serial, packet numbers;
2019's version byte and 10-byte phone), and the bodies of 0x0001, 0x0002, 0x0003, 0x0100,
0x0102, 0x0104, 0x0107, 0x0200, 0x0201 and 0x0704 upstream, and 0x8001, 0x8100, 0x8103,
0x8105, 0x8300 and 0x8500 downstream. Multi-packet messages are reassembled for those ids
(others keep their header only, with a note); RSA-encrypted bodies are noted, not decoded.
Vendor items of 0x0200 are many and clash between makers: only the ones seen in real
frames are decoded (0xCC ICCID text, 0xEB sub-items with ICCID 0x00B2, 0xF6 BCD IMEI, 0xEE
cell tower); others are kept as hex (and text when printable).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import reduce
from operator import xor
from typing import Any

from stdnum import imei as stdnum_imei

from ..model import Document
from .byte_reader import ByteReader
from .errors import DecodeError
from .framed_stream import MAX_FRAME, FramedStream

NAME = "jt808"
# No standard port: traccar listens for JT/T 808 on 5015, EMQX's JT/T 808 gateway on 6207.
DEFAULT_PORTS: frozenset[int] = frozenset({5015, 6207})

_FLAG = 0x7E
_ESCAPE = 0x7D
_BEIJING = dt.timezone(dt.timedelta(hours=8))
_MIN_FRAME = 13  # 2013 header (12) + checksum
_MAX_PENDING_PARTS = 8  # multi-packet messages reassembled at once

_MESSAGES = {
    0x0001: "terminal_response",
    0x0002: "heartbeat",
    0x0003: "logout",
    0x0004: "time_request",
    0x0100: "registration",
    0x0102: "authentication",
    0x0104: "parameters",
    0x0107: "attributes",
    0x0200: "location",
    0x0201: "location_reply",
    0x0704: "batch_location",
    0x0800: "multimedia_event",
    0x0801: "multimedia_upload",
    0x0900: "transparent_up",
    0x8001: "platform_response",
    0x8100: "registration_response",
    0x8103: "set_parameters",
    0x8104: "query_parameters",
    0x8105: "terminal_control",
    0x8300: "text_message",
    0x8500: "vehicle_control",
}
_RESULTS = {0: "success", 1: "failure", 2: "message error", 3: "not supported", 4: "alarm ack"}
_REGISTRATION_RESULTS = {
    0: "success",
    1: "vehicle already registered",
    2: "vehicle not in database",
    3: "terminal already registered",
    4: "terminal not in database",
}
_CONTROLS = {
    1: "wireless upgrade",
    2: "connect to specified server",
    3: "shutdown",
    4: "reset",
    5: "factory reset",
    6: "close data communication",
    7: "close all wireless communication",
    # Vendor words seen in traccar's encoder (Jt808ProtocolEncoder): engine cut / resume.
    0x64: "engine stop (vendor)",
    0x65: "engine resume (vendor)",
    0xF0: "engine stop (vendor)",
    0xF1: "engine resume (vendor)",
}
_UPGRADE_FIELDS = (
    "upgrade_url",
    "dial_point",
    "dial_user",
    "dial_password",
    "server_address",
    "tcp_port",
    "udp_port",
    "manufacturer_id",
    "hardware_version",
    "firmware_version",
    "connect_timeout",
)
_CONNECT_FIELDS = (
    "connection_control",
    "auth_code",
    "dial_point",
    "dial_user",
    "dial_password",
    "server_address",
    "tcp_port",
    "udp_port",
    "connect_timeout",
)
_SECRET_FIELDS = frozenset({"dial_password"})
# 0x8103 parameter ids: name, and whether the value is text (else an unsigned integer).
_PARAMETERS: dict[int, tuple[str, bool]] = {
    0x0001: ("heartbeat_interval_s", False),
    0x0010: ("apn", True),
    0x0011: ("dial_user", True),
    0x0012: ("dial_password", True),
    0x0013: ("server_address", True),
    0x0014: ("backup_apn", True),
    0x0015: ("backup_dial_user", True),
    0x0016: ("backup_dial_password", True),
    0x0017: ("backup_server_address", True),
    0x0018: ("server_tcp_port", False),
    0x0019: ("server_udp_port", False),
    0x001A: ("ic_card_server_address", True),
    0x001B: ("ic_card_server_tcp_port", False),
    0x001C: ("ic_card_server_udp_port", False),
    0x001D: ("ic_card_backup_server_address", True),
    0x0020: ("report_strategy", False),
    0x0027: ("sleep_report_interval_s", False),
    0x0029: ("report_interval_s", False),
    0x0040: ("platform_phone", True),
    0x0041: ("reset_phone", True),
    0x0042: ("factory_reset_phone", True),
    0x0043: ("platform_sms_phone", True),
    0x0044: ("sms_alarm_phone", True),
    0x0048: ("monitor_phone", True),
    0x0049: ("privileged_sms_phone", True),
    0x0080: ("odometer_0_1km", False),
    0x0081: ("province_id", False),
    0x0082: ("city_id", False),
    0x0083: ("plate", True),
    0x0084: ("plate_color", False),
}
_SECRET_PARAMETERS = frozenset({0x0012, 0x0016})
_PLATE_COLORS = {1: "blue", 2: "yellow", 3: "black", 4: "white", 5: "green", 9: "other"}


def _error(text: str) -> DecodeError:
    """A well-framed message whose content cannot be read: it gets a note."""
    return DecodeError(f"JT/T 808: {text}")


def looks_like(first: bytes) -> bool:
    """Whether a connection's first client bytes are a JT/T 808 frame with a valid checksum."""
    if len(first) < _MIN_FRAME + 2 or first[0] != _FLAG:
        return False
    end = first.find(b"\x7e", 1)
    if end < _MIN_FRAME + 1:
        return False
    try:
        data = _unescape(bytes(first[1:end]))
    except DecodeError:
        return False
    if reduce(xor, data[:-1], 0) != data[-1]:
        return False
    props = int.from_bytes(data[2:4], "big")
    header = 17 if props & 0x4000 else 12
    if props & 0x2000:
        header += 4
    # The declared body length must match: random bytes with a lucky checksum rarely do.
    return len(data) - 1 - header == props & 0x03FF


class Stream(FramedStream[bytes]):
    """One direction of one JT/T 808 connection.

    ``from_client`` says whether the bytes come from the terminal: its messages get sources
    ``jt808.0x<id>``, the platform's ``jt808.down.0x<id>``. Bytes before the first ``0x7E``
    mean this is not JT/T 808: the stream raises and is poisoned. Stray bytes after a frame
    read as one more (bad) frame up to the next flag, a note: the flags resynchronise.
    Frames are handed on still escaped, without their flags.
    """

    NAME = NAME
    LABEL = "JT/T 808"

    def __init__(self, *, from_client: bool = True, max_frame: int = MAX_FRAME) -> None:
        super().__init__(from_client=from_client, max_frame=max_frame)
        self._scan = 1
        self._parts: dict[tuple[int, str, int, int], dict[int, bytes]] = {}

    def _reset(self) -> None:
        super()._reset()
        self._parts.clear()

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        # A frame's closing flag may also open the next one ("7E a 7E b 7E"), and "7E7E"
        # between frames is an empty frame: both are accepted.
        while len(buf) >= 2 and buf[0] == _FLAG and buf[1] == _FLAG:
            del buf[0]
            self._scan = 1
        if not buf:
            return None
        if buf[0] != _FLAG:
            raise DecodeError(f"JT/T 808: byte {buf[0]:#04x} outside a 0x7E frame")
        end = buf.find(b"\x7e", self._scan)
        if end < 0:
            if len(buf) > self.max_frame:
                raise DecodeError(f"JT/T 808: no frame end within {self.max_frame} bytes")
            self._scan = max(1, len(buf))
            return None
        self.check_frame_size(end + 1)
        frame = bytes(buf[1:end])
        del buf[:end]  # the closing flag stays: it may open the next frame
        self._scan = 1
        return frame

    def _decode_frame(self, escaped: bytes) -> list[Document]:
        try:
            data = _unescape(escaped)
        except DecodeError as exc:
            # No message id without the unescaped header: the note names the direction only.
            self.note_at(NAME if self.from_client else f"{NAME}.down", f"{exc}, frame skipped")
            return []
        msg_id = int.from_bytes(data[:2], "big")
        source = self.source(f"0x{msg_id:04x}")
        if reduce(xor, data[:-1], 0) != data[-1]:
            self.note_at(source, "JT/T 808: checksum mismatch, frame skipped")
            return []
        try:
            tree, body, declared, encryption = _header(data[:-1])
        except DecodeError as exc:
            self.note_at(source, str(exc))
            return []
        tree["message"] = _MESSAGES.get(msg_id, f"0x{msg_id:04x}")
        if declared != len(body):
            self.note_at(
                source, f"JT/T 808: header declares a {declared}-byte body, frame has {len(body)}"
            )
        try:
            if encryption:
                tree["encrypted"] = True
                kind = "RSA" if encryption & 1 else f"method {encryption:#x}"
                raise _error(f"encrypted body ({kind}), {len(body)} bytes, not decoded")
            self._body(source, msg_id, tree, body)
        except DecodeError as exc:
            self.note_at(source, str(exc))
        return [Document(source, tree)]

    def _body(self, source: str, msg_id: int, tree: dict[str, Any], body: bytes) -> None:
        decode = _DECODERS.get(msg_id)
        if "packet" in tree:
            if decode is None:
                raise _error(
                    f"multi-packet message part {tree['packet']['index']} of "
                    f"{tree['packet']['total']}, not reassembled"
                )
            whole = self._reassemble(source, tree, body)
            if whole is None:
                return
            body = whole
        if decode is None:
            if body:
                raise _error(f"message 0x{msg_id:04x} body ({len(body)} bytes) not decoded")
            return
        decode(_Reader(body, tree))

    def _reassemble(self, source: str, tree: dict[str, Any], body: bytes) -> bytes | None:
        """Collect the packets of one message; its whole body once the last one arrived."""
        total, index = tree["packet"]["total"], tree["packet"]["index"]
        if not 1 <= index <= total:
            raise _error(f"packet index {index} of {total}")
        first_serial = (tree["serial"] - index + 1) & 0xFFFF
        key = (int(tree["message_id"], 16), tree["terminal_id_raw"], total, first_serial)
        parts = self._parts.get(key)
        if parts is None:
            if len(self._parts) >= _MAX_PENDING_PARTS:
                dropped = next(iter(self._parts))
                del self._parts[dropped]
                self.note_at(
                    source, "JT/T 808: too many unfinished multi-packet messages, one lost"
                )
            parts = self._parts[key] = {}
        parts[index] = body
        if sum(len(p) for p in parts.values()) > self.max_frame:
            del self._parts[key]
            raise _error(f"multi-packet message beyond {self.max_frame} bytes, not decoded")
        if len(parts) < total:
            return None
        del self._parts[key]
        tree["reassembled"] = True
        return b"".join(parts[i] for i in range(1, total + 1))


# Framing ---------------------------------------------------------------------------------


def _unescape(escaped: bytes) -> bytes:
    """Undo 0x7D 0x02 -> 0x7E and 0x7D 0x01 -> 0x7D; any other 0x7D is an error."""
    escapes = escaped.count(b"\x7d")
    if escapes:
        if escapes != escaped.count(b"\x7d\x01") + escaped.count(b"\x7d\x02"):
            raise _error("invalid 0x7D escape")
        # 7D02 first: every 7D starts a pair, so neither replacement can split the other's.
        escaped = escaped.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    if len(escaped) < _MIN_FRAME:
        raise _error(f"frame of {len(escaped)} bytes is shorter than a header")
    return escaped


def _header(data: bytes) -> tuple[dict[str, Any], bytes, int, int]:
    """The header as tree keys, the body, its declared length and the encryption bits."""
    msg_id = int.from_bytes(data[:2], "big")
    props = int.from_bytes(data[2:4], "big")
    tree: dict[str, Any] = {"message_id": f"0x{msg_id:04x}"}
    if props & 0x4000:
        if len(data) < 17:
            raise _error("2019 header truncated")
        tree["protocol"] = "JT/T 808-2019"
        tree["protocol_version"] = data[4]
        phone, pos = data[5:15], 15
    else:
        tree["protocol"] = "JT/T 808-2011/2013"
        phone, pos = data[4:10], 10
    raw = phone.hex()
    tree["terminal_id_raw"] = raw
    if raw.isdigit() and raw.strip("0"):
        # Usually the SIM's MSISDN, BCD with leading zeros.
        tree["terminal_phone"] = raw.lstrip("0")
    tree["serial"] = int.from_bytes(data[pos : pos + 2], "big")
    pos += 2
    if props & 0x2000:
        if len(data) < pos + 4:
            raise _error("packet numbers truncated")
        tree["packet"] = {
            "total": int.from_bytes(data[pos : pos + 2], "big"),
            "index": int.from_bytes(data[pos + 2 : pos + 4], "big"),
        }
        pos += 4
    return tree, data[pos:], props & 0x03FF, (props >> 10) & 0x07


class _Reader(ByteReader):
    """Bounds-checked reads over one body, decoded into the message's ``tree``."""

    protocol = "JT/T 808"
    __slots__ = ("tree",)

    def __init__(self, data: bytes, tree: dict[str, Any]) -> None:
        super().__init__(data, "body")
        self.tree = tree

    @property
    def v2019(self) -> bool:
        return bool(self.tree.get("protocol", "").endswith("2019"))


# Upstream bodies -------------------------------------------------------------------------


def _response(r: _Reader) -> None:
    r.tree["reply_serial"] = r.u16()
    reply = r.u16()
    r.tree["reply_to"] = f"0x{reply:04x}"
    result = r.byte()
    r.tree["result"] = _RESULTS.get(result, result)


def _empty(r: _Reader) -> None:
    if r.remaining():
        raise _error(f"{r.remaining()} unexpected bytes in an empty message")


def _registration(r: _Reader) -> None:
    tree = r.tree
    tree["province_id"] = r.u16()
    tree["city_id"] = r.u16()
    # Field widths: 2011 (5, 8, 7), 2013 (5, 20, 7), 2019 (11, 30, 30). 2011 and 2013 share
    # the header, so the body length tells them apart: 2013's fixed part is 37 bytes.
    if r.v2019:
        widths, edition = (11, 30, 30), "2019"
    elif r.remaining() >= 33 and _plate_color_at(r, 32):
        widths, edition = (5, 20, 7), "2013"
    else:
        widths, edition = (5, 8, 7), "2011"
    tree["layout"] = edition
    tree["manufacturer_id"] = _text(r.take(widths[0]))
    tree["terminal_model"] = _text(r.take(widths[1]))
    terminal = _text(r.take(widths[2]))
    tree["terminal_id"] = terminal
    if stdnum_imei.is_valid(terminal) and len(terminal) == 15:
        tree["imei"] = terminal
    color = r.byte()
    tree["plate_color"] = color
    if color in _PLATE_COLORS:
        tree["plate_color_name"] = _PLATE_COLORS[color]
    plate = _text(r.rest())
    if plate:
        # Colour 0: the vehicle has no plate yet and the field carries its VIN.
        tree["vin" if color == 0 else "plate"] = plate


def _plate_color_at(r: _Reader, offset: int) -> bool:
    """Whether the byte ``offset`` bytes ahead could be a plate colour (0-5 or 9)."""
    at = r.pos + offset
    return at < len(r.data) and r.data[at] in (0, 1, 2, 3, 4, 5, 9)


def _authentication(r: _Reader) -> None:
    if r.v2019:
        r.tree["auth_code"] = _text(r.take(r.byte()))
        imei = _text(r.take(15))
        if imei:
            r.tree["imei"] = imei
        r.tree["software_version"] = _text(r.take(20))
    else:
        r.tree["auth_code"] = _text(r.rest())


def _location_into(r: _Reader, out: dict[str, Any], end: int) -> None:
    """One 0x0200 body from ``r.pos`` to ``end`` into ``out``."""
    alarm, status = r.u32(), r.u32()
    lat, lon = r.u32(), r.u32()
    out["alarm_flags"] = alarm
    out["status_flags"] = status
    out["acc_on"] = bool(status & 0x01)
    out["fixed"] = bool(status & 0x02)
    out["position"] = {
        "lat": round(lat / 1e6 * (-1 if status & 0x04 else 1), 6),
        "lon": round(lon / 1e6 * (-1 if status & 0x08 else 1), 6),
    }
    out["altitude_m"] = r.u16()
    out["speed_kmh"] = round(r.u16() / 10, 1)
    out["direction"] = r.u16()
    raw = r.take(6)
    if r.pos > end:
        raise _error("location item shorter than its fixed fields")
    stamp = _bcd_time(raw)
    if stamp is None:
        out["time_raw"] = raw.hex()
    else:
        out["time"] = stamp
    extras: dict[str, Any] = {}
    while r.pos < end:
        if r.pos + 2 > end:
            raise _error("location item header overruns the body")
        ident, size = r.byte(), r.byte()
        if r.pos + size > end:
            raise _error(f"location item 0x{ident:02x} overruns the body")
        _extra(ident, r.take(size), out, extras)
    if extras:
        out["extras"] = extras


def _location(r: _Reader) -> None:
    _location_into(r, r.tree, len(r.data))


def _location_reply(r: _Reader) -> None:
    r.tree["reply_serial"] = r.u16()
    _location(r)


def _batch(r: _Reader) -> None:
    count = r.u16()
    kind = r.byte()
    r.tree["count"] = count
    r.tree["batch_type"] = {0: "normal", 1: "blind area"}.get(kind, kind)
    locations: list[dict[str, Any]] = []
    r.tree["locations"] = locations
    for _ in range(count):
        size = r.u16()
        if r.pos + size > len(r.data):
            raise _error("batch item overruns the body")
        item: dict[str, Any] = {}
        locations.append(item)
        _location_into(r, item, r.pos + size)


def _attributes(r: _Reader) -> None:
    tree = r.tree
    tree["terminal_type"] = r.u16()
    tree["manufacturer_id"] = _text(r.take(5))
    model, ident = (30, 30) if r.v2019 else (20, 7)
    tree["terminal_model"] = _text(r.take(model))
    tree["terminal_id"] = _text(r.take(ident))
    iccid = r.take(10).hex().rstrip("f")
    if iccid.isdigit():
        tree["iccid"] = iccid
    tree["hardware_version"] = _text(r.take(r.byte()))
    tree["firmware_version"] = _text(r.take(r.byte()))
    tree["gnss_modules"] = r.byte()
    tree["network_modules"] = r.byte()


def _parameters_reply(r: _Reader) -> None:
    r.tree["reply_serial"] = r.u16()
    _parameter_list(r)


# Downstream bodies -----------------------------------------------------------------------


def _platform_response(r: _Reader) -> None:
    _response(r)


def _registration_response(r: _Reader) -> None:
    r.tree["reply_serial"] = r.u16()
    result = r.byte()
    r.tree["result"] = _REGISTRATION_RESULTS.get(result, result)
    if r.remaining():
        r.tree["auth_code"] = _text(r.rest())


def _set_parameters(r: _Reader) -> None:
    r.tree["command"] = "set_parameters"
    _parameter_list(r)


def _parameter_list(r: _Reader) -> None:
    count = r.byte()
    values: dict[str, Any] = {}
    r.tree["parameters"] = values
    for _ in range(count):
        ident = r.u32()
        raw = r.take(r.byte())
        name, is_text = _PARAMETERS.get(ident, (f"0x{ident:04x}", False))
        if ident in _SECRET_PARAMETERS:
            values[f"{name}_present"] = bool(raw)
        elif is_text:
            values[name] = _text(raw)
        elif ident in _PARAMETERS and len(raw) <= 4:
            values[name] = int.from_bytes(raw, "big")
        else:
            values[name] = _opaque(raw)


def _terminal_control(r: _Reader) -> None:
    r.tree["command"] = "terminal_control"
    word = r.byte()
    r.tree["control_id"] = f"0x{word:02x}"
    r.tree["control"] = _CONTROLS.get(word, f"unknown 0x{word:02x}")
    params = r.rest()
    if not params:
        return
    fields = {1: _UPGRADE_FIELDS, 2: _CONNECT_FIELDS}.get(word)
    if fields is None:
        r.tree["parameters"] = _opaque(params)
        return
    if word == 1:
        r.tree["ota"] = True
    for name, value in zip(fields, params.split(b";"), strict=False):
        if name in _SECRET_FIELDS:
            if value:
                r.tree["password_present"] = True
        elif value:
            r.tree[name] = _text(value)


def _text_message(r: _Reader) -> None:
    r.tree["command"] = "text_message"
    flags = r.byte()
    r.tree["text_flags"] = flags
    if r.v2019:
        r.tree["text_type"] = r.byte()
    r.tree["text"] = _text(r.rest())


def _vehicle_control(r: _Reader) -> None:
    r.tree["command"] = "vehicle_control"
    if r.v2019:
        # 2019: a list of (control type WORD, parameters); only the ids are named here.
        count = r.u16()
        r.tree["control_count"] = count
        r.tree["parameters"] = _opaque(r.rest())
        r.tree["control"] = "vehicle control (2019 list)"
        return
    flag = r.byte()
    r.tree["control"] = "lock doors" if flag & 0x01 else "unlock doors"


_DECODERS: dict[int, Callable[[_Reader], None]] = {
    0x0001: _response,
    0x0002: _empty,
    0x0003: _empty,
    0x0100: _registration,
    0x0102: _authentication,
    0x0104: _parameters_reply,
    0x0107: _attributes,
    0x0200: _location,
    0x0201: _location_reply,
    0x0704: _batch,
    0x8001: _platform_response,
    0x8100: _registration_response,
    0x8103: _set_parameters,
    0x8105: _terminal_control,
    0x8300: _text_message,
    0x8500: _vehicle_control,
}


# Location items --------------------------------------------------------------------------


def _extra(ident: int, value: bytes, out: dict[str, Any], extras: dict[str, Any]) -> None:
    """Decode one additional location item into ``out`` (known) or ``extras`` (raw)."""
    size = len(value)
    number = int.from_bytes(value, "big")
    if ident == 0x01 and size == 4:
        out["mileage_km"] = round(number / 10, 1)
    elif ident == 0x02 and size == 2:
        out["fuel_l"] = round(number / 10, 1)
    elif ident == 0x03 and size == 2:
        out["tacho_speed_kmh"] = round(number / 10, 1)
    elif ident == 0x25 and size == 4:
        out["extended_status"] = number
    elif ident == 0x2A and size == 2:
        out["io_status"] = number
    elif ident == 0x30 and size == 1:
        out["signal_strength"] = number
    elif ident == 0x31 and size == 1:
        out["satellites"] = number
    elif ident == 0xCC and size == 20 and _text(value).isalnum():
        out["iccid"] = _text(value)
    elif ident == 0xF6 and size == 8 and value.hex()[1:].isdigit():
        out["imei"] = value.hex()[1:]
    elif ident == 0xEE and size == 10:
        out["cell"] = {
            "mcc": int.from_bytes(value[0:2], "big"),
            "mnc": value[2],
            "lac": int.from_bytes(value[3:5], "big"),
            "cell_id": int.from_bytes(value[5:9], "big"),
            "signal": value[9],
        }
    elif ident == 0xEB and _sub_items(value, out, extras):
        pass
    else:
        extras[f"0x{ident:02x}"] = _opaque(value)


def _sub_items(value: bytes, out: dict[str, Any], extras: dict[str, Any]) -> bool:
    """Vendor item 0xEB: (length WORD, id WORD, data) records; False if it is not that."""
    pos, found = 0, False
    items: dict[str, str] = {}
    while pos + 4 <= len(value):
        size = int.from_bytes(value[pos : pos + 2], "big")
        ident = int.from_bytes(value[pos + 2 : pos + 4], "big")
        if size < 2 or pos + 2 + size > len(value):
            return False
        data = value[pos + 4 : pos + 2 + size]
        if ident == 0x00B2 and len(data) == 10:
            out["iccid"] = data.hex().rstrip("fF")
            found = True
        else:
            items[f"0x{ident:04x}"] = data.hex()
        pos += 2 + size
    if pos != len(value):
        return False
    if items:
        extras["0xeb"] = items
    return found or bool(items)


# Values ----------------------------------------------------------------------------------


def _bcd_time(raw: bytes) -> str | None:
    """BCD YYMMDDhhmmss in Beijing time, as ISO 8601, or None if not a time."""
    digits = raw.hex()
    if not digits.isdigit():
        return None
    year, month, day, hour, minute, second = (int(digits[i : i + 2]) for i in range(0, 12, 2))
    try:
        stamp = dt.datetime(2000 + year, month, day, hour, minute, second, tzinfo=_BEIJING)
    except ValueError:
        return None
    return stamp.isoformat()


def _text(raw: bytes) -> str:
    """A STRING field: GBK (GB 18030 is its superset) without NUL / space padding."""
    return raw.decode("gb18030", "replace").strip("\x00 ")


def _opaque(raw: bytes) -> dict[str, str] | str:
    """Undecoded bytes: as text when printable (it may hold identifiers), else as hex."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return {"hex": raw.hex()}
    if text.isprintable():
        return text
    return {"hex": raw.hex()}
