"""Person name detector: only under a name-ish key, and only values shaped like a human name.

Rules (keys first, then the value):
- ``first_name``, ``last_name``, ``full_name``, ``fio``, ``driver_name`` ... : the value
  must look like a name (1-4 capitalised words);
- bare ``name``: as above, and either the enclosing dict sits under a person-ish key
  (driver, owner, user, contact, customer, account, profile ...) or the value has
  2-4 words of at least two letters and the enclosing key does not name a thing
  (vehicle, device, app, wifi ...): "Model Y" and "Home Charger" stay out;
- ``display_name``: only under a person-ish key (Tesla's ``display_name`` is the car's).
``file_name``, ``host_name``, ``app_name``, ``model_name``, ``ssid`` never match a name key.
"""

from __future__ import annotations

import re

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence

_MIN_LEN, _MAX_LEN = 2, 60
_WORD_PARTS = re.compile(r"[-'\u2019]")  # hyphen, apostrophe, typographic apostrophe


def _letter(ch: str) -> bool:
    # Latin (with accents) and Cyrillic, which holds the Kazakh letters (U+0400-U+04FF).
    return ch.isalpha() and ("A" <= ch <= "\u024f" or "\u0400" <= ch <= "\u04ff")


def _name_word(word: str) -> bool:
    for part in _WORD_PARTS.split(word):
        if not part or not part[0].isupper() or not all(_letter(ch) for ch in part):
            return False
        if len(part) > 1 and part.isupper():
            return False  # all-caps: a code ("ACTIVE", "KZ"), not a name
    return True


def name_words(text: str) -> int:
    """How many words a human-looking name has (1-4), or 0 when it does not look like one."""
    if not (_MIN_LEN <= len(text) <= _MAX_LEN):
        return 0
    words = text.split()
    if not 1 <= len(words) <= 4:
        return 0
    if all(_name_word(w) for w in words):
        return len(words)
    return 0


class PersonNameDetector(Detector):
    category = Category.PERSON_NAME

    def check(self, leaf: Leaf) -> Match | None:
        hints = leaf.hints
        if not isinstance(leaf.value, str) or not hints & (
            keys.PERSON_NAME | keys.BARE_NAME | keys.DISPLAY_NAME
        ):
            return None
        text = leaf.value.strip()
        words = name_words(text)
        if not words:
            return None
        canonical = " ".join(text.split())
        if hints & keys.PERSON_NAME:
            return Match(canonical, "human-looking name under a person-name key")
        # "user_vehicle" names both a person and a thing: the thing wins.
        parent = leaf.parent_hints
        if parent & keys.PERSON_PARENT and not parent & keys.THING_PARENT:
            return Match(canonical, "human-looking name under a person's name key")
        if (
            hints & keys.BARE_NAME
            and words >= 2
            and not parent & keys.THING_PARENT
            and all(len(w) >= 2 for w in text.split())
        ):
            return Match(
                canonical, "two or more capitalised words under a bare name key", Confidence.MEDIUM
            )
        return None

    def check_token(self, token: str) -> Match | None:
        return None  # a capitalised phrase in free text is not evidence of a person


DETECTOR = PersonNameDetector()
