"""Biometric detector: face images, voiceprints and driver-monitoring frames.

The bytes of a face photo and of a dashboard photo look alike; what makes media
biometric here is the name it travels under (field, file name or enclosing
key: face, selfie, voiceprint, driver_monitor, dms, fatigue, drowsiness, iris,
fingerprint). The media itself is validated as in :mod:`cabin_media`, which
fires for the same media when no such name is present.
"""

from __future__ import annotations

from shekara.audit.detectors import cabin_media, keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence


class BiometricDetector(Detector):
    category = Category.BIOMETRIC

    def check(self, leaf: Leaf) -> Match | None:
        if not (leaf.hints | leaf.parent_hints) & keys.BIOMETRIC:
            return None
        return cabin_media.string_match(leaf, Confidence.HIGH)

    def check_token(self, token: str) -> Match | None:
        return None


DETECTOR = BiometricDetector()
