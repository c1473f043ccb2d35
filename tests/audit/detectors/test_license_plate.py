from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        # Kazakhstan: 2012 series and 1993 series
        ({"plate": "123ABC02"}, [(f"{B}.plate", "123ABC02")]),
        ({"plateNumber": "123 abc 02"}, [(f"{B}.plateNumber", "123ABC02")]),
        ({"license_plate": "777AB01"}, [(f"{B}.license_plate", "777AB01")]),
        ({"gos_nomer": "A123BCD"}, [(f"{B}.gos_nomer", "A123BCD")]),
        # Russia, Cyrillic letters
        ({"госномер": "А123ВС77"}, [(f"{B}['госномер']", "А123ВС77")]),
        ({"registration_number": "А 123 ВС 777"}, [(f"{B}.registration_number", "А123ВС777")]),
        # China, with and without the key
        ({"plate_no": "京A·12345"}, [(f"{B}.plate_no", "京A12345")]),
        ({"x": "粤B88888"}, [(f"{B}.x", "粤B88888")]),
        ({"x": "苏BA6860"}, [(f"{B}.x", "苏BA6860")]),
        ({"x": "沪AD12345"}, [(f"{B}.x", "沪AD12345")]),  # new-energy, 6 characters
        # any other country, only under the key
        ({"plate": "W-AB 1234"}, [(f"{B}.plate", "WAB1234")]),
    ],
)
def test_plate_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.LICENSE_PLATE) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"x": "123ABC02"},  # KZ format without the key
        {"code": "А123ВС77"},
        {"plate": "ABCDEF"},  # no digit
        {"plate": "123456"},  # no letter
        {"plate": "12"},
        {"plate": "this is not a plate at all"},
        {"x": "京"},
        {"x": "京12345"},  # no issuing-office letter
        {"x": "京I12345"},  # I is not used
        {"plate": None},
        {"firmware": "A123BCD"},
    ],
)
def test_plate_not_found(tree: Any) -> None:
    assert found(tree, Category.LICENSE_PLATE) == []


def test_generic_plate_is_medium() -> None:
    (generic,) = hits({"plate": "W-AB 1234"}, Category.LICENSE_PLATE)
    (kz,) = hits({"plate": "123ABC02"}, Category.LICENSE_PLATE)
    assert generic.confidence is Confidence.MEDIUM
    assert kz.confidence is Confidence.HIGH
