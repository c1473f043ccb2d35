"""The vehicle's registered identifiers found in every encoding, and only those."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote

import pytest

from shekara.audit.decoders import decode_body
from shekara.audit.knownvalues import KNOWN_PREFIX, KnownValues
from shekara.audit.model import Category, Confidence, Document

VIN = "LSVAU218XN2183294"
IMEI = "356938035643809"
PHONE = "+77012345678"
KNOWN = KnownValues({Category.VIN: [VIN], Category.IMEI: [IMEI], Category.PHONE: [PHONE]})


def bcd(digits: str, pad: str = "f") -> str:
    return digits + pad if len(digits) % 2 else digits


@pytest.mark.parametrize(
    "text, category, encoding",
    [
        (VIN, Category.VIN, "plain"),
        (VIN.lower(), Category.VIN, "plain"),
        (f"id={VIN}&x=1", Category.VIN, "plain"),
        (VIN.encode().hex(), Category.VIN, "hex"),
        (VIN.encode().hex().upper(), Category.VIN, "hex"),
        (base64.b64encode(VIN.encode()).decode(), Category.VIN, "base64"),
        (hashlib.sha256(VIN.encode()).hexdigest(), Category.VIN, "sha256"),
        (hashlib.sha256(VIN.encode()).hexdigest().upper(), Category.VIN, "sha256"),
        (hashlib.sha256(VIN.lower().encode()).hexdigest(), Category.VIN, "sha256"),
        (hashlib.md5(VIN.encode()).hexdigest(), Category.VIN, "md5"),
        (hashlib.sha1(VIN.encode()).hexdigest(), Category.VIN, "sha1"),
        (
            base64.b64encode(hashlib.sha256(VIN.encode()).digest()).decode(),
            Category.VIN,
            "sha256 base64",
        ),
        (base64.b64encode(IMEI.encode()).decode(), Category.IMEI, "base64"),
        (base64.urlsafe_b64encode(IMEI.encode()).decode().rstrip("="), Category.IMEI, "base64"),
        ("0" + IMEI, Category.IMEI, "bcd"),
        (quote(PHONE, safe=""), Category.PHONE, "url-encoded"),
        (bcd("77012345678"), Category.PHONE, "bcd"),
        (bcd("77012345678").upper(), Category.PHONE, "bcd"),
        # GSM semi-octets: each byte's nibbles swapped.
        ("7710325476f8", Category.PHONE, "tbcd"),
    ],
)
def test_each_encoding_is_found(text: str, category: Category, encoding: str) -> None:
    found = KNOWN.find_text(text)
    assert found is not None, text
    assert (found.category, found.encoding) == (category, encoding)


@pytest.mark.parametrize(
    "text",
    [
        "LSVAU218XN2183295",  # another car
        hashlib.sha256(b"LSVAU218XN2183295").hexdigest(),
        base64.b64encode(b"356938035643800").decode(),
        "77012345679f",
        "hello world",
        "",
    ],
)
def test_other_values_are_not_matched(text: str) -> None:
    assert KNOWN.find_text(text) is None


def test_binary_bcd_and_digests_in_raw_bytes() -> None:
    frame = b"\x78\x78\x0d\x01" + bytes.fromhex("0" + IMEI) + b"\x00\x01"
    hit = KNOWN.bytes_hit(frame, "tcp")
    assert hit is not None and hit.category is Category.IMEI
    assert hit.field.locator == "tcp:bytes"
    digest = hashlib.sha1(VIN.encode()).digest()
    hit = KNOWN.bytes_hit(b"\x00" + digest + b"\x00", "request.body")
    assert hit is not None and hit.category is Category.VIN and "(sha1)" in hit.evidence
    assert KNOWN.bytes_hit(b"\x00" * 64, "tcp") is None


def test_acceptance_sha256_base64_and_bcd_in_one_body() -> None:
    """The issue's known-value case: VIN as SHA-256 hex, IMEI as base64, phone as BCD."""
    body = json.dumps(
        {
            "device": hashlib.sha256(VIN.encode()).hexdigest(),
            "unit": base64.b64encode(IMEI.encode()).decode(),
            "msisdn": bcd("77012345678"),
            "note": "nothing personal here",
        }
    ).encode()
    doc = decode_body(body, "application/json")
    hits = {h.field.locator: h for h in KNOWN.hits(doc)}
    assert {k: (h.category, h.canonical) for k, h in hits.items()} == {
        "request.body:$.device": (Category.VIN, VIN),
        "request.body:$.unit<base64>": (Category.IMEI, IMEI),
        "request.body:$.msisdn": (Category.PHONE, PHONE),
    }
    for h in hits.values():
        assert h.confidence is Confidence.HIGH
        assert h.evidence.startswith(KNOWN_PREFIX)
        assert "vehicle's registered data" in h.evidence


def test_short_values_are_not_registered() -> None:
    known = KnownValues({Category.PERSON_NAME: ["Ali"]})
    assert not known
    assert known.find_text("Ali went home") is None


def test_empty_document() -> None:
    assert KNOWN.hits(Document("request.body", {})) == []
