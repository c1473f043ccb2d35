"""Public response schemas: what officials see, never a plain personal value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self

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

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 87,
                    "run_id": 1,
                    "flow_id": "49a73140-8707-5068-8791-f7d2a5868ee5",
                    "category": "vin",
                    "field": "request.body:$.vin",
                    "source": "request.body",
                    "preview": "LGX************05",
                    "value_hash": "b2d65cdd689e58c04333602cd7a8c6ed"
                    "df56f06f835213cf398c680f88bebe78",
                    "destination": {
                        "host": "tsp.example-cn-oem.cn",
                        "ip": "223.5.5.5",
                        "port": 443,
                        "sni": "tsp.example-cn-oem.cn",
                        "country": "CN",
                        "city": "Hangzhou",
                        "asn": None,
                        "org": None,
                        "geo_source": "GeoLite2-City (embedded)",
                        "geo_build": "2019-12-24",
                        "confidence": "medium",
                        "private": False,
                    },
                    "verdict": "cross_border",
                    "violation": True,
                    "rule_id": "KZ-XB-001",
                    "severity": "high",
                    "detector": "vin: ISO 3779 VIN, check digit valid",
                    "confidence": "high",
                    "observed_at": "2024-12-01T08:00:47Z",
                    "recorded_at": "2024-12-01T08:00:47Z",
                    "legal_refs": ["94-V Art. 16", "94-V Art. 12(2)"],
                }
            ]
        },
    )

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
    """One page of a listing: ``count`` matches in all, ``next`` continues (null on the last).

    Counting a million matches costs more than the page: past a bound the
    count stops, and ``count_exact`` is false (``count`` is then that bound,
    a lower limit; ``exact_count=true`` asks for the full count).
    """

    data: list[T]
    count: int
    count_exact: bool = True
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
    unacknowledged_connections: int = 0
    dropped_connections: int = 0
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


def _utc_or_none(epoch: float | None) -> datetime | None:
    return _utc(epoch) if epoch is not None else None


class VehicleRef(BaseModel):
    """The vehicle a session tested: its VIN only masked."""

    id: int
    vin_preview: str
    make: str | None
    model: str | None


class VehiclePublic(VehicleRef):
    created_at: datetime
    sessions: list[int] = Field(description="ids of the sessions that tested this vehicle")


class VehicleCreate(BaseModel):
    """A vehicle under test; the VIN is kept only as a keyed hash and a masked preview."""

    model_config = ConfigDict(extra="forbid")

    vin: str = Field(min_length=11, max_length=17, pattern=r"^[A-Za-z0-9]+$")
    make: str | None = Field(default=None, min_length=1, max_length=100)
    model: str | None = Field(default=None, min_length=1, max_length=100)


class MarkerPublic(BaseModel):
    """What the engineer did at a moment of the session ("navigation to Astana")."""

    id: int
    run_id: int
    at: datetime
    label: str


class MarkerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=500)
    at: datetime | None = Field(default=None, description="when; now if omitted")


class SessionUpdate(BaseModel):
    """What an engineer records about a session: vehicle, firmware, scenario."""

    model_config = ConfigDict(extra="forbid")

    vehicle_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    firmware: str | None = Field(default=None, min_length=1, max_length=100)
    scenario: str | None = Field(default=None, min_length=1, max_length=5000)


class SessionPublic(BaseModel):
    """A test session (a replayed capture or a live proxy session)."""

    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    capture: str | None
    capture_sha256: str | None
    ruleset: str | None
    tool_version: str | None
    flows_read: int
    firmware: str | None
    scenario: str | None
    vehicle: VehicleRef | None
    findings: int
    violations: int
    chain_length: int
    chain_head: str | None
    signed: bool


class SessionDetail(SessionPublic):
    error: str | None
    markers: list[MarkerPublic]


GeoCaveat = Literal["low_confidence", "disputed", "cdn_edge"]

GEO_EXAMPLE: dict[str, Any] = {
    "destination_id": 4,
    "session": 1,
    "country": "CN",
    "confidence": "low",
    "verdict": "cdn_edge",
    "disputed": False,
    "cdn": "Alibaba Cloud CDN",
    "caveats": ["low_confidence", "cdn_edge"],
    "outcome": "single source",
    "candidates": ["CN"],
    "sources": [
        {
            "kind": "mmdb",
            "source": "GeoLite2-City (embedded)",
            "build": "2019-12-24",
            "country": "CN",
            "city": "Hangzhou",
            "network": "223.5.0.0/16",
            "overruled": False,
        }
    ],
    "names": [
        {
            "name": "tsp.example-cn-oem.cn",
            "how": "flow-host",
            "cname_chain": [],
        }
    ],
    "ptr": ["public1.alidns.com"],
    "asn": 37963,
    "org": "Hangzhou Alibaba Advertising Co.,Ltd.",
    "tls_subject_org": "Alibaba (China) Technology Co., Ltd.",
    "rtt": {
        "rtt_ms": 71.2,
        "outcome": "consistent",
        "claimed_country": "CN",
        "max_km": 7120,
        "contradicts": False,
    },
    "first_seen": "2024-12-01T08:00:47Z",
    "last_seen": "2024-12-01T08:09:12Z",
}


class SourceAnswer(BaseModel):
    """What one geolocation source said of the server: a database or an operator override."""

    kind: Literal["mmdb", "override"]
    source: str = Field(description="the database, or `override <id>`")
    build: str | None = Field(description="database build date; for an override, verified on")
    country: str | None = Field(description="its answer; null when it had none (a miss)")
    city: str | None = None
    network: str | None = Field(default=None, description="the database's network for the IP")
    overruled: bool = Field(default=False, description="an operator override outranked it")
    expired: bool | None = Field(default=None, description="an override past its expiry date")


class DnsName(BaseModel):
    """A name the server was known by, and how it was learnt."""

    name: str
    how: str = Field(description="flow-host, tls-sni, dns-answer, audit-resolution, asked…")
    cname_chain: list[str] = Field(description="the CNAME chain that led to the address")


class RttResult(BaseModel):
    """A measured round trip tested against the country claimed: physics as a witness."""

    rtt_ms: float
    outcome: str = Field(description="consistent, slow, implausible or no claim")
    claimed_country: str | None = None
    max_km: int | None = Field(default=None, description="farthest the server can be")
    contradicts: bool = False


class GeolocationEvidence(BaseModel):
    """Why a destination is placed in its country: every source, the names, the checks."""

    model_config = ConfigDict(json_schema_extra={"examples": [GEO_EXAMPLE]})

    destination_id: int = Field(description="`GET /destinations/{destination_id}`")
    session: int
    country: str | None
    confidence: Confidence
    verdict: Verdict | None = Field(description="the verdict its findings got; null: notes only")
    disputed: bool = Field(description="the sources (or a round trip) contradict each other")
    cdn: str | None = Field(description="the CDN or anycast service whose edge answered")
    caveats: list[GeoCaveat] = Field(
        description="why the country must be read with care: low confidence, disputed, CDN edge"
    )
    outcome: str | None = Field(
        description="how the sources were weighed: override, agreed, single source, disputed, "
        "no answer, private"
    )
    candidates: list[str] = Field(description="the countries the deciding sources named")
    sources: list[SourceAnswer]
    names: list[DnsName] = Field(description="DNS names, SNI and CNAME chains of the server")
    ptr: list[str] = Field(description="reverse DNS (PTR) names")
    asn: int | None
    org: str | None
    tls_subject_org: str | None = Field(description="organisation in the server's certificate")
    rtt: RttResult | None = Field(description="round-trip check, when one was measured")
    first_seen: datetime
    last_seen: datetime


class DestinationSummary(BaseModel):
    """One server the findings went to, computed from the findings under the filter.

    ``geolocation`` is the evidence behind its country, from the latest session
    (among those filtered) that went there; null for findings stored before the
    store kept geolocation evidence.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "host": "tsp.example-cn-oem.cn",
                    "ip": "223.5.5.5",
                    "country": "CN",
                    "city": "Hangzhou",
                    "asn": 37963,
                    "org": "Hangzhou Alibaba Advertising Co.,Ltd.",
                    "geo_source": "GeoLite2-City (embedded)",
                    "first_seen": "2024-12-01T08:00:47Z",
                    "last_seen": "2024-12-01T08:09:12Z",
                    "findings": 12,
                    "violations": 12,
                    "sessions": 1,
                    "categories": ["location", "vin"],
                    "confidence": "low",
                    "geolocation": GEO_EXAMPLE,
                }
            ]
        }
    )

    host: str | None
    ip: str | None
    country: str | None
    city: str | None
    asn: int | None
    org: str | None
    geo_source: str | None
    first_seen: datetime
    last_seen: datetime
    findings: int
    violations: int
    sessions: int
    categories: list[Category]
    confidence: Confidence | None = Field(
        default=None, description="geolocation confidence of the evidence below"
    )
    geolocation: GeolocationEvidence | None = None


class DestinationDetail(BaseModel):
    """One destination of one session with all its geolocation evidence, item by item."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "host": "tsp.example-cn-oem.cn",
                    "ip": "223.5.5.5",
                    "sni": "tsp.example-cn-oem.cn",
                    "private": False,
                    "findings": 12,
                    "violations": 0,
                    "categories": ["location", "vin"],
                    "geolocation": GEO_EXAMPLE,
                    "evidence": [
                        {
                            "kind": "name",
                            "name": "tsp.example-cn-oem.cn",
                            "how": "flow-host",
                            "chain": [],
                        },
                        {
                            "kind": "mmdb",
                            "source": "GeoLite2-City (embedded)",
                            "build": "2019-12-24",
                            "country": "CN",
                            "network": "223.5.0.0/16",
                        },
                        {
                            "kind": "cdn",
                            "provider": "Alibaba Cloud CDN",
                            "matched_by": "asn 37963",
                            "overruled": False,
                        },
                        {
                            "kind": "consensus",
                            "outcome": "single source",
                            "country": "CN",
                            "confidence": "low",
                            "disputed": False,
                            "candidates": ["CN"],
                        },
                    ],
                }
            ]
        }
    )

    host: str | None
    ip: str | None
    sni: str | None
    private: bool
    findings: int
    violations: int
    categories: list[Category]
    geolocation: GeolocationEvidence
    evidence: list[dict[str, Any]] = Field(
        description="every evidence item as recorded, each with its `kind` (mmdb, asn, "
        "override, name, ptr, tls, rtt, cdn, consensus)"
    )


class AggregateRow(BaseModel):
    """One group: its key (one value per ``by``), counts and time span."""

    key: dict[str, str | int | float | None]
    findings: int
    violations: int
    first_seen: datetime
    last_seen: datetime


class LegalRefPublic(BaseModel):
    law: str
    article: str
    summary: str


class RulePublic(BaseModel):
    id: str
    title: str
    severity: str
    priority: int
    description: str
    legal_refs: list[LegalRefPublic]
    verdict: Verdict
    categories: list[Category] | str = Field(description='the categories matched, or "any"')


class CategoryNames(BaseModel):
    en: str
    ru: str
    kk: str


class CategoryPublic(BaseModel):
    id: Category
    data_class: str
    names: CategoryNames


class FlowEvidence(BaseModel):
    """What the store knows of the flow that carried the value.

    The metadata fields (``protocol`` to ``metadata_sha256``) are null for a flow
    recorded before flow metadata was kept. ``url`` is redacted: secrets and
    detected personal values are masked, parameter names kept.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "flow_id": "49a73140-8707-5068-8791-f7d2a5868ee5",
                    "session": 1,
                    "host": "tsp.example-cn-oem.cn",
                    "ip": "223.5.5.5",
                    "port": 443,
                    "sni": "tsp.example-cn-oem.cn",
                    "observed_at": "2024-12-01T08:00:00.100000Z",
                    "recorded_at": "2024-12-01T08:00:00.100000Z",
                    "findings_in_flow": 3,
                    "notes": [],
                    "protocol": "https",
                    "application": None,
                    "method": "POST",
                    "url": "https://tsp.example-cn-oem.cn/api/v2/vehicle/report"
                    "?vin=LGX************05&lat=43.2&lon=76.9&access_token=***",
                    "status": 200,
                    "request_body_bytes": 221,
                    "request_bytes": 411,
                    "response_body_bytes": 15,
                    "response_bytes": 100,
                    "started_at": "2024-12-01T08:00:00.100000Z",
                    "ended_at": "2024-12-01T08:00:00.310000Z",
                    "duration_s": 0.21,
                    "client": "10.42.0.17:40000",
                    "server": "223.5.5.5:443",
                    "metadata_sha256": "7a583b9bc95ccbce2744ba60bad48f2c"
                    "1f4dae2337812511aa2ebc4834dc529c",
                    "metadata_verified": True,
                }
            ]
        }
    )

    flow_id: str
    session: int
    host: str | None
    ip: str | None
    port: int | None
    sni: str | None
    observed_at: datetime
    recorded_at: datetime
    findings_in_flow: int
    notes: list[dict[str, str]] = Field(description="parts of the flow that could not be read")
    protocol: str | None = Field(None, description="http, https, ws, wss, mqtt, tcp, udp or dns")
    application: str | None = Field(
        None, description="the protocol a raw stream was recognised as (mqtt, jt808, ...)"
    )
    method: str | None = None
    url: str | None = Field(
        None, description="the URL with secrets and personal values masked, names kept"
    )
    status: int | None = None
    request_body_bytes: int | None = Field(None, description="request payload as sent")
    request_bytes: int | None = Field(None, description="request head and body, when known")
    response_body_bytes: int | None = None
    response_bytes: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    client: str | None = Field(None, description="the device's address and port")
    server: str | None = Field(None, description="the server's address and port")
    metadata_sha256: str | None = Field(
        None, description="sha256 of the canonical flow-metadata record (recomputable)"
    )
    metadata_verified: bool | None = Field(
        None, description="whether the stored record still hashes to metadata_sha256"
    )


class HashEvidence(BaseModel):
    value_hash: str = Field(description="HMAC-SHA256 of the value under the installation's key")
    record_hash: str | None = Field(description="this finding's link in the session's hash chain")
    prev_hash: str | None
    seq: int | None


class GeoEvidence(BaseModel):
    """The finding's geolocation as judged, and the session's evidence for its server."""

    country: str | None
    city: str | None
    asn: int | None
    org: str | None
    source: str | None = Field(description="the geolocation database that placed the server")
    build: str | None
    confidence: Confidence
    private: bool
    evidence: GeolocationEvidence | None = Field(
        default=None, description="sources, names and checks behind the country"
    )


class FindingEvidence(BaseModel):
    """A finding with everything that supports it: locator, masked value, hashes, flow, geo."""

    finding: FindingPublic
    locator: str
    source: str
    preview: str
    hashes: HashEvidence
    flow: FlowEvidence
    geolocation: GeoEvidence
    session: SessionPublic | None


class SetDiff(BaseModel):
    added: list[str]
    removed: list[str]
    kept: list[str]


class SessionComparison(BaseModel):
    """What the later session sends abroad that the earlier did not, and what stopped."""

    before: SessionPublic
    after: SessionPublic
    categories: SetDiff
    countries: SetDiff
    destinations: SetDiff = Field(description='"host (country)" entries')
    flows: SetDiff = Field(description='"category → country" entries')
    statements: list[str] = Field(description="the differences in words")


class HistoryEntry(BaseModel):
    session: SessionPublic
    categories: list[str]
    countries: list[str]
    destinations: list[str]


class ModelHistory(BaseModel):
    make: str
    model: str
    sessions: list[HistoryEntry]


class ApiKeyPublic(BaseModel):
    key_id: str
    name: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None


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


class CoverageMarker(BaseModel):
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
        description="share of flows whose destination was attributed with high confidence; "
        "null when no flow is known"
    )
    attributed_high: int = Field(description="flows attributed with high confidence")
    attributed_total: int = Field(description="flows counted for the share")
    attributed_basis: Literal["connections", "flows with findings"] = Field(
        description="what was counted: every connection record of a live session, or (a "
        "replay keeps none) the flows that gave a finding or a note, each judged by the "
        "session's geolocation evidence for its server"
    )
    hosts: list[HostCoveragePublic]
    markers: list[CoverageMarker]
    not_observed: list[str] = Field(description="paths this kind of session cannot see")


class CaLink(BaseModel):
    """A download link of the interception CA's certificate, for the device under test."""

    url: str = Field(description="opens without an API key until expires_at")
    format: Literal["pem", "der", "p12"]
    expires_at: datetime
    sha256_fingerprint: str = Field(
        description="of the certificate, to compare with what the device shows before trusting it"
    )
    subject: str
    qr_svg: str = Field(description="the QR code of url, as an SVG document")
    warning: str | None = Field(
        default=None, description="why the device may be unable to open the link"
    )
