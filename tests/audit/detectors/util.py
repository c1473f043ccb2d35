"""Helpers shared by the detector tests: run detect() on a tree and keep one category."""

from __future__ import annotations

from typing import Any

from shekara.audit.detectors import detect
from shekara.audit.model import Category, Document, Hit


def hits(tree: Any, category: Category, source: str = "request.body") -> list[Hit]:
    """The hits of one category that detect() finds in a tree."""
    return [h for h in detect(Document(source, tree)) if h.category is category]


def found(tree: Any, category: Category) -> list[tuple[str, str]]:
    """(locator, canonical) of each hit of one category, sorted."""
    return sorted((h.field.locator, h.canonical) for h in hits(tree, category))
