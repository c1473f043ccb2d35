"""Phone books, call logs, SMS and SOS lists: one hit at the list, every number valid."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from shekara.audit.detectors.contacts import contact_list
from shekara.audit.model import Category

from .util import found, hits

B = "request.body:$"
MAMA = "+77011234567"
PAPA = "+77017654321"


def _canonical(count: int, *numbers: str) -> str:
    return f"{count}|" + hashlib.sha256(",".join(sorted(numbers)).encode()).hexdigest()


@pytest.mark.parametrize(
    "tree, expected",
    [
        # the watch decoder's phone book and SOS list
        (
            {"contacts": [{"name": "Mama", "phone": MAMA}, {"name": "Papa", "phone": PAPA}]},
            [(f"{B}.contacts", _canonical(2, MAMA, PAPA))],
        ),
        ({"sos_numbers": [{"phone": MAMA}]}, [(f"{B}.sos_numbers", _canonical(1, MAMA))]),
        # an app's address book: displayName/number, national format read as KZ
        (
            {"phonebook": [{"displayName": "Айгерим", "number": "8 701 765 43 21"}]},
            [(f"{B}.phonebook", _canonical(1, PAPA))],
        ),
        (
            {"addressBook": [{"name": "A", "phoneNumbers": [{"value": MAMA}, {"value": PAPA}]}]},
            [(f"{B}.addressBook", _canonical(1, MAMA, PAPA))],
        ),
        # call log and SMS from a paired phone (no names needed)
        (
            {"call_log": [{"number": MAMA, "duration": 31}, {"number": MAMA, "duration": 5}]},
            [(f"{B}.call_log", _canonical(2, MAMA))],
        ),
        ({"sms": [{"address": PAPA, "body": "skoro budu"}]}, [(f"{B}.sms", _canonical(1, PAPA))]),
        (
            {"messages": [{"from_name": "Mama", "phone": MAMA, "text": "hi"}]},
            [(f"{B}.messages", _canonical(1, MAMA))],
        ),
        # nested, and at the root of a list-valued key inside a user object
        (
            {"user": {"emergency_contacts": [{"name": "Mama", "tel": "87011234567"}]}},
            [(f"{B}.user.emergency_contacts", _canonical(1, MAMA))],
        ),
        # order does not change the hash
        (
            {"contacts": [{"name": "Papa", "phone": PAPA}, {"name": "Mama", "phone": MAMA}]},
            [(f"{B}.contacts", _canonical(2, MAMA, PAPA))],
        ),
    ],
)
def test_contact_lists(tree: Any, expected: list[tuple[str, str]]) -> None:
    assert found(tree, Category.CONTACTS) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"contacts": []},
        {"contacts": [MAMA, PAPA]},  # bare strings: the phone detector reports them one by one
        {"contacts": [{"name": "Mama"}]},  # no number
        {"contacts": [{"name": "Mama", "phone": "123"}]},  # not a valid number
        {"contacts": [{"name": "Mama", "phone": MAMA}, {"name": "Papa"}]},  # one entry has none
        {"contacts": [{"name": "Mama", "phone": MAMA}, "x"]},
        {"messages": [{"id": 1, "text": "hello"}, {"id": 2, "text": "world"}]},
        {"messages": [{"number": 7, "text": "seventh message"}]},
        {"calls": [{"id": "abc", "duration": 5}]},
        # phones in a list under a key that names no phone book
        {"drivers": [{"name": "Mama", "phone": MAMA}]},
        {"items": [{"name": "Mama", "phone": MAMA}]},
    ],
)
def test_not_contact_lists(tree: Any) -> None:
    assert hits(tree, Category.CONTACTS) == []


def test_the_numbers_are_still_phones() -> None:
    tree = {"contacts": [{"name": "Mama", "phone": MAMA}]}
    assert [h.field.locator for h in hits(tree, Category.PHONE)] == [f"{B}.contacts[0].phone"]
    hit = hits(tree, Category.CONTACTS)[0]
    assert hit.field.value is None and MAMA not in hit.canonical


def test_long_lists_are_bounded() -> None:
    big = [{"name": "X", "phone": MAMA}] * 5000
    match = contact_list(big)
    assert match is not None and match.canonical.startswith("5000|")
