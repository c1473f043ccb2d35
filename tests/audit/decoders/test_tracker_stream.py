"""The value parsers the text tracker decoders share."""

from __future__ import annotations

import pytest

from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.tracker_stream import (
    ddmm,
    decimal_degrees,
    device_ids,
    digits_time,
    drop_separators,
    frame_text,
    number,
    put_time,
)


@pytest.mark.parametrize(
    ("value", "hemisphere", "expected"),
    [
        ("2235.1777", "N", 22.586295),
        ("11357.8913", "E", 113.964855),
        ("38.6508", "W", -0.64418),
        ("3542.2043", "S", -35.703405),
        ("0756.0930", "", 7.93488333),
        (" 8415.4076", "W", -84.25679333),
        ("5429.681944502211763", "N", 54.49469907),
    ],
)
def test_ddmm(value: str, hemisphere: str, expected: float) -> None:
    assert ddmm(value, hemisphere, "t", limit=180) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "hemisphere", "limit"),
    [("9130.0000", "N", 90), ("2235.1777", "X", 90), ("22a5.17", "N", 90), ("", "N", 90)],
)
def test_ddmm_rejects(value: str, hemisphere: str, limit: float) -> None:
    with pytest.raises(DecodeError):
        ddmm(value, hemisphere, "t", limit=limit)


@pytest.mark.parametrize(
    ("value", "hemisphere", "expected"),
    [("22.571707", "N", 22.571707), ("6.409275", "W", -6.409275), ("-33.480366", "N", -33.480366),
     (" 9.1574736", "E", 9.1574736), ("16.479064", "S", -16.479064)],
)  # fmt: skip
def test_decimal_degrees(value: str, hemisphere: str, expected: float) -> None:
    assert decimal_degrees(value, hemisphere, "t", limit=180) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["181.0", "abc", "1e5", ""])
def test_decimal_degrees_rejects(value: str) -> None:
    with pytest.raises(DecodeError):
        decimal_degrees(value, "E", "t", limit=180)


def test_digits_time_orders() -> None:
    assert digits_time("130721", "104000", "t") == "2021-07-13T10:40:00+00:00"
    assert digits_time("210119", "140003.000", "t", day_first=False) == "2021-01-19T14:00:03+00:00"
    with pytest.raises(DecodeError, match="impossible"):
        digits_time("320121", "104000", "t")
    with pytest.raises(DecodeError, match="bad date"):
        digits_time("1307", "104000", "t")


def test_put_time_keeps_a_broken_clock_raw() -> None:
    tree: dict[str, object] = {}
    put_time(tree, "061830", "080331", "t", day_first=False)
    assert tree == {"time_raw": "061830 080331"}


@pytest.mark.parametrize(
    ("device_id", "has_imei"),
    [("868487004353181", True), ("868487004353182", False), ("4970105243", False),
     ("86848700435318A", False)],
)  # fmt: skip
def test_device_ids_adds_imei_only_when_luhn_valid(device_id: str, has_imei: bool) -> None:
    ids = device_ids(device_id)
    assert ids["device_id"] == device_id
    assert ("imei" in ids) is has_imei


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42), ("-1", -1), ("0.27", 0.27), ("  3.34", 3.34), ("NA", "NA"), ("", ""),
     ("nan", "nan"), ("inf", "inf"), ("1" * 30, "1" * 30)],
)  # fmt: skip
def test_number(text: str, expected: object) -> None:
    assert number(text) == expected


def test_frame_text() -> None:
    assert frame_text(b"*HQ,1#\r\n", "t") == "*HQ,1#\r\n"
    assert frame_text("Батарея".encode(), "t") == "Батарея"
    with pytest.raises(DecodeError, match="UTF-8"):
        frame_text(b"\xff\xfe", "t")
    with pytest.raises(DecodeError, match="control"):
        frame_text(b"a\x00b", "t")


def test_drop_separators_stops_at_the_next_frame() -> None:
    buf = bytearray(b"\r\n \x00\r\n*HQ,1#\r\n")
    drop_separators(buf)
    assert buf == bytearray(b"*HQ,1#\r\n")
    empty = bytearray(b"\r\n\x00")
    drop_separators(empty)
    assert empty == bytearray()
