from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.detectors.vin import has_check_digit
from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        # check digit valid: fires under any key, and as a root string
        ({"vin": "LGHC4V1D9HE204406"}, [(f"{B}.vin", "LGHC4V1D9HE204406")]),
        ({"chassis_id": "1G1BL52P7TR115520"}, [(f"{B}.chassis_id", "1G1BL52P7TR115520")]),
        ({"data": {"x": "3BKHHZ8X7GF723380"}}, [(f"{B}.data.x", "3BKHHZ8X7GF723380")]),
        ("5J6RW2H53HL066029", [(B, "5J6RW2H53HL066029")]),
        # key says VIN: lower case is upper-cased; a European VIN without check digit counts
        ({"vehicleVin": "lghc4v1d9he204406"}, [(f"{B}.vehicleVin", "LGHC4V1D9HE204406")]),
        ({"vehicle_vin": "WV1ZZZ2EZ86015388"}, [(f"{B}.vehicle_vin", "WV1ZZZ2EZ86015388")]),
        ({"VIN": "JTMGBRFV80D109752"}, [(f"{B}.VIN", "JTMGBRFV80D109752")]),
        ({"vins": ["WV1ZZZ2EZ86015388"]}, [(f"{B}.vins[0]", "WV1ZZZ2EZ86015388")]),
        # in free text
        (
            {"note": "car LGHC4V1D9HE204406 was towed today"},
            [(f"{B}.note", "LGHC4V1D9HE204406")],
        ),
    ],
)
def test_vin_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.VIN) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"part_no": "A2C53374721AB0001"},  # 17-char part number failing the check digit
        {"part": "8K0907115BABCDEF1"},
        {"code": "WV1ZZZ2EZ86015388"},  # no check digit and no VIN key
        {"x": "lghc4v1d9he204406"},  # lower case without a VIN key: a token, not a VIN
        {"vin": "LGHC4V1D9HE20440"},  # 16 characters
        {"vin": "LGHC4V1D9HE2044O6"},  # O is not in the VIN alphabet
        {"vin": "12345678901234567"},  # 17 digits
        {"n": 12345678901234567},
        {"vin": None},
        {"uuid": "550e8400-e29b-41d4-a716-446655440000"},
        {"nonce": "9f86d081884c7d65"},
        {"note": "part A2C53374721AB0001 replaced under warranty"},
    ],
)
def test_vin_not_found(tree: Any) -> None:
    assert found(tree, Category.VIN) == []


def test_confidence_depends_on_check_digit() -> None:
    (checked,) = hits({"vin": "LGHC4V1D9HE204406"}, Category.VIN)
    (keyed,) = hits({"vin": "WV1ZZZ2EZ86015388"}, Category.VIN)
    assert checked.confidence is Confidence.HIGH
    assert keyed.confidence is Confidence.MEDIUM


@pytest.mark.parametrize(
    "value, expected",
    [("LGHC4V1D9HE204406", True), ("LGHC4V1D8HE204406", False), ("!!", False), ("", False)],
)
def test_has_check_digit(value: str, expected: bool) -> None:
    assert has_check_digit(value) is expected
