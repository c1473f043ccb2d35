from __future__ import annotations

import pytest

from shekara.audit.detectors import text
from shekara.audit.detectors.text import scan_text
from shekara.audit.model import Category

RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"


def _found(value: str) -> list[tuple[str, str]]:
    return sorted((c.value, m.canonical) for c, m in scan_text(value))


@pytest.mark.parametrize(
    "value, expected",
    [
        ("imei:864717003283581;", [("imei", "864717003283581")]),
        ("iccid=8942310221007544309&x=1", [("iccid", "8942310221007544309")]),
        ("VIN LGHC4V1D9HE204406.", [("vin", "LGHC4V1D9HE204406")]),
        ("mail to Ivan.Petrov@Mail.kz now", [("email", "ivan.petrov@mail.kz")]),
        ("<a href='mailto:a.b@example.com'>", [("email", "a.b@example.com")]),
        ("tel: +7 (701) 123-45-67.", [("phone", "+77011234567")]),
        ("ap 00:1a:2b:3c:4d:5e rssi", [("mac_address", "00:1A:2B:3C:4D:5E")]),
        ("ap 00-1A-2B-3C-4D-5E", [("mac_address", "00:1A:2B:3C:4D:5E")]),
        ("at 43.238949,76.889709.", [("location", "43.238949,76.889709")]),
        ("at -33.8688, 151.2093 now", [("location", "-33.868800,151.209300")]),
        ("x " + RMC + "\r\n", [("location", "48.117300,11.516667")]),
        (
            "+77011234567 and +77017654321",  # one hit per category
            [("phone", "+77011234567")],
        ),
    ],
)
def test_scan_text_finds(value: str, expected: list[tuple[str, str]]) -> None:
    assert _found(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "id 550e8400-e29b-41d4-a716-446655440000 ok",  # UUID
        "nonce 9f86d081884c7d659a2feaa0c55ad0159f86d081884c7d659a2feaa0c55ad015",
        "nonce 9f86d081884c7d65 and 9f86d081884c7d659a2feaa0c55ad015",
        "order 123456789012345 shipped",  # fails Luhn
        "ts 1700000000000 ms",
        "version 43.2.1 with soc 76.5 and temp 43.2",
        "part A2C53374721AB0001 fits",
        "token a864717003283581b",  # digits inside a word
        "hex DEADBEEF864717003283581",
        "x 43.2,76.9 y",  # too few decimals
        "broadcast FF:FF:FF:FF:FF:FF",
        "12:30:45 on 2024-01-02",
        "user@localhost said hi",
        "a" * 100 + "@example.com",  # local part longer than 64
        "@@@ +++ $$$ ::: ---",
        "",
    ],
)
def test_scan_text_ignores(value: str) -> None:
    assert _found(value) == []


def test_candidates_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "MAX_CANDIDATES", 3)
    value = " ".join(["123456789012345"] * 10) + " 864717003283581"
    assert list(scan_text(value)) == []  # the valid IMEI is past the bound


def test_text_past_the_limit_is_not_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "MAX_TEXT", 20)
    assert [c for c, _ in scan_text("0123456789 " * 3 + "+77011234567")] == []
    assert [c for c, _ in scan_text("+77011234567")] == [Category.PHONE]
