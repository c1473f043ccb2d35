"""GB/T 32960.3 (China's EV remote-monitoring protocol) over TCP: frames in, Documents out.

Sans-IO like ``mqtt.py``: ``Stream.feed`` takes the bytes of one direction of a connection,
reassembles ``##`` frames (``$$`` for the 2025 revision) and returns one Document per frame.
No maintained, permissively licensed parser exists on PyPI (``rtm_con`` is GPL-2.0 and built on
``construct``), so the layout is decoded by hand with ``int.from_bytes``.

Layouts, by source:

* 2016 edition: header, commands 0x01-0x08 and 0x80-0x82, data-unit blocks 0x01-0x09 and the
  length-prefixed vendor blocks 0x80-0xFE, checked against the two real frames in
  ``tests/data/protocol_samples/gbt32960.json`` and EMQX's gateway
  (``apps/emqx_gateway_gbt32960/src/emqx_gbt32960_frame.erl``), which also gives the
  parameter sizes of 0x80/0x81 and the remote-upgrade fields of 0x82. Terminal-control ids
  0x03-0x05 and 0x07 are named from the standard as summarised, not checked against a frame.
* 2025 revision (in force since 2025-11-01): the standard text could not be read here. What
  is decoded follows the tables ``rtm_con`` (github.com/beidouchangxi/rtm_con) cites from it
  and one frame of its README: start ``$$``, encryption 0x04 SM2 / 0x05 SM4, commands 0x09
  activation, 0x0A activation response and 0x0B payload key sync, a new login layout
  (packs per subsystem, 24-byte pack codes), renumbered and resized realtime blocks, a
  coordinate-system byte in the position block and a 0xFF signature after the blocks.
  Blocks whose 2025 layout is unknown (0x03 fuel cell, 0x30-0x32) stop the decoding of that
  message with a note; parameter ids and terminal-control ids are read as in 2016.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import reduce
from operator import xor
from typing import Any

from ..model import Document
from .byte_reader import ByteReader
from .errors import DecodeError
from .framed_stream import FramedStream

NAME = "gbt32960"
# The standard fixes no port; EMQX's GB/T 32960 gateway listens on 7325 by default.
DEFAULT_PORTS: frozenset[int] = frozenset({7325})

_START_2016 = b"##"
_START_2025 = b"$$"
_STARTS = frozenset({_START_2016[0], _START_2025[0]})
_HEADER = 24  # start 2, command 1, response flag 1, VIN 17, encryption 1, length 2
_BEIJING = dt.timezone(dt.timedelta(hours=8))

_UPSTREAM = {
    0x01: "vehicle_login",
    0x02: "realtime",
    0x03: "reissue",
    0x04: "vehicle_logout",
    0x05: "platform_login",
    0x06: "platform_logout",
    0x07: "heartbeat",
    0x08: "time_calibration",
    0x09: "activation",
    0x0A: "activation_response",
    0x0B: "payload_key_sync",
    0x80: "query_parameters",
    0x81: "set_parameters",
    0x82: "terminal_control",
}
_COMMANDS_2016 = frozenset(range(0x01, 0x09)) | {0x80, 0x81, 0x82}
_COMMANDS_2025 = _COMMANDS_2016 | {0x09, 0x0A, 0x0B}
_RESPONSES = {
    0x01: "success",
    0x02: "error",
    0x03: "vin_duplicate",
    0x04: "vin_unknown",
    0x05: "signature_invalid",
    0x06: "structure_invalid",
    0x07: "decryption_failed",
    0xFE: "command",
}
_ENCRYPTION = {
    0x01: "none",
    0x02: "RSA",
    0x03: "AES-128",
    0x04: "SM2",
    0x05: "SM4",
    0xFE: "abnormal",
    0xFF: "invalid",
}
_CONTROLS = {
    0x01: "remote upgrade",
    0x02: "terminal shutdown",
    0x03: "terminal reset",
    0x04: "factory reset",
    0x05: "disconnect data link",
    0x06: "terminal alarm",
    0x07: "open sampling monitoring link",
}
_SIGNATURES = {1: "SM2", 2: "RSA", 3: "ECC"}
_COORDINATES = {1: "WGS-84", 2: "GCJ-02", 3: "other"}
# Parameter id -> (name, size in bytes); size 0 = a string whose length the previous
# parameter (0x04 / 0x0D) gave.
_PARAMETERS: dict[int, tuple[str, int]] = {
    0x01: ("local_storage_period_ms", 2),
    0x02: ("report_interval_s", 2),
    0x03: ("alarm_report_interval_ms", 2),
    0x04: ("remote_platform_domain_length", 1),
    0x05: ("remote_platform_domain", 0),
    0x06: ("remote_platform_port", 2),
    0x07: ("hardware_version", 5),
    0x08: ("firmware_version", 5),
    0x09: ("heartbeat_interval_s", 1),
    0x0A: ("terminal_response_timeout_s", 2),
    0x0B: ("platform_response_timeout_s", 2),
    0x0C: ("login_retry_interval_min", 1),
    0x0D: ("public_platform_domain_length", 1),
    0x0E: ("public_platform_domain", 0),
    0x0F: ("public_platform_port", 2),
    0x10: ("sampling_monitoring", 1),
}
_TEXT_PARAMETERS = frozenset({0x07, 0x08})
_URL = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]{1,15}://[\x21-\x3a\x3c-\x7e]+")


def looks_like(first: bytes) -> bool:
    """Whether a connection's first client bytes are a GB/T 32960 frame header."""
    if len(first) < 22:
        return False
    start = bytes(first[:2])
    commands = (
        _COMMANDS_2016 if start == _START_2016 else _COMMANDS_2025 if start == _START_2025 else None
    )
    if commands is None or first[2] not in commands or first[3] not in _RESPONSES:
        return False
    if first[21] not in _ENCRYPTION:
        return False
    # VIN or platform code: printable ASCII, NUL padding allowed.
    return all(b == 0 or 0x20 <= b < 0x7F for b in first[4:21])


class Stream(FramedStream[bytes]):
    """One direction of one GB/T 32960 connection.

    ``from_client`` says whether the bytes come from the vehicle (or the forwarding
    platform): that side's frames get sources ``gbt32960.<message>``, the other side's
    ``gbt32960.down.0x<command>``. After a framing error the stream is poisoned.
    """

    NAME = NAME
    LABEL = "GB/T 32960"

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        if not buf:
            return None
        first = buf[0]
        if first not in _STARTS or (len(buf) > 1 and buf[1] != first):
            raise DecodeError(f"GB/T 32960: frame starts with {bytes(buf[:2]).hex()}, not '##'")
        if len(buf) < _HEADER:
            return None
        total = _HEADER + int.from_bytes(buf[22:24], "big") + 1
        self.check_frame_size(total)
        if len(buf) < total:
            return None
        frame = bytes(buf[:total])
        del buf[:total]
        return frame

    def _decode_frame(self, frame: bytes) -> list[Document]:
        command, flag = frame[2], frame[3]
        version = 2025 if frame[:2] == _START_2025 else 2016
        known = _COMMANDS_2025 if version == 2025 else _COMMANDS_2016
        name = _UPSTREAM[command] if command in known else f"0x{command:02x}"
        source = self.source(name if self.from_client else f"0x{command:02x}")
        if reduce(xor, frame[2:-1], 0) != frame[-1]:
            self.note_at(source, "GB/T 32960: BCC checksum mismatch, frame skipped")
            return []
        tree: dict[str, Any] = {
            "protocol": f"GB/T 32960.3-{version}",
            "message": name,
            "message_id": f"0x{command:02x}",
            "response_flag": _RESPONSES.get(flag, f"0x{flag:02x}"),
        }
        vin = _ascii(frame[4:21])
        if vin:
            tree["vin"] = vin
        encryption = frame[21]
        tree["encryption"] = _ENCRYPTION.get(encryption, f"0x{encryption:02x}")
        unit = frame[_HEADER:-1]
        if command not in known:
            self.note_at(source, f"GB/T 32960: unknown command 0x{command:02x}, data not decoded")
        elif encryption != 0x01:
            self.note_at(
                source,
                f"GB/T 32960: encrypted data unit ({tree['encryption']}), {len(unit)} bytes, "
                "not decoded",
            )
        else:
            try:
                _Body(unit, version, tree).decode(command, flag)
            except DecodeError as exc:
                self.note_at(source, str(exc))
        return [Document(source, tree)]


class _Body(ByteReader):
    """Decodes one frame's data unit into ``tree``; running off its end is a DecodeError."""

    protocol = "GB/T 32960"
    __slots__ = ("tree", "version")

    def __init__(self, data: bytes, version: int, tree: dict[str, Any]) -> None:
        super().__init__(data, "data unit")
        self.version = version
        self.tree = tree

    def content_error(self, text: str) -> DecodeError:
        """A well-framed data unit that cannot be read on: the frame gets a note."""
        return DecodeError(f"{self.protocol}: {text}")

    def time(self) -> None:
        raw = self.take(6)
        stamp = _time(raw)
        if stamp is None:
            self.tree["time_raw"] = raw.hex()
        else:
            self.tree["time"] = stamp

    # --- messages ----------------------------------------------------------------

    def decode(self, command: int, flag: int) -> None:
        if flag != 0xFE:
            self.response(command)
            return
        handlers: dict[int, Callable[[], None]] = {
            0x01: self.vehicle_login,
            0x02: self.realtime,
            0x03: self.realtime,
            0x04: self.session_end,
            0x05: self.platform_login,
            0x06: self.session_end,
            0x07: self.empty,
            0x08: self.time_calibration,
            0x09: self.activation,
            0x0A: self.activation_response,
            0x0B: self.payload_key_sync,
            0x80: self.query_parameters,
            0x81: self.set_parameters,
            0x82: self.terminal_control,
        }
        handlers[command]()

    def response(self, command: int) -> None:
        """A reply: the time, and for a parameter query the parameters that were read."""
        if not self.data:
            return
        self.time()
        if command == 0x80 and self.remaining():
            self.parameters(self.byte())
            self.end()

    def realtime(self) -> None:
        """Time, then typed information blocks until the data unit (or a 2025 signature) ends."""
        self.time()
        blocks: list[str] = []
        self.tree["blocks"] = blocks
        positions: list[dict[str, Any]] = []
        vendor: list[dict[str, Any]] = []
        try:
            while self.remaining():
                kind = self.byte()
                if self.version == 2025 and kind == 0xFF:
                    self.signature()
                    self.end()
                    break
                blocks.append(f"0x{kind:02x}")
                if kind >= 0x80:
                    size = self.u16()
                    self.take(size)
                    vendor.append({"type": f"0x{kind:02x}", "length": size})
                elif kind == 0x01:
                    self.tree["vehicle"] = _vehicle(self)
                elif kind == 0x05:
                    positions.append(_position(self))
                else:
                    skip = (_SKIP_2025 if self.version == 2025 else _SKIP_2016).get(kind)
                    if skip is None:
                        raise self.content_error(
                            f"realtime block 0x{kind:02x} has no known length, rest not decoded"
                        )
                    skip(self)
        finally:
            # What was read before a bad block is still evidence.
            if positions:
                self.tree["position"] = positions[0]
                if len(positions) > 1:
                    self.tree["positions"] = positions[1:]
            if vendor:
                self.tree["vendor_blocks"] = vendor

    def vehicle_login(self) -> None:
        self.time()
        self.tree["login_serial"] = self.u16()
        iccid = _ascii(self.take(20))
        if iccid:
            self.tree["iccid"] = iccid
        count = self.byte()
        self.tree["subsystem_count"] = count
        codes: list[str] = []
        if self.version == 2016:
            size = self.byte()
            for _ in range(count):
                codes.append(_ascii(self.take(size)))
        else:
            per_subsystem = list(self.take(count))
            for packs in per_subsystem:
                codes.extend(_ascii(self.take(24)) for _ in range(packs))
        self.tree["subsystem_codes"] = codes
        self.end()

    def session_end(self) -> None:
        self.time()
        self.tree["login_serial"] = self.u16()
        self.end()

    def platform_login(self) -> None:
        self.time()
        self.tree["login_serial"] = self.u16()
        self.tree["username"] = _ascii(self.take(12))
        self.take(20)  # The password is a secret, never recorded.
        self.tree["password_present"] = True
        self.tree["credentials"] = "platform login"
        rule = self.byte()
        self.tree["data_encryption"] = _ENCRYPTION.get(rule, f"0x{rule:02x}")
        self.end()

    def empty(self) -> None:
        self.end()

    def time_calibration(self) -> None:
        if self.data:
            self.time()
        self.end()

    def activation(self) -> None:
        self.time()
        self.tree["security_chip_id"] = _ascii(self.take(16))
        key = self.take(self.u16())
        self.tree["public_key_hex"] = key.hex()
        vin = _ascii(self.take(17))
        if vin:
            self.tree["activation_vin"] = vin
        self.signature()
        self.end()

    def activation_response(self) -> None:
        self.tree["activation_result"] = self.byte()
        self.tree["activation_info"] = self.byte()
        self.end()

    def payload_key_sync(self) -> None:
        algorithm = self.byte()
        self.tree["payload_encryption"] = _ENCRYPTION.get(algorithm, f"0x{algorithm:02x}")
        self.take(self.u16())  # A symmetric key: a secret, never recorded.
        self.tree["payload_key_present"] = True
        self.tree["credentials"] = "payload encryption key"
        start, end = self.take(6), self.take(6)
        self.tree["key_valid_from"] = _time(start) or start.hex()
        self.tree["key_valid_until"] = _time(end) or end.hex()
        self.end()

    def signature(self) -> None:
        algorithm = self.byte()
        self.take(self.u16())
        self.take(self.u16())
        self.tree["signature"] = _SIGNATURES.get(algorithm, f"0x{algorithm:02x}")

    def query_parameters(self) -> None:
        self.tree["command"] = "query_parameters"
        self.time()
        count = self.byte()
        ids = list(self.take(count))
        self.tree["parameter_ids"] = [f"0x{i:02x}" for i in ids]
        self.tree["parameters"] = [_PARAMETERS.get(i, (f"0x{i:02x}", 0))[0] for i in ids]
        self.end()

    def set_parameters(self) -> None:
        self.tree["command"] = "set_parameters"
        self.time()
        self.parameters(self.byte())
        self.end()

    def parameters(self, count: int) -> None:
        values: dict[str, Any] = {}
        self.tree["parameters"] = values
        lengths: dict[int, int] = {}
        for _ in range(count):
            ident = self.byte()
            known = _PARAMETERS.get(ident)
            if known is None:
                raise self.content_error(
                    f"parameter 0x{ident:02x} has no known length, rest not decoded"
                )
            name, size = known
            if size == 0:
                raw = self.take(lengths.get(ident - 1, self.remaining()))
                values[name] = _text(raw)
            elif ident in _TEXT_PARAMETERS:
                values[name] = _text(self.take(size))
            else:
                value = int.from_bytes(self.take(size), "big")
                values[name] = value
                lengths[ident] = value

    def terminal_control(self) -> None:
        self.tree["command"] = "terminal_control"
        self.time()
        control = self.byte()
        self.tree["control_id"] = f"0x{control:02x}"
        self.tree["control"] = _CONTROLS.get(
            control, "vendor-defined" if control >= 0x80 else f"unknown 0x{control:02x}"
        )
        params = self.take(self.remaining())
        if control == 0x01:
            self.tree["ota"] = True
            self.upgrade(params)
        elif control == 0x06 and params:
            self.tree["alarm_level"] = params[0]
            message = _text(params[1:])
            if message:
                self.tree["alarm_message"] = message
        elif params:
            self.tree["parameters_hex"] = params.hex()

    def upgrade(self, params: bytes) -> None:
        """Remote-upgrade parameters: ``;``-separated, binary address, ports and versions."""
        fields = _upgrade_fields(params)
        if fields is None:
            # Not the standard layout (fields left out, or a vendor's order): keep what can be
            # trusted, the URL, and say so.
            match = _URL.search(params)
            if match:
                self.tree["upgrade_url"] = match.group().decode("ascii")
            raise self.content_error("remote-upgrade parameters not in the standard layout")
        self.tree.update(fields)


def _upgrade_fields(params: bytes) -> dict[str, Any] | None:
    """The standard remote-upgrade fields, or None when ``params`` does not follow them."""
    pos = 0

    def text() -> bytes | None:
        nonlocal pos
        end = params.find(b";", pos)
        if end < 0:
            return None
        chunk = params[pos:end]
        pos = end + 1
        return chunk

    def fixed(n: int, last: bool = False) -> bytes | None:
        nonlocal pos
        chunk = params[pos : pos + n]
        if len(chunk) != n:
            return None
        pos += n
        if last:
            return chunk if pos == len(params) else None
        if params[pos : pos + 1] != b";":
            return None
        pos += 1
        return chunk

    dial_name, dial_user, dial_password = text(), text(), text()
    address, port = fixed(6), fixed(2)
    maker, hardware, firmware = fixed(4), fixed(5), fixed(5)
    url = text()
    timeout = fixed(2, last=True)
    parts = (dial_name, dial_user, dial_password, address, port, maker, hardware, firmware, url)
    if timeout is None or any(p is None for p in parts):
        return None
    assert address is not None and port is not None and url is not None  # for mypy
    out: dict[str, Any] = {
        "dial_point": _text(dial_name or b""),
        "dial_user": _text(dial_user or b""),
        "upgrade_server_ip": ".".join(str(b) for b in address[2:]),
        "upgrade_server_port": int.from_bytes(port, "big"),
        "manufacturer_id": _text(maker or b""),
        "hardware_version": _text(hardware or b""),
        "firmware_version": _text(firmware or b""),
        "upgrade_url": _text(url),
        "connect_timeout": int.from_bytes(timeout, "big"),
    }
    if dial_password:
        out["password_present"] = True
    return out


# Realtime blocks ------------------------------------------------------------------------


def _vehicle(self: _Body) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": self.byte(),
        "charging_status": self.byte(),
        "mode": self.byte(),
        "speed_kmh": _scaled(self.u16(), 2, 0.1),
        "odometer_km": _scaled(self.u32(), 4, 0.1),
        "voltage_v": _scaled(self.u16(), 2, 0.1),
    }
    current = self.u16()
    offset = 3000 if self.version == 2025 else 1000
    out["current_a"] = None if current >= 0xFFFE else round(current * 0.1 - offset, 1)
    out["soc_percent"] = _scaled(self.byte(), 1, 1)
    out["dcdc_status"] = self.byte()
    out["gear"] = self.byte()
    out["insulation_kohm"] = self.u16()
    if self.version == 2016:
        out["accelerator_percent"] = _scaled(self.byte(), 1, 1)
        out["brake"] = _scaled(self.byte(), 1, 1)
    return out


def _position(self: _Body) -> dict[str, Any]:
    status = self.byte()
    coordinates = self.byte() if self.version == 2025 else None
    lon, lat = self.u32(), self.u32()
    out: dict[str, Any] = {
        "valid": not status & 0x01,
        "ns": "S" if status & 0x02 else "N",
        "ew": "W" if status & 0x04 else "E",
    }
    if lat < 0xFFFFFFFE and lon < 0xFFFFFFFE:
        out["lat"] = round(lat / 1e6 * (-1 if status & 0x02 else 1), 6)
        out["lon"] = round(lon / 1e6 * (-1 if status & 0x04 else 1), 6)
    if coordinates is not None:
        out["coordinate_system"] = _COORDINATES.get(coordinates, f"0x{coordinates:02x}")
    return out


def _counted(size_of: Callable[[_Body], int]) -> Callable[[_Body], None]:
    """A block made of a BYTE count and that many variable-size records."""

    def skip(self: _Body) -> None:
        for _ in range(self.byte()):
            self.take(size_of(self))

    return skip


def _fixed(size: int) -> Callable[[_Body], None]:
    def skip(self: _Body) -> None:
        self.take(size)

    return skip


def _fuel_cell_2016(self: _Body) -> None:
    self.take(6)
    self.take(self.u16())  # one byte per temperature probe
    self.take(10)


def _alarms(lists: int, trailing_pairs: bool) -> Callable[[_Body], None]:
    def skip(self: _Body) -> None:
        self.take(5)  # highest level, general alarm flags
        for _ in range(lists):
            self.take(4 * self.byte())
        if trailing_pairs:
            self.take(2 * self.byte())

    return skip


def _cell_voltages_2016(self: _Body) -> int:
    self.take(9)  # id, voltage, current, cell total, first cell index
    return 2 * self.byte()


def _cell_voltages_2025(self: _Body) -> int:
    self.take(5)  # id, voltage, current
    return 2 * self.u16()


def _probe_temperatures(self: _Body) -> int:
    self.take(1)  # subsystem id
    return self.u16()


_SKIP_2016: dict[int, Callable[[_Body], None]] = {
    0x02: _counted(lambda b: 12),
    0x03: _fuel_cell_2016,
    0x04: _fixed(5),
    0x06: _fixed(14),
    0x07: _alarms(4, trailing_pairs=False),
    0x08: _counted(_cell_voltages_2016),
    0x09: _counted(_probe_temperatures),
}
_SKIP_2025: dict[int, Callable[[_Body], None]] = {
    0x02: _counted(lambda b: 10),
    0x04: _fixed(2),
    0x06: _alarms(4, trailing_pairs=True),
    0x07: _counted(_cell_voltages_2025),
    0x08: _counted(_probe_temperatures),
}


# Values ----------------------------------------------------------------------------------


def _scaled(raw: int, size: int, factor: float) -> float | int | None:
    """A scaled reading; the two top values of its width mean 'abnormal' and 'invalid'."""
    if raw >= (1 << (8 * size)) - 2:
        return None
    return raw if factor == 1 else round(raw * factor, 1)


def _time(raw: bytes) -> str | None:
    """6 binary bytes YY MM DD hh mm ss in Beijing time, as ISO 8601, or None if impossible."""
    try:
        stamp = dt.datetime(2000 + raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], tzinfo=_BEIJING)
    except ValueError:
        return None
    return stamp.isoformat()


def _ascii(raw: bytes) -> str:
    """A fixed-width ASCII field without its NUL / space padding."""
    return raw.decode("ascii", "replace").strip("\x00 ")


def _text(raw: bytes) -> str:
    """Free text: GB 18030 covers ASCII and the Chinese a platform may send."""
    return raw.decode("gb18030", "replace").strip("\x00 ")
