from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"iccid": "8942310221007544309"}, [(f"{B}.iccid", "8942310221007544309")]),
        ({"x": "89860117795950089298"}, [(f"{B}.x", "89860117795950089298")]),
        ({"x": 89480610500392633029}, [(f"{B}.x", "89480610500392633029")]),
        ({"ICCID": "89464278206103756482F"}, [(f"{B}.ICCID", "89464278206103756482")]),
        ({"x": "8942310221007544309f"}, [(f"{B}.x", "8942310221007544309")]),
        # Chinese ICCID without a Luhn digit: only under the key
        ({"iccid": "89860499102190207874"}, [(f"{B}.iccid", "89860499102190207874")]),
        # 18 digits with Luhn under a SIM key
        ({"sim_serial": "894231022100754432"}, [(f"{B}.sim_serial", "894231022100754432")]),
        ({"msg": "ICCID 8942310221007544309 OK"}, [(f"{B}.msg", "8942310221007544309")]),
    ],
)
def test_iccid_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.ICCID) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"x": "89860499102190207874"},  # no Luhn, no key
        {"x": "7942310221007544309"},  # not the 89 telecom prefix
        {"x": "894231022100754432"},  # 18 digits without a key
        {"ts_ns": 1700000000000000000},  # nanosecond timestamp
        {"iccid": "89423102210075443"},  # 17 digits
    ],
)
def test_iccid_not_found(tree: Any) -> None:
    assert found(tree, Category.ICCID) == []


def test_wrong_luhn_under_iccid_key_is_medium() -> None:
    # Under the key a 19/20-digit 89... value is kept, but only as MEDIUM evidence.
    (hit,) = hits({"iccid": "8942310221007544308"}, Category.ICCID)
    assert hit.confidence is Confidence.MEDIUM
    (sure,) = hits({"iccid": "8942310221007544309"}, Category.ICCID)
    assert sure.confidence is Confidence.HIGH
