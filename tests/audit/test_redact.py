"""Previews reveal little, hashes are keyed: the plain value is never kept."""

from __future__ import annotations

import pytest

from shekara.audit.model import Category, Field, Hit
from shekara.audit.redact import Redactor, preview


@pytest.mark.parametrize(
    "category, canonical, expected",
    [
        (Category.VIN, "LSVAU218XN2183294", "LSV************94"),
        (Category.PHONE, "+77012345678", "+770******78"),
        (Category.IMEI, "356938035643809", "356**********09"),
        (Category.EMAIL, "aigerim@example.kz", "a***@example.kz"),
        (Category.PERSON_NAME, "Айгерим Нурланова", "А*** Н***"),
        (Category.MAC_ADDRESS, "A4:5E:60:12:34:56", "A4:5E:60:**:**:**"),
        (Category.LOCATION, "43.238949,76.889709", "43.2,76.9"),
        (Category.IIN, "900101300123", "900*******23"),
        (Category.LICENSE_PLATE, "123ABC02", "123***02"),
        (Category.IMSI, "ab", "**"),
    ],
)
def test_preview(category: Category, canonical: str, expected: str) -> None:
    assert preview(category, canonical) == expected


def _hit(category: Category, value: str) -> Hit:
    return Hit(category, Field("l", None, value, "s"), value, "test")


def test_hash_is_keyed_and_category_bound() -> None:
    a, b = Redactor(b"a" * 32), Redactor(b"b" * 32)
    assert a.value_hash(Category.VIN, "X") != b.value_hash(Category.VIN, "X")
    assert a.value_hash(Category.VIN, "X") == a.value_hash(Category.VIN, "X")
    assert a.value_hash(Category.VIN, "X") != a.value_hash(Category.IMEI, "X")
    _preview, digest = a.redact(_hit(Category.VIN, "LSVAU218XN2183294"))
    assert "LSVAU218XN2183294" not in digest and len(digest) == 64


def test_short_key_refused() -> None:
    with pytest.raises(ValueError):
        Redactor(b"short")
