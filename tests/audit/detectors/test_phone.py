from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.model import Category

from .util import found

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        # international form: any key
        ({"x": "+77011234567"}, [(f"{B}.x", "+77011234567")]),
        ({"contact": "+7 (701) 123-45-67"}, [(f"{B}.contact", "+77011234567")]),
        ({"owner": {"tel": "+8613800138000"}}, [(f"{B}.owner.tel", "+8613800138000")]),
        ("+4915112345678", [(B, "+4915112345678")]),
        # national forms only under a phone-ish key, KZ first, then with a '+'
        ({"phone": "87011234567"}, [(f"{B}.phone", "+77011234567")]),
        ({"phoneNumber": "7011234567"}, [(f"{B}.phoneNumber", "+77011234567")]),
        ({"msisdn": 77011234567}, [(f"{B}.msisdn", "+77011234567")]),
        ({"mobile": "8613800138000"}, [(f"{B}.mobile", "+8613800138000")]),
        ({"sos_number": "8 701 123 45 67"}, [(f"{B}.sos_number", "+77011234567")]),
        ({"contact_number": "87272500000"}, [(f"{B}.contact_number", "+77272500000")]),
        (
            {"phones": ["+77011234567", "+77017654321"]},
            [(f"{B}.phones[0]", "+77011234567"), (f"{B}.phones[1]", "+77017654321")],
        ),
        ({"text": "call me at +7 701 123 45 67 tomorrow"}, [(f"{B}.text", "+77011234567")]),
        # Chinese mobile numbers without a country code (JT/T 808 terminal phones)
        ({"terminal_phone": "13511221122"}, [(f"{B}.terminal_phone", "+8613511221122")]),
        ({"phone": "13345678906"}, [(f"{B}.phone", "+8613345678906")]),
    ],
)
def test_phone_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.PHONE) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"x": "87011234567"},  # national form without a phone key
        {"id": 77011234567},
        {"phone": 1700000000000},  # millisecond timestamp under a phone key
        {"phone": "1700000000123"},
        {"ts": 1700000000000},
        {"phone": "12345"},
        {"phone": "+1234567890"},  # not a valid number
        {"x": "+12"},
        {"phone": True},
        {"phone": "not available"},
        {"version": "+1.2.3"},
        {"order_no": "123456789012345"},
        {"temp": "+43.2"},
        {"telemetry": 77011234567},  # "tel" hides in "telemetry": not a phone key
    ],
)
def test_phone_not_found(tree: Any) -> None:
    assert found(tree, Category.PHONE) == []
