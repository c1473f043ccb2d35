"""Personal-data detectors: one module per category, run over a Document by ``detect``."""

from __future__ import annotations

from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.detectors.scan import DETECTORS, detect, root_path

__all__ = ["DETECTORS", "Detector", "Leaf", "Match", "detect", "root_path"]
