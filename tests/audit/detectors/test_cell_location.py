"""Serving cells: all four parts, an assigned MCC and in-range codes; lists give one hit."""

from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.decoders.tree import KeyValues
from shekara.audit.detectors.cell_location import MCCS, serving_cell
from shekara.audit.model import Category

from .util import found, hits

B = "request.body:$"
ALMATY_CELL = {"mcc": 401, "mnc": 1, "lac": 1234, "cell_id": 56789}


@pytest.mark.parametrize(
    "tree, expected",
    [
        # GT06 / JT808 / Teltonika decoders: {"cell": {...}} with ints
        ({"cell": ALMATY_CELL}, [(f"{B}.cell", "401-01-1234-56789")]),
        (
            {"lbs": {"mcc": 460, "mnc": 0, "lac": 9520, "ci": 3671}},
            [(f"{B}.lbs", "460-00-9520-3671")],
        ),
        # spellings: tac/eci, cid, strings in decimal and hex, a 3-digit MNC kept as sent
        ({"mcc": "401", "mnc": "02", "tac": "4105", "eci": "1A2B3C"}, [(B, "401-02-4105-1A2B3C")]),
        ({"tower": {"MCC": 250, "MNC": 99, "LAC": 7, "CID": 12}}, [(f"{B}.tower", "250-99-7-12")]),
        ({"c": {"mcc": 310, "mnc": "410", "lac": 1, "cid": 2}}, [(f"{B}.c", "310-410-1-2")]),
        # Google/Mozilla geolocation: one hit at the list of towers
        (
            {
                "cellTowers": [
                    {
                        "cellId": 42,
                        "locationAreaCode": 415,
                        "mobileCountryCode": 401,
                        "mobileNetworkCode": 2,
                    },
                    {
                        "cellId": 43,
                        "locationAreaCode": 415,
                        "mobileCountryCode": 401,
                        "mobileNetworkCode": 2,
                    },
                ]
            },
            [(f"{B}.cellTowers", "401-02-415-42")],
        ),
        # the watch decoder: "cells" of serving + neighbours
        (
            {
                "cells": [
                    {"mcc": 401, "mnc": 1, "lac": "1A2B", "cell_id": "5F3C", "rssi": -70},
                    {"mcc": 401, "mnc": 1, "lac": "1A2B", "cell_id": "5F3D", "rssi": -80},
                ]
            },
            [(f"{B}.cells", "401-01-1A2B-5F3C")],
        ),
        # MCC and MNC given once, towers below
        (
            {"lbs": {"mcc": "401", "mnc": "02", "towers": [{"lac": 415, "cid": 42}]}},
            [(f"{B}.lbs.towers", "401-02-415-42")],
        ),
        # the first valid tower is the canonical one; invalid ones are skipped
        (
            {"cells": [{"mcc": 401, "mnc": 1, "lac": 0, "cid": 1}, ALMATY_CELL]},
            [(f"{B}.cells", "401-01-1234-56789")],
        ),
        # next to a position: both are reported, each at its own place
        (
            {"lat": 43.238949, "lon": 76.889709, "cell": ALMATY_CELL},
            [(f"{B}.cell", "401-01-1234-56789")],
        ),
    ],
)
def test_cells(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.CELL_LOCATION) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"mcc": 401},  # the network's country only
        {"mcc": 401, "mnc": 1},
        {"mcc": 401, "mnc": 1, "lac": 1234},  # no cell id
        {"lac": 1234, "cell_id": 56789},  # TK103 "L" packets: no MCC, nothing to locate by
        {"mcc": 0, "mnc": 0, "lac": 0, "cell_id": 0},  # unset
        {"mcc": 401, "mnc": 1, "lac": 0, "cell_id": 1},  # LAC 0: deleted
        {"mcc": 401, "mnc": 1, "lac": 65535, "cell_id": 1},  # reserved LAC
        {"mcc": 401, "mnc": 1, "lac": 12, "cell_id": 0},
        {"mcc": 123, "mnc": 1, "lac": 12, "cell_id": 34},  # 123 is not an assigned MCC
        {"mcc": 1, "mnc": 1, "lac": 12, "cell_id": 34},  # 001: test network
        {"mcc": 999, "mnc": 1, "lac": 12, "cell_id": 34},  # private networks
        {"mcc": 401, "mnc": 1000, "lac": 12, "cell_id": 34},
        {"mcc": 401, "mnc": 1, "lac": -5, "cell_id": 34},
        {"mcc": 401, "mnc": 1, "lac": "zz", "cell_id": 34},
        {"mcc": 401, "mnc": 1, "lac": 12, "cell_id": 1 << 40},
        {"mcc": 401.0, "mnc": 1, "lac": 12, "cell_id": 34},
        {"mcc": True, "mnc": 1, "lac": 12, "cell_id": 34},
        {"mcc": "40l", "mnc": 1, "lac": 12, "cell_id": 34},
        # MCC-looking numbers without the other keys
        {"code": 401, "area": 1234, "id": 56789},
        {"screen": "401x250", "resolution": {"x": 401, "y": 250}},
        {"cells": [1, 2, 3]},
        {"towers": [{"name": "TV tower"}]},
    ],
)
def test_not_cells(tree: Any) -> None:
    assert hits(tree, Category.CELL_LOCATION) == []


def test_list_items_are_not_reported_again() -> None:
    tree = {"cells": [ALMATY_CELL, {**ALMATY_CELL, "cell_id": 56790}, ALMATY_CELL]}
    found_hits = hits(tree, Category.CELL_LOCATION)
    assert [h.field.locator for h in found_hits] == [f"{B}.cells"]
    assert "3 cells" in found_hits[0].evidence


def test_flat_source_cell_keys() -> None:
    tree = KeyValues(mcc="401", mnc="01", lac="1234", cid="56789")
    located = [h.field.locator for h in hits(tree, Category.CELL_LOCATION, "request.query")]
    assert located == ["request.query:mcc"]


def test_mcc_table_comes_from_stdnum() -> None:
    assert {"401", "460", "250", "310"} <= MCCS
    assert not {"001", "999", "000", "123"} & MCCS


def test_outer_parts_fill_in_missing_mcc() -> None:
    from shekara.audit.detectors import keys

    outer = {keys.MCC: 401, keys.MNC: 7}
    assert serving_cell({"lac": 5, "cid": 6}, outer) == "401-07-5-6"
    assert serving_cell({"lac": 5, "cid": 6}) is None
