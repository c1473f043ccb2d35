"""VIN detector: 17 characters of the ISO 3779 alphabet, trusted on the check digit or the key."""

from __future__ import annotations

import re

from vininfo import Vin

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence

# ISO 3779 excludes I, O and Q so they cannot be mistaken for 1 and 0.
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")


def has_check_digit(vin: str) -> bool:
    """True when position 9 holds the ISO 3779 / FMVSS 115 check digit for the rest."""
    try:
        return bool(Vin(vin).verify_checksum())
    except Exception:  # vininfo raises its own ValidationError and others on odd input
        return False


class VinDetector(Detector):
    category = Category.VIN

    def check(self, leaf: Leaf) -> Match | None:
        if not isinstance(leaf.value, str) or len(leaf.value) != 17:
            return None
        keyed = bool(leaf.hints & keys.VIN)
        text = leaf.value
        if keyed:
            text = text.upper()
        # Without the key, a real VIN is written in upper case and carries a letter;
        # 17 digits are an id, and lower case is a token or nonce.
        if not _VIN.fullmatch(text) or text.isdigit():
            return None
        if has_check_digit(text):
            return Match(text, "ISO 3779 VIN, check digit valid")
        if keyed:
            # Many European VINs carry no check digit (position 9 is a filler),
            # so the key name is the second piece of evidence.
            return Match(
                text, "ISO 3779 VIN syntax under a VIN key, no check digit", Confidence.MEDIUM
            )
        return None

    def check_token(self, token: str) -> Match | None:
        if _VIN.fullmatch(token) and not token.isdigit() and has_check_digit(token):
            return Match(token, "ISO 3779 VIN in free text, check digit valid")
        return None


DETECTOR = VinDetector()
