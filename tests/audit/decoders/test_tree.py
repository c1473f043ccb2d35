"""Locator convention of flatten() and the embedded JSON/base64 expansion."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.tree import Embedded, KeyValues, expand_embedded, flatten
from shekara.audit.model import Document, Field


def _rows(doc: Document) -> list[tuple[str, str | None, Any]]:
    return [(f.locator, f.key, f.value) for f in flatten(doc)]


def _b64(data: str | bytes, *, urlsafe: bool = False, pad: bool = True) -> str:
    raw = data.encode() if isinstance(data, str) else data
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text if pad else text.rstrip("=")


@pytest.mark.parametrize(
    "source, tree, expected",
    [
        (
            "request.body",
            {"vehicle": {"vin": "WBA00000000DEMO02"}, "track": [{"lat": 43.2, "lon": 76.9}]},
            [
                ("request.body:$.vehicle.vin", "vin", "WBA00000000DEMO02"),
                ("request.body:$.track[0].lat", "lat", 43.2),
                ("request.body:$.track[0].lon", "lon", 76.9),
            ],
        ),
        (
            "request.body",
            {"a b": 1, "it's": 2, "0lead": 3, "x-imei": 4, "_ok": 5, "": 6, "b\\s": 7, "Имя": 8},
            [
                ("request.body:$['a b']", "a b", 1),
                ("request.body:$['it\\'s']", "it's", 2),
                ("request.body:$['0lead']", "0lead", 3),
                ("request.body:$.x-imei", "x-imei", 4),
                ("request.body:$._ok", "_ok", 5),
                ("request.body:$['']", "", 6),
                ("request.body:$['b\\\\s']", "b\\s", 7),
                ("request.body:$['Имя']", "имя", 8),
            ],
        ),
        (
            "request.body",
            {"VIN": None, "Ok": True, "n": [[1, 2], []], "e": {}},
            [
                ("request.body:$.VIN", "vin", None),
                ("request.body:$.Ok", "ok", True),
                ("request.body:$.n[0][0]", "n", 1),
                ("request.body:$.n[0][1]", "n", 2),
            ],
        ),
        ("request.body", "plain text", [("request.body:$", None, "plain text")]),
        (
            "request.body",
            [7, "x"],
            [("request.body:$[0]", None, 7), ("request.body:$[1]", None, "x")],
        ),
        ("request.body", {}, []),
        (
            "websocket.message[3]",
            {"d": Embedded("json", {"vin": "V"})},
            [("websocket.message[3]:$.d<json>.vin", "vin", "V")],
        ),
        (
            "request.body",
            {"data": Embedded("base64", Embedded("json", {"imei": "356938035643809"}))},
            [("request.body:$.data<base64><json>.imei", "imei", "356938035643809")],
        ),
        (
            "request.body",
            Embedded("base64", "hello there"),
            [("request.body:$<base64>", None, "hello there")],
        ),
        (
            "request.header",
            KeyValues(authorization=Embedded("jwt", {"sub": "u1", "vin": "V"})),
            [
                ("request.header:authorization<jwt>.sub", "sub", "u1"),
                ("request.header:authorization<jwt>.vin", "vin", "V"),
            ],
        ),
        (
            "request.body",
            {"blob": Embedded("hex", Embedded("json", {"imei": "356938035643809"}))},
            [("request.body:$.blob<hex><json>.imei", "imei", "356938035643809")],
        ),
        (
            "request.query",
            KeyValues(lat="43.2", imei=["1", "2", "3"], Data=Embedded("json", [{"x": 1}])),
            [
                ("request.query:lat", "lat", "43.2"),
                ("request.query:imei", "imei", "1"),
                ("request.query:imei[1]", "imei", "2"),
                ("request.query:imei[2]", "imei", "3"),
                ("request.query:Data<json>[0].x", "x", 1),
            ],
        ),
        # Flat sources render bare keys even from a plain dict or list.
        (
            "mqtt.connect",
            {"client_id": "c1", "username": "u"},
            [
                ("mqtt.connect:client_id", "client_id", "c1"),
                ("mqtt.connect:username", "username", "u"),
            ],
        ),
        (
            "request.path",
            ["v1", "cars"],
            [("request.path:[0]", None, "v1"), ("request.path:[1]", None, "cars")],
        ),
        (
            "request.header",
            KeyValues(
                {"x-imei": "1", "a b": "2", "cookie": KeyValues(sid=["s1", "s2"], **{"a b": "3"})}
            ),
            [
                ("request.header:x-imei", "x-imei", "1"),
                ("request.header:a b", "a b", "2"),
                ("request.header:cookie.sid", "sid", "s1"),
                ("request.header:cookie.sid[1]", "sid", "s2"),
                ("request.header:cookie['a b']", "a b", "3"),
            ],
        ),
        # A KeyValues root makes any source flat (MQTT text payloads).
        (
            "mqtt.publish[a/b]",
            KeyValues(payload="hi"),
            [("mqtt.publish[a/b]:payload", "payload", "hi")],
        ),
        (
            "mqtt.publish[a/b]",
            {"payload": "hi"},
            [("mqtt.publish[a/b]:$.payload", "payload", "hi")],
        ),
    ],
)
def test_flatten_locators(
    source: str, tree: Any, expected: list[tuple[str, str | None, Any]]
) -> None:
    assert _rows(Document(source, tree)) == expected


def test_flatten_fields_carry_source() -> None:
    fields = list(flatten(Document("request.body", {"a": 1})))
    assert fields == [Field(locator="request.body:$.a", key="a", value=1, source="request.body")]


def test_flatten_deep_tree_does_not_recurse() -> None:
    tree: Any = "leaf"
    for _ in range(5000):
        tree = [tree]
    (field,) = flatten(Document("request.body", tree))
    assert field.locator == "request.body:$" + "[0]" * 5000
    assert field.value == "leaf"


def test_flatten_stringifies_foreign_leaf_types() -> None:
    assert _rows(Document("request.body", {"b": b"x"})) == [("request.body:$.b", "b", "b'x'")]


SAMPLE = {"vin": "WBA00000000DEMO02", "pos": {"lat": 43.238949, "lon": 76.889709}}
SAMPLE_JSON = json.dumps(SAMPLE)


def _jwt(claims: Any, *, alg: str = "HS256", signature: str = "c2lnbmF0dXJl") -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}), urlsafe=True, pad=False)
    return f"{header}.{_b64(json.dumps(claims), urlsafe=True, pad=False)}.{signature}"


@pytest.mark.parametrize(
    "leaf, expected",
    [
        (SAMPLE_JSON, Embedded("json", SAMPLE)),
        ('[{"a": 1}, 2]', Embedded("json", [{"a": 1}, 2])),
        ('{"a": 1}\n', Embedded("json", {"a": 1})),
        (_b64(SAMPLE_JSON), Embedded("base64", Embedded("json", SAMPLE))),
        (_b64(SAMPLE_JSON, urlsafe=True, pad=False), Embedded("base64", Embedded("json", SAMPLE))),
        (
            _b64('{"k": "\u00ff\u00fe?>"}', urlsafe=True),
            Embedded("base64", Embedded("json", {"k": "\u00ff\u00fe?>"})),
        ),
        (_b64("driver Aliya Nurlanovna"), Embedded("base64", "driver Aliya Nurlanovna")),
        (_b64("Привет, это обычный текст"), Embedded("base64", "Привет, это обычный текст")),
        (_b64(_b64(SAMPLE_JSON)), Embedded("base64", Embedded("base64", Embedded("json", SAMPLE)))),
        (
            json.dumps({"inner": _b64(SAMPLE_JSON)}),
            Embedded("json", {"inner": Embedded("base64", Embedded("json", SAMPLE))}),
        ),
        (
            json.dumps({"s": json.dumps({"vin": "X"})}),
            Embedded("json", {"s": Embedded("json", {"vin": "X"})}),
        ),
        # JSON Web Tokens: the payload's claims; an Authorization "Bearer " prefix is fine.
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            Embedded("jwt", {"sub": "1234567890"}),
        ),
        (
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            Embedded("jwt", {"sub": "1"}),
        ),
        (_jwt(SAMPLE, alg="none", signature=""), Embedded("jwt", SAMPLE)),
        (
            _jwt({"data": _b64(SAMPLE_JSON)}),
            Embedded("jwt", {"data": Embedded("base64", Embedded("json", SAMPLE))}),
        ),
        # Hex-wrapped JSON or text, upper or lower case.
        (SAMPLE_JSON.encode().hex(), Embedded("hex", Embedded("json", SAMPLE))),
        (SAMPLE_JSON.encode().hex().upper(), Embedded("hex", Embedded("json", SAMPLE))),
        (b"WBA00000000DEMO02".hex(), Embedded("hex", "WBA00000000DEMO02")),
        ("Алия Нурланова".encode().hex(), Embedded("hex", "Алия Нурланова")),
        (
            _b64(SAMPLE_JSON).encode().hex(),
            Embedded("hex", Embedded("base64", Embedded("json", SAMPLE))),
        ),
    ],
)
def test_expand_embedded_positives(leaf: str, expected: Any) -> None:
    assert expand_embedded({"v": leaf}) == {"v": expected}


DECOYS = [
    "123e4567-e89b-12d3-a456-426614174000",  # UUID
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # hex nonce / hash
    "9F86D081884C7D659A2FEAA0C55AD015",
    "a001a002a003a004",  # hex that would decode to the printable "kM5kM6kM7kM8"
    "89860117795950089298",  # ICCID digits
    "356938035643809",  # IMEI
    "WBA00000000DEMO02",  # VIN
    "vehicle",
    "authorizationcodeflowmanager",
    "ThisIsAnIdentifierName",
    "/api/v1/vehicles/status/location",
    # Token look-alikes: the header lacks "alg", the payload is not an object, bad base64.
    _b64('{"typ":"JWT"}', urlsafe=True, pad=False) + "." + _b64('{"sub":"1"}', urlsafe=True),
    "eyJhbGciOiJIUzI1NiJ9." + _b64("[1, 2]", urlsafe=True, pad=False) + ".c2ln",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIi*iIxIn0.c2ln",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln.ZXh0cmE.bW9yZQ",  # five segments: JWE
    "example.com.kz",
    # Hex that must stay: hashes, MAC-like ids, UUIDs without dashes, digit strings.
    "d41d8cd98f00b204e9800998ecf8427e",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "0123456789abcdef",
    "0011223344556677",
    "89860117795950089298",
    "4111111111111111",
    "5f4dcc3b5aa765d61d8327deb882cf99",
    _b64(bytes(range(200, 248))),  # base64 of binary, not text
    _b64("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e"),  # decodes to control characters
    _b64("!#$%&()*+,-./:;<=>?@[]^_`{|}~"),  # printable but not words
    _b64("short"),  # shorter than 16 characters
    "{not json}",
    "[1, 2",
    "[INFO] engine started",
    '"quoted"',
    "12345.678",
    "SGVsbG8gd29ybGQ=x",  # invalid padding position
    "aGVsbG8gd29ybGQhIQ===",  # too much padding
    "hello world this is plain text",
]


@pytest.mark.parametrize("decoy", DECOYS)
def test_expand_embedded_leaves_decoys_alone(decoy: str) -> None:
    assert expand_embedded({"v": decoy}) == {"v": decoy}
    assert expand_embedded(decoy) == decoy


def test_expand_embedded_respects_depth_limit() -> None:
    leaf: Any = {"vin": "X"}
    for _ in range(6):
        leaf = json.dumps({"n": leaf})
    expanded = expand_embedded(leaf, depth_limit=4)
    rows = _rows(Document("request.body", expanded))
    assert len(rows) == 1
    locator, _, value = rows[0]
    assert locator == "request.body:$" + "<json>.n" * 4
    assert isinstance(value, str) and value.startswith('{"n"')
    assert _rows(Document("request.body", expand_embedded(leaf, depth_limit=10)))[0][0] == (
        "request.body:$" + "<json>.n" * 6 + ".vin"
    )


def test_expand_embedded_respects_size_limit() -> None:
    leaf = json.dumps({"pad": "x" * 100})
    assert expand_embedded(leaf, size_limit=50) == leaf
    assert isinstance(expand_embedded(leaf, size_limit=500), Embedded)


def test_expand_embedded_does_not_mutate_and_keeps_keyvalues() -> None:
    tree = KeyValues(a=[SAMPLE_JSON, "x"], b="y")
    before = copy.deepcopy(tree)
    out = expand_embedded(tree)
    assert tree == before
    assert isinstance(out, KeyValues)
    assert out == KeyValues(a=[Embedded("json", SAMPLE), "x"], b="y")


def test_expand_embedded_walks_existing_embedded() -> None:
    out = expand_embedded(Embedded("base64", Embedded("json", {"s": SAMPLE_JSON})))
    assert out == Embedded("base64", Embedded("json", {"s": Embedded("json", SAMPLE)}))


@pytest.mark.parametrize(
    "tree, max_values, should_fail",
    [
        (list(range(99)), 100, False),
        (list(range(100)), 100, True),  # 100 leaves + the list itself
        ([json.dumps(list(range(60)))] * 2, 100, True),  # expansion adds values
        ([json.dumps(list(range(40)))] * 2, 100, False),
        ([[] for _ in range(200)], 100, True),  # empty containers count too
    ],
)
def test_expand_embedded_value_cap(tree: Any, max_values: int, should_fail: bool) -> None:
    if should_fail:
        with pytest.raises(DecodeError, match=f"more than {max_values} values"):
            expand_embedded(tree, max_values=max_values)
    else:
        expand_embedded(tree, max_values=max_values)


@pytest.mark.parametrize("depth, should_fail", [(10, False), (11, True)])
def test_expand_embedded_nesting_cap(depth: int, should_fail: bool) -> None:
    tree: Any = 1
    for _ in range(depth):
        tree = {"a": tree}
    if should_fail:
        with pytest.raises(DecodeError, match="nested deeper than 10 levels"):
            expand_embedded(tree, max_nesting=10)
    else:
        assert expand_embedded(tree, max_nesting=10) == tree


def test_embedded_json_depth_bomb_stays_a_string() -> None:
    bomb = "[" * 100_000 + "]" * 100_000
    assert expand_embedded({"v": bomb}) == {"v": bomb}


def test_embedded_jwt_and_hex_are_expanded_inside_decoded_layers() -> None:
    token = _jwt({"vin": "WBA00000000DEMO02"})
    tree = {"outer": json.dumps({"token": token, "hex": b'{"imei": "356938035643809"}'.hex()})}
    doc = Document("request.body", expand_embedded(tree))
    assert _rows(doc) == [
        ("request.body:$.outer<json>.token<jwt>.vin", "vin", "WBA00000000DEMO02"),
        ("request.body:$.outer<json>.hex<hex><json>.imei", "imei", "356938035643809"),
    ]


_HEXISH_TEXT = st.text(alphabet="0123456789abcdefABCDEF", min_size=16, max_size=80)
_TOKENISH = st.builds(
    lambda parts: ".".join(parts),
    st.lists(st.text(alphabet="eyJhbGciOiIxIn0_-abc123", max_size=40), min_size=3, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), _HEXISH_TEXT, _TOKENISH))
def test_expand_embedded_fuzz_never_raises_on_a_string(text: str) -> None:
    result = expand_embedded({"v": text})
    assert set(result) == {"v"}
    if isinstance(result["v"], Embedded):
        assert result["v"].kind in {"json", "base64", "jwt", "hex"}
    else:
        assert result["v"] == text
