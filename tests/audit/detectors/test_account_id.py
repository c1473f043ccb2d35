"""Account identifiers: only under account-id keys, only values that can tell accounts apart."""

from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.decoders.tree import KeyValues
from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"
UUID = "3f2b8c1e-9a7d-4e21-b6c5-0d8f7a6e5b4c"


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"userId": UUID}, [(f"{B}.userId", UUID)]),
        ({"user_id": "u_8f3a9c21"}, [(f"{B}.user_id", "u_8f3a9c21")]),
        ({"account_id": 81234567}, [(f"{B}.account_id", "81234567")]),
        ({"uid": "  1029384756 "}, [(f"{B}.uid", "1029384756")]),
        ({"customer_id": "C-000123"}, [(f"{B}.customer_id", "C-000123")]),
        ({"memberId": "M9912345"}, [(f"{B}.memberId", "M9912345")]),
        ({"owner_id": "ow-77123"}, [(f"{B}.owner_id", "ow-77123")]),
        (
            {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            [(f"{B}.openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")],
        ),
        (
            {"unionid": "o6_bmasdasdsad6_2sgVt7hMZOPfL"},
            [(f"{B}.unionid", "o6_bmasdasdsad6_2sgVt7hMZOPfL")],
        ),
        ({"data": {"tspUserId": "TSP12345678"}}, [(f"{B}.data.tspUserId", "TSP12345678")]),
        (
            {"users": {"userIds": ["abc123456", "def654321"]}},
            [
                (f"{B}.users.userIds[0]", "abc123456"),
                (f"{B}.users.userIds[1]", "def654321"),
            ],
        ),
    ],
)
def test_account_ids(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.ACCOUNT_ID) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"id": "8f3a9c21b7e4"},  # generic id: a record, not an account
        {"user": {"id": "8f3a9c21b7e4"}},
        {"deviceId": UUID},
        {"orderId": "ORD-99812345"},
        {"session_id": "abcdef123456"},
        {"userId": 12},  # small integer
        {"userId": 12345},
        {"userId": "12345"},  # short
        {"userId": True},
        {"userId": "true"},
        {"userId": "000000"},  # one repeated character
        {"userId": "xxxxxxxx"},
        {"userId": "anonymous"},
        {"userId": "undefined"},
        {"userId": ""},
        {"userId": None},
        {"userId": "John Smith Jr"},  # a sentence, not an identifier
        {"userId": "a" * 200},
        {"userId": -1234567},
        {"uuid": UUID},
        {"guid": UUID},
    ],
)
def test_not_account_ids(tree: Any) -> None:
    assert hits(tree, Category.ACCOUNT_ID) == []


def test_confidence_is_medium_and_flat_sources_work() -> None:
    (hit,) = hits(KeyValues(user_id="u_8f3a9c21"), Category.ACCOUNT_ID, "request.query")
    assert hit.confidence is Confidence.MEDIUM
    assert hit.field.locator == "request.query:user_id"
