"""Read queries of the officials' API over the findings store (SQLAlchemy Core).

Every listing is walked by keyset (the last row's sort key), so a page costs
an index range whatever its depth, and exports stream rows from a server-side
cursor instead of loading them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    case,
    distinct,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.engine import RowMapping

from shekara.api.filters import FindingFilter
from shekara.evidence import schema

f = schema.findings.c
r = schema.runs.c
v = schema.vehicles.c

# Rows fetched at a time by an export's server-side cursor.
STREAM_BATCH = 1000

FindingSort = Literal["id", "-id", "observed_at", "-observed_at"]
SessionSort = Literal["id", "-id", "started_at", "-started_at"]


def _after(columns: Sequence[Any], values: Sequence[Any], descending: bool) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in (columns…) order, as index-friendly OR/AND terms."""
    terms = []
    for i, col in enumerate(columns):
        eq = [columns[j] == values[j] for j in range(i)]
        step = col < values[i] if descending else col > values[i]
        terms.append(and_(*eq, step) if eq else step)
    return or_(*terms)


def _order(columns: Sequence[Any], descending: bool) -> list[Any]:
    return [c.desc() if descending else c.asc() for c in columns]


def finding_sort_columns(sort: str) -> tuple[list[Any], bool]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    return ([f.id] if name == "id" else [f.observed_at, f.id]), descending


def finding_key(row: RowMapping, sort: str) -> tuple[Any, ...]:
    name = sort.lstrip("-")
    return (row["id"],) if name == "id" else (row["observed_at"], row["id"])


def findings_select(flt: FindingFilter, sort: str, after: Sequence[Any] | None) -> Select[Any]:
    columns, descending = finding_sort_columns(sort)
    stmt = select(schema.findings).where(*flt.clauses())
    if after is not None:
        stmt = stmt.where(_after(columns, after, descending))
    return stmt.order_by(*_order(columns, descending))


def finding_page(
    engine: Engine, flt: FindingFilter, sort: str, after: Sequence[Any] | None, limit: int
) -> list[RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(findings_select(flt, sort, after).limit(limit)).mappings())


def count_findings(
    engine: Engine, flt: FindingFilter, bound: int | None = None
) -> tuple[int, bool]:
    """How many findings match, and whether that is exact: at most ``bound`` are counted."""
    if bound is None:
        stmt = select(func.count()).select_from(schema.findings).where(*flt.clauses())
    else:
        matches = select(f.id).where(*flt.clauses()).limit(bound + 1).subquery()
        stmt = select(func.count()).select_from(matches)
    with engine.connect() as conn:
        n = int(conn.execute(stmt).scalar_one())
    if bound is not None and n > bound:
        return bound, False
    return n, True


def stream(engine: Engine, stmt: Select[Any]) -> Iterator[RowMapping]:
    """Rows of ``stmt`` a batch at a time from a server-side cursor (a generator).

    The connection stays open while the caller iterates and closes when the
    generator is exhausted or closed (a client that hangs up).
    """
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(stmt)
        yield from result.mappings()


def get_finding(engine: Engine, finding_id: int) -> RowMapping | None:
    with engine.connect() as conn:
        return conn.execute(select(schema.findings).where(f.id == finding_id)).mappings().first()


def flow_context(engine: Engine, run_id: int, flow_id: str) -> tuple[int, list[RowMapping]]:
    """How many findings the flow gave, and its notes (parts that could not be read)."""
    n = schema.notes.c
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).where(f.run_id == run_id, f.flow_id == flow_id)
        ).scalar_one()
        notes = list(
            conn.execute(
                select(n.source, n.reason)
                .where(n.run_id == run_id, n.flow_id == flow_id)
                .order_by(n.id)
                .limit(100)
            ).mappings()
        )
    return int(count), notes


def flow_metadata(engine: Engine, run_id: int, flow_id: str) -> RowMapping | None:
    """The flow's stored metadata (method, redacted URL, sizes, times), or None."""
    m = schema.flows.c
    with engine.connect() as conn:
        return (
            conn.execute(select(schema.flows).where(m.run_id == run_id, m.flow_id == flow_id))
            .mappings()
            .first()
        )


# -- sessions and vehicles -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionFilter:
    vehicle: int | None = None
    vendor: str | None = None
    model: str | None = None
    vin_hash: str | None = None
    firmware: str | None = None
    status: str | None = None
    kind: str | None = None
    since: float | None = None
    until: float | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.vehicle is not None:
            out.append(r.vehicle_id == self.vehicle)
        if self.vendor is not None:
            out.append(func.lower(v.make) == self.vendor.lower())
        if self.model is not None:
            out.append(func.lower(v.model) == self.model.lower())
        if self.vin_hash is not None:
            out.append(v.vin_hash == self.vin_hash)
        if self.firmware is not None:
            out.append(r.firmware == self.firmware)
        if self.status is not None:
            out.append(r.status == self.status)
        if self.kind is not None:
            out.append(r.kind == self.kind)
        if self.since is not None:
            out.append(r.started_at >= self.since)
        if self.until is not None:
            out.append(r.started_at < self.until)
        return out


SESSION_COLUMNS = (
    r.id,
    r.kind,
    r.status,
    r.started_at,
    r.finished_at,
    r.capture,
    r.capture_sha256,
    r.ruleset_name,
    r.ruleset_version,
    r.tool_version,
    r.flows_read,
    r.error,
    r.firmware,
    r.scenario,
    r.chain_length,
    r.chain_head,
    r.signature,
    r.vehicle_id,
    v.vin_preview,
    v.make,
    v.model,
)
_RUNS_VEHICLES = schema.runs.outerjoin(schema.vehicles, r.vehicle_id == v.id)


def session_sort_columns(sort: str) -> tuple[list[Any], bool]:
    descending = sort.startswith("-")
    return ([r.id] if sort.lstrip("-") == "id" else [r.started_at, r.id]), descending


def session_key(row: RowMapping, sort: str) -> tuple[Any, ...]:
    return (row["id"],) if sort.lstrip("-") == "id" else (row["started_at"], row["id"])


def sessions_select(flt: SessionFilter, sort: str, after: Sequence[Any] | None) -> Select[Any]:
    columns, descending = session_sort_columns(sort)
    stmt = select(*SESSION_COLUMNS).select_from(_RUNS_VEHICLES).where(*flt.clauses())
    if after is not None:
        stmt = stmt.where(_after(columns, after, descending))
    return stmt.order_by(*_order(columns, descending))


def session_page(
    engine: Engine, flt: SessionFilter, sort: str, after: Sequence[Any] | None, limit: int
) -> list[RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(sessions_select(flt, sort, after).limit(limit)).mappings())


def count_sessions(engine: Engine, flt: SessionFilter) -> int:
    stmt = select(func.count()).select_from(_RUNS_VEHICLES).where(*flt.clauses())
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def get_session(engine: Engine, run_id: int) -> RowMapping | None:
    with engine.connect() as conn:
        stmt = select(*SESSION_COLUMNS).select_from(_RUNS_VEHICLES).where(r.id == run_id)
        return conn.execute(stmt).mappings().first()


def finding_counts(engine: Engine, run_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(findings, violations) per run, for the runs of one page."""
    if not run_ids:
        return {}
    stmt = (
        select(f.run_id, func.count(), func.sum(case((f.violation == true(), 1), else_=0)))
        .where(f.run_id.in_(list(run_ids)))
        .group_by(f.run_id)
    )
    with engine.connect() as conn:
        return {row[0]: (int(row[1]), int(row[2] or 0)) for row in conn.execute(stmt)}


def markers(engine: Engine, run_id: int) -> list[RowMapping]:
    m = schema.markers.c
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(schema.markers).where(m.run_id == run_id).order_by(m.at, m.id)
            ).mappings()
        )


def vehicles_select(
    conditions: list[ColumnElement[bool]], after: int | None, descending: bool
) -> Select[Any]:
    stmt = select(schema.vehicles).where(*conditions)
    if after is not None:
        stmt = stmt.where(v.id < after if descending else v.id > after)
    return stmt.order_by(v.id.desc() if descending else v.id)


def count_vehicles(engine: Engine, conditions: list[ColumnElement[bool]]) -> int:
    with engine.connect() as conn:
        stmt = select(func.count()).select_from(schema.vehicles).where(*conditions)
        return int(conn.execute(stmt).scalar_one())


def sessions_of_vehicles(engine: Engine, vehicle_ids: Sequence[int]) -> dict[int, list[int]]:
    if not vehicle_ids:
        return {}
    out: dict[int, list[int]] = {i: [] for i in vehicle_ids}
    stmt = select(r.vehicle_id, r.id).where(r.vehicle_id.in_(list(vehicle_ids))).order_by(r.id)
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            out[int(row[0])].append(int(row[1]))
    return out


# -- destinations and aggregates -------------------------------------------------

_HOST = func.coalesce(f.host, "")
_IP = func.coalesce(f.ip, "")


def destinations_select(flt: FindingFilter, after: Sequence[str] | None) -> Select[Any]:
    """One row per (host, ip) the filtered findings went to, by host then ip."""
    stmt: Any = (
        select(
            _HOST.label("host_key"),
            _IP.label("ip_key"),
            func.max(f.country).label("country"),
            func.max(f.asn).label("asn"),
            func.max(f.org).label("org"),
            func.max(f.city).label("city"),
            func.max(f.geo_source).label("geo_source"),
            func.min(f.observed_at).label("first_seen"),
            func.max(f.observed_at).label("last_seen"),
            func.count().label("findings"),
            func.sum(case((f.violation == true(), 1), else_=0)).label("violations"),
            func.count(distinct(f.run_id)).label("sessions"),
        )
        .where(*flt.clauses())
        .group_by(_HOST, _IP)
    )
    if after is not None:
        stmt = stmt.having(_after([_HOST, _IP], after, False))
    return stmt.order_by(_HOST, _IP)


def destination_page(
    engine: Engine, flt: FindingFilter, after: Sequence[str] | None, limit: int
) -> list[RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(destinations_select(flt, after).limit(limit)).mappings())


def count_destinations(engine: Engine, flt: FindingFilter) -> int:
    groups = select(_HOST, _IP).where(*flt.clauses()).group_by(_HOST, _IP).subquery()
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(groups)).scalar_one())


def destination_categories(
    engine: Engine, flt: FindingFilter, hosts: Sequence[str]
) -> dict[tuple[str, str], list[str]]:
    """Categories each (host, ip) of a page received, under the same filter."""
    if not hosts:
        return {}
    stmt = (
        select(_HOST, _IP, f.category)
        .where(*flt.clauses(), _HOST.in_(list(set(hosts))))
        .group_by(_HOST, _IP, f.category)
        .order_by(f.category)
    )
    out: dict[tuple[str, str], list[str]] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            out.setdefault((str(row[0]), str(row[1])), []).append(str(row[2]))
    return out


def destination_findings(
    engine: Engine, run_id: int, host: str | None, ip: str | None
) -> dict[str, tuple[int, int]]:
    """(findings, violations) per category that one session sent to one (host, ip)."""
    stmt = (
        select(f.category, func.count(), func.sum(case((f.violation == true(), 1), else_=0)))
        .where(
            f.run_id == run_id,
            f.host.is_(None) if host is None else f.host == host,
            f.ip.is_(None) if ip is None else f.ip == ip,
        )
        .group_by(f.category)
        .order_by(f.category)
    )
    with engine.connect() as conn:
        return {str(row[0]): (int(row[1]), int(row[2] or 0)) for row in conn.execute(stmt)}


GroupBy = Literal[
    "country",
    "category",
    "host",
    "org",
    "vendor",
    "model",
    "session",
    "rule",
    "severity",
    "verdict",
    "day",
    "hour",
]


def _group_column(name: str) -> Any:
    match name:
        case "country":
            return f.country
        case "category":
            return f.category
        case "host":
            return f.host
        case "org":
            return f.org
        case "vendor":
            return v.make
        case "model":
            return v.model
        case "session":
            return f.run_id
        case "rule":
            return f.rule_id
        case "severity":
            return f.severity
        case "verdict":
            return f.verdict
        case "day" | "hour":
            size = 86400 if name == "day" else 3600
            # Integer division is portable where date functions are not.
            return func.floor(f.observed_at / size) * size
    raise ValueError(name)


def aggregate(
    engine: Engine, flt: FindingFilter, by: Sequence[str], limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Findings, violations and first/last seen per group, most findings first."""
    columns = [_group_column(name).label(f"k_{name}") for name in by]
    source: Any = schema.findings
    if {"vendor", "model"} & set(by):
        source = schema.findings.join(schema.runs, f.run_id == r.id).outerjoin(
            schema.vehicles, r.vehicle_id == v.id
        )
    n = func.count().label("findings")
    stmt = (
        select(
            *columns,
            n,
            func.sum(case((f.violation == true(), 1), else_=0)).label("violations"),
            func.min(f.observed_at).label("first_seen"),
            func.max(f.observed_at).label("last_seen"),
        )
        .select_from(source)
        .where(*flt.clauses())
        .group_by(*columns)
    )
    total = select(func.count()).select_from(stmt.subquery())
    stmt = stmt.order_by(n.desc(), *columns).limit(limit)
    with engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
        # A short answer is every group: the GROUP BY need not run a second time.
        count = len(rows) if len(rows) < limit else int(conn.execute(total).scalar_one())
    out = []
    for row in rows:
        key = {name: row[f"k_{name}"] for name in by}
        out.append(
            {
                "key": key,
                "findings": int(row["findings"]),
                "violations": int(row["violations"] or 0),
                "first_seen": row["first_seen"],
                "last_seen": row["last_seen"],
            }
        )
    return out, count


# -- comparisons -----------------------------------------------------------------


def session_profile(engine: Engine, run_id: int) -> dict[str, set[Any]]:
    """What a session's cross-border transfers observed reached: the sets a diff compares."""
    stmt = (
        select(f.category, f.country, f.host)
        .where(f.run_id == run_id, f.violation == true())
        .group_by(f.category, f.country, f.host)
    )
    profile: dict[str, set[Any]] = {
        "categories": set(),
        "countries": set(),
        "destinations": set(),
        "flows": set(),
    }
    with engine.connect() as conn:
        for category, country, host in conn.execute(stmt):
            profile["categories"].add(category)
            profile["countries"].add(country)
            profile["destinations"].add((host, country))
            profile["flows"].add((category, country))
    return profile


def model_sessions(engine: Engine, make: str, model: str) -> list[RowMapping]:
    stmt = (
        select(*SESSION_COLUMNS)
        .select_from(_RUNS_VEHICLES)
        .where(func.lower(v.make) == make.lower(), func.lower(v.model) == model.lower())
        .order_by(r.started_at, r.id)
        .limit(10_000)
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt).mappings())
