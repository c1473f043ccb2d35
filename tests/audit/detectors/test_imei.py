from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"imei": "864717003283581"}, [(f"{B}.imei", "864717003283581")]),
        ({"deviceImei": 864717003283581}, [(f"{B}.deviceImei", "864717003283581")]),
        ({"id": "353861053849681"}, [(f"{B}.id", "353861053849681")]),  # OsmAnd's id= is the IMEI
        ({"terminal": {"sn": 867567041100769}}, [(f"{B}.terminal.sn", "867567041100769")]),
        ({"imei": " 864717003283581 "}, [(f"{B}.imei", "864717003283581")]),
        ({"imeisv": "3527330412345601"}, [(f"{B}.imeisv", "3527330412345601")]),  # 16 digits
        ({"log": "login from 864717003283581 ok"}, [(f"{B}.log", "864717003283581")]),
        (["864717003283581"], [(f"{B}[0]", "864717003283581")]),
    ],
)
def test_imei_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.IMEI) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"order_id": "123456789012345"},  # fails Luhn
        {"order_no": "202311150000013"},  # passes Luhn, but the key says order number
        {"invoice": 202311150000013},
        {"imsi": "401011234567891"},  # Luhn-valid, but the key says IMSI
        {"iccid": "864717003283581"},
        {"sim": "864717003283581"},
        {"n": "3527330412345601"},  # 16 digits without an IMEI key
        {"imei": "86471700328358"},  # 14 digits
        {"imei": "86471700328358a"},
        {"imei": True},
        {"ts": 1700000000000},
        {"t_us": 1700000000000000},
        {"imei": "８６４７１７００３２８３５８１"},
        {"log": "ref a864717003283581b"},  # inside a word
    ],
)
def test_imei_not_found(tree: Any) -> None:
    assert found(tree, Category.IMEI) == []


def test_key_raises_confidence() -> None:
    (keyed,) = hits({"imei": "864717003283581"}, Category.IMEI)
    (bare,) = hits({"device_id": "864717003283581"}, Category.IMEI)
    assert keyed.confidence is Confidence.HIGH
    assert bare.confidence is Confidence.MEDIUM
