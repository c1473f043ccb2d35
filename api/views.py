"""Store rows turned into public schemas, and the cursor plumbing every listing shares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from shekara.api import queries
from shekara.api.cursor import InvalidCursorError, Key, decode_keyset
from shekara.api.schemas import FindingPublic, MarkerPublic, SessionPublic, VehicleRef
from shekara.evidence.rows import row_to_flow


def utc(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch is not None else None


def after_cursor(cursor: str | None, sort: str, types: tuple[type, ...]) -> tuple[Key, ...] | None:
    """The sort key a request's cursor continues after; 422 for a cursor not ours."""
    if cursor is None:
        return None
    try:
        return decode_keyset(cursor, sort, types)
    except InvalidCursorError as exc:
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}],
        ) from exc


def session_public(row: RowMapping, counts: tuple[int, int]) -> SessionPublic:
    ruleset = None
    if row["ruleset_name"]:
        ruleset = f"{row['ruleset_name']}@{row['ruleset_version'] or '?'}"
    vehicle = None
    if row["vehicle_id"] is not None:
        vehicle = VehicleRef(
            id=row["vehicle_id"],
            vin_preview=row["vin_preview"],
            make=row["make"],
            model=row["model"],
        )
    return SessionPublic(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        started_at=utc(row["started_at"]),  # type: ignore[arg-type]
        finished_at=utc(row["finished_at"]),
        capture=row["capture"],
        capture_sha256=row["capture_sha256"],
        ruleset=ruleset,
        tool_version=row["tool_version"],
        flows_read=row["flows_read"] or 0,
        firmware=row["firmware"],
        scenario=row["scenario"],
        vehicle=vehicle,
        findings=counts[0],
        violations=counts[1],
        chain_length=row["chain_length"] or 0,
        chain_head=row["chain_head"],
        signed=row["signature"] is not None,
    )


def sessions_public(engine: Engine, rows: Sequence[RowMapping]) -> list[SessionPublic]:
    counts = queries.finding_counts(engine, [row["id"] for row in rows])
    return [session_public(row, counts.get(row["id"], (0, 0))) for row in rows]


def marker_public(row: Any) -> MarkerPublic:
    return MarkerPublic(
        id=row["id"],
        run_id=row["run_id"],
        at=utc(row["at"]),  # type: ignore[arg-type]
        label=row["label"],
    )


def finding_public(row: Any) -> FindingPublic:
    """The public form of a ``findings`` row, validated straight from the row.

    A page holds up to a thousand rows: going through the core's dataclasses
    first would triple the cost of every page.
    """
    return FindingPublic.model_validate(
        {
            "id": row["id"],
            "run_id": row["run_id"],
            "flow_id": row["flow_id"],
            "category": row["category"],
            "field": row["field"],
            "source": row["source"],
            "preview": row["preview"],
            "value_hash": row["value_hash"],
            "destination": {
                "host": row["host"],
                "ip": row["ip"],
                "port": row["port"],
                "sni": row["sni"],
                "country": row["country"],
                "city": row["city"],
                "asn": row["asn"],
                "org": row["org"],
                "geo_source": row["geo_source"],
                "geo_build": row["geo_build"],
                "confidence": row["geo_confidence"],
                "private": bool(row["private"]),
            },
            "verdict": row["verdict"],
            "violation": bool(row["violation"]),
            "rule_id": row["rule_id"],
            "severity": row["severity"],
            "detector": row["detector"],
            "confidence": row["confidence"],
            "observed_at": row["observed_at"],
            "recorded_at": row["recorded_at"],
            "legal_refs": list(row["legal_refs"] or ()),
        }
    )


def flow_metadata_public(row: RowMapping | None) -> dict[str, Any]:
    """The flow-metadata fields of ``FlowEvidence``; none of them for a flow without a record.

    The digest is recomputed from the row, so the evidence says whether the
    record shown is still the one stored.
    """
    if row is None:
        return {}
    meta = row_to_flow(row)
    return {
        "protocol": meta.protocol,
        "application": meta.application,
        "method": meta.method,
        "url": meta.url,
        "status": meta.status,
        "request_body_bytes": meta.request_body_bytes,
        "request_bytes": meta.request_bytes,
        "response_body_bytes": meta.response_body_bytes,
        "response_bytes": meta.response_bytes,
        "started_at": utc(meta.started_at),
        "ended_at": utc(meta.ended_at),
        "duration_s": meta.duration,
        "client": meta.client,
        "server": meta.server,
        "metadata_sha256": row["sha256"],
        "metadata_verified": meta.digest == row["sha256"],
    }
