"""Cursors are opaque, round-trip, and refuse anything this API did not make."""

from __future__ import annotations

import base64

import pytest

from shekara.api.cursor import InvalidCursorError, decode_cursor, encode_cursor


@pytest.mark.parametrize("last_id", [0, 1, 99, 2**63 - 1])
def test_round_trip(last_id: int) -> None:
    cursor = encode_cursor(last_id)
    assert cursor != str(last_id)
    assert decode_cursor(cursor) == last_id


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "42",
        _b64("42"),
        _b64("f1:"),
        _b64("f1:-3"),
        _b64("f1:1e3"),
        _b64(f"f1:{2**63}"),
        _b64("f1:" + "9" * 40),
        _b64("x1:5"),
        "\u00e9\u00e9",
    ],
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)
