"""What a session report states, gathered from the store in a few aggregate queries.

Everything here is language-neutral: codes, counts, hashes and the text the
traffic supplied (cleaned of control and bidirectional-override characters and
cut to a bounded length, since it is untrusted). Memory stays bounded however
many findings a session holds: cross-border transfers are counted by SQL
``GROUP BY``, and only the first ``max_evidence`` findings are read row by row.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, distinct, func, literal, select

from shekara.evidence import schema
from shekara.evidence.chain import link_hex
from shekara.evidence.connections import Attribution
from shekara.evidence.store import FindingStore, UnknownRunError

REMOTE_CONTROL = "remote_control"
# Rows read one by one at most, per list; the rest is counted, not read.
DEFAULT_MAX_EVIDENCE = 200
MAX_REMOTE_GROUPS = 50
MAX_NOTE_EXAMPLES = 20
MAX_MARKERS = 50
MAX_DESTINATIONS = 100
MAX_HOSTS = 30
# Longest untrusted text kept for one cell (a host, a field locator, a note).
MAX_TEXT = 200

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


@dataclass(frozen=True, slots=True)
class HostBytes:
    """Bytes to one server, and how many of them the proxy could read."""

    host: str | None
    bytes_total: int
    bytes_read: int
    connections: int


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of a session's traffic could be read: the decryption coverage.

    ``decrypted`` flows were read in the clear (plain protocols or intercepted
    TLS); ``not_decrypted`` stayed encrypted (certificate pinning, TLS passed
    through, a failed handshake); ``reasons`` breaks those down. The byte
    figures (None when not measured) weigh each flow by its size: one pinned
    upload can outweigh a thousand small readable requests.
    """

    flows: int
    decrypted: int
    not_decrypted: int
    reasons: tuple[tuple[str, int], ...] = ()
    bytes_total: int | None = None
    bytes_read: int | None = None
    # The servers that received the most bytes, most first; ``hosts_total`` counts them all.
    hosts: tuple[HostBytes, ...] = ()
    hosts_total: int = 0


# Where the report takes the coverage figures from, for one run; None: not measured.
CoverageSource = Callable[[FindingStore, int], Coverage | None]


@dataclass(frozen=True, slots=True)
class Vehicle:
    make: str | None
    model: str | None
    vin_preview: str | None


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    kind: str
    status: str
    error: str | None
    started_at: float
    finished_at: float | None
    capture: str | None
    capture_sha256: str | None
    ruleset_name: str | None
    ruleset_version: str | None
    tool_version: str | None
    geo_sources: tuple[str, ...]
    flows_read: int
    vehicle: Vehicle | None
    firmware: str | None
    scenario: str | None
    chain_length: int
    chain_head: str | None
    signature: str | None
    station_key: str | None
    raw_evidence_sha256: str | None


@dataclass(frozen=True, slots=True)
class TransferGroup:
    """Cross-border transfers of one category to one country under one rule."""

    category: str
    country: str | None
    severity: str
    rule_id: str
    findings: int
    flows: int
    # Of the findings, those placed by a low-confidence geolocation.
    low_confidence: int
    legal_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoteGroup:
    """Remote-control commands from one host in one country."""

    country: str | None
    host: str | None
    verdict: str
    severity: str
    rule_id: str
    findings: int


@dataclass(frozen=True, slots=True)
class NoteExample:
    flow_id: str
    source: str
    host: str | None
    country: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    seq: int | None
    category: str
    country: str | None
    host: str | None
    field: str
    preview: str
    value_hash: str
    record_hash: str | None


@dataclass(frozen=True, slots=True)
class Marker:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class SourceAnswer:
    """One geolocation source's answer for a server; ``country`` None: it had none."""

    source: str
    country: str | None


@dataclass(frozen=True, slots=True)
class DestinationRow:
    """A server of the session with how sure its country is (``destinations`` evidence)."""

    host: str | None
    ip: str | None
    country: str | None
    asn: int | None
    org: str | None
    confidence: str
    disputed: bool
    cdn: str | None
    sources: tuple[SourceAnswer, ...]

    @property
    def flagged(self) -> bool:
        """Its country must be read with care: low confidence, disputed, or a CDN edge."""
        return self.confidence == "low" or self.disputed or self.cdn is not None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    session: Session
    transfers: tuple[TransferGroup, ...]
    remote: tuple[RemoteGroup, ...]
    remote_groups_total: int
    domestic: int
    unknown_destination: int
    unknown_hosts: int
    low_confidence: int
    opaque_notes: int
    undecoded_notes: int
    note_flows: int
    note_examples: tuple[NoteExample, ...]
    evidence: tuple[EvidenceRow, ...]
    evidence_total: int
    markers: tuple[Marker, ...]
    markers_total: int
    coverage: Coverage | None
    attribution: Attribution
    destinations: tuple[DestinationRow, ...]
    destinations_total: int
    destinations_flagged: int

    @property
    def transfers_total(self) -> int:
        return sum(g.findings for g in self.transfers)

    @property
    def remote_total(self) -> int:
        return sum(g.findings for g in self.remote)

    @property
    def notes_total(self) -> int:
        return self.opaque_notes + self.undecoded_notes


_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def clean(value: Any, limit: int = MAX_TEXT) -> str:
    """Untrusted text made printable: controls, bidi overrides and unassigned code points out."""
    text = str(value)
    if len(text) > limit * 4:
        text = text[: limit * 4]
    text = _UNSAFE.sub("\N{REPLACEMENT CHARACTER}", text)
    # Cf holds the bidirectional overrides that can make "cn" read as "nc"; Cs, Co, Cn
    # (surrogates, private use, unassigned) have no glyph in any font.
    text = "".join(
        "\N{REPLACEMENT CHARACTER}" if unicodedata.category(ch) in ("Cf", "Cs", "Co", "Cn") else ch
        for ch in text
    )
    return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _opt(value: Any, limit: int = MAX_TEXT) -> str | None:
    return None if value is None else clean(value, limit)


def _geo_sources(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    described = []
    for source in value[:20]:
        if isinstance(source, dict):
            name, build = source.get("name"), source.get("build")
            described.append(clean(f"{name} ({build})" if build else name))
        else:
            described.append(clean(source))
    return tuple(described)


def _session(conn: Connection, run_id: int) -> Session:
    runs, vehicles = schema.runs, schema.vehicles
    stmt = (
        select(runs, vehicles.c.make, vehicles.c.model, vehicles.c.vin_preview)
        .select_from(runs.outerjoin(vehicles, runs.c.vehicle_id == vehicles.c.id))
        .where(runs.c.id == run_id)
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise UnknownRunError(run_id)
    vehicle = None
    if row["vehicle_id"] is not None:
        vehicle = Vehicle(_opt(row["make"]), _opt(row["model"]), _opt(row["vin_preview"]))
    return Session(
        id=int(row["id"]),
        kind=row["kind"],
        status=row["status"],
        error=_opt(row["error"], 500),
        started_at=float(row["started_at"]),
        finished_at=None if row["finished_at"] is None else float(row["finished_at"]),
        capture=_opt(row["capture"]),
        capture_sha256=_opt(row["capture_sha256"]),
        ruleset_name=_opt(row["ruleset_name"]),
        ruleset_version=_opt(row["ruleset_version"]),
        tool_version=_opt(row["tool_version"]),
        geo_sources=_geo_sources(row["geo_sources"]),
        flows_read=int(row["flows_read"] or 0),
        vehicle=vehicle,
        firmware=_opt(row["firmware"]),
        scenario=_opt(row["scenario"], 1000),
        chain_length=int(row["chain_length"] or 0),
        chain_head=row["chain_head"],
        signature=row["signature"],
        station_key=row["station_key"],
        raw_evidence_sha256=row["raw_evidence_sha256"],
    )


def _legal_refs_by_rule(conn: Connection, run_id: int) -> dict[str, tuple[str, ...]]:
    """The references each rule cited, as recorded with its first finding of the run."""
    f = schema.findings.c
    firsts = (
        select(func.min(f.id))
        .where(f.run_id == run_id, f.violation == True)  # noqa: E712 - SQL, not Python
        .group_by(f.rule_id)
        .scalar_subquery()
    )
    rows = conn.execute(select(f.rule_id, f.legal_refs).where(f.id.in_(firsts))).all()
    return {r.rule_id: tuple(clean(x) for x in (r.legal_refs or ())[:20]) for r in rows}


def _transfers(conn: Connection, run_id: int) -> tuple[TransferGroup, ...]:
    f = schema.findings.c
    refs = _legal_refs_by_rule(conn, run_id)
    n = func.count().label("n")
    stmt = (
        select(
            f.category,
            f.country,
            f.severity,
            f.rule_id,
            n,
            func.count(distinct(f.flow_id)).label("flows"),
            func.sum(case((f.geo_confidence == "low", 1), else_=0)).label("low"),
        )
        .where(f.run_id == run_id, f.violation == True, f.category != REMOTE_CONTROL)  # noqa: E712
        .group_by(f.category, f.country, f.severity, f.rule_id)
    )
    groups = [
        TransferGroup(
            category=r.category,
            country=r.country,
            severity=r.severity,
            rule_id=clean(r.rule_id),
            findings=int(r.n),
            flows=int(r.flows),
            low_confidence=int(r.low or 0),
            legal_refs=refs.get(r.rule_id, ()),
        )
        for r in conn.execute(stmt)
    ]
    groups.sort(
        key=lambda g: (_severity_rank(g.severity), -g.findings, g.category, g.country or "")
    )
    return tuple(groups)


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _remote(conn: Connection, run_id: int) -> tuple[tuple[RemoteGroup, ...], int]:
    f = schema.findings.c
    n = func.count().label("n")
    where = (f.run_id == run_id, f.category == REMOTE_CONTROL)
    keys = (f.country, f.host, f.verdict, f.severity, f.rule_id)
    total = conn.execute(
        select(func.count()).select_from(select(*keys).where(*where).group_by(*keys).subquery())
    ).scalar_one()
    stmt = (
        select(*keys, n)
        .where(*where)
        .group_by(*keys)
        .order_by(n.desc(), f.country, f.host)
        .limit(MAX_REMOTE_GROUPS)
    )
    groups = tuple(
        RemoteGroup(
            country=r.country,
            host=_opt(r.host),
            verdict=r.verdict,
            severity=r.severity,
            rule_id=clean(r.rule_id),
            findings=int(r.n),
        )
        for r in conn.execute(stmt)
    )
    return groups, int(total)


def _notes(conn: Connection, run_id: int) -> tuple[int, int, int, tuple[NoteExample, ...]]:
    c = schema.notes.c
    opaque = case((c.reason.like("%opaque payload%"), 1), else_=0)
    row = conn.execute(
        select(
            func.count().label("n"),
            func.coalesce(func.sum(opaque), 0).label("opaque"),
            func.count(distinct(c.flow_id)).label("flows"),
        ).where(c.run_id == run_id)
    ).one()
    examples = tuple(
        NoteExample(
            flow_id=clean(r.flow_id, 64),
            source=clean(r.source),
            host=_opt(r.host),
            country=r.country,
            reason=clean(r.reason),
        )
        for r in conn.execute(
            select(c.flow_id, c.source, c.host, c.country, c.reason)
            .where(c.run_id == run_id)
            .order_by(c.id)
            .limit(MAX_NOTE_EXAMPLES)
        )
    )
    opaque_n = int(row.opaque)
    return opaque_n, int(row.n) - opaque_n, int(row.flows), examples


def _evidence(conn: Connection, run_id: int, limit: int) -> tuple[tuple[EvidenceRow, ...], int]:
    """Reported findings (transfers abroad, remote control) in chain order, ``limit`` at most."""
    f = schema.findings.c
    reported = (f.violation == True) | (f.category == REMOTE_CONTROL)  # noqa: E712
    total = conn.execute(
        select(func.count()).select_from(schema.findings).where(f.run_id == run_id, reported)
    ).scalar_one()
    rows: tuple[EvidenceRow, ...] = ()
    if limit > 0:
        stmt = (
            select(f.seq, f.category, f.country, f.host, f.field, f.preview, f.value_hash)
            .add_columns(f.record_hash)
            .where(f.run_id == run_id, reported)
            .order_by(f.seq, f.id)
            .limit(limit)
        )
        rows = tuple(
            EvidenceRow(
                seq=r.seq,
                category=r.category,
                country=r.country,
                host=_opt(r.host),
                field=clean(r.field),
                preview=clean(r.preview, 80),
                value_hash=clean(r.value_hash, 128),
                record_hash=link_hex(r.record_hash),
            )
            for r in conn.execute(stmt)
        )
    return rows, int(total)


def _counts(conn: Connection, run_id: int) -> tuple[int, int, int, int]:
    """Domestic findings; findings (and hosts) of undetermined country; low-confidence transfers."""
    f = schema.findings.c
    personal = (f.run_id == run_id, f.category != REMOTE_CONTROL)
    row = conn.execute(
        select(
            func.coalesce(func.sum(case((f.verdict == "domestic", 1), else_=0)), 0).label("dom"),
            func.coalesce(func.sum(case((f.verdict == "unknown", 1), else_=0)), 0).label("unk"),
            func.count(distinct(case((f.verdict == "unknown", f.host), else_=literal(None)))).label(
                "unk_hosts"
            ),
            func.coalesce(
                func.sum(case(((f.violation == True) & (f.geo_confidence == "low"), 1), else_=0)),  # noqa: E712
                0,
            ).label("low"),
        ).where(*personal)
    ).one()
    return int(row.dom), int(row.unk), int(row.unk_hosts), int(row.low)


def _markers(conn: Connection, run_id: int) -> tuple[tuple[Marker, ...], int]:
    m = schema.markers.c
    total = conn.execute(
        select(func.count()).select_from(schema.markers).where(m.run_id == run_id)
    ).scalar_one()
    rows = conn.execute(
        select(m.at, m.label).where(m.run_id == run_id).order_by(m.at, m.id).limit(MAX_MARKERS)
    )
    return tuple(Marker(float(r.at), clean(r.label)) for r in rows), int(total)


def _source_answers(value: Any) -> tuple[SourceAnswer, ...]:
    data = json.loads(value) if isinstance(value, str) else value
    out = []
    for e in (data or [])[:10]:
        if isinstance(e, dict):
            country = None if e.get("miss") else e.get("country")
            out.append(SourceAnswer(clean(e.get("source") or "?", 80), _opt(country, 8)))
    return tuple(out)


def _destinations(conn: Connection, run_id: int) -> tuple[tuple[DestinationRow, ...], int, int]:
    """The session's servers, those whose country must be read with care first; bounded."""
    d = schema.destinations.c
    flagged = (d.confidence == "low") | (d.disputed == True) | d.cdn.is_not(None)  # noqa: E712
    where = (d.run_id == run_id, d.private == False)  # noqa: E712
    counted = conn.execute(
        select(
            func.count().label("total"),
            func.coalesce(func.sum(case((flagged, 1), else_=0)), 0).label("flagged"),
        ).where(*where)
    ).one()
    stmt = (
        select(d.host, d.ip, d.country, d.asn, d.org, d.confidence, d.disputed, d.cdn, d.sources)
        .where(*where)
        .order_by(case((flagged, 0), else_=1), d.host, d.ip)
        .limit(MAX_DESTINATIONS)
    )
    rows = tuple(
        DestinationRow(
            host=_opt(r.host),
            ip=_opt(r.ip, 45),
            country=r.country,
            asn=r.asn,
            org=_opt(r.org, 100),
            confidence=r.confidence,
            disputed=bool(r.disputed),
            cdn=_opt(r.cdn, 100),
            sources=_source_answers(r.sources),
        )
        for r in conn.execute(stmt)
    )
    return rows, int(counted.total), int(counted.flagged)


def gather(
    store: FindingStore,
    run_id: int,
    *,
    coverage: CoverageSource | None = None,
    max_evidence: int = DEFAULT_MAX_EVIDENCE,
) -> SessionFacts:
    """The facts of one run; UnknownRunError when the store holds no such run."""
    if max_evidence < 0:
        raise ValueError(f"max_evidence must not be negative, not {max_evidence}")
    with store.engine.connect() as conn:
        session = _session(conn, run_id)
        transfers = _transfers(conn, run_id)
        remote, remote_total = _remote(conn, run_id)
        domestic, unknown, unknown_hosts, low = _counts(conn, run_id)
        opaque, undecoded, note_flows, note_examples = _notes(conn, run_id)
        evidence, evidence_total = _evidence(conn, run_id, max_evidence)
        markers, markers_total = _markers(conn, run_id)
        destinations, destinations_total, flagged = _destinations(conn, run_id)
    return SessionFacts(
        session=session,
        transfers=transfers,
        remote=remote,
        remote_groups_total=remote_total,
        domestic=domestic,
        unknown_destination=unknown,
        unknown_hosts=unknown_hosts,
        low_confidence=low,
        opaque_notes=opaque,
        undecoded_notes=undecoded,
        note_flows=note_flows,
        note_examples=note_examples,
        evidence=evidence,
        evidence_total=evidence_total,
        markers=markers,
        markers_total=markers_total,
        coverage=coverage(store, run_id) if coverage is not None else None,
        attribution=store.attribution(run_id),
        destinations=destinations,
        destinations_total=destinations_total,
        destinations_flagged=flagged,
    )
