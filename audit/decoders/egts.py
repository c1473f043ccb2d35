"""EGTS (GOST R 54619, ERA-GLONASS transport): the binary protocol of Russian and CIS trackers.

Hand-written with ``struct`` (no maintained Python parser exists); the CRC-16 is
``binascii.crc_hqx`` (CCITT-FALSE), the CRC-8 (poly 0x31, init 0xFF) ``fastcrc``'s
CRC-8/NRSC-5. Layout, all little-endian, from the public EGTS
specification (GOST R 54619-2011 / Order 285 of the Russian Ministry of Transport)
as understood here — protocols.md has nothing on EGTS, so parts marked *uncertain*
were not checked against the standard's text:

* transport header: PRV (=1), SKID, flags (PRF:2 RTE:1 ENA:2 CMP:1 PR:2), HL (11, or
  16 with routing), HE, FDL:u16, PID:u16, PT (0 response, 1 app data, 2 signed app
  data), [PRA:u16 RCA:u16 TTL:u8 if RTE], HCS = CRC-8 of the header before it; then
  FDL bytes of services frame data and SFRCS = CRC-16 of them (absent when FDL = 0);
* response frames start with RPID:u16 PR:u8, signed ones with SIGL:u16 + SIGD;
* records: RL:u16 RN:u16 RFL:u8 [OID:u32] [EVID:u32] [TM:u32] SST:u8 RST:u8 + RL bytes
  of subrecords SRT:u8 SRL:u16 SRD;
* EGTS_SR_TERM_IDENTITY (1): TID:u32, flags, [HDID:u16] [IMEI:15] [IMSI:16] [LNGC:3]
  [NID:3] [BS:u16] [MSISDN:15]; EGTS_SR_VEHICLE_DATA (3): VIN:17, VHT:u32, VPST:u32;
  EGTS_SR_AUTH_INFO (5): user name and password, NUL-terminated (the password is never
  kept); EGTS_SR_POS_DATA (16): NTM:u32 (seconds since 2010-01-01 UTC), LAT:u32 and
  LONG:u32 scaled by 90/0xFFFFFFFF and 180/0xFFFFFFFF, FLG (LAHS bit 5 south, LOHS bit 6
  west, ALTE bit 7), SPD:u16 (0.1 km/h in bits 0-13, altitude sign bit 14, direction
  bit 8 in bit 15), DIR, ODM:u24, DIN, SRC, [ALT:u24];
* EGTS_SR_COMMAND_DATA (51, *uncertain* beyond CT/CCT, CID and SID): the command
  code is kept as a number, not named.

The real frames in tests/data/protocol_samples/egts.json (traccar's test vectors, with
a position traccar asserts) decode with valid CRCs under this reading.
"""

from __future__ import annotations

import binascii
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from fastcrc import crc8 as crc8_catalogue

from ..model import Document
from .errors import DecodeError
from .framed_stream import FramedStream

NAME = "egts"
DEFAULT_PORTS: frozenset[int] = frozenset({5162, 20629})

_EPOCH = datetime(2010, 1, 1, tzinfo=UTC)
_PACKET_TYPES = {0: "response", 1: "appdata", 2: "signed_appdata"}
_SERVICES = {1: "auth", 2: "teledata", 4: "commands", 9: "firmware", 10: "ecall"}
_COMMAND_TYPES = {1: "comconf", 2: "msgconf", 3: "msgfrom", 4: "msgto", 5: "com",
                  6: "delcom", 7: "subreq", 8: "deliv"}  # fmt: skip
_SUBRECORDS = {
    0: "record_response", 1: "term_identity", 2: "module_data", 3: "vehicle_data",
    4: "auth_params", 5: "auth_info", 6: "service_info", 7: "result_code",
    16: "pos_data", 17: "ext_pos_data", 18: "ad_sensors_data", 19: "counters_data",
    20: "state_data", 22: "loopin_data", 23: "abs_dig_sens_data", 24: "abs_an_sens_data",
    25: "abs_cntr_data", 26: "abs_loopin_data", 27: "liquid_level_sensor",
    28: "passengers_counters", 51: "command_data", 40: "raw_msd_data",
}  # fmt: skip


def crc8(data: bytes) -> int:
    """EGTS header checksum: CRC-8, polynomial 0x31, initial 0xFF, no reflection.

    That is the catalogue's CRC-8/NRSC-5, computed by ``fastcrc``.
    """
    return crc8_catalogue.nrsc_5(data)


def crc16(data: bytes) -> int:
    """EGTS frame-data checksum: CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF)."""
    return binascii.crc_hqx(data, 0xFFFF)


def looks_like(first: bytes) -> bool:
    """Whether a client's first bytes are an EGTS transport header with a valid CRC-8."""
    if len(first) < 11 or first[0] != 1 or first[2] & 0xC0 or first[3] not in (11, 16):
        return False
    hl = first[3]
    return len(first) >= hl and crc8(first[: hl - 1]) == first[hl - 1]


class Stream(FramedStream[bytes]):
    """One direction of an EGTS connection."""

    NAME = NAME

    def _next_frame(self) -> bytes | None:
        buf = self._buf
        if len(buf) < 4:
            return None
        if buf[0] != 1 or buf[2] & 0xC0:
            raise DecodeError(f"egts: bad protocol version/prefix {bytes(buf[:3]).hex()}")
        hl = buf[3]
        if hl not in (11, 16):
            raise DecodeError(f"egts: header length {hl} is neither 11 nor 16")
        if len(buf) < hl:
            return None
        if crc8(bytes(buf[: hl - 1])) != buf[hl - 1]:
            # The length fields are unreliable when the header is damaged: framing is lost.
            raise DecodeError("egts: header checksum mismatch")
        fdl = int.from_bytes(buf[5:7], "little")
        size = hl + fdl + (2 if fdl else 0)
        self.check_frame_size(size)
        if len(buf) < size:
            return None
        frame = bytes(buf[:size])
        del buf[:size]
        return frame

    def _decode_frame(self, frame: bytes) -> list[Document]:
        hl, flags = frame[3], frame[2]
        fdl, pid = struct.unpack_from("<HH", frame, 5)
        packet_type = frame[9]
        kind = _PACKET_TYPES.get(packet_type)
        if kind is None:
            raise DecodeError(f"egts: unknown packet type {packet_type}")
        data = frame[hl : hl + fdl]
        if fdl and int.from_bytes(frame[hl + fdl :], "little") != crc16(data):
            raise DecodeError(f"egts: frame data checksum mismatch in packet {pid}")
        tree: dict[str, Any] = {"packet_id": pid, "packet_type": kind, "priority": flags & 0x03}
        if flags & 0x20:
            tree["route"] = {"sender": int.from_bytes(frame[10:12], "little"),
                             "recipient": int.from_bytes(frame[12:14], "little")}  # fmt: skip
        if flags & 0x18:
            raise DecodeError(f"egts: packet {pid} is encrypted (ENA={(flags >> 3) & 3})")
        if flags & 0x04:
            raise DecodeError(f"egts: packet {pid} is compressed")
        r = _Reader(data)
        if packet_type == 0:
            tree["response_to"] = r.u16()
            tree["result"] = r.u8()
        elif packet_type == 2:
            r.take(r.u16())  # the signature: not personal data
            tree["signed"] = True
        records = []
        while r.remaining():
            records.append(self._record(r))
        tree["records"] = records
        return [Document(self.source(kind), tree)]

    def _record(self, r: _Reader) -> dict[str, Any]:
        length, number, flags = r.u16(), r.u16(), r.u8()
        record: dict[str, Any] = {"record_number": number}
        if flags & 0x01:
            record["object_id"] = r.u32()
        if flags & 0x02:
            record["event_id"] = r.u32()
        if flags & 0x04:
            record["time"] = _time(r.u32())
        service = r.u8()
        r.u8()  # recipient service type: the same service on the other side
        record["service"] = _SERVICES.get(service, str(service))
        body = _Reader(r.take(length))
        subrecords = []
        while body.remaining():
            kind, size = body.u8(), body.u16()
            subrecords.append(_subrecord(kind, _Reader(body.take(size))))
        record["subrecords"] = subrecords
        return record


def _time(seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).isoformat()


def _text(raw: bytes) -> str:
    """A fixed-size or NUL-terminated EGTS string (CP1251 per the standard), trimmed."""
    return raw.split(b"\x00", 1)[0].decode("cp1251", "replace").strip()


def _subrecord(kind: int, r: _Reader) -> dict[str, Any]:
    name = _SUBRECORDS.get(kind, f"type_{kind}")
    sub: dict[str, Any] = {"type": name}
    if kind == 0:
        sub["confirmed_record"] = r.u16()
        sub["status"] = r.u8()
    elif kind == 1:
        sub |= _term_identity(r)
    elif kind == 3:
        sub["vin"] = _text(r.take(17))
        sub["vehicle_type"] = r.u32()
        sub["propulsion"] = r.u32()
    elif kind == 5:
        sub["username"] = _text(r.take_until_nul(32))
        r.take_until_nul(32)  # the password is a secret, not personal data to record
        sub["password_present"] = True
    elif kind == 7:
        sub["result_code"] = r.u8()
    elif kind == 16:
        sub |= _pos_data(r)
    elif kind == 17:
        sub |= _ext_pos_data(r)
    elif kind == 51:
        sub |= _command_data(r)
    else:
        sub["data_hex"] = r.rest().hex()
    return sub


def _term_identity(r: _Reader) -> dict[str, Any]:
    tree: dict[str, Any] = {"terminal_id": r.u32()}
    flags = r.u8()
    if flags & 0x01:
        tree["home_dispatcher_id"] = r.u16()
    if flags & 0x02:
        imei = _text(r.take(15))
        if imei.strip("0"):
            tree["imei"] = imei
    if flags & 0x04:
        imsi = _text(r.take(16))
        if imsi.strip("0"):
            tree["imsi"] = imsi
    if flags & 0x08:
        tree["language"] = _text(r.take(3))
    if flags & 0x20:
        tree["network_id_hex"] = r.take(3).hex()  # MCC/MNC bit packing *uncertain*: raw
    if flags & 0x40:
        tree["buffer_size"] = r.u16()
    if flags & 0x80:
        msisdn = _text(r.take(15))
        if msisdn.strip("0"):
            tree["msisdn"] = msisdn
    return tree


def _pos_data(r: _Reader) -> dict[str, Any]:
    ntm, lat_raw, lon_raw, flags, speed_word, direction = struct.unpack("<IIIBHB", r.take(16))
    lat = lat_raw * 90.0 / 0xFFFFFFFF
    lon = lon_raw * 180.0 / 0xFFFFFFFF
    tree: dict[str, Any] = {
        "time": _time(ntm),
        "valid": bool(flags & 0x01),
        "position": {
            "lat": round(-lat if flags & 0x20 else lat, 7),
            "lon": round(-lon if flags & 0x40 else lon, 7),
        },
        "speed_kmh": (speed_word & 0x3FFF) / 10.0,
        "course": direction | (0x100 if speed_word & 0x8000 else 0),
        "odometer_km": int.from_bytes(r.take(3), "little") / 10.0,
        "digital_inputs": r.u8(),
        "source": r.u8(),
    }
    if flags & 0x80:
        altitude = int.from_bytes(r.take(3), "little")
        tree["altitude"] = -altitude if speed_word & 0x4000 else altitude
    return tree


def _ext_pos_data(r: _Reader) -> dict[str, Any]:
    flags = r.u8()
    tree: dict[str, Any] = {}
    for bit, name in ((0x01, "vdop"), (0x02, "hdop"), (0x04, "pdop")):
        if flags & bit:
            tree[name] = r.u16() / 100.0
    if flags & 0x08:
        tree["satellites"] = r.u8()
    if flags & 0x10:
        tree["navigation_systems"] = r.u16()
    return tree


def _command_data(r: _Reader) -> dict[str, Any]:
    """EGTS_SR_COMMAND_DATA: type, ids, then the command body kept as hex (*uncertain*)."""
    head = r.u8()
    command_type = head >> 4
    tree: dict[str, Any] = {
        "command": f"egts {_COMMAND_TYPES.get(command_type, str(command_type))}",
        "confirmation_type": head & 0x0F,
        "command_id": r.u32(),
        "source_id": r.u32(),
    }
    flags = r.u8()
    if flags & 0x02:
        r.u8()  # charset of the command text
    if flags & 0x01:
        r.take(r.u8())  # authorisation code: a secret
        tree["auth_code_present"] = True
    body = r.rest()
    if len(body) >= 5 and command_type == 5:
        tree["address"] = int.from_bytes(body[0:2], "little")
        tree["command_code"] = f"{int.from_bytes(body[3:5], 'little'):#06x}"
        body = body[5:]
    if body:
        tree["data_hex"] = body.hex()
    return tree


class _Reader:
    """Bounds-checked little-endian reads; running off the end is a DecodeError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(f"egts: field overruns its container at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def take_until_nul(self, limit: int) -> bytes:
        end = self.data.find(b"\x00", self.pos, self.pos + limit + 1)
        if end < 0:
            raise DecodeError("egts: string without its NUL terminator")
        chunk = self.data[self.pos : end]
        self.pos = end + 1
        return chunk

    def rest(self) -> bytes:
        return self.take(self.remaining())

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "little")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")
