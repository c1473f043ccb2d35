"""MAC address detector: colon, dash or Cisco-dot notation; bare hex only under a MAC key."""

from __future__ import annotations

import re

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence

_SEPARATED = re.compile(r"[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}")
_DOTTED = re.compile(r"[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")
_BARE = re.compile(r"[0-9A-Fa-f]{12}")
# Placeholders firmware sends when it has no address: not anyone's device.
_PLACEHOLDERS = frozenset({"000000000000", "FFFFFFFFFFFF"})


def canonical_mac(hex12: str) -> str | None:
    """``AA:BB:CC:DD:EE:FF`` from 12 hex digits, or None for a placeholder."""
    hex12 = hex12.upper()
    if hex12 in _PLACEHOLDERS:
        return None
    return ":".join(hex12[i : i + 2] for i in range(0, 12, 2))


class MacAddressDetector(Detector):
    category = Category.MAC_ADDRESS

    def check(self, leaf: Leaf) -> Match | None:
        if not isinstance(leaf.value, str):
            return None
        text = leaf.value.strip()
        found = self.check_token(text)
        if found or not leaf.hints & keys.MAC:
            return found
        # Twelve bare hex digits are as often a nonce as a MAC: only the key tells.
        if _BARE.fullmatch(text):
            canonical = canonical_mac(text)
            if canonical:
                return Match(canonical, "12 hex digits under a MAC key", Confidence.MEDIUM)
        return None

    def check_token(self, token: str) -> Match | None:
        if len(token) == 17 and _SEPARATED.fullmatch(token):
            hex12 = token.replace(token[2], "")
        elif len(token) == 14 and _DOTTED.fullmatch(token):
            hex12 = token.replace(".", "")
        else:
            return None
        canonical = canonical_mac(hex12)
        if canonical:
            return Match(canonical, "MAC address notation")
        return None


DETECTOR = MacAddressDetector()
