"""``/rules`` and ``/categories``: what the loaded ruleset judges, and why (legal references)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from shekara.api.auth import AUTH_RESPONSES, READ, require
from shekara.api.filters import Severity
from shekara.api.schemas import CategoryNames, CategoryPublic, LegalRefPublic, Page, RulePublic
from shekara.audit.model import Category, Verdict
from shekara.rulesets.loader import Ruleset, load_ruleset
from shekara.rulesets.schema import Rule

router = APIRouter(
    tags=["rules"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)


def get_ruleset(request: Request) -> Ruleset:
    """The ruleset named by the settings, loaded once per app."""
    ruleset: Ruleset | None = getattr(request.app.state, "ruleset", None)
    if ruleset is None:
        ruleset = load_ruleset(request.app.state.settings.ruleset)
        request.app.state.ruleset = ruleset
    return ruleset


RulesetDep = Annotated[Ruleset, Depends(get_ruleset)]


def _public(rule: Rule) -> RulePublic:
    categories = rule.match.categories
    return RulePublic(
        id=rule.id,
        title=rule.title,
        severity=rule.severity,
        priority=rule.priority,
        description=rule.description.strip(),
        legal_refs=[LegalRefPublic(**ref.model_dump()) for ref in rule.legal_refs],
        verdict=rule.match.verdict,
        categories=categories if isinstance(categories, str) else list(categories),
    )


@router.get("/rules", response_model=Page[RulePublic])
def list_rules(
    ruleset: RulesetDep,
    severity: Annotated[Severity | None, Query()] = None,
    verdict: Annotated[Verdict | None, Query()] = None,
    category: Annotated[Category | None, Query(description="rules that can match it")] = None,
) -> Page[RulePublic]:
    """The ruleset's rules in the order they are tried (all on one page)."""
    rules = [
        r
        for r in ruleset.rules
        if (severity is None or r.severity == severity)
        and (verdict is None or r.match.verdict == verdict)
        and (category is None or r.match.categories == "any" or category in r.match.categories)
    ]
    return Page[RulePublic](data=[_public(r) for r in rules], count=len(rules), next=None)


@router.get("/rules/{rule_id}", response_model=RulePublic, responses={404: {}})
def get_rule(
    ruleset: RulesetDep, rule_id: Annotated[str, Path(min_length=1, max_length=200)]
) -> RulePublic:
    for rule in ruleset.rules:
        if rule.id == rule_id:
            return _public(rule)
    raise HTTPException(status_code=404, detail="no such rule")


@router.get("/categories", response_model=Page[CategoryPublic])
def list_categories(
    ruleset: RulesetDep,
    data_class: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Page[CategoryPublic]:
    """Personal-data categories with their names in English, Russian and Kazakh."""
    cats = [
        CategoryPublic(
            id=c.id, data_class=c.data_class, names=CategoryNames(**c.names.model_dump())
        )
        for c in ruleset.header.categories
        if data_class is None or c.data_class == data_class
    ]
    return Page[CategoryPublic](data=cats, count=len(cats), next=None)
