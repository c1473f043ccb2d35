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
        (Category.CREDENTIALS, "password|" + "9f" * 32, "*** (password)"),
        (Category.CREDENTIALS, "bearer token|" + "0a" * 32, "*** (bearer token)"),
        (Category.CREDENTIALS, "hunter22", "***"),  # not in "kind|hash" form: nothing shown
        (Category.CONTACTS, "12|" + "ab" * 32, "12 contacts"),
        (Category.CONTACTS, "garbage", "contacts"),
        (Category.CELL_LOCATION, "401-01-1234-56789", "401-01-*-*"),
        (Category.CELL_LOCATION, "460-00-1A2B-5F3C", "460-00-*-*"),
        (Category.CELL_LOCATION, "garbage", "*"),
        (Category.BIOMETRIC, "image|48213|" + "ab" * 32, "image 48213 bytes"),
        (Category.CABIN_MEDIA, "audio|9000|" + "cd" * 32, "audio 9000 bytes"),
        (Category.CABIN_MEDIA, "garbage", "media"),
        (Category.ACCOUNT_ID, "3f2b8c1e-9a7d-4e21", "3f**************21"),
        (Category.ACCOUNT_ID, "u_8f3a9", "u******"),
    ],
)
def test_preview(category: Category, canonical: str, expected: str) -> None:
    assert preview(category, canonical) == expected


@pytest.mark.parametrize(
    "secret",
    ["hunter22", "Qwerty12", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", "k_live_12345678", "tbox:s3cret"],
)
def test_credential_preview_shows_no_character_of_the_secret(secret: str) -> None:
    from shekara.audit.detectors.credentials import canonical

    for kind in ("password", "access token", "API key", "basic credentials"):
        shown = preview(Category.CREDENTIALS, canonical(kind, secret))
        assert shown == f"*** ({kind})"
        assert str(len(secret)) not in shown


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
