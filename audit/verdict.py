"""Judges a personal-data hit against its destination under a ruleset.

Words matter here: a foreign destination makes the hit a *cross-border
transfer observed* (Art. 16); it is flagged ``violation`` because officials
query it so, while the rule text says what it does and does not prove.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from shekara.audit.model import Category, Destination, Finding, Hit, Note, Verdict
from shekara.audit.redact import Redactor, mask_known
from shekara.rulesets.loader import Ruleset
from shekara.rulesets.schema import Rule


class NoRuleError(LookupError):
    """The ruleset has no rule for a verdict: a ruleset bug, reported at load."""


class Judge:
    def __init__(self, ruleset: Ruleset, redactor: Redactor) -> None:
        self.ruleset = ruleset
        self.redactor = redactor
        j = ruleset.header.jurisdiction
        self.home = j.country
        self.adequate = frozenset(j.adequate_countries)
        self._rules: dict[tuple[Verdict, Category], Rule] = {}
        self._refs: dict[str, tuple[str, ...]] = {}
        for verdict in Verdict:
            for category in Category:
                rule = self._first_rule(verdict, category)
                if rule is None:
                    raise NoRuleError(
                        f"ruleset {ruleset.label} has no rule for {category} with verdict {verdict}"
                    )
                self._rules[verdict, category] = rule

    def _first_rule(self, verdict: Verdict, category: Category) -> Rule | None:
        for rule in self.ruleset.rules:
            cats = rule.match.categories
            if rule.match.verdict == verdict and (cats == "any" or category in cats):
                return rule
        return None

    def verdict(self, dest: Destination | None) -> Verdict:
        """The destination's verdict; a dispute or a CDN edge is never resolved silently."""
        if dest is None or dest.private:
            return Verdict.UNKNOWN
        if dest.disputed:
            return Verdict.DISPUTED
        if dest.cdn:
            return Verdict.CDN_EDGE
        if not dest.country:
            return Verdict.UNKNOWN
        return Verdict.DOMESTIC if dest.country == self.home else Verdict.CROSS_BORDER

    def rule(self, category: Category, verdict: Verdict) -> Rule:
        return self._rules[verdict, category]

    def is_violation(self, verdict: Verdict, dest: Destination | None) -> bool:
        return (
            verdict is Verdict.CROSS_BORDER
            and dest is not None
            and dest.country not in self.adequate
        )

    def judge(
        self,
        hit: Hit,
        dest: Destination | None,
        flow_id: str,
        observed_at: float,
        recorded_at: float,
        *,
        redacted: tuple[str, str] | None = None,
        secrets: dict[str, str] | None = None,
    ) -> Finding:
        """One hit's finding; ``secrets`` are masked wherever they appear in its locator."""
        verdict = self.verdict(dest)
        rule = self.rule(hit.category, verdict)
        preview, value_hash = redacted or self.redactor.redact(hit)
        field, source = hit.field.locator, hit.field.source
        if secrets:
            field, source = mask_known(field, secrets), mask_known(source, secrets)
        return Finding(
            flow_id=flow_id,
            category=hit.category,
            field=field,
            source=source,
            preview=preview,
            value_hash=value_hash,
            destination=dest or Destination(host=None, ip=None, port=None),
            verdict=verdict,
            violation=self.is_violation(verdict, dest),
            rule_id=rule.id,
            severity=rule.severity,
            detector=hit.evidence,
            confidence=hit.confidence,
            observed_at=observed_at,
            recorded_at=recorded_at,
            legal_refs=self._legal_refs(rule),
        )

    def _legal_refs(self, rule: Rule) -> tuple[str, ...]:
        refs = self._refs.get(rule.id)
        if refs is None:
            refs = self._refs[rule.id] = tuple(f"{r.law} Art. {r.article}" for r in rule.legal_refs)
        return refs

    def judge_all(
        self,
        hits: Sequence[Hit],
        dest: Destination | None,
        flow_id: str,
        observed_at: float,
        recorded_at: float,
        notes: Sequence[Note] = (),
    ) -> tuple[list[Finding], list[Note]]:
        """Findings for one event's hits, one per (locator, category), and its notes.

        A locator can itself carry a detected value (an MQTT topic
        ``vehicle/<VIN>/telemetry``): every detected value is masked wherever
        it appears in a locator or a note's source, so that the evidence
        never repeats what it hides.
        """
        secrets: dict[str, str] = {}
        redacted = [self.redactor.redact(hit) for hit in hits]
        for hit, (preview, _) in zip(hits, redacted, strict=True):
            for raw in (hit.canonical, hit.field.value):
                if isinstance(raw, str) and len(raw) >= 6:
                    secrets[raw] = preview
        findings: list[Finding] = []
        seen: set[tuple[str, Category]] = set()
        for hit, red in zip(hits, redacted, strict=True):
            key = (hit.field.locator, hit.category)
            if key in seen:
                continue
            seen.add(key)
            findings.append(
                self.judge(
                    hit, dest, flow_id, observed_at, recorded_at, redacted=red, secrets=secrets
                )
            )
        masked_notes = [
            dataclasses.replace(n, source=mask_known(n.source, secrets)) if secrets else n
            for n in notes
        ]
        return findings, masked_notes
