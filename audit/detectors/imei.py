"""IMEI detector: 15 digits that pass Luhn (IMEISV's 16 digits only under an IMEI key)."""

from __future__ import annotations

from stdnum import imei as stdnum_imei
from stdnum import luhn

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence


class ImeiDetector(Detector):
    category = Category.IMEI

    def check(self, leaf: Leaf) -> Match | None:
        value = leaf.value
        if isinstance(value, bool):
            return None
        text = leaf.text.strip()
        if not (text.isascii() and text.isdigit()):
            return None
        keyed = bool(leaf.hints & keys.IMEI)
        if len(text) == 15:
            # A key naming another identifier wins: an IMSI or ICCID can pass Luhn by chance,
            # and so can one order number in ten.
            if not keyed and leaf.hints & (keys.IMSI | keys.ICCID | keys.SIM | keys.ORDER):
                return None
            if not luhn.is_valid(text):
                return None
            if keyed:
                return Match(text, "15-digit IMEI under an IMEI key, Luhn check valid")
            # One random 15-digit number in ten passes Luhn: without the key it is less sure.
            return Match(text, "15-digit number, IMEI Luhn check valid", Confidence.MEDIUM)
        if len(text) == 16 and keyed and stdnum_imei.is_valid(text):
            # IMEISV has no check digit; only the key tells it from any 16-digit number.
            return Match(text, "16-digit IMEISV under an IMEI key", Confidence.MEDIUM)
        return None

    def check_token(self, token: str) -> Match | None:
        if len(token) == 15 and token.isdigit() and luhn.is_valid(token):
            return Match(
                token, "15-digit number in free text, IMEI Luhn check valid", Confidence.MEDIUM
            )
        return None


DETECTOR = ImeiDetector()
