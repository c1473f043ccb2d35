"""The small contract every category detector follows, so the scanner can treat them alike."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from shekara.audit.model import Category, Confidence


@dataclass(frozen=True, slots=True)
class Leaf:
    """One scalar value with the key evidence around it.

    ``hints`` are the bits of :mod:`keys` for the value's own key (for a list
    element, the list's key); ``parent_hints`` those of the key that holds the
    enclosing dict (``driver`` in ``{"driver": {"name": ...}}``).
    """

    value: str | int
    key: str | None = None
    hints: int = 0
    parent_hints: int = 0

    @property
    def text(self) -> str:
        return self.value if isinstance(self.value, str) else str(self.value)


@dataclass(frozen=True, slots=True)
class Match:
    """What a detector concluded about a value; the scanner turns it into a Hit."""

    canonical: str
    evidence: str
    confidence: Confidence = Confidence.HIGH


class Detector(abc.ABC):
    """One category, validated from the value, with key names as supporting evidence.

    ``check`` looks at a whole value with its key evidence; ``check_token``
    looks at a candidate cut out of free text, where there is no key, so only
    self-validating forms (check digits, ``+`` prefixes, syntax) may pass.
    Neither may raise on any input: bad input is simply no match.
    """

    category: ClassVar[Category]

    @abc.abstractmethod
    def check(self, leaf: Leaf) -> Match | None:
        """A Match when the value is personal data of this category, else None."""

    def check_token(self, token: str) -> Match | None:
        """A Match for a candidate found inside free text (no key evidence)."""
        return self.check(Leaf(token))
