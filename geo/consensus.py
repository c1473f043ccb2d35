"""The consensus rule: how several sources' answers become one country, or a dispute.

Stated once, here, and in the README:

1. A private address (RFC 1918, loopback, CGNAT, link-local) has no country.
2. Operator overrides outrank databases: they are first-hand, signed by who
   verified them and when. Overrides that agree decide the country with
   high confidence; databases that say otherwise stay in the evidence,
   marked overruled. Overrides that disagree with each other are a dispute.
3. Otherwise every location database votes; a database without a record
   for the IP abstains. If all votes agree, that is the country: with high
   confidence when two or more sources agree, medium when one answered.
   If they disagree, the destination is *disputed*: no country is picked,
   every answer is kept, and the verdict says so.
4. Physics outranks every source: a measured round trip that makes the
   chosen country impossible (light in fibre, ``geo.rtt``) turns the
   decision into a dispute; a round trip merely slow for a nearby claim
   lowers the confidence one step.
5. A CDN or anycast edge (by range, name or ASN) without an override keeps
   the edge's country, but the verdict is ``cdn_edge``: where the data is
   stored is not known from the edge, and storage confidence is low.
6. Nothing answered: no country, low confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from shekara.audit.model import Confidence

RULE = (
    "overrides outrank databases; agreeing databases decide (2+ high, 1 medium); "
    "disagreement is a dispute; a physically impossible round trip is a dispute; "
    "a CDN/anycast edge's country is not the storage country"
)


class Vote(NamedTuple):
    source: str
    build: str
    country: str


class Decision(NamedTuple):
    country: str | None
    confidence: Confidence
    disputed: bool
    outcome: str  # "override", "agreed", "single source", "disputed", "no answer", "private"
    deciding: tuple[Vote, ...]

    def evidence(self) -> dict[str, Any]:
        return {
            "kind": "consensus",
            "outcome": self.outcome,
            "country": self.country,
            "confidence": str(self.confidence),
            "disputed": self.disputed,
            "candidates": sorted({v.country for v in self.deciding}),
            "rule": RULE,
        }


def _lower(c: Confidence) -> Confidence:
    return Confidence.MEDIUM if c is Confidence.HIGH else Confidence.LOW


def decide(
    databases: Sequence[Vote],
    overrides: Sequence[Vote] = (),
    rtt_outcome: str | None = None,
    cdn: bool = False,
    private: bool = False,
) -> Decision:
    """Apply the rule above. ``rtt_outcome`` is that of the check against the chosen country."""
    if private:
        return Decision(None, Confidence.LOW, False, "private", ())
    if overrides:
        votes, outcome = tuple(overrides), "override"
    else:
        votes, outcome = tuple(databases), "agreed"
    countries = {v.country for v in votes}
    if not countries:
        return Decision(None, Confidence.LOW, False, "no answer", ())
    if len(countries) > 1:
        return Decision(None, Confidence.LOW, True, "disputed", votes)
    (country,) = countries
    if outcome == "override" or len({v.source for v in votes}) >= 2:
        confidence = Confidence.HIGH
    else:
        confidence, outcome = Confidence.MEDIUM, "single source"
    if rtt_outcome == "implausible":
        return Decision(None, Confidence.LOW, True, "disputed", votes)
    if rtt_outcome == "slow":
        confidence = _lower(confidence)
    if cdn and outcome != "override":
        confidence = Confidence.LOW
    return Decision(country, confidence, False, outcome, votes)
