from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.detectors.person_name import name_words
from shekara.audit.model import Category, Confidence

from .util import found, hits

B = "request.body:$"


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"firstName": "Ivan"}, [(f"{B}.firstName", "Ivan")]),
        ({"last_name": "Petrov"}, [(f"{B}.last_name", "Petrov")]),
        ({"fullname": "Ivan  Petrov"}, [(f"{B}.fullname", "Ivan Petrov")]),
        ({"FIO": "Иванов Иван Иванович"}, [(f"{B}.FIO", "Иванов Иван Иванович")]),
        ({"surname": "Әбілқайыр"}, [(f"{B}.surname", "Әбілқайыр")]),
        ({"given_name": "Jean-Luc"}, [(f"{B}.given_name", "Jean-Luc")]),
        ({"lastName": "O'Brien"}, [(f"{B}.lastName", "O'Brien")]),
        ({"driver_name": "Нұрлан Серікұлы"}, [(f"{B}.driver_name", "Нұрлан Серікұлы")]),
        ({"ownerName": "José Álvarez"}, [(f"{B}.ownerName", "José Álvarez")]),
        # bare "name": under a person-ish parent, or two words
        ({"driver": {"name": "Ivan"}}, [(f"{B}.driver.name", "Ivan")]),
        ({"emergency_contact": {"name": "Aigerim"}}, [(f"{B}.emergency_contact.name", "Aigerim")]),
        ({"drivers": [{"name": "Ivan"}]}, [(f"{B}.drivers[0].name", "Ivan")]),
        ({"name": "Ivan Petrov"}, [(f"{B}.name", "Ivan Petrov")]),
        # display_name only under a person-ish parent
        ({"user": {"display_name": "Aigerim"}}, [(f"{B}.user.display_name", "Aigerim")]),
    ],
)
def test_person_name_found(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.PERSON_NAME) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"file_name": "Report Final"},
        {"fileName": "Ivan Petrov"},
        {"host_name": "Ivan Petrov"},
        {"app_name": "My Kia"},
        {"model_name": "Model Y"},
        {"device_name": "Ivan Phone"},
        {"car_name": "Red Car"},
        {"ssid": "Home Network"},
        {"bundle_name": "Kz Auto"},
        {"username": "Ivan Petrov"},  # a login, not a name
        {"name": "Ivan"},  # one word without a person-ish parent
        {"name": "Model Y"},  # one-letter word
        {"vehicle": {"name": "Toyota Camry"}},  # a thing's name
        {"wifi": {"name": "Home Net"}},
        {"display_name": "Ivan Petrov"},  # Tesla's display_name is the car's
        {"vehicle": {"display_name": "Ivan Petrov"}},
        {"user_vehicle": {"name": "Toyota Camry"}},
        {"firstName": "IVAN"},  # all caps: a code
        {"first_name": "ivan"},  # not capitalised
        {"first_name": "Ivan2"},
        {"first_name": "A Very Long Name With Words"},  # more than 4 words
        {"first_name": "张伟"},  # script outside Latin/Cyrillic
        {"first_name": 42},
        {"first_name": ""},
        {"name": "ACTIVE"},
    ],
)
def test_person_name_not_found(tree: Any) -> None:
    assert found(tree, Category.PERSON_NAME) == []


def test_bare_name_is_medium() -> None:
    (bare,) = hits({"name": "Ivan Petrov"}, Category.PERSON_NAME)
    (keyed,) = hits({"first_name": "Ivan"}, Category.PERSON_NAME)
    assert bare.confidence is Confidence.MEDIUM
    assert keyed.confidence is Confidence.HIGH


@pytest.mark.parametrize(
    "text, words",
    [("Ivan", 1), ("Ivan Petrov", 2), ("Жанна Д'Арк", 2), ("I", 0), ("ivan", 0), ("X1", 0)],
)
def test_name_words(text: str, words: int) -> None:
    assert name_words(text) == words
