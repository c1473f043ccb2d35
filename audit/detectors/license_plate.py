"""Licence plate detector: KZ, RU and CN formats under a plate key; CN plates anywhere.

A Chinese plate opens with a province character, which no other string in
telemetry does, so it is the one format trusted without a key.
"""

from __future__ import annotations

import re

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence

#: Province abbreviations that open a mainland Chinese plate.
CN_PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")

_SEPARATORS = re.compile(r"[\s·•.\-]+")
# CN: province, issuing-office letter (no I/O), then 5 characters, or 6 for new-energy cars;
# trailer / coach / police plates end in a character instead of the last alphanumeric.
_CN = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
    r"[A-HJ-NP-Z](?:[A-HJ-NP-Z0-9]{5,6}|[A-HJ-NP-Z0-9]{4}[挂学警港澳])"
)
# KZ since 2012: 3 digits, 2-3 letters, region 01-20 ("123ABC02"); 1993 series: "A123BCD".
_KZ = re.compile(r"\d{3}[A-Z]{2,3}(?:0[1-9]|1\d|20)|[A-Z]\d{3}[A-Z]{2,3}")
# RU GOST R 50577: letter, 3 digits, 2 letters, region of 2-3 digits; the 12 letters that
# look alike in Cyrillic and Latin, in either script.
_RU_LETTER = "АВЕКМНОРСТУХABEKMHOPCTYX"  # noqa: RUF001 (Cyrillic on purpose)
_RU = re.compile(rf"[{_RU_LETTER}]\d{{3}}[{_RU_LETTER}]{{2}}\d{{2,3}}")
# Any other country, only under a plate key: 4-10 letters and digits with at least one of each.
_GENERIC = re.compile(r"(?=.*\d)(?=.*[A-ZА-ЯЁ])[A-ZА-ЯЁ0-9]{4,10}")  # noqa: RUF001

_MAX_LEN = 16


def compact(text: str) -> str:
    """Upper case without spaces, dashes or the middle dot of CN plates."""
    return _SEPARATORS.sub("", text).upper()


class LicensePlateDetector(Detector):
    category = Category.LICENSE_PLATE

    def check(self, leaf: Leaf) -> Match | None:
        if not isinstance(leaf.value, str) or not 4 <= len(leaf.value) <= _MAX_LEN:
            return None
        if not leaf.hints & keys.PLATE:
            return self.check_token(leaf.value)
        plate = compact(leaf.value)
        if _CN.fullmatch(plate):
            return Match(plate, "Chinese licence plate format under a plate key")
        if _KZ.fullmatch(plate):
            return Match(plate, "Kazakh licence plate format under a plate key")
        if _RU.fullmatch(plate):
            return Match(plate, "Russian licence plate format under a plate key")
        if _GENERIC.fullmatch(plate):
            return Match(
                plate, "plate-like letters and digits under a plate key", Confidence.MEDIUM
            )
        return None

    def check_token(self, token: str) -> Match | None:
        if not token or token[0] not in CN_PROVINCES or len(token) > _MAX_LEN:
            return None
        plate = compact(token)
        if _CN.fullmatch(plate):
            return Match(plate, "Chinese licence plate format (province prefix)")
        return None


DETECTOR = LicensePlateDetector()
