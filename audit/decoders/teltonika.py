"""Teltonika trackers over TCP and UDP: IMEI handshake, AVL records (codec 8/8E/16), commands.

No maintained pure-Python Teltonika parser exists on PyPI, so packets are sliced by hand
with ``int.from_bytes``. Layouts follow shared/reference/protocols.md section 3.2 and
Teltonika's "Data Sending Protocols" and AVL ID list (traccar's decoder consulted for the
variants; no code taken). The checksum is CRC-16/IBM (catalogued as CRC-16/ARC), computed
by ``fastcrc``'s table-driven native implementation.

TCP, device to server: ``00 0F`` + 15 ASCII digits (the IMEI), then AVL packets
``00000000 | data length(4) | codec | N1 | records | N2 | CRC(4)``; the CRC covers codec
through N2. The server answers ``01`` to the handshake and the record count (4 bytes) to
each packet, and sends codec 12/14 command packets in the same framing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastcrc import crc16
from stdnum import luhn

from ..model import Document
from .byte_reader import ByteReader
from .errors import DecodeError
from .framed_stream import MAX_FRAME, FramedStream

NAME = "teltonika"
DEFAULT_PORTS: frozenset[int] = frozenset({5027})  # traccar's Teltonika port; vendors vary

CODEC_8 = 0x08
CODEC_8E = 0x8E
CODEC_16 = 0x10
CODEC_12 = 0x0C
CODEC_13 = 0x0D
CODEC_14 = 0x0E
AVL_CODECS = frozenset({CODEC_8, CODEC_8E, CODEC_16})
COMMAND_CODECS = frozenset({CODEC_12, CODEC_13, CODEC_14})

_PREAMBLE = b"\x00\x00\x00\x00"
_PING = 0xFF  # a device's one-byte keep-alive between packets
_IMEI_LENGTHS = range(15, 18)  # 15 digits; some firmware sends the 16-digit IMEISV
_MAX_HANDSHAKE = 64
_MIN_DATA = 3  # codec, N1, N2
_TYPE_COMMAND, _TYPE_NACK = 0x05, 0x11  # 0x06 is a response

_PRIORITY = {0: "low", 1: "high", 2: "panic"}
_GENERATION = {
    0: "on exit", 1: "on entrance", 2: "on both", 3: "reserved", 4: "hysteresis",
    5: "on change", 6: "eventual", 7: "periodical",
}  # fmt: skip

# IO ids read as identifiers (protocols.md 3.2 and Teltonika's FMB AVL ID list).
IO_ICCID_MSB = 11
IO_ICCID_LSB = 14
IO_VINS = (256, 325)  # 256: OBD VIN, 325: CAN VIN (codec 8E variable length)
IO_DTC = 281
IO_OPERATOR = 241  # active GSM operator, MCC * 100 + MNC (or * 1000 for 3-digit MNCs)
IO_CELL_2G = 205
IO_CELL_4G = 636
IO_LAC = 206
IO_IBUTTON = 78
# Common permanent IOs, given names so that the tree reads without the AVL ID list.
_IO_NAMES = {
    1: "digital_input_1", 2: "digital_input_2", 3: "digital_input_3",
    9: "analog_input_1_mv", 16: "total_odometer_m", 21: "gsm_signal", 24: "gnss_speed_kmh",
    66: "external_voltage_mv", 67: "battery_voltage_mv", 68: "battery_current_ma",
    69: "gnss_status", 80: "data_mode", 113: "battery_level_percent", 179: "digital_output_1",
    180: "digital_output_2", 181: "gnss_pdop_x10", 182: "gnss_hdop_x10", 199: "trip_odometer_m",
    200: "sleep_mode", 239: "ignition", 240: "movement",
}  # fmt: skip

# Codec 12 command word -> readable name (Teltonika FMB SMS/GPRS command list).
_COMMANDS = {
    "setdigout": "set digital output (immobiliser relay)",
    "getgps": "request GPS position",
    "ggps": "request GPS position link",
    "getinfo": "request device information",
    "getver": "request firmware version",
    "getstatus": "request modem status",
    "getimeiccid": "request IMEI and ICCID",
    "getops": "request GSM operator list",
    "cpureset": "reboot device",
    "defaultcfg": "restore default configuration",
    "setparam": "set configuration parameter",
    "getparam": "request configuration parameter",
    "flush": "redirect device to another server",
    "readio": "request I/O value",
    "getrecord": "request stored records",
    "deleterecords": "delete stored records",
    "odoset": "set odometer",
    "web_connect": "connect to configuration server",
    "battery": "request battery state",
}


def crc16_ibm(data: bytes) -> int:
    """CRC-16/IBM (ARC) of ``data``, the checksum of Teltonika TCP packets."""
    return crc16.arc(data)


def looks_like(first: bytes) -> bool:
    """Whether a connection's first client bytes are a Teltonika IMEI handshake or AVL packet."""
    if len(first) < 2:
        return False
    size = int.from_bytes(first[:2], "big")
    if size:
        return size in _IMEI_LENGTHS and len(first) >= 2 + size and first[2 : 2 + size].isdigit()
    if len(first) < 10 or first[:4] != _PREAMBLE:
        return False
    length = int.from_bytes(first[4:8], "big")
    return _MIN_DATA <= length <= 1 << 20 and first[8] in AVL_CODECS | COMMAND_CODECS


def looks_like_udp(datagram: bytes) -> bool:
    """Whether a UDP datagram is a Teltonika AVL datagram (length, ids, IMEI, AVL data)."""
    if len(datagram) < 8 or int.from_bytes(datagram[:2], "big") != len(datagram) - 2:
        return False
    size = int.from_bytes(datagram[6:8], "big")
    end = 8 + size
    return (
        size in _IMEI_LENGTHS
        and len(datagram) > end
        and datagram[8:end].isdigit()
        and datagram[end] in AVL_CODECS
    )


class Stream(FramedStream[tuple[bytes, int | None]]):
    """One direction of one Teltonika TCP connection (``from_client`` = device to server).

    The device side carries the IMEI handshake and AVL (or codec 12/13/14 response)
    packets; the server side carries the one-byte handshake answer, 4-byte record-count
    acknowledgements and codec 12/14 command packets (an acknowledgement of 0 records
    would read as a packet preamble; servers send none). A framing error poisons the
    stream. A packet whose content cannot be decoded becomes a note. A wrong CRC is a
    note too, but the packet is still decoded (marked ``checksum_valid: False``):
    servers do not check it, so the data reached them all the same.

    A frame is ``(IMEI, None)`` for the handshake, ``(data, CRC)`` for a packet.
    """

    NAME = NAME
    LABEL = "Teltonika"

    def __init__(self, *, from_client: bool = True, max_frame: int = MAX_FRAME) -> None:
        super().__init__(from_client=from_client, max_frame=max_frame)
        self._answered = False  # server side: the handshake answer byte was seen

    def _next_frame(self) -> tuple[bytes, int | None] | None:
        return self._next_client() if self.from_client else self._next_server()

    def _next_client(self) -> tuple[bytes, int | None] | None:
        buf = self._buf
        while buf and buf[0] == _PING:
            del buf[0]
        if len(buf) < 2:
            return None
        size = int.from_bytes(buf[:2], "big")
        if size == 0:
            return self._next_packet()
        if size > _MAX_HANDSHAKE:
            raise DecodeError(
                f"Teltonika: stream starts with {bytes(buf[:4]).hex()}, "
                "neither an IMEI handshake nor an AVL packet"
            )
        if len(buf) < 2 + size:
            return None
        raw = bytes(buf[2 : 2 + size])
        del buf[: 2 + size]
        return raw, None

    def _next_server(self) -> tuple[bytes, int | None] | None:
        buf = self._buf
        if buf and not self._answered:
            if buf[0] not in (0x00, 0x01):
                raise DecodeError(f"Teltonika: handshake answer {buf[0]:#04x} is not 00 or 01")
            del buf[0]
            self._answered = True
        while len(buf) >= 4 and buf[:4] != _PREAMBLE:
            del buf[:4]  # A record-count acknowledgement: nothing worth auditing.
        if len(buf) < 4:
            return None
        return self._next_packet()

    def _next_packet(self) -> tuple[bytes, int | None] | None:
        buf = self._buf
        if len(buf) < 8:
            if bytes(buf[:4]) != _PREAMBLE[: min(4, len(buf))]:
                raise DecodeError("Teltonika: AVL packet preamble is not 4 zero bytes")
            return None
        if buf[:4] != _PREAMBLE:
            raise DecodeError("Teltonika: AVL packet preamble is not 4 zero bytes")
        length = int.from_bytes(buf[4:8], "big")
        if length < _MIN_DATA:
            raise DecodeError(f"Teltonika: data length {length} is below the minimum of 3")
        total = 8 + length + 4
        self.check_frame_size(total)
        if len(buf) < total:
            return None
        data = bytes(buf[8 : 8 + length])
        checksum = int.from_bytes(buf[8 + length : total], "big")
        del buf[:total]
        return data, checksum

    def _decode_frame(self, frame: tuple[bytes, int | None]) -> list[Document]:
        data, checksum = frame
        if checksum is None:
            return self._login(data)
        codec = data[0]
        try:
            if codec in AVL_CODECS:
                trees = [avl_data(data)]
            elif codec in COMMAND_CODECS:
                trees = command_data(data)
            else:
                raise DecodeError(f"Teltonika: codec {codec:#04x} not decoded")
        except DecodeError as exc:
            self.note_at(_source(codec, self.from_client), str(exc))
            trees = []
        documents = [Document(_source(codec, self.from_client, t), t) for t in trees]
        computed = crc16_ibm(data)
        if computed != checksum:
            source = documents[0].source if documents else _source(codec, self.from_client)
            reason = f"Teltonika: CRC {checksum:08x} does not match computed {computed:04x}"
            self.note_at(source, reason + "; decoded anyway")
            for tree in trees:
                tree["checksum_valid"] = False
        return documents

    def _login(self, raw: bytes) -> list[Document]:
        source = self.source("login")
        if not raw.isdigit():
            self.note_at(source, "Teltonika: handshake IMEI is not digits")
            return []
        return [Document(source, {"imei": raw.decode("ascii")})]


def decode_udp(datagram: bytes) -> list[Document]:
    """Decode one Teltonika UDP datagram (complete by itself) into its AVL Document.

    Layout: length(2) of what follows, packet id(2), packet type(1), AVL packet id(1),
    IMEI length(2), IMEI, then codec, N1, records, N2 (no CRC: UDP has its own).
    Raises DecodeError for anything else.
    """
    r = _Reader(datagram, "UDP datagram")
    length = r.u16()
    if length != len(datagram) - 2:
        raise DecodeError(
            f"Teltonika: UDP length field {length} does not match {len(datagram) - 2} bytes"
        )
    packet_id = r.u16()
    r.byte()  # packet type: 0x01, "no acknowledgement needed"
    avl_packet_id = r.byte()
    imei = r.take(r.u16())
    if not imei.isdigit():
        raise DecodeError("Teltonika: UDP IMEI is not digits")
    data = r.rest()
    if not data or data[0] not in AVL_CODECS:
        raise DecodeError("Teltonika: UDP datagram carries no AVL data")
    tree = {
        "imei": imei.decode("ascii"),
        "packet_id": packet_id,
        "avl_packet_id": avl_packet_id,
        **avl_data(data),
    }
    return [Document(f"{NAME}.avl", tree)]


def avl_data(data: bytes) -> dict[str, Any]:
    """Codec 8, 8E or 16 data (codec byte through N2) as ``{"codec", "records"}``."""
    codec, records = _counted(data, "AVL data", "record counts", _record)
    return {"codec": f"{codec:02X}", "records": records}


def command_data(data: bytes) -> list[dict[str, Any]]:
    """Codec 12, 13 or 14 data (codec byte through the second quantity): one tree per message.

    Type 0x05 is a server command, 0x06 a device response, 0x11 (codec 14) a refusal
    because the IMEI in the command was not the device's own.
    """
    return _counted(data, "command data", "command quantities", _command_message)[1]


def _counted(
    data: bytes, what: str, counts: str, item: Callable[[_Reader, int], dict[str, Any]]
) -> tuple[int, list[dict[str, Any]]]:
    """The codec and the items of ``codec | count | items | count`` read to its last byte."""
    r = _Reader(data, what)
    codec = r.byte()
    count = r.byte()
    items = [item(r, codec) for _ in range(count)]
    again = r.byte()
    if again != count:
        raise DecodeError(f"Teltonika: {counts} differ ({count} then {again})")
    r.end()
    return codec, items


def describe_command(text: str) -> dict[str, Any]:
    """A readable ``command`` for a codec 12 text command, with the text itself.

    ``setdigout 1`` switches digital output 1, where the immobiliser relay is wired.
    Unknown commands are ``"text command"``.
    """
    word = text.strip().split(" ", 1)[0].lower()
    return {"command": _COMMANDS.get(word, "text command"), "text": text}


def _source(codec: int, from_client: bool, tree: dict[str, Any] | None = None) -> str:
    if codec in AVL_CODECS:
        message = "avl"
    elif tree is not None and "command" in tree:
        message = "command"
    elif tree is not None and tree.get("nack"):
        message = "nack"
    elif codec in COMMAND_CODECS:
        message = "response"
    else:
        message = f"codec_{codec:02x}"
    return f"{NAME}.{message}" if from_client else f"{NAME}.down.{message}"


def _command_message(r: _Reader, codec: int) -> dict[str, Any]:
    kind = r.byte()
    payload = _Reader(r.take(r.u32()), "command")
    out: dict[str, Any] = {"codec": f"{codec:02X}"}
    if codec == CODEC_13:
        out["time"] = _iso(payload.u32() * 1000)
    elif codec == CODEC_14:
        out["imei"] = payload.take(8).hex().removeprefix("0")
    if kind == _TYPE_NACK:
        out["nack"] = True
        return out
    raw = payload.rest()
    text = _text(raw)
    if text is None:
        out["data_hex"] = raw.hex()
    elif kind == _TYPE_COMMAND:
        out.update(describe_command(text))
    else:
        out["text"] = text
    return out


def _record(r: _Reader, codec: int) -> dict[str, Any]:
    when = _iso(r.u64())
    priority = r.byte()
    lon = r.i32() / 1e7  # longitude comes first
    lat = r.i32() / 1e7
    out: dict[str, Any] = {
        "time": when,
        "priority": _PRIORITY.get(priority, priority),
        "position": {"lat": lat, "lon": lon},
        "altitude_m": r.i16(),
        "angle": r.u16(),
        "satellites": r.byte(),
        "speed_kmh": r.u16(),
    }
    wide_ids = codec in (CODEC_8E, CODEC_16)
    wide_counts = codec == CODEC_8E
    out["event_io"] = r.u16() if wide_ids else r.byte()
    if codec == CODEC_16:
        generation = r.byte()
        out["generation"] = _GENERATION.get(generation, generation)
    r.take(2 if wide_counts else 1)  # total IO count, implied by the groups below
    io: dict[int, int | bytes] = {}
    for size in (1, 2, 4, 8):
        for _ in range(r.u16() if wide_counts else r.byte()):
            ident = r.u16() if wide_ids else r.byte()
            io[ident] = int.from_bytes(r.take(size), "big")
    if wide_counts:  # codec 8E's variable-length ("NX") group
        for _ in range(r.u16()):
            ident = r.u16()
            io[ident] = r.take(r.u16())
    out.update(_identity(io))
    out["io"] = {_IO_NAMES.get(k, str(k)): _io_value(v) for k, v in io.items()}
    return out


def _identity(io: dict[int, int | bytes]) -> dict[str, Any]:
    """Pop the IO elements that identify the SIM, the vehicle or the cell into named keys."""
    out: dict[str, Any] = {}
    for ident in IO_VINS:
        vin = io.pop(ident, None)
        if vin is not None:
            out["vin"] = _io_text(vin).strip()
    dtc = io.pop(IO_DTC, None)
    if dtc is not None:
        out["dtc"] = _io_text(dtc)
    msb, lsb = io.pop(IO_ICCID_MSB, None), io.pop(IO_ICCID_LSB, None)
    if msb is not None or lsb is not None:
        out.update(_iccid(msb, lsb))
    ibutton = io.pop(IO_IBUTTON, None)
    if ibutton is not None:
        out["driver_ibutton"] = _io_bytes(ibutton)[::-1].hex().upper()  # sent little-endian
    operator = io.pop(IO_OPERATOR, None)
    cell: dict[str, Any] = {}
    if operator is not None:
        out["gsm_operator"] = code = _io_int(operator)
        if code >= 1000:  # the MCC is always 3 digits, the MNC the rest
            digits = str(code)
            cell["mcc"], cell["mnc"] = int(digits[:3]), int(digits[3:])
    lac = io.pop(IO_LAC, None)
    cell_2g, cell_4g = io.pop(IO_CELL_2G, None), io.pop(IO_CELL_4G, None)
    if lac is not None:
        cell["lac"] = _io_int(lac)
    if cell_4g is not None:
        cell["cell_id"] = _io_int(cell_4g)
        cell["radio"] = "lte"
    elif cell_2g is not None:
        cell["cell_id"] = _io_int(cell_2g)
    if cell:
        out["cell"] = cell
    return out


def _iccid(msb: int | bytes | None, lsb: int | bytes | None) -> dict[str, str]:
    """The SIM's ICCID from IO 11 (MSB half) and IO 14 (LSB half) of FMB devices.

    Teltonika documents the two only as "value of SIM ICCID, MSB / LSB" (8 bytes each),
    and a 20-digit ICCID does not fit in 8 bytes, so the readings are tried in turn and
    the first valid ICCID (19-20 digits, ``89`` prefix, Luhn check digit) wins: the
    decimal halves joined, the halves as one 128-bit number, IO 11 alone (traccar's
    reading, enough for a 19-digit ICCID). Failing all, the joined halves are kept.
    """
    parts = [int.from_bytes(_io_bytes(p), "big") for p in (msb, lsb) if p is not None]
    joined = "".join(str(p) for p in parts)
    candidates = [joined]
    if len(parts) == 2:
        candidates.append(str(parts[0] << 64 | parts[1]))
    if msb is not None:
        candidates.append(str(parts[0]))
    for candidate in candidates:
        if 19 <= len(candidate) <= 20 and candidate.startswith("89") and luhn.is_valid(candidate):
            return {"iccid": candidate}
    return {"iccid": joined}


def _io_bytes(value: int | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.to_bytes(8, "big")


def _io_int(value: int | bytes) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def _io_text(value: int | bytes) -> str:
    raw = value if isinstance(value, bytes) else value.to_bytes(8, "big").lstrip(b"\0")
    return raw.decode("ascii", errors="replace")


def _io_value(value: int | bytes) -> int | str:
    """Numbers stay numbers; variable-length values are text when printable, else hex."""
    if isinstance(value, int):
        return value
    text = _text(value)
    return text if text is not None else value.hex()


def _text(raw: bytes) -> str | None:
    if raw and all(0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D) for b in raw):
        return raw.decode("ascii")
    return None


def _iso(milliseconds: int) -> str | None:
    """Milliseconds since the Unix epoch (UTC) as ISO 8601, or None if out of range."""
    try:
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)
    except OverflowError:
        return None
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Reader(ByteReader):
    """Bounds-checked reads over one packet; running off the end is a DecodeError."""

    protocol = "Teltonika"
    __slots__ = ()
