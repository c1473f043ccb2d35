"""Shared state of the replay tests: their SHEKARA_HOME and the in-process command result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: One SHEKARA_HOME (so one hashing key) for a test module's replays: value hashes compare.
HOME: dict[str, Path] = {}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
