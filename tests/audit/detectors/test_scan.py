from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from shekara.audit.decoders.tree import Embedded, KeyValues, flatten
from shekara.audit.detectors import detect, root_path, scan
from shekara.audit.model import Category, Document

IMEI = "864717003283581"
VIN = "LGHC4V1D9HE204406"
PHONE = "+77011234567"


def _located(doc: Document) -> list[tuple[str, str]]:
    return sorted((h.field.locator, h.category.value) for h in detect(doc))


@dataclass
class Wrapped:
    """Any object with ``kind`` and ``tree`` is an embedded-decoded node."""

    kind: str
    tree: Any


@pytest.mark.parametrize(
    "source, tree, expected",
    [
        ("request.body", {"a": {"b": [{"imei": IMEI}]}}, [("request.body:$.a.b[0].imei", "imei")]),
        ("request.body", {"a b": IMEI}, [("request.body:$['a b']", "imei")]),
        ("request.body", {"it's": IMEI}, [("request.body:$['it\\'s']", "imei")]),
        ("request.body", {"1x": IMEI}, [("request.body:$['1x']", "imei")]),
        ("request.body", IMEI, [("request.body:$", "imei")]),
        ("request.body", [IMEI], [("request.body:$[0]", "imei")]),
        ("websocket.message[3]", {"vin": VIN}, [("websocket.message[3]:$.vin", "vin")]),
        (
            "request.body",
            {"payload": Embedded("json", {"vin": VIN})},
            [("request.body:$.payload<json>.vin", "vin")],
        ),
        (
            "request.body",
            {"data": Embedded("base64", Embedded("json", {"imei": IMEI}))},
            [("request.body:$.data<base64><json>.imei", "imei")],
        ),
        (
            "request.body",
            {"blob": Wrapped("base64", "sent from " + PHONE + " today")},
            [("request.body:$.blob<base64>", "phone")],
        ),
        # flat sources: bare keys at the root
        ("request.query", KeyValues(id=IMEI), [("request.query:id", "imei")]),
        ("request.header", {"x-imei": IMEI}, [("request.header:x-imei", "imei")]),
        (
            "request.form",
            KeyValues(imei=[IMEI, "867567041100769"]),
            [("request.form:imei", "imei"), ("request.form:imei[1]", "imei")],
        ),
        ("request.path", ["api", "devices", IMEI], [("request.path:[2]", "imei")]),
        ("mqtt.connect", {"client_id": IMEI}, [("mqtt.connect:client_id", "imei")]),
        (
            "mqtt.publish[t/1]",
            KeyValues(payload="imei " + IMEI),
            [("mqtt.publish[t/1]:payload", "imei")],
        ),
        (
            "request.query",
            KeyValues(data=Embedded("json", {"vin": VIN})),
            [("request.query:data<json>.vin", "vin")],
        ),
        ("mqtt.publish[t/1]", {"d": {"imei": IMEI}}, [("mqtt.publish[t/1]:$.d.imei", "imei")]),
    ],
)
def test_locators(source: str, tree: Any, expected: list[tuple[str, str]]) -> None:
    assert _located(Document(source, tree)) == expected


@pytest.mark.parametrize(
    "doc",
    [
        Document("request.body", {"a": [{"b c": IMEI, "d": Embedded("json", {"e": [VIN]})}]}),
        Document("request.query", KeyValues(id=IMEI, phone=[PHONE, PHONE])),
        Document("request.path", ["x", IMEI]),
        Document("request.body", "plain " + PHONE + " text"),
    ],
)
def test_leaf_locators_agree_with_decoders_flatten(doc: Document) -> None:
    # Two modules render locators; a finding must point at a field the decoder lists.
    fields = {f.locator for f in flatten(doc)}
    located = {h.field.locator for h in detect(doc)}
    assert located and located <= fields


def test_field_key_value_and_source() -> None:
    doc = Document("request.body", {"Device": {"IMEI": IMEI}, "phones": [PHONE]})
    by_category = {h.category: h for h in detect(doc)}
    imei = by_category[Category.IMEI].field
    assert (imei.key, imei.value, imei.source) == ("imei", IMEI, "request.body")
    assert by_category[Category.PHONE].field.key == "phones"  # list items inherit the key
    (root,) = detect(Document("request.body", IMEI))
    assert root.field.key is None


def test_one_hit_per_locator_and_category() -> None:
    # The whole value is an e-mail, and the free-text pass finds it again: one hit.
    value = "a-rather-long-address.for.testing@example.com"
    assert len(value) > 40
    assert len(detect(Document("request.body", {"x": value}))) == 1
    # Two phones in one string: one phone hit at that string.
    tree = {"note": "call +77011234567 or +77017654321 please"}
    assert _located(Document("request.body", tree)) == [("request.body:$.note", "phone")]


def test_a_value_may_be_two_categories_only_with_key_evidence() -> None:
    tree = {"imei": "401011234567891", "imsi": "401011234567891", "id": "401011234567891"}
    assert _located(Document("request.body", tree)) == [
        ("request.body:$.id", "imei"),  # no key evidence for IMSI: IMEI by Luhn
        ("request.body:$.imei", "imei"),
        ("request.body:$.imsi", "imsi"),
    ]


def test_track_points_are_not_reported_one_by_one() -> None:
    tree = {"trip": [{"lat": 43.2, "lon": 76.9}, {"lat": 43.3, "lon": 76.95}]}
    assert _located(Document("request.body", tree)) == [("request.body:$.trip", "location")]


GLOBAL_DECOYS: dict[str, Any] = {
    "uuid": "550e8400-e29b-41d4-a716-446655440000",
    "nonce16": "9f86d081884c7d65",
    "nonce32": "9f86d081884c7d659a2feaa0c55ad015",
    "nonce64": "9f86d081884c7d659a2feaa0c55ad0159f86d081884c7d659a2feaa0c55ad015",
    "nonce12": "9f86d081884c",
    "ts": 1700000000123,
    "timestamp": "1700000000123",
    "created": 1.7e12,
    "version": "43.2.1",
    "fw": "4.12.7-rc1",
    "order_no": "123456789012345",
    "order": 202311150000013,
    "part_no": "A2C53374721AB0001",
    "soc": 76.5,
    "cabin_temp": 43.2,
    "x": 1024,
    "y": 768,
    "count": 123456789012,
    "seq": "123456789012",
    "gear": "P",
    "enabled": True,
    "missing": None,
    "empty": "",
    "status": "CHARGING",
    "model": "Model Y",
    "tyres": [{"position": "FL", "pressure_kpa": 240, "temp_c": 31.5}],
    "cells": [3.912, 3.915, 3.91],
    "note": "Battery at 76.5% and cabin 43.2C, firmware 43.2.1 since 1700000000123",
}


def test_global_decoys_fire_nothing() -> None:
    assert detect(Document("request.body", GLOBAL_DECOYS)) == []
    assert detect(Document("request.query", KeyValues(GLOBAL_DECOYS))) == []


def test_hostile_trees_do_not_crash() -> None:
    deep: Any = {"imei": IMEI}
    for _ in range(5000):
        deep = {"a": [deep]}
    assert detect(Document("request.body", deep)) == []  # too deep to walk: no crash
    cyclic: list[Any] = [IMEI]
    cyclic.append(cyclic)  # JSON can't do this, a buggy decoder could: the depth bound stops it
    located = _located(Document("request.body", cyclic))
    assert ("request.body:$[0]", "imei") in located
    assert len(located) <= scan.MAX_DEPTH + 1
    odd = {1: IMEI, "b": b"bytes", "s": {1, 2}, "o": object(), "f": float("inf")}
    assert _located(Document("request.body", odd)) == [("request.body:$['1']", "imei")]


def test_huge_string_is_bounded() -> None:
    doc = Document("request.body", "x " * 2_000_000 + PHONE)
    assert detect(doc) == []  # past the free-text limit: not scanned, and no hang


@pytest.mark.parametrize(
    "source, tree, expected",
    [
        ("request.body", {}, "$"),
        ("request.body", "text", "$"),
        ("request.query", {}, ""),
        ("request.body", KeyValues(), ""),
        ("request.path", [], ""),
        ("request.header", "odd", "$"),
    ],
)
def test_root_path(source: str, tree: Any, expected: str) -> None:
    assert root_path(source, tree) == expected


def test_structural_categories_in_one_document() -> None:
    """Cells, phone books, media parts and secret markers are found as wholes, in any nesting."""
    tree = {
        "device": {"cell": {"mcc": 401, "mnc": 2, "lac": 415, "cid": 42}},
        "sync": {"contacts": [{"name": "Mama", "phone": PHONE}]},
        "auth": {"username": "dev", "password_present": True},
        "upload": {
            "face": {
                "filename": "f.jpg",
                "content_type": "image/jpeg",
                "size": 10,
                "media": "image",
                "sha256": "0" * 64,
            }
        },
        "profile": {"userId": "u_8f3a9c21"},
    }
    got = {(loc, cat) for loc, cat in _located(Document("request.body", tree))}
    assert {
        ("request.body:$.device.cell", "cell_location"),
        ("request.body:$.sync.contacts", "contacts"),
        ("request.body:$.auth.password_present", "credentials"),
        ("request.body:$.upload.face", "biometric"),
        ("request.body:$.profile.userId", "account_id"),
    } <= got


def test_every_category_but_commands_has_a_detector_object() -> None:
    assert set(scan.DETECTORS) == set(Category) - {
        Category.REMOTE_CONTROL,
        Category.UNDETERMINED_CONTENT,
    }
