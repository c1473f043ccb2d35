"""The pydantic schema every ruleset file must satisfy.

A ruleset is a folder: ``ruleset.yaml`` (jurisdiction, legal basis,
categories) and ``rules/*.yaml`` (one rule a file, file name = rule id).
Rules carry their own ``examples`` that the test suite runs, as Sigma and
semgrep rules do, so a rule cannot silently stop meaning what it says.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    disputed: bool = False
    cdn: str | None = None


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


class OverrideExample(_Strict):
    """A destination the override must (or must not) cover: by IP, by name, or both."""

    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    host: str | None = None

    @model_validator(mode="after")
    def _something(self) -> OverrideExample:
        if self.ip is None and self.host is None:
            raise ValueError("an example needs an ip or a host")
        return self


class OverrideExamples(_Strict):
    match: list[OverrideExample] = Field(min_length=1)
    no_match: list[OverrideExample] = Field(min_length=1)


class Override(_Strict):
    """Ranges or host names an operator verified to be hosted in one country.

    An override outranks every database (it is first-hand knowledge: a
    contract, a site visit, the provider's written answer), so it must say
    who verified it, when, and how; databases that disagree are still
    recorded next to it. ``hosts`` entries cover the name and every name
    under it; ``*.example.kz`` covers only the names under it.
    """

    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
    title: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    verified_by: str = Field(min_length=1)
    verified_on: dt.date
    how: str = Field(min_length=1, description="how it was verified: contract, visit, letter")
    expires_on: dt.date | None = None
    examples: OverrideExamples

    @model_validator(mode="after")
    def _covers_something(self) -> Override:
        if not self.networks and not self.hosts:
            raise ValueError("an override needs networks or hosts")
        if self.expires_on is not None and self.expires_on < self.verified_on:
            raise ValueError("expires_on is before verified_on")
        return self
