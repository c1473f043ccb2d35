"""The pydantic schema every ruleset file must satisfy.

A ruleset is a folder: ``ruleset.yaml`` (jurisdiction, legal basis,
categories) and ``rules/*.yaml`` (one rule a file, file name = rule id).
Rules carry their own ``examples`` that the test suite runs, as Sigma and
semgrep rules do, so a rule cannot silently stop meaning what it says.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shekara.audit.model import Category, Verdict

Severity = Literal["info", "low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LegalRef(_Strict):
    law: str
    article: str
    summary: str


class Names(_Strict):
    en: str
    ru: str
    kk: str


class CategoryDef(_Strict):
    id: Category
    data_class: str
    names: Names


class Jurisdiction(_Strict):
    country: str = Field(pattern=r"^[A-Z]{2}$")
    name: str
    law: str
    adequate_countries: list[str] = Field(default_factory=list)

    @field_validator("adequate_countries")
    @classmethod
    def _iso2(cls, v: list[str]) -> list[str]:
        for c in v:
            if len(c) != 2 or not c.isupper():
                raise ValueError(f"{c!r} is not an ISO 3166-1 alpha-2 code")
        return v


class RulesetHeader(_Strict):
    name: str
    version: str
    description: str
    jurisdiction: Jurisdiction
    categories: list[CategoryDef]


class Match(_Strict):
    verdict: Verdict
    categories: list[Category] | Literal["any"] = "any"


class Example(_Strict):
    category: Category
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    private: bool = False


class Examples(_Strict):
    match: list[Example] = Field(min_length=1)
    no_match: list[Example] = Field(min_length=1)


class Rule(_Strict):
    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
    title: str
    severity: Severity
    priority: int = Field(ge=0, le=1000, description="lower is tried first")
    description: str
    legal_refs: list[LegalRef] = Field(default_factory=list)
    match: Match
    examples: Examples
