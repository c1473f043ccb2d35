from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.model import Category

from .util import found

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"email": "john.doe@example.com"}, [(f"{B}.email", "john.doe@example.com")]),
        ({"login": "John.Doe@Example.COM"}, [(f"{B}.login", "john.doe@example.com")]),
        ({"x": " a.b+tag@mail.kz "}, [(f"{B}.x", "a.b+tag@mail.kz")]),
        (
            {"emails": [{"emailValue": "ivan@mail.ru"}]},
            [(f"{B}.emails[0].emailValue", "ivan@mail.ru")],
        ),
        (
            {"body": "Contact me: Ivan.Petrov@Yandex.kz, thanks."},
            [(f"{B}.body", "ivan.petrov@yandex.kz")],
        ),
    ],
)
def test_email_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.EMAIL) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"email": "not-an-email"},
        {"email": "x@localhost"},  # no dot in the domain
        {"email": "a@b"},
        {"email": "user@test.local"},  # special-use domain
        {"email": "two@at@example.com"},
        {"email": "a b@c.kz"},  # space: not one address
        {"x": "@example.com"},
        {"email": "a" * 300 + "@example.com"},
        {"nonce": "9f86d081884c7d659a2feaa0c55ad015"},
        {"handle": "@ivan"},
    ],
)
def test_email_not_found(tree: Any) -> None:
    assert found(tree, Category.EMAIL) == []
