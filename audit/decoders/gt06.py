"""GT06 / Concox trackers over TCP: reassemble 0x7878/0x7979 frames and decode what they carry.

No maintained pure-Python GT06 parser exists on PyPI, so the frames are sliced by hand
with ``int.from_bytes``. Layouts follow the Concox GT06 protocol documents as summarised
in shared/reference/protocols.md section 3.1 (and traccar's decoder for the variants; no
code taken). The checksum is CRC-16/X-25 (the "CRC-ITU" of the documents, catalogued as
CRC-16/IBM-SDLC), computed by ``fastcrc``'s table-driven native implementation.

Frame: ``78 78 | len(1) | proto | content | serial(2) | crc(2) | 0D 0A``; the long form
starts ``79 79 | len(2)``. ``len`` counts proto through crc; the CRC covers len through
serial.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastcrc import crc16

from ..model import Document
from .byte_reader import ByteReader
from .errors import DecodeError
from .framed_stream import FramedStream

NAME = "gt06"
DEFAULT_PORTS: frozenset[int] = frozenset({5023})  # traccar's GT06 port; vendors vary

_SHORT = b"\x78\x78"
_LONG = b"\x79\x79"
_STOP = b"\r\n"
_MIN_LENGTH = 5  # proto + serial + crc: an acknowledgement with no content
_COORDINATE_SCALE = 1_800_000  # degrees x 60 minutes x 30000

LOGIN = 0x01
STATUS = 0x13
COMMAND_REPLY = 0x15
COMMAND_REPLY_2 = 0x21
INFO = 0x94
SERVER_COMMAND = 0x80

# Terminal-information bits 3..5 (status byte of 0x13/0x16/0x19/0x26).
_TERMINAL_ALARMS = {1: "vibration", 2: "power cut", 3: "low battery", 4: "sos"}
# Alarm byte of the "alarm/language" word, the values that the GT06 documents fix.
_ALARMS = {
    0x01: "sos", 0x02: "power cut", 0x03: "vibration", 0x04: "geofence enter",
    0x05: "geofence exit", 0x06: "overspeed", 0x09: "tow", 0x0E: "low external battery",
    0x0F: "low battery", 0x11: "power off",
}  # fmt: skip


def crc_itu(data: bytes) -> int:
    """CRC-16/X-25 ("CRC-ITU" in the GT06 documents) of ``data``."""
    return crc16.ibm_sdlc(data)


def looks_like(first: bytes) -> bool:
    """Whether a connection's first client bytes look like a GT06 frame (login, usually)."""
    header = _header_size(first)
    if header == 0 or len(first) <= header:
        return False
    length = _length(first, header)
    if length < _MIN_LENGTH or first[header] not in _UPSTREAM:
        return False
    total = header + length + 2
    # The stop bytes, not the CRC, decide: servers accept frames with a wrong CRC
    # (the GT06 document's own example has one).
    return len(first) < total or first[total - 2 : total] == _STOP


class Stream(FramedStream[tuple[bytes, int]]):
    """One direction of one GT06 connection (``from_client`` = tracker to server).

    A frame that breaks the framing (bad start or stop bytes, absurd length) poisons
    the stream. A well-framed message whose content cannot be decoded becomes a note,
    and decoding goes on with the next frame. A wrong CRC is a note too, but the message
    is still decoded (marked ``checksum_valid: False``): servers do not check it, so the
    data reached them all the same. Frames are handed on with their header size.
    """

    NAME = NAME
    LABEL = "GT06"

    def _next_frame(self) -> tuple[bytes, int] | None:
        buf = self._buf
        if not buf:
            return None
        if buf[0] not in (0x78, 0x79) or (len(buf) >= 2 and buf[1] != buf[0]):
            raise DecodeError(f"GT06: frame starts with {bytes(buf[:2]).hex()}, not 7878/7979")
        header = _header_size(buf)
        if header == 0 or len(buf) < header:
            return None
        length = _length(buf, header)
        if length < _MIN_LENGTH:
            raise DecodeError(f"GT06: frame length {length} is below the minimum of 5")
        total = header + length + 2
        self.check_frame_size(total)
        if len(buf) < total:
            return None
        if buf[total - 2 : total] != _STOP:
            raise DecodeError(f"GT06: frame of {total} bytes does not end in 0D0A")
        frame = bytes(buf[:total])
        del buf[:total]
        return frame, header

    def _decode_frame(self, framed: tuple[bytes, int]) -> list[Document]:
        frame, header = framed
        proto = frame[header]
        table = _UPSTREAM if self.from_client else _DOWNSTREAM
        entry = table.get(proto)
        source = self.source(entry[0] if entry is not None else f"0x{proto:02x}")
        crc_ok = _frame_crc_ok(frame)
        if not crc_ok:
            # Servers (traccar among them) accept such frames, so what they carry still
            # left the device: decode it, and say that the checksum was wrong.
            got = int.from_bytes(frame[-4:-2], "big")
            want = crc_itu(frame[2:-4])
            self.note_at(
                source, f"GT06: CRC {got:04x} does not match computed {want:04x}; decoded anyway"
            )
        content = frame[header + 1 : -6]
        if entry is None:
            if self.from_client or content:
                reason = f"GT06: protocol 0x{proto:02x} not decoded, {len(content)} bytes"
                self.note_at(source, reason)
            return []  # A server's bare acknowledgement carries nothing worth auditing.
        name, decode = entry
        try:
            tree = decode(_Reader(content, name))
        except DecodeError as exc:
            self.note_at(source, str(exc))
            return []
        tree = {"protocol": f"0x{proto:02x}", **tree, "serial": int.from_bytes(frame[-6:-4])}
        if not crc_ok:
            tree["checksum_valid"] = False
        return [Document(source, tree)]


def _header_size(buf: bytes | bytearray) -> int:
    """3 for 7878 frames, 4 for 7979 frames (start bytes and length), 0 if neither."""
    start = bytes(buf[:2])
    if start == _SHORT:
        return 3
    if start == _LONG:
        return 4
    return 0


def _length(buf: bytes | bytearray, header: int) -> int:
    return int.from_bytes(buf[2:header], "big")


def _frame_crc_ok(frame: bytes) -> bool:
    return crc_itu(frame[2:-4]) == int.from_bytes(frame[-4:-2], "big")


# --- message content -------------------------------------------------------------------


def _login(r: _Reader) -> dict[str, Any]:
    # The IMEI is BCD with a leading 0 nibble: 08 64 71 70 ... -> 864717003283581.
    out: dict[str, Any] = {"imei": _bcd(r.take(8))[1:]}
    if r.remaining() >= 2:
        out["model_code"] = r.take(2).hex()
    if r.remaining() >= 2:
        out["timezone"] = _timezone(r.u16())
    return out


def _timezone(bits: int) -> str:
    """The login's time-zone word: hhmm in bits 4..15, west of Greenwich when bit 3 is set."""
    value = bits >> 4
    sign = "-" if bits & 0x08 else "+"
    return f"{sign}{value // 100:02d}:{value % 100:02d}"


def _location(r: _Reader) -> dict[str, Any]:
    """0x12 (GPS + LBS) and 0x22 (the same plus ACC, upload mode and re-upload flags)."""
    out = _gps(r)
    if r.remaining() >= 8:
        out["cell"] = _cell(r)
    if r.remaining() >= 3:
        out["acc"] = bool(r.byte())
        out["upload_mode"] = r.byte()
        out["reupload"] = bool(r.byte())
    if r.remaining() >= 4:
        out["mileage"] = r.u32()
    return out


def _alarm(r: _Reader) -> dict[str, Any]:
    """0x16 / 0x26 / 0x27: GPS, a length-prefixed LBS block, then the status block."""
    out = _gps(r)
    lbs_length = r.byte()
    if lbs_length:
        lbs = _Reader(r.take(lbs_length - 1), r.what)  # The length counts itself.
        out["cell"] = _cell(lbs)
    out.update(_status_block(r))
    return out


def _lbs_alarm(r: _Reader) -> dict[str, Any]:
    """0x19: a cell tower without GPS, then the status block."""
    return {"cell": _cell(r), **_status_block(r)}


def _status(r: _Reader) -> dict[str, Any]:
    """0x13 heartbeat: terminal information, voltage level, GSM signal, alarm/language."""
    return _status_block(r)


def _info(r: _Reader) -> dict[str, Any]:
    """0x94 information transmission: the subtype says what follows."""
    subtype = r.byte()
    out: dict[str, Any] = {"info_type": f"0x{subtype:02x}"}
    if subtype == 0x0A:
        out["imei"] = _bcd(r.take(8)).removeprefix("0")
        out["imsi"] = _bcd(r.take(8)).removeprefix("0")
        out["iccid"] = _bcd(r.take(10)).rstrip("f")
    elif subtype == 0x00:
        out["external_voltage"] = r.u16() / 100
    else:
        data = r.rest()
        text = _ascii(data)
        out["text" if text is not None else "data_hex"] = text if text is not None else data.hex()
    return out


def _command_reply(r: _Reader) -> dict[str, Any]:
    """0x15: the device's answer to a 0x80 server command."""
    size = r.byte()
    if size < 4:
        return {"text": ""}
    out: dict[str, Any] = {"server_flag": r.u32()}
    out.update(_reply_text(r.take(size - 4)))
    return out


def _command_reply_2(r: _Reader) -> dict[str, Any]:
    """0x21: newer command answer, server flag then an encoding byte (1 = ASCII, else UTF-16)."""
    out: dict[str, Any] = {"server_flag": r.u32()}
    encoding = r.byte()
    data = r.rest()
    if encoding == 1:
        out.update(_reply_text(data))
    else:
        out["text"] = data.decode("utf-16-be", errors="replace")
    return out


def _reply_text(data: bytes) -> dict[str, Any]:
    text = data.decode("ascii", errors="replace")
    # Some devices answer an ICCID query as "<ICCID:8986...>".
    if text.startswith("<ICCID:"):
        return {"iccid": text[7:27], "text": text}
    return {"text": text}


def _server_command(r: _Reader) -> dict[str, Any]:
    """0x80: a text command from the server (``RELAY,1#`` cuts fuel or power)."""
    size = r.byte()
    if size < 4:
        raise DecodeError(f"GT06: {r.what} command length {size} is below 4")
    flag = r.u32()
    text = r.take(size - 4).decode("ascii", errors="replace")
    return {**describe_command(text), "server_flag": flag}


# Upper-case command word -> readable name, for Concox text commands (GT06/GT06N manuals).
_COMMANDS = {
    "DYD": "relay (cut fuel/power)",
    "HFYD": "relay (restore fuel/power)",
    "WHERE": "request position",
    "URL": "request position link",
    "RESET": "reboot device",
    "FACTORY": "factory reset",
    "SERVER": "change server address",
    "APN": "set APN",
    "SOS": "set SOS phone numbers",
    "CENTER": "set centre phone number",
    "TIMER": "set upload interval",
    "STATUS": "request status",
    "PARAM": "request parameters",
    "GPRSSET": "request GPRS settings",
    "VERSION": "request firmware version",
    "GMT": "set time zone",
    "FENCE": "set geofence",
}


def describe_command(text: str) -> dict[str, Any]:
    """A readable ``command`` for a GT06 text command, with the text and any phone numbers.

    ``RELAY,1#`` (or ``DYD,<password>#``) cuts the fuel pump or power: the remote
    immobiliser. Unknown commands are ``"text command"``.
    """
    parts = text.strip().rstrip("#").split(",")
    word = parts[0].strip().upper()
    args = [p.strip() for p in parts[1:]]
    if word == "RELAY":
        state = args[0] if args else ""
        name = {"1": "relay (cut fuel/power)", "0": "relay (restore fuel/power)"}.get(
            state, "relay"
        )
    else:
        name = _COMMANDS.get(word, "text command")
    out: dict[str, Any] = {"command": name, "text": text}
    phones = [a for a in args if _looks_like_phone(a)]
    if phones and word in ("SOS", "CENTER"):
        out["phone"] = phones
    return out


def _looks_like_phone(arg: str) -> bool:
    digits = arg.removeprefix("+")
    return 6 <= len(digits) <= 15 and digits.isdigit()


def _gps(r: _Reader) -> dict[str, Any]:
    """Date, satellites, position, speed and the course/status word (18 bytes)."""
    when = _time(r.take(6))
    satellites = r.byte() & 0x0F  # High nibble: length of the GPS block.
    lat = r.u32() / _COORDINATE_SCALE
    lon = r.u32() / _COORDINATE_SCALE
    speed = r.byte()
    flags = r.u16()
    if not flags & 0x0400:  # bit 10 clear: southern hemisphere
        lat = -lat
    if flags & 0x0800:  # bit 11 set: western hemisphere
        lon = -lon
    out: dict[str, Any] = {
        "time": when,
        "satellites": satellites,
        "position": {"lat": lat, "lon": lon},
        "speed_kmh": speed,
        "course": flags & 0x03FF,
        "gps_fixed": bool(flags & 0x1000),
    }
    if flags & 0x4000:  # bit 14 says bit 15 carries ACC (ignition)
        out["ignition"] = bool(flags & 0x8000)
    return out


def _cell(r: _Reader) -> dict[str, int]:
    mcc = r.u16()
    # Bit 15 of the MCC announces a two-byte MNC (3-digit MNC operators).
    mnc = r.u16() if mcc & 0x8000 else r.byte()
    lac = r.u16()
    cell_id = int.from_bytes(r.take(3), "big")
    return {"mcc": mcc & 0x7FFF, "mnc": mnc, "lac": lac, "cell_id": cell_id}


def _status_block(r: _Reader) -> dict[str, Any]:
    info = r.byte()
    out: dict[str, Any] = {
        "armed": bool(info & 0x01),
        "ignition": bool(info & 0x02),
        "charging": bool(info & 0x04),
        "gps_tracking": bool(info & 0x40),
        "fuel_cut": bool(info & 0x80),  # oil and electricity disconnected
    }
    terminal_alarm = _TERMINAL_ALARMS.get((info >> 3) & 0x07)
    if terminal_alarm is not None:
        out["terminal_alarm"] = terminal_alarm
    out["voltage_level"] = r.byte()
    out["gsm_signal"] = r.byte()
    if r.remaining() >= 1:
        code = r.byte()
        if code:
            out["alarm"] = _ALARMS.get(code, f"0x{code:02x}")
    if r.remaining() >= 1:
        out["language"] = r.byte()
    return out


def _time(raw: bytes) -> str | None:
    """``YY MM DD hh mm ss`` (UTC, year 2000 + YY) as ISO 8601, or None if not a date."""
    try:
        when = datetime(2000 + raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], tzinfo=UTC)
    except ValueError:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bcd(raw: bytes) -> str:
    return raw.hex()


def _ascii(data: bytes) -> str | None:
    if data and all(0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D) for b in data):
        return data.decode("ascii")
    return None


_Decoder = Callable[["_Reader"], dict[str, Any]]

# Protocol number -> (message name used in the Document source, decoder).
_UPSTREAM: dict[int, tuple[str, _Decoder]] = {
    LOGIN: ("login", _login),
    0x12: ("location", _location),
    0x22: ("location", _location),
    STATUS: ("status", _status),
    COMMAND_REPLY: ("command_reply", _command_reply),
    0x16: ("alarm", _alarm),
    0x26: ("alarm", _alarm),
    0x27: ("alarm", _alarm),
    0x19: ("lbs_alarm", _lbs_alarm),
    COMMAND_REPLY_2: ("command_reply", _command_reply_2),
    INFO: ("info", _info),
}
_DOWNSTREAM: dict[int, tuple[str, _Decoder]] = {
    SERVER_COMMAND: ("command", _server_command),
}


class _Reader(ByteReader):
    """Bounds-checked reads over one message; running off the end is a DecodeError."""

    protocol = "GT06"
    __slots__ = ()
