"""HTTP body, query, header and path decoding into located fields."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import cbor2
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders.body import decode_body, decode_headers, decode_path, decode_query
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.protobuf import MAX_FIELDS, schemas_from_text
from shekara.audit.decoders.tree import MAX_VALUES, flatten
from shekara.audit.detectors import detect
from shekara.audit.model import Category, Document

from .pbwire import f64, grpc, ld, vint

BODY = {"vehicle": {"vin": "WBA00000000DEMO02"}, "track": [{"lat": 43.238949, "lon": 76.889709}]}
BODY_ROWS = [
    ("request.body:$.vehicle.vin", "WBA00000000DEMO02"),
    ("request.body:$.track[0].lat", 43.238949),
    ("request.body:$.track[0].lon", 76.889709),
]


def _rows(doc: Document) -> list[tuple[str, Any]]:
    return [(f.locator, f.value) for f in flatten(doc)]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.api+json",
        "text/json",
        None,  # sniffed
        "text/plain",  # sniffed despite the label
        "application/octet-stream",
    ],
)
def test_json_body(content_type: str | None) -> None:
    doc = decode_body(json.dumps(BODY).encode(), content_type)
    assert doc.source == "request.body"
    assert _rows(doc) == BODY_ROWS


def test_json_body_with_bom_and_whitespace() -> None:
    doc = decode_body(b"\xef\xbb\xbf \n" + json.dumps(BODY).encode(), "application/json")
    assert _rows(doc) == BODY_ROWS


def test_json_body_expands_embedded() -> None:
    inner = base64.b64encode(b'{"imei": "356938035643809"}').decode()
    body = json.dumps({"payload": json.dumps({"vin": "V"}), "data": inner}).encode()
    assert _rows(decode_body(body, "application/json")) == [
        ("request.body:$.payload<json>.vin", "V"),
        ("request.body:$.data<base64><json>.imei", "356938035643809"),
    ]


def test_json_scalar_body() -> None:
    assert _rows(decode_body(b"42", "application/json")) == [("request.body:$", 42)]


def test_other_source_is_kept() -> None:
    doc = decode_body(b'{"a": 1}', None, "websocket.message[2]")
    assert _rows(doc) == [("websocket.message[2]:$.a", 1)]


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"a": }', r"malformed JSON: Expecting value: line 1 column 7 \(char 6\)"),
        (
            b'{"a": 1,\n "b"',
            r"malformed JSON: Expecting ':' delimiter: line 2 column 5 \(char 13\)",
        ),
        (b"not json", r"malformed JSON: Expecting value: line 1 column 1 \(char 0\)"),
        (b'{"a": "\xff"}', r"malformed JSON: invalid utf-8 at byte 7"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
        (b"[" * 150 + b"]" * 150, "nested deeper than 100 levels"),
        (b"[" + b"1" * 5000 + b"]", "malformed JSON: Exceeds the limit"),
        (json.dumps([0] * MAX_VALUES).encode(), f"more than {MAX_VALUES} values"),
    ],
)
def test_bad_json_raises_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_body(data, "application/json")


def test_sniffed_malformed_json_falls_back_to_text() -> None:
    assert _rows(decode_body(b"[INFO] ok {", None)) == [("request.body:$", "[INFO] ok {")]


def test_sniffed_hostile_json_still_fails() -> None:
    with pytest.raises(DecodeError, match="nested deeper"):
        decode_body(b"[" * 150 + b"]" * 150, None)


@pytest.mark.parametrize(
    "data, content_type, expected",
    [
        (
            b"imei=356938035643809&lat=43.2&lat=43.3&name=A+B&e=a%40b.kz&empty=",
            "application/x-www-form-urlencoded",
            [
                ("request.form:imei", "356938035643809"),
                ("request.form:lat", "43.2"),
                ("request.form:lat[1]", "43.3"),
                ("request.form:name", "A B"),
                ("request.form:e", "a@b.kz"),
                ("request.form:empty", ""),
            ],
        ),
        (
            b"d=%7B%22vin%22%3A%22V%22%7D&x[0]=1",
            "application/x-www-form-urlencoded; charset=UTF-8",
            [("request.form:d<json>.vin", "V"), ("request.form:x[0]", "1")],
        ),
        (
            b"n=%C0%EB%E8%FF",
            "application/x-www-form-urlencoded; charset=windows-1251",
            [("request.form:n", "Алия")],
        ),
        (b"a=1", "application/x-www-form-urlencoded; charset=bogus", [("request.form:a", "1")]),
        (b'{"a": 1}', "application/x-www-form-urlencoded", [("request.body:$.a", 1)]),
    ],
)
def test_form_body(data: bytes, content_type: str, expected: list[tuple[str, Any]]) -> None:
    assert _rows(decode_body(data, content_type)) == expected


def test_form_too_many_fields() -> None:
    data = b"&".join([b"a=1"] * (MAX_VALUES + 1))
    with pytest.raises(DecodeError, match=f"more than {MAX_VALUES} fields"):
        decode_body(data, "application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    "data, content_type, text",
    [
        (b"lat 43.2 lon 76.9", "text/plain", "lat 43.2 lon 76.9"),
        (b"line1\r\nline2\tx", None, "line1\r\nline2\tx"),
        ("Алия".encode("cp1251"), "text/plain; charset=windows-1251", "Алия"),
        ("Алия".encode(), "text/plain; charset=nonsense", "Алия"),
        (b"\xef\xbb\xbfhello", "text/plain", "hello"),
        ("Алия".encode(), "text/csv", "Алия"),
    ],
)
def test_text_body(data: bytes, content_type: str | None, text: str) -> None:
    assert _rows(decode_body(data, content_type)) == [("request.body:$", text)]


def test_text_body_base64_json() -> None:
    data = base64.b64encode(b'{"vin": "V"}')
    assert _rows(decode_body(data, "text/plain")) == [("request.body:$<base64><json>.vin", "V")]


@pytest.mark.parametrize(
    "data, content_type",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xfe\xfd", None),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "application/octet-stream"),  # not protobuf either
        (b"\x08\x96\x01\x12\x07testin", None),  # protobuf cut short: not sniffed as one
        (b"a=\x00\x01", "application/x-www-form-urlencoded"),
    ],
)
def test_binary_body(data: bytes, content_type: str | None) -> None:
    with pytest.raises(DecodeError, match=f"^binary body, {len(data)} bytes, not decoded$"):
        decode_body(data, content_type)


@pytest.mark.parametrize(
    "data, content_type, source",
    [
        (b"", "application/json", "request.body"),
        (b"  \n", None, "request.body"),
        (b"", "application/x-www-form-urlencoded", "request.form"),
    ],
)
def test_empty_body_gives_no_fields(data: bytes, content_type: str | None, source: str) -> None:
    doc = decode_body(data, content_type)
    assert doc.source == source
    assert _rows(doc) == []


@pytest.mark.parametrize(
    "query, expected",
    [
        (
            "?lat=43.2&lon=76.9&id=353861053849681",
            [
                ("request.query:lat", "43.2"),
                ("request.query:lon", "76.9"),
                ("request.query:id", "353861053849681"),
            ],
        ),
        (
            "timestamp=2014-06-04+09%3A10%3A11&a=1&a=2&a=3&blank=",
            [
                ("request.query:timestamp", "2014-06-04 09:10:11"),
                ("request.query:a", "1"),
                ("request.query:a[1]", "2"),
                ("request.query:a[2]", "3"),
                ("request.query:blank", ""),
            ],
        ),
        (
            [("location", "43.2,76.9"), ("location", "43.3,76.8")],
            [("request.query:location", "43.2,76.9"), ("request.query:location[1]", "43.3,76.8")],
        ),
        (
            [("d", base64.urlsafe_b64encode(b'{"vin": "V"}').decode())],
            [("request.query:d<base64><json>.vin", "V")],
        ),
        ("", []),
    ],
)
def test_decode_query(query: list[tuple[str, str]] | str, expected: list[tuple[str, Any]]) -> None:
    doc = decode_query(query)
    assert doc.source == "request.query"
    assert _rows(doc) == expected


def test_decode_headers() -> None:
    doc = decode_headers(
        [
            ("Host", "api.example.kz"),
            ("Content-Length", "12"),
            ("Content-Type", "application/json"),
            ("Accept", "*/*"),
            ("Accept-Encoding", "gzip"),
            ("Accept-Language", "kk-KZ"),
            ("Connection", "keep-alive"),
            ("Sec-Fetch-Mode", "cors"),
            ("If-None-Match", "W/1"),
            (":authority", "api.example.kz"),
            ("X-IMEI", "356938035643809"),
            ("User-Agent", "CarApp/1.0"),
            ("Authorization", "Bearer abc.def.ghi"),  # not a JWT: left as it is
            ("X-Trace", "1"),
            ("x-trace", "2"),
            ("Cookie", 'sid=abc; vin="WBA00000000DEMO02"; phone=%2B77011234567'),
            ("cookie", "sid=again; lonely"),
            ("Referer", "https://app.example.kz/map?lat=43.2"),
        ]
    )
    assert doc.source == "request.header"
    assert [(f.locator, f.key, f.value) for f in flatten(doc)] == [
        ("request.header:x-imei", "x-imei", "356938035643809"),
        ("request.header:user-agent", "user-agent", "CarApp/1.0"),
        ("request.header:authorization", "authorization", "Bearer abc.def.ghi"),
        ("request.header:x-trace", "x-trace", "1"),
        ("request.header:x-trace[1]", "x-trace", "2"),
        ("request.header:referer", "referer", "https://app.example.kz/map?lat=43.2"),
        ("request.header:cookie.sid", "sid", "abc"),
        ("request.header:cookie.sid[1]", "sid", "again"),
        ("request.header:cookie.vin", "vin", "WBA00000000DEMO02"),
        ("request.header:cookie.phone", "phone", "+77011234567"),
        ("request.header:cookie['']", "", "lonely"),
    ]


@pytest.mark.parametrize(
    "path, expected",
    [
        (
            "/v1/vehicles/WBA00000000DEMO02/location",
            ["v1", "vehicles", "WBA00000000DEMO02", "location"],
        ),
        ("/users/a%40b.kz//x/?lat=1#frag", ["users", "a@b.kz", "x"]),
        ("https://api.example.kz/a/b?c=d", ["a", "b"]),
        ("/", []),
        ("", []),
        ("/%D0%90%D0%BB%D0%B8%D1%8F/%ZZ", ["Алия", "%ZZ"]),
    ],
)
def test_decode_path(path: str, expected: list[str]) -> None:
    doc = decode_path(path)
    assert doc.source == "request.path"
    assert _rows(doc) == [(f"request.path:[{i}]", seg) for i, seg in enumerate(expected)]


def test_decode_path_expands_base64_segment() -> None:
    seg = base64.urlsafe_b64encode(b'{"imei": "356938035643809"}').decode().rstrip("=")
    assert _rows(decode_path(f"/track/{seg}")) == [
        ("request.path:[0]", "track"),
        ("request.path:[1]<base64><json>.imei", "356938035643809"),
    ]


# --- binary and multipart formats ---------------------------------------------------------

VIN = "LGHC4V1D9HE204406"
LAT, LON = 43.238949, 76.889709
PB = ld(1, VIN) + ld(2, f64(1, LAT) + f64(2, LON))
PB_ROWS = [
    ("request.body:$['1']", VIN),
    ("request.body:$['2']['1']", LAT),
    ("request.body:$['2']['1_int']", int.from_bytes(f64(0, LAT)[1:], "little")),
    ("request.body:$['2']['2']", LON),
    ("request.body:$['2']['2_int']", int.from_bytes(f64(0, LON)[1:], "little")),
    ("request.body:$['2']._position.lat", LAT),
    ("request.body:$['2']._position.lon", LON),
]


@pytest.mark.parametrize(
    "data, content_type",
    [
        (PB, "application/x-protobuf"),
        (PB, "application/protobuf; proto=telem.Report"),
        (PB, "application/vnd.google.protobuf"),
        (PB, None),  # sniffed: binary that walks completely as a message
        (PB, "application/octet-stream"),
        (grpc(PB), "application/grpc"),
        (grpc(PB), "application/grpc+proto"),
        (grpc(gzip.compress(PB), flags=1), "application/grpc"),
        (grpc(PB) + grpc(b"grpc-status:0", flags=0x80), "application/grpc-web+proto"),
        (base64.b64encode(grpc(PB)), "application/grpc-web-text"),
    ],
)
def test_protobuf_bodies(data: bytes, content_type: str | None) -> None:
    assert _rows(decode_body(data, content_type)) == PB_ROWS


def test_grpc_several_messages_and_json() -> None:
    doc = decode_body(grpc(vint(1, 1)) + grpc(vint(1, 2)), "application/grpc")
    assert _rows(doc) == [("request.body:$[0]['1']", 1), ("request.body:$[1]['1']", 2)]
    doc = decode_body(grpc(b'{"vin": "V"}'), "application/grpc+json")
    assert _rows(doc) == [("request.body:$.vin", "V")]
    assert _rows(decode_body(b"", "application/grpc")) == []


def test_one_field_budget_for_all_frames_of_a_body() -> None:
    frame = grpc(b"\x08\x01" * (MAX_FIELDS // 5 + 1))  # under MAX_VALUES values, too
    assert len(decode_body(frame, "application/grpc").tree["1"]) == MAX_FIELDS // 5 + 1
    with pytest.raises(DecodeError, match=f"more than {MAX_FIELDS} fields"):
        decode_body(frame * 5, "application/grpc")


def test_protobuf_body_with_schemas_and_path() -> None:
    schemas = schemas_from_text(
        [
            (
                "t.proto",
                "syntax = 'proto3'; message P { double lat = 1; double lon = 2; }"
                " message R { string vin = 1; P pos = 2; }",
            )
        ],
        routes={"^/v1/report$": "R"},
    )
    doc = decode_body(PB, "application/x-protobuf", schemas=schemas, path="/v1/report")
    assert _rows(doc) == [
        ("request.body:$.vin", VIN),
        ("request.body:$.pos.lat", LAT),
        ("request.body:$.pos.lon", LON),
    ]


def test_protobuf_strings_are_expanded_like_json_strings() -> None:
    doc = decode_body(ld(3, json.dumps({"imei": "356938035643809"})), "application/x-protobuf")
    assert _rows(doc) == [("request.body:$['3']<json>.imei", "356938035643809")]


@pytest.mark.parametrize(
    "data, content_type, message",
    [
        (
            b"\x12\x05abc",
            "application/x-protobuf",
            "^protobuf: length 5 at byte 0 runs past the end$",
        ),
        (b"\x00\x00\x00\x00\x09abc", "application/grpc", "^gRPC: frame of 9 bytes"),
        (grpc(b"\x12\x05abc"), "application/grpc", "^protobuf: length 5"),
        (b"\xc1", "application/msgpack", "^msgpack: "),
        (b"\xff", "application/cbor", "^CBOR: break code"),
        (b"--x\r\n", "multipart/form-data", "^multipart: no boundary"),
    ],
)
def test_malformed_declared_formats(data: bytes, content_type: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_body(data, content_type)


@pytest.mark.parametrize(
    "data, content_type",
    [
        (b"\x82\xa3vin\xb1" + VIN.encode() + b"\xa1n\x01", "application/msgpack"),
        (b"\x82\xa3vin\xb1" + VIN.encode() + b"\xa1n\x01", "application/x-msgpack"),
        (b"\xa2cvinq" + VIN.encode() + b"an\x01", "application/cbor"),
        (b"\xa2cvinq" + VIN.encode() + b"an\x01", "application/senml+cbor"),
    ],
)
def test_msgpack_and_cbor_bodies(data: bytes, content_type: str) -> None:
    assert _rows(decode_body(data, content_type)) == [
        ("request.body:$.vin", VIN),
        ("request.body:$.n", 1),
    ]


def test_binary_formats_are_not_sniffed() -> None:
    # b"\x01" is a complete msgpack and CBOR value; unlabelled, it is only opaque bytes.
    with pytest.raises(DecodeError, match=r"^binary body, 1 bytes, not decoded$"):
        decode_body(b"\x01", None)


# --- end to end: the detectors find what the formats carry ---------------------------------

SECRET = {"vin": VIN, "lat": LAT, "lon": LON}


def _jwt(claims: dict[str, Any]) -> str:
    def seg(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{seg({'alg': 'HS256'})}.{seg(claims)}.c2ln"


def _multipart(meta: bytes) -> bytes:
    return (
        b'--B\r\nContent-Disposition: form-data; name="meta"\r\n'
        b"Content-Type: application/json\r\n\r\n" + meta + b"\r\n--B--\r\n"
    )


@pytest.mark.parametrize(
    "data, content_type, vin_at, location_at",
    [
        (PB, "application/x-protobuf", "$['1']", "$['2']._position.lat"),
        (grpc(PB), "application/grpc", "$['1']", "$['2']._position.lat"),
        (msgpack.packb(SECRET), "application/msgpack", "$.vin", "$.lat"),
        (cbor2.dumps(SECRET), "application/cbor", "$.vin", "$.lat"),
        (
            json.dumps({"token": _jwt(SECRET)}).encode(),
            "application/json",
            "$.token<jwt>.vin",
            "$.token<jwt>.lat",
        ),
        (
            json.dumps({"blob": json.dumps(SECRET).encode().hex()}).encode(),
            "application/json",
            "$.blob<hex><json>.vin",
            "$.blob<hex><json>.lat",
        ),
        (
            _multipart(json.dumps(SECRET).encode()),
            "multipart/form-data; boundary=B",
            "$.meta.vin",
            "$.meta.lat",
        ),
        (ld(4, _jwt(SECRET)), "application/x-protobuf", "$['4']<jwt>.vin", "$['4']<jwt>.lat"),
        (
            msgpack.packb({"d": json.dumps(SECRET).encode().hex()}),
            "application/msgpack",
            "$.d<hex><json>.vin",
            "$.d<hex><json>.lat",
        ),
    ],
)
def test_detectors_find_personal_data_in_every_format(
    data: bytes, content_type: str, vin_at: str, location_at: str
) -> None:
    hits = {(h.category, h.field.locator) for h in detect(decode_body(data, content_type))}
    assert (Category.VIN, f"request.body:{vin_at}") in hits
    assert (Category.LOCATION, f"request.body:{location_at}") in hits


def test_detectors_find_a_jwt_in_the_authorization_header() -> None:
    doc = decode_headers([("Authorization", f"Bearer {_jwt({'vin': VIN})}")])
    hits = {(h.category, h.field.locator) for h in detect(doc)}
    assert (Category.VIN, "request.header:authorization<jwt>.vin") in hits


_TYPES = [
    None,
    "application/json",
    "application/x-protobuf",
    "application/grpc",
    "application/grpc-web-text",
    "application/msgpack",
    "application/cbor",
    "multipart/form-data; boundary=B",
    "multipart/mixed",
    "application/x-www-form-urlencoded",
    "text/plain",
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(_TYPES))
def test_fuzz_decode_body(data: bytes, content_type: str | None) -> None:
    try:
        doc = decode_body(data, content_type)
    except DecodeError:
        return
    list(flatten(doc))
    detect(doc)
