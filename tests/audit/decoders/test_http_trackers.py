"""OsmAnd (query string) and OwnTracks (JSON) trackers need no decoder of their own.

They are plain HTTP: the generic body/query decoders and the detectors must already
find the IMEI and the position in the real samples (tests/data/protocol_samples/).
"""

from __future__ import annotations

import pytest

from shekara.audit.decoders import decode_body, decode_query
from shekara.audit.detectors import detect
from shekara.audit.model import Category

from .tracker_checks import load_samples

OSMAND = load_samples("osmand")
OWNTRACKS = load_samples("owntracks")


def found(doc: object) -> dict[Category, set[str]]:
    hits: dict[Category, set[str]] = {}
    for hit in detect(doc):  # type: ignore[arg-type]
        hits.setdefault(hit.category, set()).add(hit.canonical)
    return hits


@pytest.mark.parametrize("sample", OSMAND, ids=lambda s: s["source"].rsplit("#", 1)[1])
def test_osmand_query(sample: dict[str, object]) -> None:
    expected = sample["expected_fields"]
    assert isinstance(expected, dict) and isinstance(sample["hex_or_text"], str)
    doc = decode_query(sample["hex_or_text"].split("?", 1)[1])
    hits = found(doc)
    assert hits[Category.IMEI] == {expected["id_imei"]}
    assert hits[Category.LOCATION] == {f"{expected['lat']:.6f},{expected['lon']:.6f}"}


@pytest.mark.parametrize(
    ("query", "category"),
    [
        ("id=353861053849681&location=49.60688,6.15788", Category.LOCATION),
        ("id=1&lat=49.60688&lon=6.15788&wifi=00:11:22:33:44:55,-70", Category.MAC_ADDRESS),
    ],
)
def test_osmand_variants(query: str, category: Category) -> None:
    assert category in found(decode_query(query))


def test_osmand_json_form() -> None:
    body = (b'{"location":{"timestamp":"2024-05-17T08:30:15Z","coords":{"latitude":43.252057,'
            b'"longitude":76.940535}},"device_id":"353861053849681"}')  # fmt: skip
    hits = found(decode_body(body, "application/json"))
    assert hits[Category.LOCATION] == {"43.252057,76.940535"}
    assert hits[Category.IMEI] == {"353861053849681"}


@pytest.mark.parametrize("sample", OWNTRACKS, ids=lambda s: s["source"].rsplit("#", 1)[1])
def test_owntracks_body(sample: dict[str, object]) -> None:
    expected = sample["expected_fields"]
    assert isinstance(expected, dict) and isinstance(sample["hex_or_text"], str)
    doc = decode_body(sample["hex_or_text"].encode(), "application/json")
    assert doc.tree["tid"] == expected["tid"] and doc.tree["tst"] == expected["tst"]
    hits = found(doc)
    assert hits[Category.LOCATION] == {f"{expected['lat']:.6f},{expected['lon']:.6f}"}
    assert hits[Category.IMEI] == {expected["topic_device_imei"]}  # found inside the topic
