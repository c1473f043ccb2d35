"""Queclink @Track text protocol: ``+RESP:GTxxx,…$`` reports, ``+BUFF:`` backlog, acks, commands.

Hand-written (no maintained Python parser exists). Each frame ends with ``$``; fields
are comma separated: ``+RESP:GTFRI,<protocol version>,<IMEI>,<device name>,…``. Field
positions differ between models and firmware, so position blocks are found by their
shape instead of by index: ``accuracy,speed,azimuth,altitude,<longitude>,<latitude>,
<UTC yyyymmddhhmmss>,MCC,MNC,LAC,CellID`` — longitude BEFORE latitude
(/work/shared/reference/protocols.md §3.5). GTINF carries the ICCID at index 5 and GTCAN
the VIN at index 7 (when bit 0 of its report mask is set). The binary @Track form
(``+RSP``/``+BSP``/``+EVT`` with binary bodies) is not decoded: it stops the stream.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import Document
from .errors import DecodeError
from .framed_stream import FramedStream
from .tracker_stream import device_ids, drop_separators, frame_text, number, position, utc_iso

NAME = "queclink"
DEFAULT_PORTS: frozenset[int] = frozenset({5004})

_TEXT_MAX = 8192
_HEADER = re.compile(r"\+(RESP|BUFF|ACK|SACK):(GT[A-Z0-9]{3})")
_COMMAND = re.compile(r"AT\+(GT[A-Z0-9]{3})=(.*)", re.DOTALL)
_LON = re.compile(r"-?\d{1,3}\.\d{6}")
_LAT = re.compile(r"-?\d{1,2}\.\d{6}")
_STAMP = re.compile(r"\d{14}")
_VIN = re.compile(r"(?=.*\d)(?=.*[A-Z])[A-HJ-NPR-Z0-9]{17}")
_IMEI = re.compile(r"\d{15}|[0-9A-F]{14}")

_COMMANDS = {
    "GTOUT": "output control",
    "GTRTO": "real-time operation",
    "GTSRI": "set server",
    "GTBSI": "set apn",
    "GTCFG": "configure",
    "GTFRI": "set report interval",
    "GTGEO": "set geofence",
    "GTSPD": "set speed alarm",
    "GTTOW": "set tow alarm",
    "GTSOS": "set sos",
}
# GTRTO sub-commands whose meaning traccar's encoder confirms.
_RTO = {"1": "request position", "3": "reboot", "8": "identification"}


def looks_like(first: bytes) -> bool:
    """Whether a client's first bytes are an @Track text report (``+RESP:GT…``, ``+BUFF:GT…``)."""
    return bool(re.match(rb"\+(?:RESP|BUFF|ACK):GT[A-Z0-9]{3},", first[:16]))


class Stream(FramedStream[bytes]):
    """One direction of a Queclink @Track connection."""

    NAME = NAME

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        drop_separators(buf)
        if not buf:
            return None
        if not (buf[:1] == b"+" or buf[:3] == b"AT+"[: len(buf[:3])]):
            raise DecodeError(f"queclink: frame starts with byte {buf[0]:#04x}")
        if buf[:4] in (b"+RSP", b"+BSP", b"+EVT", b"+CRD"):
            raise DecodeError("queclink: binary @Track frames are not decoded")
        limit = min(_TEXT_MAX, self.max_frame)
        end = buf.find(b"$", 1, limit + 1)
        if end < 0:
            if len(buf) > limit:
                raise DecodeError(f"queclink: no '$' within {limit} bytes")
            return None
        frame = bytes(buf[: end + 1])
        del buf[: end + 1]
        return frame

    def _decode_frame(self, frame: bytes) -> list[Document]:
        text = frame_text(frame, NAME)[:-1]
        command = _COMMAND.fullmatch(text)
        if command:
            return [self._command(command.group(1), command.group(2).split(","))]
        header = _HEADER.match(text)
        if header is None:
            raise DecodeError(f"queclink: unknown frame {text[:24]!r}")
        kind, message = header.groups()
        fields = text.split(",")
        if kind == "SACK":
            return []  # the server's acknowledgement carries only a counter
        if len(fields) < 4:
            raise DecodeError(f"queclink: {message} has too few fields")
        imei = fields[2].strip()
        if not _IMEI.fullmatch(imei):
            raise DecodeError(f"queclink: {message} has no IMEI in field 2")
        tree: dict[str, Any] = device_ids(imei) | {
            "report": kind,
            "message_type": message,
            "protocol_version": fields[1],
        }
        if kind == "BUFF":
            tree["buffered"] = True
        rest = 3
        if _VIN.fullmatch(fields[3]):  # some firmware puts the VIN before the device name
            tree["vin"] = fields[3]
            rest = 4
        if len(fields) > rest and fields[rest]:
            tree["device_name"] = fields[rest]
        if kind == "ACK":
            tree["ack_for"] = message
        elif message == "GTINF" and len(fields) > 5:
            if fields[5].strip():
                tree["iccid"] = fields[5].strip()
        elif message == "GTCAN" and len(fields) > 7:
            tree |= _can(fields)
        points = _points(fields)
        if len(points) == 1:
            tree |= points[0]
        elif points:
            tree["points"] = points
        if len(fields) >= 2 and _STAMP.fullmatch(fields[-2]):
            tree["send_time"] = _stamp(fields[-2])
            tree["count"] = fields[-1]
        return [Document(self.source(message.lower()), tree)]

    def _command(self, name: str, params: list[str]) -> Document:
        """``AT+GTxxx=<password>,…,<serial>$``: the password is a secret, never kept."""
        tree: dict[str, Any] = {
            "command": _COMMANDS.get(name, f"queclink {name}"),
            "command_code": name,
            "password_present": bool(params and params[0]),
        }
        values = params[1:]
        if name == "GTOUT" and values:
            # Output 1 drives the starter/fuel relay on vehicle models: the immobiliser.
            tree["control"] = "output on (immobilise)" if values[0] == "1" else "output off"
        elif name == "GTRTO" and values:
            tree["operation"] = _RTO.get(values[0], values[0])
        if values:
            tree["params"] = values
        return Document(self.source(name.lower()), tree)


def _stamp(value: str) -> str:
    return utc_iso(
        int(value[0:4]), int(value[4:6]), int(value[6:8]),
        int(value[8:10]), int(value[10:12]), int(value[12:14]), NAME,
    )  # fmt: skip


def _points(fields: list[str]) -> list[dict[str, Any]]:
    """Every ``…,lon,lat,yyyymmddhhmmss,mcc,mnc,lac,cid`` block, in order."""
    points: list[dict[str, Any]] = []
    for i in range(4, len(fields) - 2):
        lon, lat, stamp = fields[i], fields[i + 1], fields[i + 2]
        if not (_LON.fullmatch(lon) and _LAT.fullmatch(lat) and _STAMP.fullmatch(stamp)):
            continue
        lat_value, lon_value = float(lat), float(lon)
        if abs(lat_value) > 90 or abs(lon_value) > 180:
            continue
        point: dict[str, Any] = {
            "position": position(lat_value, lon_value),
            "accuracy": number(fields[i - 4]),
            "speed_kmh": number(fields[i - 3]),
            "azimuth": number(fields[i - 2]),
            "altitude": number(fields[i - 1]),
        }
        try:
            point["time"] = _stamp(stamp)
        except DecodeError:
            point["time_raw"] = stamp
        cell = fields[i + 3 : i + 7]
        if len(cell) == 4 and cell[0].isdigit() and cell[1].isdigit() and int(cell[0]):
            point["cell"] = {"mcc": int(cell[0]), "mnc": int(cell[1]),
                             "lac": cell[2], "cell_id": cell[3]}  # fmt: skip
        points.append(point)
    return points


def _can(fields: list[str]) -> dict[str, Any]:
    """GTCAN: ``…,report type,CAN state,<report mask hex>,<VIN if mask bit 0>,…``."""
    tree: dict[str, Any] = {"can_state": fields[5]}
    try:
        mask = int(fields[6], 16)
    except ValueError:
        return tree
    tree["report_mask"] = fields[6]
    if mask & 1 and fields[7]:
        tree["vin" if _VIN.fullmatch(fields[7]) else "vin_raw"] = fields[7]
    return tree
