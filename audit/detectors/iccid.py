"""ICCID detector: SIM serial numbers, 19-20 digits from the telecom issuer prefix 89."""

from __future__ import annotations

from stdnum import luhn

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence


def _digits(text: str) -> str | None:
    """The ICCID digits, without the trailing F some SIM dumps pad with, or None."""
    if text[-1:] in ("F", "f"):
        text = text[:-1]
    if text.isascii() and text.isdigit():
        return text
    return None


class IccidDetector(Detector):
    category = Category.ICCID

    def check(self, leaf: Leaf) -> Match | None:
        if isinstance(leaf.value, bool):
            return None
        digits = _digits(leaf.text.strip())
        if digits is None:
            return None
        keyed = bool(leaf.hints & (keys.ICCID | keys.SIM))
        if 19 <= len(digits) <= 20 and digits.startswith("89"):
            if luhn.is_valid(digits):
                return Match(digits, "ICCID: issuer prefix 89, Luhn check valid")
            if keyed:
                # Many Chinese ICCIDs (8986...) end in a digit that is not a Luhn check
                # digit, so under an ICCID/SIM key the prefix and length suffice.
                return Match(
                    digits,
                    "ICCID under an ICCID/SIM key, prefix 89, no Luhn check digit",
                    Confidence.MEDIUM,
                )
            return None
        if keyed and 18 <= len(digits) <= 22 and luhn.is_valid(digits):
            return Match(digits, "ICCID under an ICCID/SIM key, Luhn check valid")
        return None

    def check_token(self, token: str) -> Match | None:
        digits = _digits(token)
        if digits and 19 <= len(digits) <= 20 and digits.startswith("89") and luhn.is_valid(digits):
            return Match(digits, "ICCID in free text: issuer prefix 89, Luhn check valid")
        return None


DETECTOR = IccidDetector()
