"""IMSI detector: a valid MCC/MNC and length, and always key evidence.

Any 15 random digits starting with a real MCC look like an IMSI, so the value
alone is never enough: the key must say IMSI, or say SIM/subscriber for a
value under Kazakhstan's MCC 401.
"""

from __future__ import annotations

from stdnum import imsi as stdnum_imsi

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category

_KZ_MCC = "401"


class ImsiDetector(Detector):
    category = Category.IMSI

    def check(self, leaf: Leaf) -> Match | None:
        if isinstance(leaf.value, bool):
            return None
        text = leaf.text.strip()
        if not (text.isascii() and text.isdigit() and 14 <= len(text) <= 15):
            return None
        if leaf.hints & keys.IMSI:
            evidence = "IMSI under an IMSI key, MCC/MNC valid"
        elif leaf.hints & keys.SIM and text.startswith(_KZ_MCC):
            evidence = "IMSI with Kazakh MCC 401 under a SIM/subscriber key"
        else:
            return None
        # stdnum looks the MCC/MNC up in its operator table (costly), so it runs last.
        if not stdnum_imsi.is_valid(text):
            return None
        return Match(text, evidence)

    def check_token(self, token: str) -> Match | None:
        return None  # never without key evidence


DETECTOR = ImsiDetector()
