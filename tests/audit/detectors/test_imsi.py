from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.model import Category

from .util import found

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"imsi": "401011234567890"}, [(f"{B}.imsi", "401011234567890")]),
        ({"IMSI": 250991234567890}, [(f"{B}.IMSI", "250991234567890")]),
        ({"sim": {"imsi": "401011234567891"}}, [(f"{B}.sim.imsi", "401011234567891")]),
        ({"subscriber_id": "401011234567890"}, [(f"{B}.subscriber_id", "401011234567890")]),
        ({"simNumber": "401771234567890"}, [(f"{B}.simNumber", "401771234567890")]),
    ],
)
def test_imsi_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.IMSI) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"id": "401011234567890"},  # no key evidence
        {"n": "250991234567890"},
        {"sim": "250991234567890"},  # SIM key, but not a Kazakh MCC
        {"imsi": "123451234567890"},  # MCC 123 is not assigned
        {"imsi": "4010112345"},  # too short
        {"imsi": "40101123456789x"},
        {"imsi": False},
        {"log": "imsi 401011234567890"},  # free text has no key evidence
    ],
)
def test_imsi_not_found(tree: Any) -> None:
    assert found(tree, Category.IMSI) == []


def test_luhn_valid_imsi_under_imsi_key_is_not_an_imei() -> None:
    tree = {"imsi": "401011234567891"}
    assert found(tree, Category.IMSI) == [(f"{B}.imsi", "401011234567891")]
    assert found(tree, Category.IMEI) == []
