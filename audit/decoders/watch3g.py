"""Kids' smartwatches ("3G watch" protocol): ``[SG*<id>*<len>*<content>]`` reports and commands.

Hand-written (no maintained Python parser exists). A frame is ``[<vendor>*<device id>*
[<index>*]<content length, 4 hex>*<content>]``; the ``ZJ`` dialect adds the index. The
length field frames binary content (voice messages ``TK``, ``JXTK``), whose bytes ``}``,
``[``, ``]``, ``,`` and ``*`` are escaped as ``}`` + 0x01..0x05; since escaping keeps
raw brackets out of content, a frame whose length field is wrong (common on ``SG``
firmware) is still found by bracket matching. Content is ``<type>,<fields…>``: ``UD``/
``AL``/``WT`` positions with cell towers and Wi-Fi BSSIDs, ``LK`` heartbeats, phone-book
(``PHB``/``PHB2``/``PHBX``, names as hex UTF-16BE) and SOS/centre numbers, and server
commands such as ``MONITOR,<number>`` (the watch silently calls that number: covert
listening). Layouts follow /work/shared/reference/protocols.md §3.6 and the traccar test
vectors. The phone-book and SOS formats, and the command names traccar's encoder does
not use (MONITOR, CALL, FIND, CENTER, SLAVE, IP, SMS, …), come from vendor protocol
notes, not from a verified capture.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import Document
from .errors import DecodeError
from .framed_stream import MAX_FRAME, FramedStream
from .tracker_stream import (
    SEPARATORS,
    decimal_degrees,
    device_ids,
    drop_separators,
    number,
    position,
    put_time,
)

NAME = "watch3g"
DEFAULT_PORTS: frozenset[int] = frozenset({5093, 8001})

_HEADER = re.compile(
    rb"\[([A-Za-z0-9]{2})\*([0-9A-Za-z]{1,20})\*(?:([0-9A-Fa-f]{4})\*)?([0-9A-Fa-f]{4})\*"
)
_HEADER_MAX = 48
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,23}")
_UNESCAPE = {1: ord("}"), 2: ord("["), 3: ord("]"), 4: ord(","), 5: ord("*")}
_BINARY_TYPES = frozenset({"TK", "TK2", "JXTK", "img", "TKQ", "TKQ2", "RECORD"})
_HEX_NAME = re.compile(r"(?:[0-9A-Fa-f]{4})+")
_PHONE = re.compile(r"\+?[0-9*#][0-9 *#-]{2,24}")

_POSITION_PREFIXES = ("UD", "AL", "WT")
_PHONEBOOK = frozenset({"PHB", "PHB2", "PHBX", "PHL", "PHB1"})
_SOS = frozenset({"SOS", "SOS1", "SOS2", "SOS3"})
_ONE_NUMBER = {"CENTER": "center_phone", "SLAVE": "assistant_phone", "MONITOR": "phone",
               "CALL": "phone"}  # fmt: skip
_WHITELIST = frozenset({"WHITELIST1", "WHITELIST2"})
_ACKS = frozenset({"LK", "AL", "AL_LTE", "TKQ", "TKQ2", "INIT", "UD", "UD2", "JXTKR"})
_COMMANDS = {
    "MONITOR": "monitor (covert listening callback)",
    "CALL": "call number",
    "POWEROFF": "power off",
    "FIND": "find watch (ring)",
    "REMOVE": "removal alarm setting",
    "CR": "request position",
    "UPLOAD": "set upload interval",
    "RESET": "restart",
    "FACTORY": "factory reset",
    "PHB": "set phone book",
    "PHB2": "set phone book",
    "PHBX": "set phone book",
    "PHL": "set phone book",
    "SOS": "set sos numbers",
    "SOS1": "set sos number",
    "SOS2": "set sos number",
    "SOS3": "set sos number",
    "CENTER": "set center number",
    "SLAVE": "set assistant number",
    "WHITELIST1": "set call whitelist",
    "WHITELIST2": "set call whitelist",
    "SMS": "send sms",
    "MESSAGE": "show message",
    "TK": "voice message",
    "LZ": "set language and time zone",
    "IP": "set server",
    "PW": "set password",
    "SOSSMS": "sos sms alarm",
    "LOWBAT": "low battery alarm",
    "SILENCETIME": "set silence time",
    "REMIND": "set alarm clock",
    "FLOWER": "set reward flowers",
    "PEDO": "pedometer",
    "FALLDOWN": "fall detection",
    "HRTSTART": "heart rate measurement",
    "RCAPTURE": "take photo",
    "PROFILE": "set profile",
}


def looks_like(first: bytes) -> bool:
    """Whether a client's first bytes are a watch frame header ``[XX*<id>*<len>*``."""
    return _HEADER.match(first[:_HEADER_MAX]) is not None


class Stream(FramedStream[bytes]):
    """One direction of a watch connection."""

    NAME = NAME

    def __init__(self, *, from_client: bool = True, max_frame: int = MAX_FRAME) -> None:
        super().__init__(from_client=from_client, max_frame=max_frame)
        # Bracket matching resumes where the last feed stopped: no rescans of a long frame.
        self._scanned = 0
        self._depth = 0
        self._closing = -1

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        drop_separators(buf)
        if not buf:
            return None
        if buf[0] != ord("["):
            raise DecodeError(f"watch3g: frame starts with byte {buf[0]:#04x}, not '['")
        header = _HEADER.match(buf[:_HEADER_MAX])
        if header is None:
            if len(buf) >= _HEADER_MAX or b"]" in buf[:_HEADER_MAX]:
                raise DecodeError(f"watch3g: malformed frame header {bytes(buf[:24])!r}")
            return None
        start = header.end()
        declared = int(header.group(4), 16)
        self.check_frame_size(start + declared + 1)
        end = self._frame_end(start, declared)
        if end is None:
            return None
        frame = bytes(buf[: end + 1])
        del buf[: end + 1]
        self._scanned, self._depth, self._closing = 0, 0, -1
        return frame

    def _frame_end(self, start: int, declared: int) -> int | None:
        """Index of the closing ``]``: by the length field, else by bracket depth.

        A ``]`` followed by anything but the next frame's ``[`` (or a line break) is
        content, e.g. an unbalanced bracket in a Wi-Fi name; the scan goes on past it.
        One case stays ambiguous: such a bracket that is the last byte of a TCP segment
        while the length field cannot be checked yet.
        """
        buf = self._buf
        by_length = start + declared
        if len(buf) > by_length and buf[by_length] == ord("]"):
            return by_length
        while True:
            if self._closing < 0:
                self._closing = self._scan_brackets()
            index = self._closing
            if index < 0:
                if len(buf) > self.max_frame:
                    raise DecodeError("watch3g: no closing ']' within the frame cap")
                return None
            following = buf[index + 1 : index + 2]
            if following and following[0] not in b"[" + SEPARATORS:
                self._scanned, self._depth, self._closing = index + 1, 1, -1
                continue
            if len(buf) > by_length:
                return index  # the length field lies (SG firmware): trust the brackets
            if _is_text(bytes(buf[start:index])):
                return index  # a text frame shorter than it claims
            return None  # binary content: wait until the declared length has arrived

    def _scan_brackets(self) -> int:
        """Continue the bracket count over new bytes; the index of the matching ``]`` or -1."""
        buf = self._buf
        depth = self._depth
        for index in range(self._scanned, len(buf)):
            byte = buf[index]
            if byte == 0x5B:  # "["
                depth += 1
            elif byte == 0x5D:  # "]"
                depth -= 1
                if depth == 0:
                    return index
        self._scanned, self._depth = len(buf), depth
        return -1

    def _decode_frame(self, frame: bytes) -> list[Document]:
        header = _HEADER.match(frame)
        if header is None:  # cannot happen: _next_frame matched it
            raise DecodeError("watch3g: malformed frame header")
        vendor, device_id = header.group(1).decode(), header.group(2).decode()
        content = frame[header.end() : -1]
        kind_end = content.find(b",")
        kind_bytes = content if kind_end < 0 else content[:kind_end]
        kind = kind_bytes.decode("ascii", "replace")
        if not _TYPE.fullmatch(kind):
            raise DecodeError(f"watch3g: bad content type {kind[:24]!r}")
        tree: dict[str, Any] = device_ids(device_id) | {"vendor": vendor, "message_type": kind}
        if header.group(3):
            tree["index"] = header.group(3).decode()
        source = self.source(kind.lower())
        if kind in _BINARY_TYPES:
            data = content[len(kind_bytes) + 1 :] if kind_end >= 0 else b""
            try:
                data = _unescape(data)
            except DecodeError:
                # Framed exactly by its length, the body may simply be unescaped bytes.
                if int(header.group(4), 16) != len(content):
                    raise
            tree["binary_bytes"] = len(data)
            if kind in ("TK", "TK2", "JXTK"):
                tree["voice_message"] = bool(data)
            if not self.from_client:
                tree["command"] = _COMMANDS.get(kind, f"watch {kind}")
            return [Document(source, tree)]
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"watch3g: {kind} content is not UTF-8") from None
        fields = text.split(",")[1:] if kind_end >= 0 else []
        tree |= self._content(kind, fields)
        return [Document(source, tree)]

    def _content(self, kind: str, fields: list[str]) -> dict[str, Any]:
        upper = kind.upper()
        tree: dict[str, Any] = {}
        if not self.from_client:
            if upper in _COMMANDS:
                tree["command"] = _COMMANDS[upper]
            elif upper in _ACKS and not fields:
                return {"ack_for": kind}
            else:
                tree["command"] = f"watch {kind}"
        elif upper.startswith(_POSITION_PREFIXES) and fields:
            tree |= _report(fields)
            if upper.startswith("AL"):
                tree["alarm"] = True
            return tree
        elif upper == "LK":
            names = ("steps", "rolls", "battery")
            return {name: number(value) for name, value in zip(names, fields, strict=False)}
        elif upper in _COMMANDS and not fields:
            return {"reply_to": kind}
        if upper in _PHONEBOOK:
            tree["contacts"] = _contacts(fields)
        elif upper in _SOS:
            tree["sos_numbers"] = [{"phone": f.strip()} for f in fields if f.strip()]
            if upper != "SOS":
                tree["slot"] = int(upper[3:])
        elif upper in _ONE_NUMBER and fields and fields[0].strip():
            tree[_ONE_NUMBER[upper]] = fields[0].strip()
        elif upper in _WHITELIST:
            tree["whitelist"] = [{"phone": f.strip()} for f in fields if f.strip()]
        elif upper == "SMS" and fields:
            tree["phone"] = fields[0].strip()
            tree["sms_text"] = _hex_text(",".join(fields[1:]))
        elif upper == "MESSAGE" and fields:
            tree["message_text"] = _hex_text(",".join(fields))
        elif upper == "IP" and len(fields) >= 2:
            tree["server"] = {"host": fields[0], "port": fields[1]}
        elif upper == "PW" and fields:
            tree["password_present"] = bool(fields[0])
        elif fields:
            tree["params"] = fields
        return tree


def _is_text(content: bytes) -> bool:
    return all(byte >= 0x20 or byte in (0x09, 0x0A, 0x0D) for byte in content)


def _unescape(data: bytes) -> bytes:
    if b"}" not in data:
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == ord("}"):
            code = data[i + 1] if i + 1 < len(data) else -1
            if code not in _UNESCAPE:
                raise DecodeError(f"watch3g: bad escape '}}' + {code:#04x} at byte {i}")
            out.append(_UNESCAPE[code])
            i += 2
        else:
            out.append(byte)
            i += 1
    return bytes(out)


def _hex_text(value: str) -> str:
    """Text sent as hex UTF-16BE (names, messages); anything else is returned as it was."""
    value = value.strip()
    if _HEX_NAME.fullmatch(value):
        try:
            decoded = bytes.fromhex(value).decode("utf-16-be")
        except UnicodeDecodeError:
            return value
        if decoded.isprintable():
            return decoded
    return value


def _contacts(fields: list[str]) -> list[dict[str, str]]:
    """Phone-book pairs; firmware writes ``number,name`` or ``name,number``: the shape decides."""
    contacts: list[dict[str, str]] = []
    values = [f.strip() for f in fields]
    for i in range(0, len(values) - 1, 2):
        a, b = values[i], values[i + 1]
        if not a and not b:
            continue
        phone, name = (a, b) if _PHONE.fullmatch(a) or not _PHONE.fullmatch(b) else (b, a)
        contacts.append({"name": _hex_text(name), "phone": phone})
    return contacts


def _report(fields: list[str]) -> dict[str, Any]:
    """``ddmmyy,hhmmss,A,lat,N,lon,E,speed,course,alt,sats,rssi,battery,steps,rolls,status,…``."""
    if len(fields) < 7:
        raise DecodeError("watch3g: position report has too few fields")
    tree: dict[str, Any] = {
        "valid": fields[2].strip() == "A",
        "position": position(
            decimal_degrees(fields[3], fields[4], NAME, limit=90),
            decimal_degrees(fields[5], fields[6], NAME, limit=180),
        ),
    }
    put_time(tree, fields[0].strip(), fields[1].strip(), NAME)
    names = ("speed_kmh", "course", "altitude", "satellites", "gsm_signal", "battery",
             "steps", "rolls")  # fmt: skip
    for name, value in zip(names, fields[7:15], strict=False):
        tree[name] = number(value)
    if len(fields) > 15:
        tree["status"] = fields[15].strip()
    tree |= _networks(fields[16:])
    return tree


def _networks(values: list[str]) -> dict[str, Any]:
    """``count,ta,mcc,mnc,(lac,cid,rssi)*count,wifi count,(ssid,mac,rssi)*count,accuracy``."""
    tree: dict[str, Any] = {}
    at = 0
    count = _count(values, at)
    if count is None:
        return tree
    at += 1
    if count:
        at += 1  # the timing advance / "connected" flag comes only with cells
        if len(values) < at + 2 + 3 * count:
            raise DecodeError(f"watch3g: report announces {count} cells but is shorter")
        mcc, mnc = number(values[at]), number(values[at + 1])
        at += 2
        tree["cells"] = [
            {
                "mcc": mcc,
                "mnc": mnc,
                "lac": values[i].strip(),
                "cell_id": values[i + 1].strip(),
                "rssi": number(values[i + 2]),
            }
            for i in range(at, at + 3 * count, 3)
        ]
        at += 3 * count
    wifi_count = _count(values, at)
    if wifi_count:
        at += 1
        if len(values) < at + 3 * wifi_count:
            raise DecodeError(
                f"watch3g: report announces {wifi_count} Wi-Fi networks but is shorter"
            )
        wifi = []
        for i in range(at, at + 3 * wifi_count, 3):
            mac = values[i + 1].strip()
            if mac and mac != "0":
                wifi.append({"ssid": values[i], "mac": mac, "rssi": number(values[i + 2])})
        tree["wifi"] = wifi
        at += 3 * wifi_count
    elif wifi_count == 0:
        at += 1
    if at < len(values) and values[at].strip():
        tree["accuracy"] = number(values[at])
    return tree


def _count(values: list[str], at: int) -> int | None:
    if at >= len(values):
        return None
    text = values[at].strip()
    if not text.isdigit() or int(text) > 64:
        return None
    return int(text)
