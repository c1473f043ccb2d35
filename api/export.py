"""Streamed CSV and JSON exports: rows are written as the store's cursor yields them.

A million findings never sit in memory: each batch from the server-side cursor
is encoded and sent before the next is fetched.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi.responses import StreamingResponse

from shekara.evidence.chain import link_hex

ExportFormat = Literal["csv", "json"]

FINDING_COLUMNS = (
    "id",
    "run_id",
    "flow_id",
    "category",
    "field",
    "source",
    "preview",
    "value_hash",
    "host",
    "ip",
    "port",
    "sni",
    "country",
    "city",
    "asn",
    "org",
    "geo_source",
    "geo_build",
    "geo_confidence",
    "private",
    "verdict",
    "violation",
    "rule_id",
    "severity",
    "detector",
    "confidence",
    "observed_at",
    "recorded_at",
    "legal_refs",
    "seq",
    "record_hash",
)
LINK_COLUMNS = frozenset({"record_hash", "prev_hash"})
TIME_COLUMNS = frozenset(
    {"observed_at", "recorded_at", "started_at", "finished_at", "first_seen", "last_seen"}
)
# A cell a spreadsheet would run as a formula (CSV injection): traffic chose these values.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BATCH = 500

# How an export route describes its answer in the OpenAPI document.
EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "the rows, streamed",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


def cell(name: str, value: Any) -> Any:
    """One exported value: times as ISO 8601 UTC, lists joined, booleans as true/false."""
    if value is None:
        return None
    if name in LINK_COLUMNS:
        return link_hex(value)
    if name in TIME_COLUMNS and isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC).isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(x) for x in value)
    return value


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv(rows: Iterable[Mapping[Any, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for n, row in enumerate(rows, 1):
        writer.writerow([csv_safe(cell(c, row[c])) for c in columns])
        if n % _BATCH == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _json(rows: Iterable[Mapping[Any, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    parts = ["["]
    first = True
    for row in rows:
        doc = {c: cell(c, row[c]) for c in columns}
        if isinstance(row.get("legal_refs"), list):
            doc["legal_refs"] = list(row["legal_refs"])
        parts.append(("\n" if first else ",\n") + json.dumps(doc, ensure_ascii=False))
        first = False
        if len(parts) >= _BATCH:
            yield "".join(parts)
            parts = []
    parts.append("\n]\n")
    yield "".join(parts)


def export(
    rows: Iterable[Mapping[Any, Any]],
    columns: tuple[str, ...],
    fmt: ExportFormat,
    name: str,
    transform: Callable[[Mapping[Any, Any]], Mapping[Any, Any]] | None = None,
) -> StreamingResponse:
    """A streamed download of ``rows`` (only ``columns``) as CSV or a JSON array."""
    if transform is not None:
        rows = (transform(row) for row in rows)
    body = _csv(rows, columns) if fmt == "csv" else _json(rows, columns)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )
