"""TK103 / GPS103 trackers: ``(<id><cmd>…)`` reports, the ``imei:…;`` dialect, and commands.

Hand-written (no maintained Python parser exists). TK103 frames run from ``(`` to ``)``:
a device id (usually 12 digits), a four-character command (``BR00`` position, ``BP05``
login with the IMEI, ``BO01`` alarm, ``BV00`` VIN, ``BZ00`` cell towers; server commands
start with ``A``) and a payload. The position block is ``YYMMDD A ddmm.mmmmN dddmm.mmmmE
speed(5) hhmmss course(6) io(8) L mileage(8)``. Some firmware writes a comma-separated
variant ``(<IMEI>,<cmd>,…)``. GPS103 firmware instead sends ``imei:<IMEI>,<keyword>,…;``
lines, ``##,imei:<IMEI>,A;`` logins and ``<IMEI>;`` heartbeats; its server commands are
``**,imei:<IMEI>,<letter>;``. Layouts follow /work/shared/reference/protocols.md §3.4
and the traccar test vectors.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import Document
from .errors import DecodeError
from .framed_stream import FramedStream
from .tracker_stream import (
    ddmm,
    device_ids,
    drop_separators,
    frame_text,
    number,
    position,
    put_time,
)

NAME = "tk103"
DEFAULT_PORTS: frozenset[int] = frozenset({5001, 5002})

_TEXT_MAX = 4096
_CLASSIC = re.compile(r"\((\w{10,16}?)([AB][A-Z]\d{2})(.*)\)", re.DOTALL)
_COMMA = re.compile(r"\((\w{10,16}),([A-Z]{2}\w{2}),(.*)\)", re.DOTALL)
_BLOCK = re.compile(
    r"(\d{6})([AV])(\d{4}\.\d{3,5})([NS])\s*(\d{3,5}\.\d{3,5})([EW])"
    r"(.{5})(\d{6})(.{6})(.{8})?(?:L([0-9A-Fa-f]{8}))?(.*)",
    re.DOTALL,
)
_CELL = re.compile(r"\{(\d+),(\d+),(\d+),(\d+)\}")
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")

_POSITION_COMMANDS = frozenset({"BR00", "BR01", "BR02", "BR03", "BR05", "BP04", "BP02", "BO02"})
_ALARMS = {"0": "power off", "1": "accident", "2": "sos", "3": "anti-theft",
           "4": "low speed", "5": "overspeed", "6": "geofence"}  # fmt: skip
# Server-to-device TK103 commands as traccar's encoder and decoder use them.
_DOWN = {
    "AP00": "request position",
    "AP07": "get version",
    "AR00": "set upload interval",
    "AT00": "restart",
    "AX01": "set odometer",
    "AV00": "output control",
    "AV01": "oil/power relay",
    "AP01": "acknowledge handshake",
    "AP05": "acknowledge login",
}
_GPS103_DOWN = {
    "B": "request position",
    "C": "set upload interval",
    "D": "stop periodic positions",
    "J": "stop engine",
    "K": "resume engine",
    "L": "arm",
    "M": "disarm",
    "160": "take photo",
}


def looks_like(first: bytes) -> bool:
    """Whether a client's first bytes are a TK103 ``(<id>B…`` frame or a GPS103 ``imei:`` line."""
    if first.startswith((b"imei:", b"##,imei:")):
        return True
    if first[:1] == b"(":
        text = first[:40].decode("ascii", "replace")
        return bool(re.match(r"\(\w{10,16}?(?:B[A-Z]\d{2}|,[A-Z]{2}\w{2},)", text))
    return False


class Stream(FramedStream[bytes]):
    """One direction of a TK103 / GPS103 connection."""

    NAME = NAME

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        drop_separators(buf)
        if not buf:
            return None
        limit = min(_TEXT_MAX, self.max_frame)
        first = buf[0]
        if first == ord("("):
            end = buf.find(b")", 1, limit + 1)
        elif first in b"i#*0123456789":
            end = buf.find(b";", 1, limit + 1)
        elif not self.from_client and buf[:1] in b"LO":
            # GPS103 servers answer with bare words: "LOAD" after a login, "ON" to a heartbeat.
            for word in (b"LOAD", b"ON"):
                if buf.startswith(word):
                    del buf[: len(word)]
                    return word
            if len(buf) < 4 and b"LOAD".startswith(bytes(buf)):
                return None
            raise DecodeError(f"tk103: unexpected server bytes {bytes(buf[:8])!r}")
        else:
            raise DecodeError(f"tk103: frame starts with byte {first:#04x}")
        if end < 0:
            if len(buf) > limit:
                raise DecodeError(f"tk103: no frame end within {limit} bytes")
            return None
        frame = bytes(buf[: end + 1])
        del buf[: end + 1]
        return frame

    def _decode_frame(self, frame: bytes) -> list[Document]:
        if frame in (b"LOAD", b"ON"):
            return []  # acknowledgements carry nothing
        text = frame_text(frame, NAME)
        if text.startswith("("):
            return [self._tk103(text)]
        return [self._gps103(text[:-1])]

    # --- TK103 -------------------------------------------------------------------------
    def _tk103(self, text: str) -> Document:
        match = _COMMA.fullmatch(text)
        if match:
            device_id, command, payload = match.groups()
            if not self.from_client:
                return self._down(device_id, command, payload.split(","))
            tree = device_ids(device_id) | {"message_type": command}
            tree |= _comma_payload(command, payload.split(","))
            return Document(self.source(command.lower()), tree)
        match = _CLASSIC.fullmatch(text)
        if match is None:
            raise DecodeError(f"tk103: no device id and command in {text[:24]!r}")
        device_id, command, payload = match.groups()
        if not self.from_client:
            return self._down(device_id, command, [payload] if payload else [])
        tree = device_ids(device_id) | {"message_type": command}
        tree |= _classic_payload(command, payload)
        return Document(self.source(command.lower()), tree)

    def _down(self, device_id: str, command: str, params: list[str]) -> Document:
        tree: dict[str, Any] = device_ids(device_id) | {
            "command": _DOWN.get(command, f"tk103 {command}"),
            "command_code": command,
        }
        value = params[0] if len(params) == 1 else ""
        if command == "AV01" and value[:1] in ("0", "1"):
            tree["control"] = "cut oil/power" if value[0] == "0" else "restore oil/power"
        elif command == "AV00" and value:
            tree["control"] = f"outputs {value}"
        if params:
            tree["params"] = params
        return Document(self.source(command.lower()), tree)

    # --- GPS103 ------------------------------------------------------------------------
    def _gps103_command(self, text: str) -> Document:
        """``**,imei:<IMEI>,<code>[,params]``: J stops the engine, K resumes it."""
        fields = text.split(",")
        if len(fields) < 3 or fields[0] != "**" or not fields[1].startswith("imei:"):
            raise DecodeError(f"tk103: malformed GPS103 command {text[:24]!r}")
        code = fields[2]
        tree = device_ids(fields[1][5:]) | {
            "command": _GPS103_DOWN.get(code, f"gps103 {code}"),
            "command_code": code,
        }
        if len(fields) > 3:
            tree["params"] = fields[3:]
        return Document(self.source(f"gps103.{_slug(code)}"), tree)

    def _gps103(self, text: str) -> Document:
        if not self.from_client:
            return self._gps103_command(text)
        fields = text.split(",")
        if fields[0] == "##" and len(fields) >= 2 and fields[1].startswith("imei:"):
            return Document(self.source("gps103.login"), device_ids(fields[1][5:]))
        if len(fields) == 1 and fields[0].isdigit():
            return Document(self.source("gps103.heartbeat"), device_ids(fields[0]))
        head = fields[0]
        at = head.find("imei:")
        if at < 0:
            raise DecodeError(f"tk103: GPS103 line without 'imei:' {text[:24]!r}")
        imei = head[at + 5 :]
        tree: dict[str, Any] = device_ids(imei)
        if len(fields) > 1:
            tree["event"] = fields[1]
        if len(fields) > 2 and fields[2]:
            tree["device_time"] = fields[2]
        if len(fields) > 3 and fields[3].strip().lstrip("+").isdigit():
            tree["phone"] = fields[3].strip()  # the admin number the tracker reports to
        if len(fields) >= 11 and fields[4] == "F" and fields[6] in ("A", "V"):
            tree["valid"] = fields[6] == "A"
            tree["position"] = position(
                ddmm(fields[7], fields[8], NAME, limit=90),
                ddmm(fields[9], fields[10], NAME, limit=180),
            )
            if fields[5]:
                put_time(tree, fields[2][:6], fields[5], NAME, day_first=False)
            if len(fields) > 11:
                tree["speed_knots"] = number(fields[11])
            if len(fields) > 12:
                tree["course"] = number(fields[12])
            if len(fields) > 13:
                tree["extra"] = fields[13:]
        elif len(fields) >= 10 and fields[4] == "L":
            tree["cell"] = {"lac": fields[7], "cell_id": fields[9]}
        elif len(fields) > 4:
            tree["fields"] = fields[4:]
        return Document(
            self.source(f"gps103.{_slug(fields[1]) if len(fields) > 1 else 'id'}"), tree
        )


def _slug(keyword: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", keyword.lower()).strip("_")
    return slug[:24] or "report"


def _block(payload: str) -> dict[str, Any]:
    """The classic position block; DecodeError when the payload is not one."""
    match = _BLOCK.match(payload)
    if match is None:
        raise DecodeError(f"tk103: no position block in {payload[:24]!r}")
    date, valid, lat, ns, lon, ew, speed, clock, course, io, mileage, rest = match.groups()
    tree: dict[str, Any] = {
        "valid": valid == "A",
        "position": position(ddmm(lat, ns, NAME, limit=90), ddmm(lon, ew, NAME, limit=180)),
        "speed_kmh": number(speed),
        "course": number(course),
    }
    put_time(tree, date, clock, NAME, day_first=False)
    if io:
        tree["io_state"] = io
    if mileage:
        tree["mileage_raw"] = mileage
    if rest:
        tree["extra"] = rest
    return tree


def _cells(payload: str) -> list[dict[str, Any]]:
    """``{mcc,mnc,lac,cid}`` groups, or a flat ``,mcc,mnc,(lac,cid)…,status`` list (hex)."""
    found = [
        {"mcc": int(a), "mnc": int(b), "lac": int(c), "cell_id": int(d)}
        for a, b, c, d in _CELL.findall(payload)
    ]
    if found:
        return found
    values = [v for v in payload.split(",") if v]
    if len(values) >= 4 and values[0].isdigit() and values[1].isdigit():
        mcc, mnc = int(values[0]), int(values[1])
        pairs = values[2:]
        if len(pairs) % 2:
            pairs = pairs[:-1]  # the status word that may close the list
        return [
            {"mcc": mcc, "mnc": mnc, "lac": pairs[i], "cell_id": pairs[i + 1]}
            for i in range(0, len(pairs), 2)
        ]
    return []


def _classic_payload(command: str, payload: str) -> dict[str, Any]:
    if command in _POSITION_COMMANDS:
        return _block(payload)
    if command == "BP05":
        tree: dict[str, Any] = {"login_id": payload[:15]}
        if payload[:15].isdigit():
            tree |= {k: v for k, v in device_ids(payload[:15]).items() if k == "imei"}
        rest = payload[15:]
        if rest.startswith(","):
            tree["cells"] = _cells(rest)
        elif rest:
            tree |= _block(rest)
        return tree
    if command == "BO01":
        return {"alarm": _ALARMS.get(payload[:1], payload[:1])} | _block(payload[1:])
    if command == "BV00":
        vin = payload.strip()
        return {"vin": vin} if _VIN.fullmatch(vin) else {"vin_raw": vin}
    if command == "BZ00":
        return {"cells": _cells(payload)}
    if command == "BP00":
        return {"handshake": payload}
    return {"payload": payload} if payload else {}


def _comma_payload(command: str, fields: list[str]) -> dict[str, Any]:
    """``(<IMEI>,<cmd>,ddmmyy,A,ddmm.mmmmN,dddmm.mmmmE,speed,hhmmss,course,…)`` and DW5x."""
    if len(fields) >= 6 and fields[1] in ("A", "V") and fields[2][-1:] in ("N", "S"):
        tree: dict[str, Any] = {
            "valid": fields[1] == "A",
            "position": position(
                ddmm(fields[2][:-1], fields[2][-1], NAME, limit=90),
                ddmm(fields[3][:-1], fields[3][-1], NAME, limit=180),
            ),
            "speed": number(fields[4]),
        }
        put_time(tree, fields[0], fields[5], NAME)
        if len(fields) > 6:
            tree["course"] = number(fields[6])
        if len(fields) > 7:
            tree["extra"] = fields[7:]
        return tree
    if command.startswith("DW5") and len(fields) >= 5 and fields[4].isdigit():
        # DW5x: mcc,mnc,lac,cid,count,(mac*rssi*x)*count,date,time
        wifi = [{"mac": item.split("*", 1)[0]} for item in fields[5 : 5 + int(fields[4])]]
        return {
            "cell": {"mcc": number(fields[0]), "mnc": number(fields[1]),
                     "lac": fields[2], "cell_id": fields[3]},
            "wifi": wifi,
        }  # fmt: skip
    return {"fields": fields}
