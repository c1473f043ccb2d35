from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.model import Category

from .util import found

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"x": "aa:bb:cc:dd:ee:ff"}, [(f"{B}.x", "AA:BB:CC:DD:EE:FF")]),
        ({"x": "00-1A-2B-3C-4D-5E"}, [(f"{B}.x", "00:1A:2B:3C:4D:5E")]),
        ({"x": "001a.2b3c.4d5e"}, [(f"{B}.x", "00:1A:2B:3C:4D:5E")]),
        ({"bt_mac": "001A2B3C4D5E"}, [(f"{B}.bt_mac", "00:1A:2B:3C:4D:5E")]),
        ({"wifiMac": "001a2b3c4d5e"}, [(f"{B}.wifiMac", "00:1A:2B:3C:4D:5E")]),
        ({"bssid": "001122334455"}, [(f"{B}.bssid", "00:11:22:33:44:55")]),
        (
            {"scan": "wifi AA:BB:CC:DD:EE:01,-71 seen"},
            [(f"{B}.scan", "AA:BB:CC:DD:EE:01")],
        ),
    ],
)
def test_mac_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.MAC_ADDRESS) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"x": "00:00:00:00:00:00"},
        {"mac": "FF:FF:FF:FF:FF:FF"},
        {"mac": "000000000000"},
        {"x": "001A2B3C4D5E"},  # bare hex without a MAC key
        {"nonce": "9f86d081884c"},
        {"nonce": "9f86d081884c7d65"},
        {"x": "aa:bb-cc:dd:ee:ff"},  # mixed separators
        {"x": "aa:bb:cc:dd:ee"},
        {"x": "gg:bb:cc:dd:ee:ff"},
        {"uuid": "550e8400-e29b-41d4-a716-446655440000"},
        {"machine": "001A2B3C4D5E"},  # "mac" hides in "machine"
        {"t": "12:30:45"},
    ],
)
def test_mac_not_found(tree: Any) -> None:
    assert found(tree, Category.MAC_ADDRESS) == []
