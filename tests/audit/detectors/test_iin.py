from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.detectors.iin import birth_date, check_digit, is_valid_iin
from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"
IIN = "950722402957"  # 22 July 1995, female, check digit 7


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"iin": IIN}, [(f"{B}.iin", IIN)]),
        ({"ИИН": IIN}, [(f"{B}['ИИН']", IIN)]),
        ({"taxpayer_id": "811006436953"}, [(f"{B}.taxpayer_id", "811006436953")]),
        ({"nationalId": 551104493256}, [(f"{B}.nationalId", "551104493256")]),
        # born 2005: as a JSON number the leading zero is lost, the key restores it
        ({"iin": 51207553497}, [(f"{B}.iin", "051207553497")]),
        # century digit 0 (unverified foreigners' form): only under the key
        ({"iin": "850112054382"}, [(f"{B}.iin", "850112054382")]),
        # a string with date and check digit valid, under a neutral key
        ({"document": IIN}, [(f"{B}.document", IIN)]),
        ({"holder": {"code_kz": "620805415941"}}, [(f"{B}.holder.code_kz", "620805415941")]),
    ],
)
def test_iin_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.IIN) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"iin": "950722402958"},  # wrong check digit
        {"x": "950722402958"},
        {"x": 950722402957},  # a number without the key
        {"id": IIN},  # ids, counters and timestamps are not IINs without the key
        {"order_id": IIN},
        {"ts": IIN},
        {"seq": IIN},
        {"count": IIN},
        {"x": "850112054382"},  # century digit 0 without the key
        {"iin": "951322402957"},  # month 13
        {"x": "901206681751"},  # born 2090: in the future
        {"iin": "95072240295"},  # 11 digits
        {"phone": IIN},  # another identifier's key decides
        {"x": "123456789012"},
        {"ts": 1700000000000},
    ],
)
def test_iin_not_found(tree: Any) -> None:
    assert found(tree, Category.IIN) == []


def test_key_raises_confidence() -> None:
    (keyed,) = hits({"iin": IIN}, Category.IIN)
    (bare,) = hits({"document": IIN}, Category.IIN)
    assert keyed.confidence is Confidence.HIGH
    assert bare.confidence is Confidence.MEDIUM


@pytest.mark.parametrize(
    "first11, expected",
    [
        ("95072240295", 7),
        ("81100643695", 3),
        # first weights give 10, second pass decides
        ("00000000010", 1),  # 1x10 = 10 -> second weights: 1x1 = 1
    ],
)
def test_check_digit(first11: str, expected: int) -> None:
    assert check_digit(first11) == expected


def test_unassignable_number_has_no_check_digit() -> None:
    # Both weight sets leave remainder 10: the decree says such numbers are never issued.
    unassignable = [f"{n:011d}" for n in range(0, 2000) if check_digit(f"{n:011d}") is None]
    assert unassignable  # the table holds some
    assert all(not is_valid_iin(d + "0") for d in unassignable)


def test_birth_date() -> None:
    born = birth_date(IIN)
    assert born is not None and (born.year, born.month, born.day) == (1995, 7, 22)
    assert birth_date("950230402957") is None  # 30 February
