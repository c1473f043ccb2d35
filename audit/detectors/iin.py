"""Kazakh IIN detector: 12 digits with a birth date, a century/sex digit and a check digit.

The algorithm is the one fixed by Government Decree No. 565 of 11 June 2003
(adilet.zan.kz P030000565_): digits 1-6 are the birth date YYMMDD, digit 7 the
century and sex (1/2: 19th century, 3/4: 20th, 5/6: 21st; odd male, even
female), digits 8-11 a serial, digit 12 the check digit below. The PyPI
package kz-iin-validator implements the same rule, but exception-driven and
unmaintained since 2023; the rule is ten lines, so it lives here.

When it fires (documented rule):
- under an IIN key (iin, иин, inn, national_id, taxpayer...): date and check digit
  valid, string or number; a century digit 0 (seen on some foreigners' numbers,
  unverified) is allowed only here;
- without the key: only a *string* of exactly 12 digits, century digit 1-6, date
  and check digit valid, and the key must not name an id, counter or timestamp
  (one random 12-digit string in about 500 passes date and check digit).
"""

from __future__ import annotations

import datetime as dt

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence

_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_CENTURY = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}


def check_digit(first11: str) -> int | None:
    """The IIN check digit of the first 11 digits, or None when the number can't be issued."""
    digits = [ord(ch) - 48 for ch in first11]
    rest = sum(w * d for w, d in zip(_WEIGHTS_1, digits, strict=True)) % 11
    if rest == 10:
        rest = sum(w * d for w, d in zip(_WEIGHTS_2, digits, strict=True)) % 11
        if rest == 10:
            return None  # the decree says such numbers are never assigned
    return rest


def birth_date(iin: str) -> dt.date | None:
    """The birth date an IIN encodes, or None when it is not a real past date."""
    century = _CENTURY.get(iin[6])
    if century is None:
        return None
    try:
        born = dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return None
    return born if born <= dt.date.today() else None


def _date_ok(iin: str, *, allow_unknown_century: bool) -> bool:
    if iin[6] == "0" and allow_unknown_century:
        # No century: the day only has to exist in some year (a leap one, for 29 February).
        try:
            dt.date(2000, int(iin[2:4]), int(iin[4:6]))
        except ValueError:
            return False
        return True
    return birth_date(iin) is not None


def is_valid_iin(iin: str, *, allow_unknown_century: bool = False) -> bool:
    """True for 12 ASCII digits with a real birth date, century digit and check digit."""
    if len(iin) != 12 or not (iin.isascii() and iin.isdigit()):
        return False
    if not _date_ok(iin, allow_unknown_century=allow_unknown_century):
        return False
    return check_digit(iin[:11]) == ord(iin[11]) - 48


class IinDetector(Detector):
    category = Category.IIN

    def check(self, leaf: Leaf) -> Match | None:
        value = leaf.value
        if isinstance(value, bool):
            return None
        if leaf.hints & keys.IIN:
            text = leaf.text.strip()
            if isinstance(value, int) and 0 <= value < 10**12:
                text = text.zfill(12)  # born 2000-2009: a JSON number loses the leading zero
            if is_valid_iin(text, allow_unknown_century=True):
                return Match(text, "Kazakh IIN under an IIN key: birth date and check digit valid")
            return None
        if not isinstance(value, str) or leaf.hints & (keys.NOT_PERSONAL | keys.DIGIT_IDS):
            return None
        if is_valid_iin(value):
            return Match(
                value,
                "12-digit string: Kazakh IIN birth date and check digit valid",
                Confidence.MEDIUM,
            )
        return None

    def check_token(self, token: str) -> Match | None:
        return None  # 12-digit runs in free text are too common (dates, amounts)


DETECTOR = IinDetector()
