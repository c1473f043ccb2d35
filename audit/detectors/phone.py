"""Phone number detector: libphonenumber validity, international form or a phone-ish key."""

from __future__ import annotations

import re

import phonenumbers

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category

#: Numbers written without a country code are read as Kazakh first.
DEFAULT_REGION = "KZ"

_INTERNATIONAL = re.compile(r"\+[0-9][0-9 ()./-]{5,24}")
_SEPARATORS = re.compile(r"[ ()./-]")
# Epoch milliseconds from 2001 to 2049 are 13 digits starting 1 or 2; under a
# "phone" key they are still a timestamp (e.g. "phone_seen_at" abbreviated).
_EPOCH_MS = (10**12, 25 * 10**11)
# Chinese mobile numbers (11 digits, 1[3-9]…) are what JT/T 808 terminals and
# Chinese apps send without a country code; Kazakh numbers never take this form.
_CN_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def e164(text: str, region: str | None) -> str | None:
    """The E.164 form of a valid number, or None when libphonenumber rejects it."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PhoneDetector(Detector):
    category = Category.PHONE

    def check(self, leaf: Leaf) -> Match | None:
        if isinstance(leaf.value, bool):
            return None
        text = leaf.text.strip()
        if text.startswith("+"):
            return self.check_token(text)
        if not leaf.hints & keys.PHONE:
            return None
        digits = _SEPARATORS.sub("", text)
        if not (digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15):
            return None
        if len(digits) == 13 and _EPOCH_MS[0] <= int(digits) < _EPOCH_MS[1]:
            return None
        if _CN_MOBILE.fullmatch(digits):
            canonical = e164(digits, "CN")
            if canonical:
                return Match(canonical, "valid Chinese mobile number under a phone key")
        canonical = e164(digits, DEFAULT_REGION)
        if canonical:
            return Match(canonical, f"valid phone number under a phone key ({DEFAULT_REGION})")
        # A car app may send the country code without the plus: "77011234567", "8613800138000".
        canonical = e164("+" + digits, None)
        if canonical:
            return Match(canonical, "valid international phone number under a phone key, no '+'")
        return None

    def check_token(self, token: str) -> Match | None:
        if not _INTERNATIONAL.fullmatch(token):
            return None
        canonical = e164(token, None)
        if canonical:
            return Match(canonical, "valid international phone number")
        return None


DETECTOR = PhoneDetector()
