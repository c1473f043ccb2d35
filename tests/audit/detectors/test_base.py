from __future__ import annotations

from shekara.audit.detectors import DETECTORS, Detector, Leaf, Match
from shekara.audit.model import Category


class _Upper(Detector):
    category = Category.VIN

    def check(self, leaf: Leaf) -> Match | None:
        return Match(leaf.text.upper(), "test") if leaf.text.isalpha() else None


def test_leaf_text() -> None:
    assert Leaf("abc").text == "abc"
    assert Leaf(123).text == "123"


def test_check_token_defaults_to_check_without_key() -> None:
    detector = _Upper()
    assert detector.check_token("abc") == Match("ABC", "test")
    assert detector.check_token("a1") is None


def test_every_category_has_a_detector() -> None:
    # Remote control is read from the command a decoder recognised, not from a value;
    # undetermined content is a connection whose TLS was not opened, not a value either.
    assert set(DETECTORS) == set(Category) - {
        Category.REMOTE_CONTROL,
        Category.UNDETERMINED_CONTENT,
    }
    assert all(d.category is c for c, d in DETECTORS.items())
