"""HTTP body, query, header and path decoding into located fields."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shekara.audit.decoders.body import decode_body, decode_headers, decode_path, decode_query
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.tree import MAX_VALUES, flatten
from shekara.audit.model import Document

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
        (b"\x08\x96\x01\x12\x07testing", "application/x-protobuf"),  # valid UTF-8, still binary
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
            ("Authorization", "Bearer abc.def.ghi"),
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
