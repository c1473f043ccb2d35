"""Mapping between the core's Finding/Note values and the store's rows.

Kept apart from the store so the mapping is tested without a database and the
API reads the same typed values the pipeline wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from shekara.audit.flowmeta import FlowMeta, flow_meta_from_dict
from shekara.audit.model import Category, Confidence, Destination, Finding, Note, Verdict


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as kept in the store: its row id and run besides the core value."""

    id: int
    run_id: int
    finding: Finding


@dataclass(frozen=True, slots=True)
class StoredNote:
    """A note as kept in the store: only host, ip and country of its destination survive."""

    id: int
    run_id: int
    note: Note


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One replay of a capture or one proxy session, with what it read."""

    id: int
    kind: str
    started_at: float
    finished_at: float | None
    capture: str | None
    capture_sha256: str | None
    ruleset_name: str | None
    ruleset_version: str | None
    geo_sources: Any
    tool_version: str | None
    flows_read: int
    status: str
    error: str | None
    captures: Any = None


@dataclass(frozen=True, slots=True)
class StoredDestination:
    """A destination of a run with every source's answer and the other evidence.

    Plain data (JSON-able lists and dicts), ready for an API schema or a report.
    """

    id: int
    run_id: int
    host: str | None
    ip: str | None
    sni: str | None
    country: str | None
    asn: int | None
    org: str | None
    cdn: str | None
    private: bool
    disputed: bool
    confidence: Confidence
    verdict: Verdict | None
    sources: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    first_seen: float
    last_seen: float


class SummaryRow(NamedTuple):
    """How many violations of one category went to one host in one country."""

    country: str | None
    host: str | None
    category: Category
    # Shadows tuple.count on purpose: callers unpack (country, host, category, count).
    count: int  # type: ignore[assignment]


def _country(value: str | None) -> str | None:
    # ISO 3166 alpha-2 is upper case; one spelling keeps the country filter exact.
    return value.upper() if value else None


def _hostname(value: str | None) -> str | None:
    # DNS names are case-insensitive; one spelling keeps the host filter exact and indexed.
    return value.lower() if value else None


def dedup_key(*parts: str) -> str:
    """The hex sha256 naming one finding or note within its run: equal parts, equal key."""
    # JSON keeps the parts apart: ("a|b", "c") and ("a", "b|c") differ.
    encoded = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def finding_to_row(run_id: int, finding: Finding) -> dict[str, Any]:
    """Column values for one finding of a run."""
    dest = finding.destination
    return {
        "run_id": run_id,
        "dedup_key": dedup_key(finding.flow_id, finding.field, str(finding.category)),
        "flow_id": finding.flow_id,
        "category": str(finding.category),
        "field": finding.field,
        "source": finding.source,
        "preview": finding.preview,
        "value_hash": finding.value_hash,
        "host": _hostname(dest.host),
        "ip": dest.ip,
        "port": dest.port,
        "sni": _hostname(dest.sni),
        "country": _country(dest.country),
        "city": dest.city,
        "asn": dest.asn,
        "org": dest.org,
        "geo_source": dest.geo_source,
        "geo_build": dest.geo_build,
        "geo_confidence": str(dest.confidence),
        "private": dest.private,
        "verdict": str(finding.verdict),
        "violation": finding.violation,
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "detector": finding.detector,
        "confidence": str(finding.confidence),
        "observed_at": finding.observed_at,
        "recorded_at": finding.recorded_at,
        "legal_refs": list(finding.legal_refs),
    }


def row_to_finding(row: Mapping[Any, Any]) -> StoredFinding:
    """The stored finding for one row of ``findings``."""
    destination = Destination(
        host=row["host"],
        ip=row["ip"],
        port=row["port"],
        sni=row["sni"],
        country=row["country"],
        city=row["city"],
        asn=row["asn"],
        org=row["org"],
        geo_source=row["geo_source"],
        geo_build=row["geo_build"],
        confidence=Confidence(row["geo_confidence"]),
        private=bool(row["private"]),
    )
    finding = Finding(
        flow_id=row["flow_id"],
        category=Category(row["category"]),
        field=row["field"],
        source=row["source"],
        preview=row["preview"],
        value_hash=row["value_hash"],
        destination=destination,
        verdict=Verdict(row["verdict"]),
        violation=bool(row["violation"]),
        rule_id=row["rule_id"],
        severity=row["severity"],
        detector=row["detector"],
        confidence=Confidence(row["confidence"]),
        observed_at=row["observed_at"],
        recorded_at=row["recorded_at"],
        legal_refs=tuple(row["legal_refs"] or ()),
    )
    return StoredFinding(id=row["id"], run_id=row["run_id"], finding=finding)


def note_to_row(run_id: int, note: Note) -> dict[str, Any]:
    """Column values for one note of a run."""
    dest = note.destination
    return {
        "run_id": run_id,
        "dedup_key": dedup_key(note.flow_id, note.source, note.reason),
        "flow_id": note.flow_id,
        "source": note.source,
        "reason": note.reason,
        "host": _hostname(dest.host) if dest else None,
        "ip": dest.ip if dest else None,
        "country": _country(dest.country) if dest else None,
        "observed_at": note.observed_at,
    }


def row_to_note(row: Mapping[Any, Any]) -> StoredNote:
    """The stored note for one row of ``notes``."""
    has_destination = any(row[k] is not None for k in ("host", "ip", "country"))
    destination = (
        Destination(host=row["host"], ip=row["ip"], port=None, country=row["country"])
        if has_destination
        else None
    )
    note = Note(
        flow_id=row["flow_id"],
        source=row["source"],
        reason=row["reason"],
        destination=destination,
        observed_at=row["observed_at"],
    )
    return StoredNote(id=row["id"], run_id=row["run_id"], note=note)


def row_to_run(row: Mapping[Any, Any]) -> RunRecord:
    """The run record for one row of ``runs``."""
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        capture=row["capture"],
        capture_sha256=row["capture_sha256"],
        ruleset_name=row["ruleset_name"],
        ruleset_version=row["ruleset_version"],
        geo_sources=row["geo_sources"],
        tool_version=row["tool_version"],
        flows_read=row["flows_read"],
        status=row["status"],
        error=row["error"],
        captures=row.get("captures"),
    )


def destination_rows(
    run_id: int, findings: Sequence[Finding], notes: Sequence[Note]
) -> list[dict[str, Any]]:
    """One row per (host, ip) among a batch's findings and notes; the latest evidence wins."""
    rows: dict[str, dict[str, Any]] = {}
    seen: list[tuple[Destination, float, Verdict | None]] = [
        (f.destination, f.observed_at, f.verdict) for f in findings
    ]
    seen += [(n.destination, n.observed_at, None) for n in notes if n.destination is not None]
    for dest, at, verdict in seen:
        if dest.host is None and dest.ip is None:
            continue
        host = _hostname(dest.host)
        key = dedup_key(host or "", dest.ip or "")
        row = rows.get(key)
        if row is not None:
            row["first_seen"] = min(row["first_seen"], at)
            if at < row["last_seen"]:
                row["verdict"] = row["verdict"] or (str(verdict) if verdict else None)
                continue
        rows[key] = {
            "run_id": run_id,
            "dest_key": key,
            "host": host,
            "ip": dest.ip,
            "sni": _hostname(dest.sni),
            "country": _country(dest.country),
            "asn": dest.asn,
            "org": dest.org,
            "cdn": dest.cdn,
            "private": dest.private,
            "disputed": dest.disputed,
            "confidence": str(dest.confidence),
            "verdict": str(verdict) if verdict else (row["verdict"] if row else None),
            "sources": dest.sources(),
            "evidence": [dict(e) for e in dest.evidence],
            "first_seen": row["first_seen"] if row else at,
            "last_seen": at,
        }
    return list(rows.values())


def row_to_destination(row: Mapping[Any, Any]) -> StoredDestination:
    def _json(v: Any) -> list[dict[str, Any]]:
        return list(json.loads(v) if isinstance(v, str) else (v or []))

    return StoredDestination(
        id=row["id"],
        run_id=row["run_id"],
        host=row["host"],
        ip=row["ip"],
        sni=row["sni"],
        country=row["country"],
        asn=row["asn"],
        org=row["org"],
        cdn=row["cdn"],
        private=bool(row["private"]),
        disputed=bool(row["disputed"]),
        confidence=Confidence(row["confidence"]),
        verdict=Verdict(row["verdict"]) if row["verdict"] else None,
        sources=_json(row["sources"]),
        evidence=_json(row["evidence"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
    )


def flow_rows(run_id: int, flows: Sequence[FlowMeta]) -> list[dict[str, Any]]:
    """Rows of the flows table; of several records of one flow only the last is kept.

    One statement may not touch a row twice (PostgreSQL's upsert refuses), and
    the last record of a flow is its most complete one.
    """
    latest: dict[str, FlowMeta] = {}
    for m in flows:
        latest.pop(m.flow_id, None)
        latest[m.flow_id] = m
    return [{**asdict(m), "run_id": run_id, "sha256": m.digest} for m in latest.values()]


def row_to_flow(row: Mapping[Any, Any]) -> FlowMeta:
    return flow_meta_from_dict(row)
