"""Typed values that cross the pipeline's arrows: document → field → hit → finding.

They are frozen and slotted because a value that changes after detection
would make the stored evidence disagree with what was observed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shekara.audit.flowmeta import FlowMeta


class Category(enum.StrEnum):
    """Stable category ids, shared by detectors, rules, store, API and exports."""

    LOCATION = "location"
    VIN = "vin"
    IMEI = "imei"
    IMSI = "imsi"
    ICCID = "iccid"
    PHONE = "phone"
    EMAIL = "email"
    IIN = "iin"
    PERSON_NAME = "person_name"
    LICENSE_PLATE = "license_plate"
    MAC_ADDRESS = "mac_address"
    ACCOUNT_ID = "account_id"
    CREDENTIALS = "credentials"
    CELL_LOCATION = "cell_location"
    CONTACTS = "contacts"
    BIOMETRIC = "biometric"
    CABIN_MEDIA = "cabin_media"
    #: Not personal data: a server-to-device command (immobilise, upgrade, listen in).
    REMOTE_CONTROL = "remote_control"
    #: Not a field: a connection whose TLS the proxy could not open (pinning, client
    #: certificate), so bytes went to that server with content undetermined.
    UNDETERMINED_CONTENT = "undetermined_content"


class Verdict(enum.StrEnum):
    """Where the data went, as far as the evidence tells."""

    CROSS_BORDER = "cross_border"
    DOMESTIC = "domestic"
    UNKNOWN = "unknown"
    #: The sources disagree on the country (or physics contradicts them): no pick is made.
    DISPUTED = "disputed"
    #: A CDN or anycast edge: its country is where the edge is, not where data is stored.
    CDN_EDGE = "cdn_edge"


class Confidence(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Document:
    """One decoded unit of a flow: a tree of JSON-like values and where it was seen.

    ``source`` is the locator prefix (``request.body``, ``request.query``,
    ``request.header``, ``websocket.message[3]``,
    ``mqtt.publish[vehicle/1/telemetry]``, ``mqtt.connect``); ``tree`` holds
    dicts, lists, strings, numbers, booleans and ``None`` only.
    """

    source: str
    tree: Any


@dataclass(frozen=True, slots=True)
class Field:
    """A decoded value and the place it was found.

    ``locator`` is ``source:path``, e.g. ``request.body:$.vehicle.vin`` or
    ``request.query:lat``; ``key`` is the innermost key name (lower case),
    the strongest hint a detector has besides the value itself.
    """

    locator: str
    key: str | None
    value: str | int | float | bool | None
    source: str


@dataclass(frozen=True, slots=True)
class Hit:
    """A field that a detector validated as personal data of one category.

    ``canonical`` is the normalised value (upper-case VIN, E.164 phone,
    ``lat,lon`` rounded to 6 decimals) that is hashed and masked; the plain
    value never leaves the core except through those two.
    """

    category: Category
    field: Field
    canonical: str
    evidence: str
    confidence: Confidence = Confidence.HIGH


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a flow's bytes went, with the sources and evidence that decided the country.

    ``evidence`` holds plain JSON-able dicts, one per piece of evidence, each
    with a ``kind`` (``mmdb``, ``asn``, ``override``, ``name``, ``ptr``,
    ``tls``, ``rtt``, ``cdn``, ``consensus``); ``disputed`` means the sources
    (or a physical check) contradict each other and no country was picked;
    ``cdn`` names the CDN or anycast service whose edge answered, so the
    country is the edge's and not where the data is stored.
    """

    host: str | None
    ip: str | None
    port: int | None
    sni: str | None = None
    country: str | None = None
    city: str | None = None
    asn: int | None = None
    org: str | None = None
    geo_source: str | None = None
    geo_build: str | None = None
    confidence: Confidence = Confidence.LOW
    private: bool = False
    disputed: bool = False
    cdn: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()

    def sources(self) -> list[dict[str, Any]]:
        """The evidence items that state a country: databases and operator overrides."""
        return [e for e in self.evidence if e.get("kind") in ("mmdb", "override")]


def destination_to_dict(d: Destination) -> dict[str, Any]:
    """Plain JSON-able data (flow metadata, the spool): the inverse of destination_from_dict."""
    return {
        "host": d.host,
        "ip": d.ip,
        "port": d.port,
        "sni": d.sni,
        "country": d.country,
        "city": d.city,
        "asn": d.asn,
        "org": d.org,
        "geo_source": d.geo_source,
        "geo_build": d.geo_build,
        "confidence": str(d.confidence),
        "private": d.private,
        "disputed": d.disputed,
        "cdn": d.cdn,
        "evidence": [dict(e) for e in d.evidence],
    }


def destination_from_dict(data: dict[str, Any]) -> Destination:
    """A Destination from ``destination_to_dict`` output, or from an older, shorter form."""
    return Destination(
        **{
            **data,
            "confidence": Confidence(data["confidence"]),
            "evidence": tuple(dict(e) for e in data.get("evidence") or ()),
        }
    )


@dataclass(frozen=True, slots=True)
class Finding:
    """A personal-data hit judged against a destination and a rule: the stored evidence."""

    flow_id: str
    category: Category
    field: str
    source: str
    preview: str
    value_hash: str
    destination: Destination
    verdict: Verdict
    violation: bool
    rule_id: str
    severity: str
    detector: str
    confidence: Confidence
    observed_at: float
    recorded_at: float
    legal_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Note:
    """Something the pipeline could not read: recorded, never silently dropped."""

    flow_id: str
    source: str
    reason: str
    destination: Destination | None = None
    observed_at: float = 0.0


@dataclass(slots=True)
class FlowAnalysis:
    """What the pipeline learned about one flow so far (kept in flow.metadata)."""

    flow_id: str
    observed_at: float
    destination: Destination | None = None
    documents: list[Document] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: The flow's metadata (method, redacted URL, sizes, times), set once the event
    #: is analysed; recorded with the event's findings.
    flow: FlowMeta | None = None
