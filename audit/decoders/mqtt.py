"""MQTT over a raw TCP byte stream: reassemble packets and decode what a client says in them.

Sans-IO: ``MqttStream.feed`` takes whatever bytes one TCP message carried (a packet
may be split over several messages, one message may hold several packets) and returns
Documents for CONNECT, SUBSCRIBE, UNSUBSCRIBE and PUBLISH (client to broker) or PUBLISH
(broker to client, sources ``mqtt.down.…``). Versions 3.1 (``MQIsdp``/3), 3.1.1 (``MQTT``/4) and
5 (``MQTT``/5; properties skipped except user properties) are understood.

The broker-to-client direction never sees the CONNECT that names the version, so it
learns the version from the CONNACK instead: a 3.1/3.1.1 CONNACK is exactly two bytes
long, an MQTT 5 one adds a property block (remaining length > 2). Without a CONNACK
(capture started mid-connection) the stream assumes 3.1.1.

A broker-to-client PUBLISH on a command channel (see ``COMMAND_LEVELS``) gets a
``command`` key, so the remote-control detector reports it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..model import Document
from .byte_reader import ByteReader
from .errors import DecodeError
from .framed_stream import FramedStream, FramingError
from .tree import KeyValues, expand_embedded

MAX_PACKET = 16 * 1024 * 1024
_MAX_FIXED_HEADER = 5  # type byte and a 4-byte remaining length

CONNECT = 1
CONNACK = 2
PUBLISH = 3
SUBSCRIBE = 8
UNSUBSCRIBE = 10
_PUBREL, _AUTH = 6, 15
# Fixed-header flags every non-PUBLISH packet must carry (MQTT 3.1.1 section 2.2.2).
_FIXED_FLAGS = {_PUBREL: 0b0010, SUBSCRIBE: 0b0010, UNSUBSCRIBE: 0b0010}
_PROTOCOLS = {(b"MQTT", 4), (b"MQIsdp", 3), (b"MQTT", 5)}
_TOPIC_ALIAS = 0x23
_USER_PROPERTY = 0x26
# Control characters that no text payload holds (tab, newlines and form feed allowed).
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# MQTT 5 property identifier -> value type, to skip properties (section 2.2.2.2).
_BYTE, _U16, _U32, _VARINT, _UTF8, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE, 0x02: _U32, 0x03: _UTF8, 0x08: _UTF8, 0x09: _BINARY, 0x0B: _VARINT,
    0x11: _U32, 0x12: _UTF8, 0x13: _U16, 0x15: _UTF8, 0x16: _BINARY, 0x17: _BYTE,
    0x18: _U32, 0x19: _BYTE, 0x1A: _UTF8, 0x1C: _UTF8, 0x1F: _UTF8, 0x21: _U16,
    0x22: _U16, 0x23: _U16, 0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _U32,
    0x28: _BYTE, 0x29: _BYTE, 0x2A: _BYTE,
}  # fmt: skip

#: Topic level words (case-insensitive, whole words within a level split on ``-``, ``_``
#: and ``.``) that mark a broker-to-client topic as a command channel.
COMMAND_LEVELS = re.compile(
    r"cmds?|commands?|control|ctrl|rpc|remote|ota|fota|upgrade|lock|unlock|immobili[sz]e"
    r"|engine|request",
    re.IGNORECASE,
)
_WORD_SPLIT = re.compile(r"[-_.]")
#: Payload keys that name the command itself, preferred over the topic's last level.
_COMMAND_KEYS = ("command", "cmd", "action", "method")
# "ota" only as a word of its own ("quota" is not one); the others anywhere ("firmwareUrl").
_OTA_WORDS = re.compile(r"(?<![a-z])f?ota(?![a-z])|upgrade|firmware", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftps?)://", re.IGNORECASE)


class MqttStream(FramedStream[tuple[int, bytes]]):
    """One direction of one MQTT connection: client to broker unless ``from_client=False``.

    After a framing error the stream is poisoned: the byte boundary of the next packet
    is unknown, so every later ``feed`` raises too. So does a malformed packet: MQTT has
    its receiver close the connection. Frames are a packet's first byte and its body.
    """

    NAME = "mqtt"
    LABEL = "MQTT"

    def __init__(self, *, from_client: bool = True, max_packet: int = MAX_PACKET) -> None:
        # The cap on buffered bytes leaves room for the fixed header before the body.
        super().__init__(from_client=from_client, max_frame=max_packet + _MAX_FIXED_HEADER)
        self.max_packet = max_packet
        self._level: int | None = None
        self._aliases: dict[int, str] = {}

    def _next_frame(self) -> tuple[int, bytes] | None:
        buf = self._buf
        if not buf:
            return None
        first = buf[0]
        _check_fixed_header(first, self._level)
        length, header_len = _varint(buf, 1)
        if header_len == 0:
            return None
        if length > self.max_packet:
            raise DecodeError(f"MQTT: packet of {length} bytes exceeds {self.max_packet} cap")
        end = header_len + length
        if len(buf) < end:
            return None
        body = bytes(buf[header_len:end])
        del buf[:end]
        return first, body

    def _decode_frame(self, packet: tuple[int, bytes]) -> list[Document]:
        first, body = packet
        try:
            if first >> 4 == PUBLISH:
                return self._publish_documents(first, body)
            doc = self._decode(first, body)
        except DecodeError as exc:
            raise FramingError(str(exc)) from None
        return [] if doc is None else [doc]

    def _decode(self, first: int, body: bytes) -> Document | None:
        kind = first >> 4
        if not self.from_client:
            if kind == CONNACK and self._level is None:
                self._level = 5 if len(body) > 2 else 4
            return None  # Only the broker's PUBLISH carries content worth auditing.
        if kind == CONNECT:
            return self._connect(body)
        if kind == SUBSCRIBE:
            return self._topic_filters(body, "SUBSCRIBE", with_options=True)
        if kind == UNSUBSCRIBE:
            return self._topic_filters(body, "UNSUBSCRIBE", with_options=False)
        return None  # Acks and pings carry no payload worth auditing.

    def _topic_filters(self, body: bytes, name: str, *, with_options: bool) -> Document | None:
        """The topic filters a client (un)subscribes: ``vehicle/<VIN>/cmd`` names the car.

        SUBSCRIBE follows each filter with a byte of requested QoS (MQTT 5: subscription
        options); UNSUBSCRIBE lists bare filters. MQTT 5 user properties join the tree.
        """
        r = _Reader(body, name)
        r.u16()  # packet id
        user: dict[str, Any] = {}
        if self._level == 5:
            user = _user_properties(r.properties())
        filters: list[str] = []
        while not r.done():
            filters.append(r.string())
            if with_options:
                r.byte()
        if not filters:
            return None
        tree = KeyValues(topic=filters)
        if user:
            tree["user_properties"] = user
        return Document(f"mqtt.{name.lower()}", tree)

    def _connect(self, body: bytes) -> Document | None:
        r = _Reader(body, "CONNECT")
        name = r.binary()
        level = r.byte()
        if (name, level) not in _PROTOCOLS:
            raise DecodeError(f"MQTT: unknown protocol {name[:16]!r} level {level}")
        flags = r.byte()
        if flags & 0x01:
            raise DecodeError("MQTT: CONNECT reserved flag set")
        r.u16()  # keep-alive
        user: dict[str, Any] = {}
        if level == 5:
            user = _user_properties(r.properties())
        self._level = level
        tree: dict[str, Any] = {"client_id": r.string()}
        notes: list[str] = []
        if flags & 0x04:
            if level == 5:
                r.properties()
            tree["will_topic"] = r.string()
            will = _text(r.binary())
            if will is None:
                notes.append("binary will message")
            elif will:
                tree["will_message"] = will
        if flags & 0x80:
            tree["username"] = r.string()
        if flags & 0x40:
            r.binary()  # The password is a secret, not personal data to record.
            tree["password_present"] = True
        r.end()
        if user:
            tree["user_properties"] = user
        for reason in notes:
            self.note_at("mqtt.connect", reason)
        return self._document("mqtt.connect", KeyValues(tree))

    def _publish_documents(self, first: int, body: bytes) -> list[Document]:
        """A Document for the topic's levels, then the payload's Document if there is one.

        Topics often carry identifiers (``vehicle/<VIN>/telemetry``), and they
        are sent even when the payload is empty or opaque. MQTT 5 user properties
        (often a VIN or a token) join the topic's Document as ``user_properties``.
        """
        # The topic is taken after _publish resolved an MQTT 5 alias: the packet itself may
        # carry an empty topic name.
        topic, user, doc = self._publish(first, body)
        tree = KeyValues(topic=topic_levels(topic))
        if user:
            tree["user_properties"] = user
        out = [Document(self.source(f"publish[{topic}]"), tree)]
        if doc is not None:
            out.append(doc)
        return out

    def _publish(self, first: int, body: bytes) -> tuple[str, dict[str, Any], Document | None]:
        """The PUBLISH's topic (alias resolved), user properties and payload's Document."""
        r = _Reader(body, "PUBLISH")
        topic = r.string()
        qos = (first >> 1) & 0x03
        if qos and r.u16() == 0:
            raise DecodeError("MQTT: PUBLISH with QoS > 0 has packet id 0")
        user: dict[str, Any] = {}
        if self._level == 5:
            props = r.properties()
            user = _user_properties(props)
            alias = props.get(_TOPIC_ALIAS)
            if alias is not None:
                if topic:
                    self._aliases[alias] = topic
                elif alias in self._aliases:
                    topic = self._aliases[alias]
                else:
                    raise DecodeError(f"MQTT: PUBLISH uses unknown topic alias {alias}")
        payload = r.rest()
        source = self.source(f"publish[{topic}]")
        tree = self._payload_tree(source, payload)
        if not self.from_client:
            tree = command_tree(topic, tree)
        if tree is None:
            return topic, user, None
        return topic, user, self._document(source, tree)

    def _payload_tree(self, source: str, payload: bytes) -> Any:
        """The payload as a tree (JSON, or KeyValues(payload=text)); None if empty/binary."""
        if not payload.strip():
            return None
        tree = _json_payload(payload)
        if tree is None:
            text = _text(payload)
            if text is None:
                self.note_at(source, f"binary MQTT payload, {len(payload)} bytes, not decoded")
                return None
            tree = KeyValues(payload=text)
        return tree

    def _document(self, source: str, tree: Any) -> Document | None:
        # A hostile payload spoils only its own packet, not the stream's framing.
        try:
            return Document(source, expand_embedded(tree))
        except DecodeError as exc:
            self.note_at(source, str(exc))
            return None


def topic_levels(topic: str) -> list[str]:
    """A topic's levels, read as repeated values of one key: ``topic``, ``topic[1]``, …"""
    return topic.split("/")


def is_command_topic(topic: str) -> bool:
    """Whether a broker-to-client topic is a command channel (``COMMAND_LEVELS``)."""
    return any(
        COMMAND_LEVELS.fullmatch(word)
        for level in topic_levels(topic)
        for word in _WORD_SPLIT.split(level)
    )


def command_tree(topic: str, tree: Any) -> Any:
    """``tree`` with the ``command`` key the remote-control detector reads, when it has one.

    A broker-to-client PUBLISH is a command when its topic is a command channel or its
    payload offers firmware by URL. The command is the payload's own ``command``/``cmd``/
    ``action``/``method`` string, else the topic's last level that is not empty or a
    number (``…/rpc/request/42`` gives ``request``). A JSON object gets the key in a
    copy; anything else (text, a list, a number, nothing) is wrapped as
    ``{"command": …, "payload": …}``. ``"ota": True`` marks a firmware offer: the
    topic or payload names ota/fota/upgrade/firmware and the payload holds a URL.
    Other trees are returned unchanged.
    """
    text = "" if tree is None else json.dumps(tree, ensure_ascii=False, default=str)
    ota = bool(_URL.search(text)) and bool(_OTA_WORDS.search(topic) or _OTA_WORDS.search(text))
    if not (ota or is_command_topic(topic)):
        return tree
    command = _payload_command(tree) or _last_level(topic)
    if isinstance(tree, dict) and not isinstance(tree, KeyValues):
        if "command" in tree and not isinstance(tree["command"], str):
            out: dict[str, Any] = {"command": command, "payload": tree}  # keep what it held
        else:
            out = {**tree, "command": command}
    else:
        out = {"command": command}
        if isinstance(tree, KeyValues):
            out["payload"] = tree["payload"]
        elif tree is not None:
            out["payload"] = tree
    if ota:
        out["ota"] = True
    return out


def _payload_command(tree: Any) -> str | None:
    if not isinstance(tree, dict) or isinstance(tree, KeyValues):
        return None
    lowered = {k.lower(): v for k, v in tree.items() if isinstance(k, str)}
    for key in _COMMAND_KEYS:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _last_level(topic: str) -> str:
    for level in reversed(topic_levels(topic)):
        if level and not level.isdigit():
            return level
    return topic or "publish"


def _user_properties(props: dict[int, Any]) -> dict[str, Any]:
    """MQTT 5 user properties as a dict; a repeated name keeps its values as a list."""
    out: dict[str, Any] = {}
    for name, value in props.get(_USER_PROPERTY, []):
        if name not in out:
            out[name] = value
        elif isinstance(out[name], list):
            out[name].append(value)
        else:
            out[name] = [out[name], value]
    return out


def looks_like_mqtt(first_bytes: bytes) -> bool:
    """Whether a connection's first bytes are an MQTT CONNECT (3.1, 3.1.1 or 5)."""
    if len(first_bytes) < 2 or first_bytes[0] != CONNECT << 4:
        return False
    try:
        _, at = _varint(first_bytes, 1)
    except DecodeError:
        return False
    if at == 0 or len(first_bytes) < at + 2:
        return False
    name_len = int.from_bytes(first_bytes[at : at + 2], "big")
    start = at + 2
    if name_len not in (4, 6) or len(first_bytes) < start + name_len + 1:
        return False
    name = bytes(first_bytes[start : start + name_len])
    return (name, first_bytes[start + name_len]) in _PROTOCOLS


def _check_fixed_header(first: int, level: int | None) -> None:
    kind, flags = first >> 4, first & 0x0F
    if kind == 0 or (kind == _AUTH and level != 5):
        raise DecodeError(f"MQTT: reserved packet type {kind}")
    if kind == PUBLISH:
        if (flags >> 1) & 0x03 == 3:
            raise DecodeError("MQTT: PUBLISH with QoS 3")
    elif flags != _FIXED_FLAGS.get(kind, 0):
        raise DecodeError(f"MQTT: packet type {kind} with invalid flags {flags:#x}")


def _varint(buf: bytes | bytearray, start: int) -> tuple[int, int]:
    """Decode a variable byte integer at ``start``: (value, end offset), or (0, 0) if cut."""
    value = 0
    for i in range(4):
        if start + i >= len(buf):
            return 0, 0
        byte = buf[start + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, start + i + 1
    raise DecodeError("MQTT: variable length integer longer than 4 bytes")


def _json_payload(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


def _text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _BINARY_CHARS.search(text) else text


class _Reader(ByteReader):
    """Bounds-checked reads over one packet's body; running off the end is a DecodeError."""

    protocol = "MQTT"
    __slots__ = ()

    def varint(self) -> int:
        value, end = _varint(self.data, self.pos)
        if end == 0:
            raise self.error(f"truncated at byte {len(self.data)}")
        self.pos = end
        return value

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("string is not UTF-8") from None

    def properties(self) -> dict[int, Any]:
        """Read an MQTT 5 property block; keeps the last value of each single-valued id.

        User properties (0x26) may repeat: they are all kept, as a list of pairs.
        """
        end = self.varint() + self.pos
        if end > len(self.data):
            raise self.error("properties overrun the packet")
        found: dict[int, Any] = {}
        while self.pos < end:
            ident = self.varint()
            kind = _PROPERTY_TYPES.get(ident)
            if kind is None:
                raise self.error(f"has unknown property {ident:#x}")
            value = self._property(kind)
            if ident == _USER_PROPERTY:
                found.setdefault(ident, []).append(value)
            else:
                found[ident] = value
        if self.pos != end:
            raise self.error("properties overrun their length")
        return found

    def _property(self, kind: int) -> Any:
        if kind == _BYTE:
            return self.byte()
        if kind == _U16:
            return self.u16()
        if kind == _U32:
            return self.u32()
        if kind == _VARINT:
            return self.varint()
        if kind == _UTF8:
            return self.string()
        if kind == _BINARY:
            return self.binary()
        return (self.string(), self.string())
