"""Contacts detector: address books, call logs, SMS and SOS lists synced from a phone.

One hit for a whole list, at the list: the people in a driver's phone book are
third parties whose numbers leave with it. A list qualifies when it sits under
a contacts-ish key (contacts, phonebook, address_book, call_log, calls, sms,
messages, the watch decoder's sos_numbers) and every entry is a dict with a
phone-ish key whose value libphonenumber accepts. The canonical form is the
count and a SHA-256 of the sorted E.164 numbers: the same phone book hashes
the same whatever its order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from shekara.audit.detectors import keys, phone
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category

#: Entries past this many are counted, not validated: a bound for huge lists.
MAX_CHECKED = 2000
_NAME_HINTS = keys.PERSON_NAME | keys.BARE_NAME | keys.DISPLAY_NAME
# Keys that hold an entry's number besides the phone-ish ones: Android's call log
# "number", its SMS "address", Google People's "phoneNumbers": [{"value": …}].
_NUMBER_KEYS = frozenset({"number", "numbers", "address", "value"})
_PHONE_LEAF = keys.PHONE


def _numbers(value: Any) -> Iterator[str | int]:
    """The candidate phone numbers in an entry's value: a scalar, a list, or dicts of them."""
    kind = type(value)
    if kind is str or (kind is int and value > 0):
        yield value
    elif kind is list:
        for item in value[:8]:
            if type(item) is str or type(item) is int:
                yield item
            elif isinstance(item, Mapping):
                for k in ("value", "number", "phone"):
                    inner = item.get(k)
                    if type(inner) is str or type(inner) is int:
                        yield inner
                        break


def _entry(item: Mapping[Any, Any]) -> tuple[list[str], bool] | None:
    """(valid E.164 numbers, has a name) of one entry, or None when it names no number."""
    found: list[str] = []
    named = False
    candidate = False
    for key, value in item.items():
        if type(key) is not str:
            continue
        info = keys.key_info(key)
        if info.bits & _NAME_HINTS and type(value) is str and value.strip():
            named = True
        if info.bits & keys.PHONE or keys.normalise_key(key) in _NUMBER_KEYS:
            for number in _numbers(value):
                candidate = True
                match = phone.DETECTOR.check(Leaf(number, "phone", _PHONE_LEAF))
                if match:
                    found.append(match.canonical)
    return (found, named) if candidate else None


def contact_list(items: Sequence[Any]) -> Match | None:
    """One Match for a list of contact entries, else None."""
    if not items:
        return None
    numbers: set[str] = set()
    named = 0
    for item in items[:MAX_CHECKED]:
        if not isinstance(item, Mapping):
            return None
        entry = _entry(item)
        if entry is None or not entry[0]:
            return None  # every entry must carry a valid number: a list of records is not
        numbers.update(entry[0])
        named += entry[1]
    count = len(items)
    joined = ",".join(sorted(numbers))
    digest = hashlib.sha256(joined.encode()).hexdigest()
    what = "named contacts" if named else "phone numbers"
    return Match(f"{count}|{digest}", f"list of {count} {what}, every number valid")


class ContactsDetector(Detector):
    """Contacts are lists: the scanner calls :func:`contact_list`; no scalar is a phone book."""

    category = Category.CONTACTS

    def check(self, leaf: Leaf) -> Match | None:
        return None

    def check_token(self, token: str) -> Match | None:
        return None


DETECTOR = ContactsDetector()
