"""MQTT stream reassembly and CONNECT/PUBLISH decoding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.framed_stream import StreamError, Undecoded
from shekara.audit.decoders.mqtt import (
    MqttStream,
    looks_like_mqtt,
    topic_levels,
)
from shekara.audit.decoders.tree import KeyValues, flatten
from shekara.audit.detectors import detect
from shekara.audit.model import Category, Document

PASSWORD = b"s3cret-password"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def _props(raw: bytes = b"") -> bytes:
    return _varint(len(raw)) + raw


def connect(
    client_id: str = "car-356938035643809",
    *,
    username: str | None = None,
    password: bytes | None = None,
    will: tuple[str, bytes] | None = None,
    name: bytes = b"MQTT",
    level: int = 4,
) -> bytes:
    flags = 0x02
    payload = _str(client_id)
    if will is not None:
        flags |= 0x04
        payload += (_props() if level == 5 else b"") + _str(will[0]) + _str(will[1])
    if username is not None:
        flags |= 0x80
        payload += _str(username)
    if password is not None:
        flags |= 0x40
        payload += _str(password)
    variable = _str(name) + bytes([level, flags]) + (60).to_bytes(2, "big")
    if level == 5:
        variable += _props(b"\x11\x00\x00\x00\x3c")  # session expiry 60
    return _packet(0x10, variable + payload)


def publish(
    topic: str,
    payload: bytes,
    *,
    qos: int = 0,
    retain: bool = False,
    packet_id: int = 7,
    props: bytes | None = None,
) -> bytes:
    body = _str(topic)
    if qos:
        body += packet_id.to_bytes(2, "big")
    if props is not None:
        body += _props(props)
    return _packet(0x30 | qos << 1 | int(retain), body + payload)


SUBSCRIBE = _packet(0x82, (1).to_bytes(2, "big") + _str("cmd/#") + b"\x01")
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"
TELEMETRY = {"vin": "WBA00000000DEMO02", "pos": {"lat": 43.238949, "lon": 76.889709}}


def _rows(docs: list[Document]) -> list[tuple[str, Any]]:
    return [(f.locator, f.value) for doc in docs for f in flatten(doc)]


def _is_topic(doc: Document) -> bool:
    # Payload trees are plain dicts/lists/scalars or KeyValues(payload=...), never this shape.
    return (
        doc.source.startswith(("mqtt.publish[", "mqtt.down.publish["))
        and isinstance(doc.tree, KeyValues)
        and list(doc.tree)[:1] == ["topic"]
        and set(doc.tree) <= {"topic", "user_properties"}
    )


def _topics(docs: list[Document]) -> list[Document]:
    """The topic Documents that every PUBLISH yields, in order."""
    return [doc for doc in docs if _is_topic(doc)]


def _payloads(docs: list[Document]) -> list[Document]:
    """Everything but the topic Documents: CONNECT and PUBLISH payload Documents, in order."""
    return [doc for doc in docs if not _is_topic(doc)]


def _topic_rows(topic: str, levels: list[str]) -> list[tuple[str, Any]]:
    source = f"mqtt.publish[{topic}]"
    return [(f"{source}:topic" + (f"[{i}]" if i else ""), v) for i, v in enumerate(levels)]


def test_connect_fields_and_no_password() -> None:
    stream = MqttStream()
    (doc,) = stream.feed(connect(username="aliya@example.kz", password=PASSWORD))
    assert doc.source == "mqtt.connect"
    rows = _rows([doc])
    assert rows == [
        ("mqtt.connect:client_id", "car-356938035643809"),
        ("mqtt.connect:username", "aliya@example.kz"),
        ("mqtt.connect:password_present", True),
    ]
    assert all(PASSWORD.decode() not in str(value) for _, value in rows)


def test_connect_without_credentials_and_with_will() -> None:
    will = ("cars/V/status", json.dumps({"vin": "V", "state": "offline"}).encode())
    (doc,) = MqttStream().feed(connect("c1", will=will))
    assert _rows([doc]) == [
        ("mqtt.connect:client_id", "c1"),
        ("mqtt.connect:will_topic", "cars/V/status"),
        ("mqtt.connect:will_message<json>.vin", "V"),
        ("mqtt.connect:will_message<json>.state", "offline"),
    ]


def test_connect_binary_will_is_noted() -> None:
    stream = MqttStream()
    (doc,) = stream.feed(connect("c1", will=("t", b"\x00\xff\x01")))
    assert _rows([doc]) == [("mqtt.connect:client_id", "c1"), ("mqtt.connect:will_topic", "t")]
    assert stream.take_notes() == [Undecoded("mqtt.connect", "binary will message")]


@pytest.mark.parametrize("name, level", [(b"MQIsdp", 3), (b"MQTT", 4), (b"MQTT", 5)])
def test_connect_protocol_versions(name: bytes, level: int) -> None:
    packet = connect("id-1", username="u", will=("w", b"bye"), name=name, level=level)
    (doc,) = MqttStream().feed(packet)
    assert doc.tree == {
        "client_id": "id-1",
        "will_topic": "w",
        "will_message": "bye",
        "username": "u",
    }


@pytest.mark.parametrize(
    "qos, retain", [(0, False), (0, True), (1, False), (1, True), (2, False), (2, True)]
)
def test_publish_json_any_qos(qos: int, retain: bool) -> None:
    packet = publish("vehicle/1/telemetry", json.dumps(TELEMETRY).encode(), qos=qos, retain=retain)
    topic, doc = MqttStream().feed(packet)
    assert _rows([topic]) == _topic_rows("vehicle/1/telemetry", ["vehicle", "1", "telemetry"])
    assert doc.source == "mqtt.publish[vehicle/1/telemetry]"
    assert _rows([doc]) == [
        ("mqtt.publish[vehicle/1/telemetry]:$.vin", "WBA00000000DEMO02"),
        ("mqtt.publish[vehicle/1/telemetry]:$.pos.lat", 43.238949),
        ("mqtt.publish[vehicle/1/telemetry]:$.pos.lon", 76.889709),
    ]


@pytest.mark.parametrize(
    "payload, rows",
    [
        (b"43.238949,76.889709", [("mqtt.publish[t]:payload", "43.238949,76.889709")]),
        (b"23.5", [("mqtt.publish[t]:$", 23.5)]),
        (b'{"d": "{\\"vin\\": \\"V\\"}"}', [("mqtt.publish[t]:$.d<json>.vin", "V")]),
        (b"eyJ2aW4iOiAiViJ9", [("mqtt.publish[t]:payload<base64><json>.vin", "V")]),
        ("Алия online".encode(), [("mqtt.publish[t]:payload", "Алия online")]),
    ],
)
def test_publish_payload_forms(payload: bytes, rows: list[tuple[str, Any]]) -> None:
    docs = MqttStream().feed(publish("t", payload))
    assert _rows(_topics(docs)) == [("mqtt.publish[t]:topic", "t")]
    assert _rows(_payloads(docs)) == rows


def test_publish_binary_payload_is_a_note_not_a_document() -> None:
    stream = MqttStream()
    docs = stream.feed(publish("bin/t", b"\x08\x96\x01\xff\x00"))
    assert _rows(docs) == _topic_rows("bin/t", ["bin", "t"])
    assert _payloads(docs) == []
    assert stream.take_notes() == [
        Undecoded("mqtt.publish[bin/t]", "binary MQTT payload, 5 bytes, not decoded")
    ]
    assert stream.take_notes() == []


@pytest.mark.parametrize("payload", [b"", b" \r\n\t"])
def test_publish_empty_payload_gives_only_the_topic(payload: bytes) -> None:
    stream = MqttStream()
    docs = stream.feed(publish("retained/clear", payload, retain=True))
    assert _rows(docs) == _topic_rows("retained/clear", ["retained", "clear"])
    assert _payloads(docs) == []
    assert stream.take_notes() == []


def test_hostile_payload_spoils_only_its_packet() -> None:
    stream = MqttStream()
    bomb = b"[" * 150 + b"]" * 150
    docs = stream.feed(publish("a", bomb) + publish("b", b'{"ok": 1}'))
    # The spoiled packet's topic was still sent, so it still counts.
    assert _rows(docs) == [
        ("mqtt.publish[a]:topic", "a"),
        ("mqtt.publish[b]:topic", "b"),
        ("mqtt.publish[b]:$.ok", 1),
    ]
    (note,) = stream.take_notes()
    assert note.source == "mqtt.publish[a]" and "nested deeper" in note.reason


def test_mqtt5_properties_and_topic_alias() -> None:
    stream = MqttStream()
    alias = b"\x23\x00\x05"
    stream_bytes = (
        connect("v5", level=5)
        + publish("cars/V/pos", b'{"lat": 1}', qos=1, props=alias + b"\x01\x01")
        + publish("", b'{"lat": 2}', props=alias)
        + publish("x", b'{"lat": 3}', props=b"\x26" + _str("k") + _str("v"))
    )
    assert _rows(_payloads(stream.feed(stream_bytes))) == [
        ("mqtt.connect:client_id", "v5"),
        ("mqtt.publish[cars/V/pos]:$.lat", 1),
        ("mqtt.publish[cars/V/pos]:$.lat", 2),
        ("mqtt.publish[x]:$.lat", 3),
    ]


SESSION = (
    connect(username="u", password=PASSWORD)
    + SUBSCRIBE
    + publish("vehicle/1/telemetry", json.dumps(TELEMETRY).encode(), qos=1)
    + PINGREQ
    + publish("vehicle/1/text", b"engine on", qos=2, retain=True)
    + DISCONNECT
)
SESSION_ROWS = [
    ("mqtt.connect:client_id", "car-356938035643809"),
    ("mqtt.connect:username", "u"),
    ("mqtt.connect:password_present", True),
    ("mqtt.subscribe:topic", "cmd/#"),
    *_topic_rows("vehicle/1/telemetry", ["vehicle", "1", "telemetry"]),
    ("mqtt.publish[vehicle/1/telemetry]:$.vin", "WBA00000000DEMO02"),
    ("mqtt.publish[vehicle/1/telemetry]:$.pos.lat", 43.238949),
    ("mqtt.publish[vehicle/1/telemetry]:$.pos.lon", 76.889709),
    *_topic_rows("vehicle/1/text", ["vehicle", "1", "text"]),
    ("mqtt.publish[vehicle/1/text]:payload", "engine on"),
]


def test_several_packets_in_one_chunk() -> None:
    assert _rows(MqttStream().feed(SESSION)) == SESSION_ROWS


@pytest.mark.parametrize("cut", range(1, len(SESSION)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    stream = MqttStream()
    docs = stream.feed(SESSION[:cut]) + stream.feed(SESSION[cut:])
    assert _rows(docs) == SESSION_ROWS


def test_byte_by_byte() -> None:
    stream = MqttStream()
    docs = [doc for i in range(len(SESSION)) for doc in stream.feed(SESSION[i : i + 1])]
    assert _rows(docs) == SESSION_ROWS


def test_large_packet_split_over_many_chunks() -> None:
    payload = json.dumps({"points": [{"lat": i} for i in range(20_000)]}).encode()
    packet = publish("big", payload)
    assert len(packet) > 128 * 128  # three-byte remaining length
    stream = MqttStream()
    docs = [doc for i in range(0, len(packet), 1000) for doc in stream.feed(packet[i : i + 1000])]
    assert _rows(_topics(docs)) == [("mqtt.publish[big]:topic", "big")]
    (payload_doc,) = _payloads(docs)
    assert sum(1 for _ in flatten(payload_doc)) == 20_000


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x30\xff\xff\xff\xff\x01", "variable length integer longer than 4 bytes"),
        (b"\x30\xff\xff\xff\x7f", "packet of 268435455 bytes exceeds 16777216 cap"),
        (b"\x00\x00", "reserved packet type 0"),
        (b"\xf0\x00", "reserved packet type 15"),
        (b"\x36\x00", "PUBLISH with QoS 3"),
        (b"\x80\x00", "packet type 8 with invalid flags 0x0"),
        (b"\xc1\x00", "packet type 12 with invalid flags 0x1"),
        (connect(name=b"HTTP"), "unknown protocol b'HTTP' level 4"),
        (connect(name=b"MQTT", level=3), "unknown protocol b'MQTT' level 3"),
        (_packet(0x10, _str("MQTT") + b"\x04\x02"), "CONNECT truncated at byte 8"),
        (
            _packet(0x10, _str("MQTT") + b"\x04\x03\x00\x3c" + _str("c")),
            "CONNECT reserved flag set",
        ),
        (_packet(0x10, connect()[2:] + b"xx"), "CONNECT has 2 unexpected trailing bytes"),
        (_packet(0x10, _str("MQTT") + b"\x04\x02\x00\x3c\x00\x09ab"), "CONNECT truncated"),
        (publish("t", b"x", qos=1, packet_id=0), "PUBLISH with QoS > 0 has packet id 0"),
        (_packet(0x30, _str(b"\xff\xfe") + b"x"), "PUBLISH string is not UTF-8"),
        (_packet(0x30, b"\x00"), "PUBLISH truncated"),
        (connect(level=5) + publish("", b"{}", props=b"\x23\x00\x09"), "unknown topic alias 9"),
        (connect(level=5) + publish("t", b"{}", props=b"\x7f\x00"), "unknown property 0x7f"),
    ],
)
def test_malformed_packets_raise_and_poison(data: bytes, message: str) -> None:
    stream = MqttStream()
    with pytest.raises(StreamError, match=message.replace("(", r"\(")):
        stream.feed(data)
    with pytest.raises(DecodeError, match="MQTT stream already failed"):
        stream.feed(PINGREQ)


def test_cap_is_checked_before_the_body_arrives() -> None:
    stream = MqttStream(max_packet=1000)
    assert stream.feed(publish("t", b"x" * 900)) != []
    with pytest.raises(DecodeError, match="packet of 1001 bytes exceeds 1000 cap"):
        stream.feed(b"\x30" + _varint(1001))


def test_error_keeps_documents_decoded_earlier_in_the_same_feed() -> None:
    stream = MqttStream()
    with pytest.raises(StreamError) as caught:
        stream.feed(publish("ok", b'{"a": 1}') + b"\x00\x00")
    assert _rows(caught.value.documents) == [
        ("mqtt.publish[ok]:topic", "ok"),
        ("mqtt.publish[ok]:$.a", 1),
    ]


def test_malformed_publish_gives_no_topic_document() -> None:
    stream = MqttStream()
    with pytest.raises(StreamError) as caught:
        stream.feed(publish("ok", b"") + publish("bad/t", b"x", qos=1, packet_id=0))
    assert _rows(caught.value.documents) == [("mqtt.publish[ok]:topic", "ok")]


@pytest.mark.parametrize(
    "first_bytes, expected",
    [
        (connect(), True),
        (connect(name=b"MQIsdp", level=3), True),
        (connect(level=5), True),
        (connect()[:9], True),  # header, name and level are enough
        (connect()[:8], False),
        (connect(name=b"MQIsdp", level=4), False),
        (connect(name=b"MQTT", level=3), False),
        (publish("t", b"x"), False),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", False),  # TLS ClientHello
        (b"\x10\xff\xff\xff\xff\xff", False),
        (b"\x10", False),
        (b"", False),
    ],
)
def test_looks_like_mqtt(first_bytes: bytes, expected: bool) -> None:
    assert looks_like_mqtt(first_bytes) is expected


@pytest.mark.parametrize(
    "topic, levels",
    [
        ("t", ["t"]),
        ("vehicle/1/telemetry", ["vehicle", "1", "telemetry"]),
        ("a//b", ["a", "", "b"]),
        ("/lead", ["", "lead"]),
        ("trail/", ["trail", ""]),
        ("машина/Алия", ["машина", "Алия"]),
    ],
)
def test_topic_document_levels(topic: str, levels: list[str]) -> None:
    assert topic_levels(topic) == levels
    topic_doc, payload_doc = MqttStream().feed(publish(topic, b'{"x": 1}'))
    assert topic_doc.source == payload_doc.source == f"mqtt.publish[{topic}]"
    assert isinstance(topic_doc.tree, KeyValues)
    assert topic_doc.tree == {"topic": levels}
    assert _rows([topic_doc]) == _topic_rows(topic, levels)
    fields = list(flatten(topic_doc))
    assert {f.key for f in fields} == {"topic"}
    assert fields[0].locator == f"mqtt.publish[{topic}]:topic"


def test_topic_document_carries_a_vin_even_without_a_payload() -> None:
    topic = "vehicle/WBA00000000DEMO02/telemetry"
    stream = MqttStream()
    docs = stream.feed(publish(topic, b"\x00\x01", qos=1))
    assert _rows(docs) == [
        (f"mqtt.publish[{topic}]:topic", "vehicle"),
        (f"mqtt.publish[{topic}]:topic[1]", "WBA00000000DEMO02"),
        (f"mqtt.publish[{topic}]:topic[2]", "telemetry"),
    ]
    assert [note.source for note in stream.take_notes()] == [f"mqtt.publish[{topic}]"]


def test_mqtt5_topic_alias_is_resolved_in_the_topic_document() -> None:
    alias = b"\x23\x00\x05"
    stream = MqttStream()
    docs = stream.feed(
        connect("v5", level=5)
        + publish("cars/V/pos", b'{"lat": 1}', props=alias)
        + publish("", b'{"lat": 2}', props=alias)
        + publish("", b"", props=alias)
        + publish("cars/W/pos", b"", props=alias)  # rebinds the alias
        + publish("", b"", props=alias)
    )
    expected = [_topic_rows(f"cars/{v}/pos", ["cars", v, "pos"]) for v in "VVVWW"]
    assert [_rows([doc]) for doc in _topics(docs)] == expected
    assert all(doc.source != "mqtt.publish[]" for doc in docs)


@pytest.mark.parametrize("payload", [b'{"vin": "V"}', b""])
def test_split_publish_gives_its_topic_document_once(payload: bytes) -> None:
    packet = publish("vehicle/V/pos", payload, qos=1)
    payload_rows = [("mqtt.publish[vehicle/V/pos]:$.vin", "V")] if payload else []
    for cut in range(1, len(packet)):
        stream = MqttStream()
        first = stream.feed(packet[:cut])
        assert first == []
        docs = stream.feed(packet[cut:])
        assert _rows(docs) == _topic_rows("vehicle/V/pos", ["vehicle", "V", "pos"]) + payload_rows
    stream = MqttStream()
    docs = [doc for i in range(len(packet)) for doc in stream.feed(packet[i : i + 1])]
    assert len(_topics(docs)) == 1
    assert _rows(_payloads(docs)) == payload_rows


VIN = "LSVAU218XN2183294"


def subscribe(filters: list[str], *, level: int = 4, options: int = 0x01) -> bytes:
    body = (2).to_bytes(2, "big")
    if level == 5:
        body += _props(b"\x0b\x07")  # subscription identifier 7
    body += b"".join(_str(f) + bytes([options]) for f in filters)
    return _packet(0x82, body)


@pytest.mark.parametrize("level, options", [(4, 0x01), (5, 0x01 | 0x04 | 0x08 | 0x20)])
def test_subscribe_topic_filters(level: int, options: int) -> None:
    filters = [f"vehicle/{VIN}/cmd", "fleet/+/status/#"]
    docs = MqttStream().feed(
        connect("c", level=level) + subscribe(filters, level=level, options=options)
    )
    assert _rows(docs)[1:] == [
        ("mqtt.subscribe:topic", filters[0]),
        ("mqtt.subscribe:topic[1]", filters[1]),
    ]
    assert isinstance(docs[1].tree, KeyValues)


def test_subscribe_truncated_raises() -> None:
    with pytest.raises(StreamError, match="SUBSCRIBE truncated"):
        MqttStream().feed(_packet(0x82, b"\x00\x01\x00\x09cmd"))


def unsubscribe(filters: list[str], *, level: int = 4, props: bytes = b"") -> bytes:
    body = (3).to_bytes(2, "big")
    if level == 5:
        body += _props(props)
    body += b"".join(_str(f) for f in filters)
    return _packet(0xA2, body)


@pytest.mark.parametrize("level", [4, 5])
def test_unsubscribe_topic_filters(level: int) -> None:
    filters = [f"vehicle/{VIN}/cmd", "fleet/+/status/#"]
    docs = MqttStream().feed(connect("c", level=level) + unsubscribe(filters, level=level))
    assert _rows(docs)[1:] == [
        ("mqtt.unsubscribe:topic", filters[0]),
        ("mqtt.unsubscribe:topic[1]", filters[1]),
    ]
    assert isinstance(docs[1].tree, KeyValues)
    assert Category.VIN in {hit.category for hit in detect(docs[1])}


def test_mqtt5_unsubscribe_and_subscribe_user_properties() -> None:
    user = b"\x26" + _str("vin") + _str(VIN)
    data = (
        connect("c", level=5)
        + unsubscribe(["a/b"], level=5, props=user)
        + _packet(0x82, (2).to_bytes(2, "big") + _props(b"\x0b\x07" + user) + _str("c/d") + b"\x01")
    )
    assert _rows(MqttStream().feed(data))[1:] == [
        ("mqtt.unsubscribe:topic", "a/b"),
        ("mqtt.unsubscribe:user_properties.vin", VIN),
        ("mqtt.subscribe:topic", "c/d"),
        ("mqtt.subscribe:user_properties.vin", VIN),
    ]


@pytest.mark.parametrize(
    "packet, message",
    [
        (_packet(0xA2, b"\x00\x01\x00\x09cmd"), "UNSUBSCRIBE truncated"),
        (_packet(0xA0, b"\x00\x01" + _str("a/b")), "invalid flags"),
    ],
)
def test_malformed_unsubscribe_raises(packet: bytes, message: str) -> None:
    with pytest.raises(StreamError, match=message):
        MqttStream().feed(packet)


def test_unsubscribe_without_filters_gives_nothing_and_split_anywhere_decodes() -> None:
    assert MqttStream().feed(_packet(0xA2, b"\x00\x01")) == []
    data = connect("c", level=5) + unsubscribe([f"vehicle/{VIN}/cmd"], level=5)
    for cut in range(1, len(data)):
        stream = MqttStream()
        docs = stream.feed(data[:cut]) + stream.feed(data[cut:])
        assert _rows(docs)[-1] == ("mqtt.unsubscribe:topic", f"vehicle/{VIN}/cmd")


def test_mqtt5_user_properties_in_connect_and_publish() -> None:
    variable = _str("MQTT") + bytes([5, 0x02]) + (60).to_bytes(2, "big")
    user = b"\x26" + _str("vin") + _str(VIN) + b"\x26" + _str("tag") + _str("a")
    user += b"\x26" + _str("tag") + _str("b")
    packet = _packet(0x10, variable + _props(user) + _str("c5"))
    docs = MqttStream().feed(packet + publish("t/x", b'{"a": 1}', props=user))
    assert docs[0].tree == {"client_id": "c5", "user_properties": {"vin": VIN, "tag": ["a", "b"]}}
    assert docs[1].tree == {"topic": ["t", "x"], "user_properties": {"vin": VIN, "tag": ["a", "b"]}}
    assert docs[2].tree == {"a": 1}


CONNACK_311 = b"\x20\x02\x00\x00"
CONNACK_5 = b"\x20\x03\x00\x00\x00"


def _down(*packets: bytes) -> list[Document]:
    return MqttStream(from_client=False).feed(b"".join(packets))


def test_downstream_command_publish_is_a_remote_control() -> None:
    from shekara.audit.detectors.scan import detect
    from shekara.audit.model import Category

    topic = f"vehicle/{VIN}/cmd"
    docs = _down(CONNACK_311, publish(topic, b'{"cmd": "engine_stop", "seq": 4}', qos=1))
    topic_doc, doc = docs
    assert topic_doc.source == doc.source == f"mqtt.down.publish[{topic}]"
    assert topic_doc.tree == {"topic": ["vehicle", VIN, "cmd"]}
    assert doc.tree == {"cmd": "engine_stop", "seq": 4, "command": "engine_stop"}
    hits = [h for h in detect(doc) if h.category is Category.REMOTE_CONTROL]
    assert [(h.field.locator, h.canonical) for h in hits] == [
        (f"mqtt.down.publish[{topic}]:$.command", "engine_stop")
    ]
    assert Category.VIN in {h.category for h in detect(topic_doc)}


@pytest.mark.parametrize(
    "topic, payload, tree",
    [
        ("v/1/status", b'{"cmd": "x"}', {"cmd": "x"}),  # not a command channel
        ("v/1/telemetry", b"on", {"payload": "on"}),
        ("v/1/cmd/unlock", b"", {"command": "unlock"}),
        ("v/1/Remote-Control", b"LOCK", {"command": "Remote-Control", "payload": "LOCK"}),
        (
            "v1/devices/me/rpc/request/42",
            b'{"method": "setGpio"}',
            {"method": "setGpio", "command": "setGpio"},
        ),
        ("v/1/cmd", b"[1, 2]", {"command": "cmd", "payload": [1, 2]}),
        ("v/1/cmd", b'{"command": {"n": 1}}', {"command": "cmd", "payload": {"command": {"n": 1}}}),
        ("v/1/quota", b'{"url": "http://x/"}', {"url": "http://x/"}),
        (
            "v/1/notify",
            b'{"firmwareUrl": "https://fw.example.cn/1.bin"}',
            {"firmwareUrl": "https://fw.example.cn/1.bin", "command": "notify", "ota": True},
        ),
        (
            "dev/9/fota",
            b'{"url": "https://fw.example.cn/2.bin"}',
            {"url": "https://fw.example.cn/2.bin", "command": "fota", "ota": True},
        ),
        ("dev/9/fota", b'{"v": 2}', {"v": 2, "command": "fota"}),
    ],
)
def test_downstream_command_trees(topic: str, payload: bytes, tree: Any) -> None:
    docs = _down(publish(topic, payload))
    assert docs[0].tree == {"topic": topic_levels(topic)}
    assert [doc.tree for doc in docs[1:]] == [tree]


def test_downstream_binary_command_keeps_the_command() -> None:
    stream = MqttStream(from_client=False)
    _, doc = stream.feed(publish("car/V/ctrl/immobilise", b"\x00\xff\x01"))
    assert doc.tree == {"command": "immobilise"}
    assert [n.source for n in stream.take_notes()] == ["mqtt.down.publish[car/V/ctrl/immobilise]"]


def test_downstream_learns_mqtt5_from_the_connack() -> None:
    props = b"\x23\x00\x02"
    docs = _down(
        CONNACK_5,
        publish("car/V/cmd", b'{"action": "lock"}', props=props),
        publish("", b'{"action": "unlock"}', props=props),
    )
    assert [(d.source, d.tree.get("command")) for d in _payloads(docs)] == [
        ("mqtt.down.publish[car/V/cmd]", "lock"),
        ("mqtt.down.publish[car/V/cmd]", "unlock"),
    ]


def test_downstream_ignores_client_packets_and_mqtt5_without_connack_is_311() -> None:
    # Client-only packets seen from the broker are no content; with no CONNACK seen the
    # stream reads 3.1.1, so the byte after the topic is payload, not a property length.
    assert _rows(_down(CONNACK_311, subscribe(["a/b"]), PINGREQ)) == []
    docs = _down(publish("x/cmd", b"stop"))
    assert docs[1].tree == {"command": "cmd", "payload": "stop"}


def test_upstream_command_topic_gets_no_command() -> None:
    (_, doc) = MqttStream().feed(publish(f"vehicle/{VIN}/cmd", b'{"cmd": "ack"}'))
    assert doc.tree == {"cmd": "ack"}


DOWN_SESSION = (
    CONNACK_5
    + _packet(0x90, (2).to_bytes(2, "big") + _props() + b"\x01")  # SUBACK
    + publish(f"vehicle/{VIN}/cmd", b'{"cmd": "engine_stop"}', qos=1, props=b"")
    + b"\xd0\x00"  # PINGRESP
    + publish("vehicle/x/status", b'{"online": true}', props=b"")
)
DOWN_ROWS = [
    *[
        (f"mqtt.down.publish[vehicle/{VIN}/cmd]:topic" + (f"[{i}]" if i else ""), v)
        for i, v in enumerate(["vehicle", VIN, "cmd"])
    ],
    (f"mqtt.down.publish[vehicle/{VIN}/cmd]:$.cmd", "engine_stop"),
    (f"mqtt.down.publish[vehicle/{VIN}/cmd]:$.command", "engine_stop"),
    ("mqtt.down.publish[vehicle/x/status]:topic", "vehicle"),
    ("mqtt.down.publish[vehicle/x/status]:topic[1]", "x"),
    ("mqtt.down.publish[vehicle/x/status]:topic[2]", "status"),
    ("mqtt.down.publish[vehicle/x/status]:$.online", True),
]


@pytest.mark.parametrize("cut", range(1, len(DOWN_SESSION)))
def test_downstream_split_at_every_byte_boundary(cut: int) -> None:
    stream = MqttStream(from_client=False)
    docs = stream.feed(DOWN_SESSION[:cut]) + stream.feed(DOWN_SESSION[cut:])
    assert _rows(docs) == DOWN_ROWS


def test_upstream_subscribe_split_at_every_byte_boundary() -> None:
    data = connect("c", level=5) + subscribe([f"vehicle/{VIN}/cmd"], level=5)
    for cut in range(1, len(data)):
        stream = MqttStream()
        docs = stream.feed(data[:cut]) + stream.feed(data[cut:])
        assert _rows(docs)[-1] == ("mqtt.subscribe:topic", f"vehicle/{VIN}/cmd")
