"""H02 trackers (Sinotrack and clones): text ``*HQ,…#`` and binary ``$…`` reports, and commands.

Hand-written (no maintained Python parser exists). Text frames run from ``*`` to ``#``;
fields are comma separated: ``*HQ,<device id>,<type>,…#``. Binary frames start with
``$`` and are 32 bytes (some firmware: 45) of BCD: id, time, date, latitude, battery,
longitude with a flag nibble, speed/course, status. Layouts follow
/work/shared/reference/protocols.md §3.3 and the traccar test vectors; LAC/CID are kept
as the strings sent because firmware writes them in decimal or in hex.
"""

from __future__ import annotations

from typing import Any

from ..model import Document
from .errors import DecodeError
from .framed_stream import MAX_FRAME, FramedStream
from .tracker_stream import (
    ddmm,
    device_ids,
    digits_time,
    drop_separators,
    frame_text,
    number,
    position,
    put_time,
)

NAME = "h02"
DEFAULT_PORTS: frozenset[int] = frozenset({5013})

_SHORT_BINARY, _LONG_BINARY = 32, 45
_TEXT_MAX = 2048  # the longest real H02 text report is a few hundred bytes
_VENDORS = frozenset({"HQ", "TH", "hq", "th"})

# Server-to-device commands whose meaning traccar's encoder confirms; others keep their code.
_COMMANDS: dict[str, str] = {
    "S20": "oil/power relay",
    "SCF": "arm/disarm",
    "D1": "set upload interval",
    "S71": "set upload interval",
    "R12": "acknowledge",
    "V4": "acknowledge",
}
_POSITION_TYPES = frozenset({"V1", "V2", "V5", "V6", "V8", "VI1", "V19"})


def _v1_cell(cell: list[str]) -> dict[str, Any]:
    """V1's ``mcc,mnc,lac,cid`` with hex area and cell (as traccar reads them).

    Some 4G firmware writes the 28-bit E-UTRAN cell id first and the 16-bit
    tracking area second: an "area" wider than 16 bits beside a "cell" that
    fits in 16 is read in that order.
    """
    lac, cid = cell[2].strip(), cell[3].strip()
    out: dict[str, Any] = {"mcc": int(cell[0]), "mnc": number(cell[1])}
    try:
        lac_n, cid_n = int(lac, 16), int(cid, 16)
    except ValueError:
        return out | {"lac": lac, "cell_id": cid}
    if lac_n > 0xFFFF >= cid_n:
        return out | {"lac": cid_n, "cell_id": lac_n, "order": "cell_id,tac (4G)"}
    return out | {"lac": lac_n, "cell_id": cid_n}


def looks_like(first: bytes) -> bool:
    """Whether a client's first bytes are an H02 text report (``*HQ,<digits>,V…``) or binary."""
    try:
        if first[:1] == b"*":
            head = first[:40].split(b",")
            return (
                len(head) >= 3
                and head[0] in (b"*HQ", b"*hq", b"*TH")
                and (head[1].isdigit() or head[1] == b"")
                and head[2][:1].isalpha()
            )
        if first[:1] == b"$" and len(first) >= 16:
            body = first[1:12]  # id, time, date: all BCD digits
            return all(b >> 4 < 10 and b & 0x0F < 10 for b in body) and _bcd_time_ok(first)
    except (IndexError, ValueError):
        return False
    return False


def _bcd_time_ok(frame: bytes) -> bool:
    digits = frame[6:12].hex()
    hh, mm, ss, dd, mo = (int(digits[i : i + 2]) for i in (0, 2, 4, 6, 8))
    return hh < 24 and mm < 60 and ss < 60 and 1 <= dd <= 31 and 1 <= mo <= 12


class Stream(FramedStream[bytes]):
    """One direction of an H02 connection."""

    NAME = NAME

    def __init__(self, *, from_client: bool = True, max_frame: int = MAX_FRAME) -> None:
        super().__init__(from_client=from_client, max_frame=max_frame)
        self._binary_size = 0  # 32 or 45 once the stream has shown which

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        drop_separators(buf)
        if not buf:
            return None
        marker = buf[0]
        if marker == ord("*"):
            end = buf.find(b"#", 1, min(len(buf), _TEXT_MAX + 1, self.max_frame + 1))
            if end < 0:
                if len(buf) > min(_TEXT_MAX, self.max_frame):
                    raise DecodeError(f"h02: no '#' within {_TEXT_MAX} bytes of a text frame")
                return None
            frame = bytes(buf[: end + 1])
            del buf[: end + 1]
            return frame
        if marker == ord("$"):
            size = self._binary_frame_size()
            if size == 0 or len(buf) < size:
                return None
            frame = bytes(buf[:size])
            del buf[:size]
            return frame
        raise DecodeError(f"h02: frame starts with byte {marker:#04x}, not '*' or '$'")

    def _binary_frame_size(self) -> int:
        """32 or 45 bytes: the next frame's marker (or the end of what arrived) tells which.

        A stream keeps to the size it showed first, so a 45-byte frame split after byte 32
        is still read whole once one 45-byte frame was seen. The very first binary frame,
        arriving as exactly 32 bytes, is taken as a short frame (as traccar does).
        """
        buf = self._buf
        sizes = (_LONG_BINARY, _SHORT_BINARY) if self._binary_size == _LONG_BINARY else (
            _SHORT_BINARY, _LONG_BINARY)  # fmt: skip
        for size in sizes:
            if len(buf) == size or (len(buf) > size and buf[size] in b"$*"):
                if self._binary_size == _LONG_BINARY and len(buf) == _SHORT_BINARY:
                    return 0  # probably the first part of another long frame
                self._binary_size = size
                return size
        if len(buf) > _LONG_BINARY:
            raise DecodeError("h02: binary frame is neither 32 nor 45 bytes long")
        return 0

    def _decode_frame(self, frame: bytes) -> list[Document]:
        if frame[:1] == b"$":
            return [self._binary(frame)]
        text = frame_text(frame, NAME)
        fields = text[1:-1].split(",")
        if len(fields) < 3 or fields[0] not in _VENDORS:
            raise DecodeError(f"h02: malformed text frame {text[:24]!r}")
        device_id, kind = fields[1].strip(), fields[2].strip()
        if not device_id.isdigit() and device_id:
            raise DecodeError(f"h02: device id {device_id[:20]!r} is not numeric")
        if not self.from_client:
            return [self._command(device_id, kind, fields[3:])]
        tree: dict[str, Any] = device_ids(device_id) | {"message_type": kind}
        rest = fields[3:]
        upper = kind.upper()
        if upper in _POSITION_TYPES:
            tree |= _report(rest, 0)
        elif upper == "V4":
            tree |= _reply(rest)
        elif upper == "NBR":
            tree |= _nbr(rest)
        elif upper == "V3":
            tree |= _v3(rest)
        elif upper == "VP1":
            tree |= _vp1(rest)
        elif upper == "LINK":
            tree |= _link(rest)
        elif upper == "HTBT":
            if rest:
                tree["battery"] = number(rest[0])
        elif upper == "SMS":
            tree["sms_text"] = ",".join(rest)
        else:
            tree["fields"] = rest  # readable even when the type is unknown: detectors still look
        return [Document(self.source(kind.lower() or "empty"), tree)]

    def _binary(self, frame: bytes) -> Document:
        digits = frame[1:29].hex()
        # Every nibble is a decimal digit except the flag nibble after the longitude.
        if not (digits[:41] + digits[42:48]).isdigit():
            raise DecodeError("h02: binary frame holds non-BCD digits")
        device_id = digits[0:10]
        time = digits_time(digits[16:22], digits[10:16], NAME)
        flags = int(digits[41], 16)
        lat = ddmm(f"{digits[22:26]}.{digits[26:30]}", "N" if flags & 0x04 else "S", NAME, limit=90)
        lon = ddmm(
            f"{digits[32:37]}.{digits[37:41]}", "E" if flags & 0x08 else "W", NAME, limit=180
        )
        tree: dict[str, Any] = device_ids(device_id) | {
            "message_type": "binary",
            "time": time,
            "valid": bool(flags & 0x02),
            "position": position(lat, lon),
            "battery_raw": frame[16],
            "speed_knots": int(digits[42:45]),
            "course": int(digits[45:48]) % 1000,
            "status": frame[25:29].hex().upper(),
        }
        return Document(self.source("binary"), tree)

    def _command(self, device_id: str, kind: str, params: list[str]) -> Document:
        """A server-to-device command: ``*HQ,<id>,<CMD>,<hhmmss>,<params…>#``."""
        upper = kind.upper()
        name = _COMMANDS.get(upper, f"h02 {kind}")
        values = params[1:] if params and len(params[0]) == 6 and params[0].isdigit() else params
        tree: dict[str, Any] = device_ids(device_id) | {"command": name, "command_code": kind}
        if upper == "S20" and len(values) >= 2:
            tree["control"] = "cut oil/power" if values[1] == "1" else "restore oil/power"
        elif upper == "SCF" and len(values) >= 2:
            tree["control"] = "arm" if values[0] == "0" else "disarm"
        elif upper == "V4" and values:
            tree["reply_to"] = values[0]
        if values:
            tree["params"] = values
        return Document(self.source(kind.lower() or "empty"), tree)


def _coordinates(fields: list[str], at: int) -> dict[str, Any]:
    """lat, N/S, lon, E/W at ``fields[at:at+4]``; also the ``-dd-mm.mmmm`` form some send."""
    lat_text, ns, lon_text, ew = fields[at : at + 4]
    return position(_coordinate(lat_text, ns, 90), _coordinate(lon_text, ew, 180))


def _coordinate(text: str, hemisphere: str, limit: float) -> float:
    text = text.strip()
    if text.startswith("-") and text.count("-") == 2:
        degrees, minutes = text[1:].split("-")
        text = f"{degrees}{minutes.zfill(7) if '.' in minutes else minutes}"
    elif "." not in text and len(text) >= 8 and text.isdigit():
        text = f"{text[:-4]}.{text[-4:]}"  # "37573392": ddmm + 4 decimals without the dot
    return ddmm(text, hemisphere, NAME, limit=limit)


def _report(fields: list[str], at: int) -> dict[str, Any]:
    """``hhmmss,A,lat,N,lon,E,speed,course,[battery,]ddmmyy,status,…`` from ``fields[at]``."""
    if len(fields) < at + 9:
        raise DecodeError("h02: position report has too few fields")
    tree: dict[str, Any] = {
        "valid": fields[at + 1].strip() in ("A", "B"),
        "position": _coordinates(fields, at + 2),
        "speed_knots": number(fields[at + 6]),
        "course": number(fields[at + 7]),
    }
    date_at = at + 8
    # Some firmware puts a battery field before the date: the date is 6 digits, it is not.
    if len(fields) > date_at + 1 and len(fields[date_at]) != 6 and len(fields[date_at + 1]) == 6:
        tree["battery"] = number(fields[date_at])
        date_at += 1
    clock, date = fields[at].strip(), fields[date_at].strip()
    if clock and date:
        put_time(tree, date, clock, NAME)
    extra = fields[date_at + 1 :]
    if extra and len(extra[0]) == 0 and len(extra) >= 4:
        # V19: ",,<phone or IP>,<ICCID>,<status>" after the date.
        sim_number, iccid = extra[1].strip(), extra[2].strip().rstrip("?Ff")
        if sim_number.isdigit():
            tree["phone"] = sim_number
        elif sim_number:
            tree["sim_info"] = sim_number
        if iccid.isdigit():
            tree["iccid"] = iccid
        extra = extra[3:]
    if extra:
        tree["status"] = extra[0].strip().upper()
        cell = extra[1:5]
        if len(cell) == 4 and cell[0].strip().isdigit() and int(cell[0]) > 0:
            tree["cell"] = _v1_cell(cell)
            extra = extra[5:]
        else:
            extra = extra[1:]
        if extra:
            tree["extra"] = [value.strip() for value in extra]
    return tree


def _reply(fields: list[str]) -> dict[str, Any]:
    """V4: ``<command>,<result/params…>,<hhmmss>,A,lat,…``: the reply, then a position."""
    for at in range(1, len(fields) - 5):
        if fields[at + 1].strip() in ("A", "V", "B") and fields[at + 3].strip() in "NS":
            tree = {"reply_to": fields[0], "result": fields[1:at]}
            return tree | _report(fields, at)
    return {"reply_to": fields[0] if fields else "", "result": fields[1:]}


def _nbr(fields: list[str]) -> dict[str, Any]:
    """NBR: ``hhmmss,mcc,mnc,ta,count,(lac,cid,rssi)*count,ddmmyy,status``."""
    if len(fields) < 5 or not fields[4].isdigit():
        raise DecodeError("h02: NBR report has too few fields")
    mcc, mnc, count = number(fields[1]), number(fields[2]), int(fields[4])
    cells_end = 5 + 3 * count
    if len(fields) < cells_end + 2:
        raise DecodeError(f"h02: NBR announces {count} cells but is shorter")
    cells = [
        {"mcc": mcc, "mnc": mnc, "lac": fields[i], "cell_id": fields[i + 1], "rssi": fields[i + 2]}
        for i in range(5, cells_end, 3)
    ]
    return {
        "time": digits_time(fields[cells_end], fields[0], NAME),
        "cells": cells,
        "status": fields[cells_end + 1].upper(),
    }


def _v3(fields: list[str]) -> dict[str, Any]:
    """V3: ``hhmmss,<mcc><mnc>,count,(lac,cid,ta,rssi)*count,battery,reboot,X,ddmmyy,status``."""
    if len(fields) < 3 or len(fields[1]) < 4 or not fields[1].isdigit() or not fields[2].isdigit():
        raise DecodeError("h02: V3 report is malformed")
    mcc, mnc, count = int(fields[1][:3]), int(fields[1][3:]), int(fields[2])
    cells_end = 3 + 4 * count
    if len(fields) < cells_end + 5:
        raise DecodeError(f"h02: V3 announces {count} cells but is shorter")
    cells = [
        {"mcc": mcc, "mnc": mnc, "lac": fields[i], "cell_id": fields[i + 1], "rssi": fields[i + 3]}
        for i in range(3, cells_end, 4)
    ]
    return {
        "time": digits_time(fields[cells_end + 3], fields[0], NAME),
        "cells": cells,
        "battery_raw": fields[cells_end],
        "status": fields[cells_end + 4].upper(),
    }


def _vp1(fields: list[str]) -> dict[str, Any]:
    """VP1: ``A,lat,N,lon,E,speed,course,ddmmyy`` or ``V,mcc,mnc,<cells>``."""
    if fields and fields[0] in ("A", "B") and len(fields) >= 8:
        return {
            "valid": True,
            "position": _coordinates(fields, 1),
            "speed_knots": number(fields[5]),
            "course": number(fields[6]),
            "date": fields[7],
        }
    if fields and fields[0] == "V" and len(fields) >= 3:
        return {"valid": False, "mcc": number(fields[1]), "mnc": number(fields[2]),
                "cell_data": fields[3:]}  # fmt: skip
    raise DecodeError("h02: VP1 report is malformed")


def _link(fields: list[str]) -> dict[str, Any]:
    """LINK heartbeat: ``hhmmss,rssi,satellites,battery,steps,turnovers,ddmmyy,status``."""
    if len(fields) < 8:
        raise DecodeError("h02: LINK report has too few fields")
    return {
        "time": digits_time(fields[6], fields[0], NAME),
        "rssi": number(fields[1]),
        "satellites": number(fields[2]),
        "battery": number(fields[3]),
        "steps": number(fields[4]),
        "status": fields[7].upper(),
    }
