"""Public response schemas: what officials see, never a plain personal value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from shekara.audit.model import Category, Confidence, Destination, Verdict
from shekara.evidence.connections import Coverage
from shekara.evidence.rows import StoredFinding


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class DestinationPublic(BaseModel):
    """Where the data went and which geolocation source said so."""

    model_config = ConfigDict(frozen=True)

    host: str | None
    ip: str | None
    port: int | None
    sni: str | None
    country: str | None = Field(description="ISO 3166-1 alpha-2, or null when unknown")
    city: str | None
    asn: int | None
    org: str | None
    geo_source: str | None
    geo_build: str | None
    confidence: Confidence
    private: bool

    @classmethod
    def from_destination(cls, dest: Destination) -> Self:
        return cls(
            host=dest.host,
            ip=dest.ip,
            port=dest.port,
            sni=dest.sni,
            country=dest.country,
            city=dest.city,
            asn=dest.asn,
            org=dest.org,
            geo_source=dest.geo_source,
            geo_build=dest.geo_build,
            confidence=dest.confidence,
            private=dest.private,
        )


class FindingPublic(BaseModel):
    """One stored finding: masked preview and keyed hash only, with its destination and rule."""

    model_config = ConfigDict(frozen=True)

    id: int
    run_id: int
    flow_id: str
    category: Category
    field: str = Field(description="locator of the value, e.g. request.body:$.vehicle.vin")
    source: str
    preview: str = Field(description="masked value, never the plain one")
    value_hash: str = Field(description="keyed hash of the canonical value")
    destination: DestinationPublic
    verdict: Verdict
    violation: bool
    rule_id: str
    severity: str
    detector: str
    confidence: Confidence
    observed_at: datetime
    recorded_at: datetime
    legal_refs: list[str]

    @classmethod
    def from_stored(cls, stored: StoredFinding) -> Self:
        f = stored.finding
        return cls(
            id=stored.id,
            run_id=stored.run_id,
            flow_id=f.flow_id,
            category=f.category,
            field=f.field,
            source=f.source,
            preview=f.preview,
            value_hash=f.value_hash,
            destination=DestinationPublic.from_destination(f.destination),
            verdict=f.verdict,
            violation=f.violation,
            rule_id=f.rule_id,
            severity=f.severity,
            detector=f.detector,
            confidence=f.confidence,
            observed_at=_utc(f.observed_at),
            recorded_at=_utc(f.recorded_at),
            legal_refs=list(f.legal_refs),
        )


class Page[T](BaseModel):
    """One page of a listing: ``count`` matches in all, ``next`` continues (null on the last)."""

    data: list[T]
    count: int
    next: str | None


class StationStatus(BaseModel):
    """What the audit station's proxy last reported: store reachability and its spool.

    Counts and states only; ``store_error`` is the first line of the database
    driver's error (no SQL, no values).
    """

    state: str
    store: str
    store_error: str | None = None
    store_down_since: datetime | None = None
    spool_records: int = 0
    spool_bytes: int = 0
    spool_max_bytes: int = 0
    spool_full: bool = False
    spool_error: str | None = None
    unacknowledged_findings: int = 0
    dropped_findings: int = 0
    rejected_records: int = 0
    updated_at: datetime
    problems: list[str] = Field(default_factory=list)


class HealthPublic(BaseModel):
    """Liveness of the API, reachability of its store and, if known, the station's state.

    ``status`` is ``ok``, ``degraded`` (the station's store is down or its
    spool full or failing, or the station stopped reporting) or ``error``.
    """

    status: str
    db: str
    station: StationStatus | None = None


class HostCoveragePublic(BaseModel):
    """Bytes to one host, and the share of them whose content was read."""

    model_config = ConfigDict(frozen=True)

    host: str | None
    bytes_total: int
    bytes_read: int
    share_read: float | None = Field(description="null when no byte was seen")
    connections: int
    undetermined_connections: int

    @classmethod
    def from_coverage(cls, c: Coverage) -> Self:
        return cls(
            host=c.host,
            bytes_total=c.bytes_total,
            bytes_read=c.bytes_read,
            share_read=c.share_read,
            connections=c.connections,
            undetermined_connections=c.undetermined_connections,
        )


class MarkerPublic(BaseModel):
    """What the engineer did, when."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    label: str

    @classmethod
    def at_epoch(cls, at: float, label: str) -> Self:
        return cls(at=_utc(at), label=label)


class SessionCoveragePublic(BaseModel):
    """The three coverage figures of a session, with its markers."""

    model_config = ConfigDict(frozen=True)

    run_id: int
    bytes_total: int
    bytes_read: int
    share_read: float | None = Field(
        description="share of bytes whose content was read (decrypted or clear); the rest "
        "is of undetermined content; null when no byte was seen"
    )
    connections: int
    undetermined_connections: int
    share_attributed_high: float | None = Field(
        description="share of connections whose destination was attributed with high confidence"
    )
    hosts: list[HostCoveragePublic]
    markers: list[MarkerPublic]
    not_observed: list[str] = Field(description="paths this kind of session cannot see")
