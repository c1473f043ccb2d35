"""The filters every finding listing takes, as one dependency, and their SQL.

Listings, exports, destinations and aggregates all accept the same query
parameters, so an official who narrowed a table can export or chart exactly
what is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Query
from sqlalchemy import ColumnElement, func, or_, select

from shekara.api.deps import SettingsDep
from shekara.audit.model import Category, Verdict
from shekara.audit.redact import Redactor
from shekara.evidence import schema
from shekara.proxy.keys import KeyFileError, load_or_create_key

Severity = Literal["info", "low", "medium", "high", "critical"]
MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """What an official narrowed a listing of findings to; None means any."""

    category: Category | None = None
    country: str | None = None
    host: str | None = None
    org: str | None = None
    vendor: str | None = None
    model: str | None = None
    sessions: tuple[int, ...] = ()
    vin_hash: str | None = None
    rule: str | None = None
    severity: str | None = None
    verdict: Verdict | None = None
    violation: bool | None = None
    since: float | None = None
    until: float | None = None
    # Confidence of the geolocation the findings were judged on (``findings.geo_confidence``).
    geo_confidence: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """SQL conditions on ``findings`` (vehicle filters as sub-queries on runs)."""
        f = schema.findings.c
        out: list[ColumnElement[bool]] = []
        if self.category is not None:
            out.append(f.category == str(self.category))
        if self.country is not None:
            out.append(f.country == self.country.upper())
        if self.host is not None:
            out.append(f.host == self.host.lower())
        if self.org is not None:
            out.append(f.org == self.org)
        # ``session`` and its older name ``run_id`` both apply when both are given.
        out.extend(f.run_id == s for s in self.sessions)
        if self.rule is not None:
            out.append(f.rule_id == self.rule)
        if self.severity is not None:
            out.append(f.severity == self.severity)
        if self.verdict is not None:
            out.append(f.verdict == str(self.verdict))
        if self.violation is not None:
            # '=' rather than 'IS' so the (…, violation, id) indexes serve it.
            out.append(f.violation == self.violation)
        if self.since is not None:
            out.append(f.observed_at >= self.since)
        if self.until is not None:
            out.append(f.observed_at < self.until)
        if self.geo_confidence is not None:
            out.append(f.geo_confidence == self.geo_confidence)
        vehicle = vehicle_clauses(self.vendor, self.model, None)
        if vehicle:
            out.append(f.run_id.in_(_runs_of_vehicles(vehicle)))
        if self.vin_hash is not None:
            # The vehicle's sessions, and the VIN itself wherever it was seen.
            out.append(
                or_(
                    f.run_id.in_(_runs_of_vehicles([schema.vehicles.c.vin_hash == self.vin_hash])),
                    (f.value_hash == self.vin_hash) & (f.category == str(Category.VIN)),
                )
            )
        return out


def _runs_of_vehicles(conditions: list[ColumnElement[bool]]):  # type: ignore[no-untyped-def]
    r, v = schema.runs.c, schema.vehicles.c
    return (
        select(r.id)
        .select_from(schema.runs.join(schema.vehicles, r.vehicle_id == v.id))
        .where(*conditions)
    )


def vehicle_clauses(
    vendor: str | None, model: str | None, vin_hash: str | None
) -> list[ColumnElement[bool]]:
    """Conditions on ``vehicles``: make and model compared without case."""
    v = schema.vehicles.c
    out: list[ColumnElement[bool]] = []
    if vendor is not None:
        out.append(func.lower(v.make) == vendor.lower())
    if model is not None:
        out.append(func.lower(v.model) == model.lower())
    if vin_hash is not None:
        out.append(v.vin_hash == vin_hash)
    return out


def epoch(value: datetime | None) -> float | None:
    """Seconds since the epoch; a time without a zone is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def canonical_vin(vin: str) -> str:
    return vin.strip().upper()


def vin_hash(settings_key_file: object, vin: str) -> str:
    """The keyed hash under which the proxy stored this VIN (or a vehicle registered it)."""
    try:
        key = load_or_create_key(settings_key_file)  # type: ignore[arg-type]
    except (KeyFileError, OSError) as exc:
        raise HTTPException(
            status_code=503, detail="the installation's hashing key is unusable"
        ) from exc
    return Redactor(key).value_hash(Category.VIN, canonical_vin(vin))


Country = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166-1 alpha-2 of the destination",
        examples=["CN"],
    ),
]
Text = Annotated[
    str | None, Query(min_length=1, max_length=253, examples=["tsp.example-cn-oem.cn"])
]
Vin = Annotated[
    str | None,
    Query(
        min_length=11,
        max_length=40,
        pattern=r"^\s*[A-Za-z0-9]{11,17}\s*$",
        description="a VIN: compared by its keyed hash, never stored or logged",
        examples=["LVTDB21B5ND000017"],
    ),
]
Session = Annotated[int | None, Query(ge=1, le=MAX_ID, description="session (run) id")]
When = Annotated[
    datetime | None,
    Query(description="ISO 8601; UTC when no zone is given", examples=["2026-11-01T00:00:00Z"]),
]


def _common(
    settings: SettingsDep,
    category: Annotated[Category | None, Query(description="category id", examples=["vin"])] = None,
    country: Country = None,
    host: Text = None,
    org: Annotated[
        str | None, Query(min_length=1, max_length=300, description="destination's network org")
    ] = None,
    vendor: Annotated[
        str | None, Query(min_length=1, max_length=100, description="vehicle make")
    ] = None,
    model: Annotated[
        str | None, Query(min_length=1, max_length=100, description="vehicle model")
    ] = None,
    session: Session = None,
    run_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="older name of `session`")
    ] = None,
    vin: Vin = None,
    rule: Annotated[str | None, Query(min_length=1, max_length=200, description="rule id")] = None,
    severity: Annotated[Severity | None, Query()] = None,
    verdict: Annotated[Verdict | None, Query()] = None,
    since: When = None,
    until: When = None,
) -> FindingFilter:
    return FindingFilter(
        category=category,
        country=country,
        host=host,
        org=org,
        vendor=vendor,
        model=model,
        sessions=tuple(dict.fromkeys(s for s in (session, run_id) if s is not None)),
        vin_hash=vin_hash(settings.hashing_key_file, vin) if vin is not None else None,
        rule=rule,
        severity=severity,
        verdict=verdict,
        since=epoch(since),
        until=epoch(until),
    )


def finding_filters(
    common: Annotated[FindingFilter, Depends(_common)],
    violation: Annotated[
        bool | None, Query(description="only cross-border transfers observed (true) or not")
    ] = None,
) -> FindingFilter:
    return replace(common, violation=violation)


def violation_filters(common: Annotated[FindingFilter, Depends(_common)]) -> FindingFilter:
    return replace(common, violation=True)


FindingFilterDep = Annotated[FindingFilter, Depends(finding_filters)]
ViolationFilterDep = Annotated[FindingFilter, Depends(violation_filters)]
