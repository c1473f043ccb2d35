"""The geolocation evidence of a destination (``destinations`` rows) in its public form.

The geo stage records every piece of evidence as a plain JSON item with a
``kind``; officials need them sorted into the questions they ask: who said
which country, under which names the server was known, whether physics or a
CDN weakens the answer, and how sure the verdict is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.engine import RowMapping

from shekara.api.schemas import DnsName, GeoCaveat, GeolocationEvidence, RttResult, SourceAnswer
from shekara.api.views import utc
from shekara.evidence import schema
from shekara.evidence.rows import dedup_key

d = schema.destinations.c


def items(value: Any) -> list[dict[str, Any]]:
    """A JSON column's list of items (SQLite may hand back the text)."""
    data = json.loads(value) if isinstance(value, str) else value
    return [e for e in data or () if isinstance(e, dict)]


def caveats(
    confidence: str, verdict: str | None, disputed: bool, cdn: str | None
) -> list[GeoCaveat]:
    out: list[GeoCaveat] = []
    if confidence == "low":
        out.append("low_confidence")
    if disputed or verdict == "disputed":
        out.append("disputed")
    if cdn or verdict == "cdn_edge":
        out.append("cdn_edge")
    return out


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _source(e: Mapping[str, Any]) -> SourceAnswer:
    override = e.get("kind") == "override"
    return SourceAnswer(
        kind="override" if override else "mmdb",
        source=str(e.get("source") or "?"),
        build=_str(e.get("verified_on") if override else e.get("build")),
        country=None if e.get("miss") else _str(e.get("country")),
        city=_str(e.get("city")),
        network=_str(e.get("network")),
        overruled=bool(e.get("overruled")),
        expired=bool(e["expired"]) if override and e.get("expired") is not None else None,
    )


def _first(evidence: Iterable[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((e for e in evidence if e.get("kind") == kind), None)


def _rtt(e: Mapping[str, Any] | None) -> RttResult | None:
    if e is None or e.get("rtt_ms") is None:
        return None
    return RttResult(
        rtt_ms=float(e["rtt_ms"]),
        outcome=str(e.get("outcome") or "no claim"),
        claimed_country=_str(e.get("claimed_country")),
        max_km=int(e["max_km"]) if e.get("max_km") is not None else None,
        contradicts=bool(e.get("contradicts")),
    )


def geolocation(row: Mapping[Any, Any]) -> GeolocationEvidence:
    """The public evidence of one ``destinations`` row."""
    evidence = items(row["evidence"])
    consensus = _first(evidence, "consensus") or {}
    tls = _first(evidence, "tls") or {}
    ptr = [str(n) for e in evidence if e.get("kind") == "ptr" for n in e.get("names") or ()]
    names = [
        DnsName(
            name=str(e.get("name")),
            how=str(e.get("how") or "?"),
            cname_chain=[str(c) for c in e.get("chain") or ()],
        )
        for e in evidence
        if e.get("kind") == "name" and e.get("name")
    ]
    sources = [_source(e) for e in items(row["sources"])]
    return GeolocationEvidence(
        destination_id=row["id"],
        session=row["run_id"],
        country=row["country"],
        confidence=row["confidence"],
        verdict=row["verdict"],
        disputed=bool(row["disputed"]),
        cdn=row["cdn"],
        caveats=caveats(row["confidence"], row["verdict"], bool(row["disputed"]), row["cdn"]),
        outcome=_str(consensus.get("outcome")),
        candidates=[str(c) for c in consensus.get("candidates") or ()],
        sources=sources,
        names=names,
        ptr=list(dict.fromkeys(ptr)),
        asn=row["asn"],
        org=row["org"],
        tls_subject_org=_str(tls.get("subject_org")),
        rtt=_rtt(_first(evidence, "rtt")),
        first_seen=utc(row["first_seen"]),  # type: ignore[arg-type]
        last_seen=utc(row["last_seen"]),  # type: ignore[arg-type]
    )


def latest(
    engine: Engine,
    pairs: Sequence[tuple[str, str]],
    sessions: Sequence[int] = (),
    confidence: str | None = None,
) -> dict[tuple[str, str], RowMapping]:
    """The latest evidence row of each (host, ip) pair ("" for a missing part).

    A pair has one row per session that went there; the one seen last wins,
    among ``sessions`` and of ``confidence`` when given (a list filtered by
    confidence shows the evidence that matched).
    """
    keys = {dedup_key(host, ip): (host, ip) for host, ip in pairs}
    if not keys:
        return {}
    rank = (
        func.row_number()
        .over(partition_by=d.dest_key, order_by=(d.last_seen.desc(), d.id.desc()))
        .label("rank")
    )
    hosts = sorted({host for host, _ in pairs if host})
    # The host index narrows the rows to rank; dest_key then picks the exact pairs.
    by_host = or_(d.host.in_(hosts), d.host.is_(None)) if len(hosts) < len(pairs) else None
    ranked = select(schema.destinations, rank).where(
        d.host.in_(hosts) if by_host is None else by_host, d.dest_key.in_(list(keys))
    )
    if sessions:
        ranked = ranked.where(d.run_id.in_(list(sessions)))
    if confidence is not None:
        ranked = ranked.where(d.confidence == confidence)
    sub = ranked.subquery()
    stmt = select(*(sub.c[c.name] for c in schema.destinations.c)).where(sub.c.rank == 1)
    with engine.connect() as conn:
        return {keys[row["dest_key"]]: row for row in conn.execute(stmt).mappings()}


def of_finding(engine: Engine, run_id: int, host: str | None, ip: str | None) -> RowMapping | None:
    """The session's evidence row for the server a finding went to, if it has one."""
    stmt = select(schema.destinations).where(
        d.run_id == run_id, d.dest_key == dedup_key(host or "", ip or "")
    )
    with engine.connect() as conn:
        return conn.execute(stmt).mappings().first()


def get(engine: Engine, destination_id: int) -> RowMapping | None:
    with engine.connect() as conn:
        return (
            conn.execute(select(schema.destinations).where(d.id == destination_id))
            .mappings()
            .first()
        )
