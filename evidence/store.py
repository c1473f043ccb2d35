"""The findings store: runs, findings and notes in SQLite (embedded) or PostgreSQL (central).

Writes are bulk inserts in one transaction that skip duplicates, so a retried
batch or a re-read flow never doubles the evidence. SQLite runs in WAL mode
with ``synchronous=FULL`` because evidence that vanishes on a power cut is no
evidence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Insert,
    Table,
    and_,
    case,
    create_engine,
    distinct,
    event,
    func,
    inspect,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from shekara.audit.flowmeta import FlowMeta
from shekara.audit.model import Category, Finding, Note
from shekara.evidence import chain, migrations, schema
from shekara.evidence.connections import Attribution, ConnectionRecord, Coverage
from shekara.evidence.rows import (
    RunRecord,
    StoredDestination,
    StoredFinding,
    StoredNote,
    SummaryRow,
    destination_rows,
    finding_to_row,
    flow_rows,
    note_to_row,
    row_to_destination,
    row_to_finding,
    row_to_flow,
    row_to_note,
    row_to_run,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy import Connection, RowMapping

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS = 5000
PG_CONNECT_TIMEOUT_S = 10
# Bounds the rows one query holds in memory; the API pages well below it.
MAX_LIMIT = 10_000


class StoreError(Exception):
    """The store cannot be used: unreachable, or its tables are missing."""


class UnknownRunError(LookupError):
    """A run id that the store does not hold."""


class _Repeats(Exception):
    """An optimistic insert met a finding the run already holds; its transaction is undone."""


class RunClosedError(Exception):
    """Findings for, or a second closing of, a run already closed: its chain is sealed.

    Permanent, unlike StoreError: retrying the same write can never succeed.
    """


def _tool_version() -> str:
    try:
        return importlib_metadata.version("shekara")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def normalise_url(url: str | URL) -> URL:
    """The URL with PostgreSQL's driver made explicit: ``postgresql://`` means psycopg 3.

    SQLAlchemy alone would pick psycopg2, which Shekara does not install.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


# How long a new connection waits to switch a file to WAL while another one writes it.
WAL_SWITCH_WAIT = 300.0


def _journal_mode_wal(cursor: Any) -> str:
    """Switch to WAL; a file being created or migrated by another station is waited for.

    Switching needs the file to itself, and a first upgrade may hold it longer
    than the busy wait: that is retried, other errors are not.
    """
    import sqlite3

    deadline = time.monotonic() + WAL_SWITCH_WAIT
    while True:
        try:
            return str(cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def configure_sqlite_connection(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    """Set the durability and locking pragmas on one new SQLite connection."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        mode = _journal_mode_wal(cursor)
        if str(mode).lower() not in ("wal", "memory"):
            log.warning("SQLite refused WAL mode (journal_mode=%s)", mode)
        # synchronous is per connection, not stored in the file: set it every time.
        cursor.execute("PRAGMA synchronous=FULL")
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


class FindingStore:
    """Runs, findings and notes behind one SQLAlchemy engine; safe to share across threads."""

    def __init__(self, url: str | URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        parsed = normalise_url(url)
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {
                "timeout": busy_timeout_ms / 1000,
                "check_same_thread": False,
            }
            if parsed.database in (None, "", ":memory:"):
                # One shared connection, or each thread would see its own empty database.
                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_pre_ping"] = True
            if parsed.drivername == "postgresql+psycopg":
                # A server that is down must fail a connect soon, not hang the writer.
                kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        self.engine: Engine = create_engine(parsed, **kwargs)
        if self.dialect == "sqlite":
            event.listen(
                self.engine,
                "connect",
                lambda dbapi_conn, _record: configure_sqlite_connection(
                    dbapi_conn, busy_timeout_ms
                ),
            )

    def __repr__(self) -> str:
        return f"FindingStore({self.url.render_as_string(hide_password=True)!r})"

    def create_schema(self) -> str:
        """Migrate the database to the newest schema revision (Alembic) and return it.

        Idempotent and cheap when already there; concurrent callers take turns
        under a lock. A store written by a newer Shekara, or tables that are not
        the store's, raise StoreError instead of being touched.
        """
        try:
            return migrations.upgrade(self.engine)
        except migrations.MigrationError as exc:
            raise StoreError(str(exc)) from exc

    def schema_revision(self) -> str | None:
        """The schema revision the database is at, or None when it was never migrated."""
        with self.engine.connect() as conn:
            return migrations.current(conn)

    def dispose(self) -> None:
        """Close pooled connections (at shutdown)."""
        self.engine.dispose()

    def check(self) -> None:
        """Raise StoreError unless the database answers and holds the store's tables at head."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
                inspector = inspect(conn)
                missing = [t for t in schema.metadata.tables if not inspector.has_table(t)]
                revision = None if missing else migrations.current(conn)
        except Exception as exc:
            raise StoreError(f"{type(exc).__name__}: {_first_line(exc)}") from exc
        if missing:
            raise StoreError(f"missing tables: {', '.join(sorted(missing))}")
        if revision != migrations.head():
            # Another version's schema: queries would fail on missing columns.
            raise StoreError(
                f"schema revision {revision or 'none'}, this version needs "
                f"{migrations.head()}: run `shekara db upgrade`"
            )

    # -- runs ---------------------------------------------------------------

    def start_run(
        self,
        kind: str,
        capture: str | Path | None = None,
        capture_sha256: str | None = None,
        *,
        ruleset_name: str | None = None,
        ruleset_version: str | None = None,
        geo_sources: Any = None,
        tool_version: str | None = None,
        started_at: float | None = None,
    ) -> int:
        """Record the start of a replay or proxy session; return its run id.

        ``geo_sources`` is any JSON value naming the geolocation databases and
        their builds, so a verdict can be traced to the data that decided it.
        """
        if kind not in schema.RUN_KINDS:
            raise ValueError(f"run kind must be one of {schema.RUN_KINDS}, not {kind!r}")
        values = {
            "kind": kind,
            "started_at": time.time() if started_at is None else started_at,
            "capture": str(capture) if capture is not None else None,
            "capture_sha256": capture_sha256,
            "ruleset_name": ruleset_name,
            "ruleset_version": ruleset_version,
            "geo_sources": geo_sources,
            "tool_version": tool_version or _tool_version(),
            "flows_read": 0,
            "status": "running",
        }
        with self.engine.begin() as conn:
            result = conn.execute(schema.runs.insert().values(**values))
            (run_id,) = result.inserted_primary_key or (None,)
        if run_id is None:
            raise StoreError("the database returned no id for the new run")
        return int(run_id)

    def finish_run(
        self,
        run_id: int,
        flows_read: int,
        status: str,
        error: str | None = None,
        *,
        finished_at: float | None = None,
        key: Ed25519PrivateKey | None = None,
        raw_evidence_sha256: str | None = None,
    ) -> None:
        """Close a run: flows read, ``completed``/``failed``/``interrupted``; seal its chain.

        With ``key`` (the station's Ed25519 key) the closing statement (the
        run's facts, the chain's length and head, the raw evidence's sha256) is
        signed, and stored with the signature and the public key. Without it
        the run closes unsigned, which ``shekara verify`` reports. A closed run
        takes no more findings and is not closed twice (RunClosedError).
        """
        if status not in schema.RUN_STATUSES or status == "running":
            raise ValueError(f"a finished run's status cannot be {status!r}")
        values: dict[str, Any] = {
            "finished_at": time.time() if finished_at is None else finished_at,
            "flows_read": flows_read,
            "status": status,
            "error": error,
        }
        if raw_evidence_sha256 is not None:
            values["raw_evidence_sha256"] = raw_evidence_sha256
        with self.engine.begin() as conn:
            run = self._lock_run(conn, run_id)
            if run["status"] != "running":
                raise RunClosedError(f"run {run_id} is already closed ({run['status']})")
            if key is not None:
                public = chain.public_key_text(key)
                head = run["chain_head"] or chain.genesis_hash(run_id, run["started_at"])
                statement = chain.closing_statement(
                    {**run, **values, "station_key": public}, run["chain_length"] or 0, head
                )
                values["station_key"] = public
                values["closing_statement"] = statement.decode("ascii")
                values["signature"] = chain.sign(key, statement)
            conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(**values))

    def record_captures(
        self, run_id: int, captures: list[dict[str, Any]], capture_sha256: str | None = None
    ) -> None:
        """What a replay read: one entry per input file (path, sha256, format, counts, error).

        ``capture_sha256`` names the whole input when it is known only now (many
        files read in parallel); it is signed with the run when the run is closed.
        """
        values: dict[str, Any] = {"captures": captures}
        if capture_sha256 is not None:
            values["capture_sha256"] = capture_sha256
        with self.engine.begin() as conn:
            conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(**values))

    def get_run(self, run_id: int) -> RunRecord | None:
        """The run with this id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.runs).where(schema.runs.c.id == run_id)).first()
        return row_to_run(row._mapping) if row is not None else None

    # -- writing ------------------------------------------------------------

    def _insert_ignoring_duplicates(self, table: Table) -> Insert:
        if self.dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        if self.dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        raise StoreError(f"no duplicate-skipping insert for the {self.dialect} dialect")

    def add(
        self,
        run_id: int,
        findings: Sequence[Finding],
        notes: Sequence[Note] = (),
        connections: Sequence[ConnectionRecord] = (),
        *,
        flows: Sequence[FlowMeta] = (),
    ) -> None:
        """Append findings to the run's hash chain; store notes, connections and flows at once.

        Findings the run already holds, and repeats within the call, are
        dropped before numbering: a retried batch never advances the chain.
        Notes and connection records are kept once each (their unique keys).
        Any failure (UnknownRunError, RunClosedError, an unreachable database)
        raises and stores nothing.
        """
        finding_rows = [finding_to_row(run_id, f) for f in findings]
        note_rows = [note_to_row(run_id, n) for n in notes]
        connection_rows = [c.to_row(run_id) for c in connections]
        if not finding_rows and not note_rows and not connection_rows and not flows:
            return
        dest_rows = destination_rows(run_id, findings, notes)
        rows = (finding_rows, note_rows, connection_rows, dest_rows, flow_rows(run_id, flows))
        try:
            self._write(run_id, *rows, look_up=False)
        except _Repeats:
            # A retried batch: the whole transaction was rolled back. Again, this
            # time dropping what the run already holds before numbering.
            self._write(run_id, *rows, look_up=True)

    def _write(
        self,
        run_id: int,
        finding_rows: list[dict[str, Any]],
        note_rows: list[dict[str, Any]],
        connection_rows: list[dict[str, Any]],
        dest_rows: list[dict[str, Any]],
        meta_rows: list[dict[str, Any]],
        *,
        look_up: bool,
    ) -> None:
        with self.engine.begin() as conn:
            if finding_rows:
                self._append_to_chain(conn, run_id, finding_rows, look_up=look_up)
            if note_rows:
                conn.execute(self._insert_ignoring_duplicates(schema.notes), note_rows)
            if connection_rows:
                conn.execute(self._insert_ignoring_duplicates(schema.connections), connection_rows)
            if dest_rows:
                self._upsert_destinations(conn, dest_rows)
            if meta_rows:
                self._upsert_flows(conn, meta_rows)

    def _upsert_flows(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """One row a (run, flow); a later record of the flow (a stream that ended) replaces it.

        Records reach the store in the order they were made (the writer's queue,
        the spool), so the last one written is the most complete.
        """
        t = schema.flows
        if self.dialect == "sqlite":
            stmt: Any = sqlite.insert(t)
        elif self.dialect == "postgresql":
            stmt = postgresql.insert(t)
        else:
            raise StoreError(f"no upsert for the {self.dialect} dialect")
        kept = {"id", "run_id", "flow_id"}
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.run_id, t.c.flow_id],
            set_={c.name: stmt.excluded[c.name] for c in t.columns if c.name not in kept},
        )
        conn.execute(stmt, rows)

    def get_flow(self, run_id: int, flow_id: str) -> FlowMeta | None:
        """The metadata stored for one flow of a run, or None."""
        c = schema.flows.c
        stmt = select(schema.flows).where(c.run_id == run_id, c.flow_id == flow_id)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return row_to_flow(row) if row is not None else None

    def _upsert_destinations(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert each (run, host, ip) once; later sightings refresh evidence and times."""
        conn.execute(self._destination_upsert, rows)

    @cached_property
    def _destination_upsert(self) -> Any:
        """Built once: constructing the ``excluded`` columns costs more CPU than running it."""
        t = schema.destinations
        earliest: Any
        latest: Any
        if self.dialect == "sqlite":
            stmt: Any = sqlite.insert(t)
            earliest, latest = func.min, func.max
        elif self.dialect == "postgresql":
            stmt = postgresql.insert(t)
            earliest, latest = func.least, func.greatest
        else:
            raise StoreError(f"no upsert for the {self.dialect} dialect")
        new = stmt.excluded
        newer = new.last_seen >= t.c.last_seen
        refreshed = {
            c: case((newer, getattr(new, c)), else_=getattr(t.c, c))
            for c in (
                "sni",
                "country",
                "asn",
                "org",
                "cdn",
                "private",
                "disputed",
                "confidence",
                "sources",
                "evidence",
            )
        }
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.run_id, t.c.dest_key],
            set_={
                **refreshed,
                "verdict": case(
                    (and_(newer, new.verdict.is_not(None)), new.verdict),
                    else_=func.coalesce(t.c.verdict, new.verdict),
                ),
                "first_seen": earliest(t.c.first_seen, new.first_seen),
                "last_seen": latest(t.c.last_seen, new.last_seen),
            },
        )
        return stmt

    def _lock_run(self, conn: Connection, run_id: int) -> RowMapping:
        """The run's row, locked until the transaction ends; UnknownRunError if none."""
        runs = schema.runs
        if self.dialect == "sqlite":
            # SQLite has no row locks, and a deferred transaction reads before it
            # writes: two writers could both read the same head and fork the
            # chain. Writing first takes the database's one writer lock now, and
            # the same statement hands the row back.
            stmt: Any = (
                update(runs)
                .where(runs.c.id == run_id)
                .values(chain_length=runs.c.chain_length)
                .returning(*runs.c)
            )
        else:
            stmt = select(runs).where(runs.c.id == run_id).with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise UnknownRunError(run_id)
        return row

    def _append_to_chain(
        self, conn: Connection, run_id: int, rows: list[dict[str, Any]], *, look_up: bool
    ) -> None:
        """Number, link and insert ``rows`` after the run's head, and move the head.

        Optimistic unless ``look_up``: a batch seldom repeats stored findings,
        and looking them up first would cost a query per batch that grows with
        the run on PostgreSQL. A repeat then fails the insert and raises
        _Repeats, and the caller starts over with ``look_up``. No savepoint
        guards the insert: on SQLite one copies every index page the batch
        touches to a statement journal, a cost paid on every batch for the
        sake of a rare retry.
        """
        run = self._lock_run(conn, run_id)
        if run["status"] != "running":
            raise RunClosedError(f"run {run_id} is closed ({run['status']}); its chain is sealed")
        batch: dict[str, dict[str, Any]] = {}
        for row in rows:
            batch.setdefault(row["dedup_key"], row)
        length = int(run["chain_length"] or 0)
        head = run["chain_head"] or chain.genesis_hash(run_id, run["started_at"])
        fresh = list(batch.values())
        if look_up:
            stored = self._stored_keys(conn, run_id, list(batch))
            fresh = [row for key, row in batch.items() if key not in stored]
            if not fresh:
                return
        try:
            conn.execute(schema.findings.insert(), _chain_rows(fresh, length, head))
        except IntegrityError as exc:
            # Any other conflict (a seq taken) fails again after the look-up, and
            # nothing is stored.
            if look_up:
                raise
            raise _Repeats from exc
        last = fresh[-1]
        conn.execute(
            update(schema.runs)
            .where(schema.runs.c.id == run_id)
            .values(chain_length=last["seq"], chain_head=last["record_hash"].hex())
        )

    @staticmethod
    def _stored_keys(conn: Connection, run_id: int, keys: list[str]) -> set[str]:
        c = schema.findings.c
        stored: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            stmt = select(c.dedup_key).where(c.run_id == run_id, c.dedup_key.in_(chunk))
            stored.update(conn.execute(stmt).scalars())
        return stored

    # -- reading ------------------------------------------------------------

    @staticmethod
    def _finding_filters(
        *,
        run_id: int | None = None,
        category: Category | str | None = None,
        country: str | None = None,
        host: str | None = None,
        rule_id: str | None = None,
        violation: bool | None = None,
    ) -> list[ColumnElement[bool]]:
        c = schema.findings.c
        clauses: list[ColumnElement[bool]] = []
        if run_id is not None:
            clauses.append(c.run_id == run_id)
        if category is not None:
            clauses.append(c.category == str(Category(category)))
        if country is not None:
            clauses.append(c.country == country.upper())
        if host is not None:
            clauses.append(c.host == host.lower())
        if rule_id is not None:
            clauses.append(c.rule_id == rule_id)
        if violation is not None:
            # '=' rather than 'IS' so PostgreSQL can use the (violation, id) index too.
            clauses.append(c.violation == violation)
        return clauses

    def query_findings(
        self,
        *,
        run_id: int | None = None,
        category: Category | str | None = None,
        country: str | None = None,
        host: str | None = None,
        rule_id: str | None = None,
        violation: bool | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredFinding]:
        """Findings matching every given filter, by ascending id, after ``after_id``."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within 1..{MAX_LIMIT}, not {limit}")
        clauses = self._finding_filters(
            run_id=run_id,
            category=category,
            country=country,
            host=host,
            rule_id=rule_id,
            violation=violation,
        )
        if after_id is not None:
            clauses.append(schema.findings.c.id > after_id)
        stmt = select(schema.findings).where(*clauses).order_by(schema.findings.c.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [row_to_finding(row) for row in rows]

    def query_violations(
        self,
        *,
        run_id: int | None = None,
        category: Category | str | None = None,
        country: str | None = None,
        host: str | None = None,
        rule_id: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredFinding]:
        """Findings judged a violation, filtered like ``query_findings``."""
        return self.query_findings(
            run_id=run_id,
            category=category,
            country=country,
            host=host,
            rule_id=rule_id,
            violation=True,
            after_id=after_id,
            limit=limit,
        )

    def count(
        self,
        *,
        run_id: int | None = None,
        category: Category | str | None = None,
        country: str | None = None,
        host: str | None = None,
        rule_id: str | None = None,
        violation: bool | None = None,
    ) -> int:
        """How many findings match every given filter."""
        clauses = self._finding_filters(
            run_id=run_id,
            category=category,
            country=country,
            host=host,
            rule_id=rule_id,
            violation=violation,
        )
        stmt = select(func.count()).select_from(schema.findings).where(*clauses)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def summary(self, run_id: int | None = None) -> list[SummaryRow]:
        """Violations per (country, host, category), most frequent first."""
        c = schema.findings.c
        n = func.count().label("n")
        stmt = (
            select(c.country, c.host, c.category, n)
            .where(c.violation == true())
            .group_by(c.country, c.host, c.category)
            .order_by(n.desc(), c.country, c.host, c.category)
        )
        if run_id is not None:
            stmt = stmt.where(c.run_id == run_id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            SummaryRow(country=r.country, host=r.host, category=Category(r.category), count=r.n)
            for r in rows
        ]

    def query_notes(
        self, *, run_id: int | None = None, after_id: int | None = None, limit: int = 100
    ) -> list[StoredNote]:
        """Notes (unreadable parts of flows), by ascending id."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within 1..{MAX_LIMIT}, not {limit}")
        c = schema.notes.c
        stmt = select(schema.notes).order_by(c.id).limit(limit)
        if run_id is not None:
            stmt = stmt.where(c.run_id == run_id)
        if after_id is not None:
            stmt = stmt.where(c.id > after_id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [row_to_note(row) for row in rows]

    def register_vehicle(
        self, vin_hash: str, vin_preview: str, make: str | None, model: str | None
    ) -> int:
        """The id of the vehicle with this VIN hash, registered now if new."""
        v = schema.vehicles.c
        with self.engine.begin() as conn:
            found = conn.execute(select(v.id).where(v.vin_hash == vin_hash)).scalar()
            if found is not None:
                conn.execute(
                    update(schema.vehicles)
                    .where(v.id == found)
                    .values(make=make or None, model=model or None)
                )
                return int(found)
            result = conn.execute(
                schema.vehicles.insert().values(
                    vin_hash=vin_hash,
                    vin_preview=vin_preview,
                    make=make,
                    model=model,
                    created_at=time.time(),
                )
            )
            (vehicle_id,) = result.inserted_primary_key or (None,)
        if vehicle_id is None:
            raise StoreError("the database returned no id for the new vehicle")
        return int(vehicle_id)

    def describe_session(
        self, run_id: int, vehicle_id: int | None, firmware: str | None, scenario: str | None
    ) -> None:
        """Ties a run to the vehicle under test, its firmware and the scenario driven."""
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.runs)
                .where(schema.runs.c.id == run_id)
                .values(vehicle_id=vehicle_id, firmware=firmware, scenario=scenario)
            )

    def add_marker(self, run_id: int, label: str, at: float | None = None) -> int:
        """Timestamps what the engineer did ("navigation to Astana") within a run."""
        with self.engine.begin() as conn:
            self._lock_run(conn, run_id)
            result = conn.execute(
                schema.markers.insert().values(
                    run_id=run_id, label=label, at=time.time() if at is None else at
                )
            )
            (marker_id,) = result.inserted_primary_key or (None,)
        return int(marker_id or 0)

    def markers(self, run_id: int) -> list[tuple[float, str]]:
        """A run's markers as (time, label), in time order."""
        m = schema.markers.c
        stmt = select(m.at, m.label).where(m.run_id == run_id).order_by(m.at, m.id)
        with self.engine.connect() as conn:
            return [(float(r.at), str(r.label)) for r in conn.execute(stmt)]

    def add_connections(self, run_id: int, records: Sequence[ConnectionRecord]) -> None:
        """Store connection records; one a flow and run, repeats skipped."""
        rows = [r.to_row(run_id) for r in records]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self._insert_ignoring_duplicates(schema.connections), rows)

    def query_connections(
        self, run_id: int, *, content: str | None = None, limit: int = 1000
    ) -> list[ConnectionRecord]:
        """A run's connection records, in the order they were stored."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within 1..{MAX_LIMIT}, not {limit}")
        c = schema.connections.c
        stmt = select(schema.connections).where(c.run_id == run_id).order_by(c.id).limit(limit)
        if content is not None:
            stmt = stmt.where(c.content == content)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        fields = ConnectionRecord.__dataclass_fields__
        return [ConnectionRecord(**{k: row[k] for k in fields}) for row in rows]

    def coverage(self, run_id: int) -> tuple[Coverage, list[Coverage]]:
        """Decryption coverage of a run: (whole run, per host by bytes, most first).

        The share is of bytes whose content the proxy read (decrypted TLS,
        plain HTTP, raw TCP it decoded) among all bytes it forwarded.
        """
        c = schema.connections.c
        size = c.bytes_up + c.bytes_down
        read = func.coalesce(func.sum(case((c.content == "read", size), else_=0)), 0)
        undetermined = func.coalesce(func.sum(case((c.content == "read", 0), else_=1)), 0)
        cols = (
            func.coalesce(func.sum(size), 0).label("total"),
            read.label("read"),
            func.count().label("n"),
            undetermined.label("undetermined"),
        )
        with self.engine.connect() as conn:
            whole = conn.execute(select(*cols).where(c.run_id == run_id)).one()
            per_host = conn.execute(
                select(c.host, *cols)
                .where(c.run_id == run_id)
                .group_by(c.host)
                .order_by(func.sum(size).desc(), c.host)
            ).all()

        def cov(host: str | None, r: Any) -> Coverage:
            return Coverage(host, int(r.total), int(r.read), int(r.n), int(r.undetermined))

        return cov(None, whole), [cov(r.host, r) for r in per_host]

    def attributed_share(self, run_id: int) -> tuple[int, int]:
        """(connections whose destination was attributed with high confidence, all connections)."""
        c = schema.connections.c
        high = func.coalesce(func.sum(case((c.geo_confidence == "high", 1), else_=0)), 0)
        stmt = select(high.label("high"), func.count().label("n")).where(c.run_id == run_id)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).one()
        return int(row.high), int(row.n)

    def attribution(self, run_id: int) -> Attribution:
        """The share of a run's flows attributed with high confidence, and what was counted.

        A live session's connection records count every connection. Without
        them (a replay) the flows that gave a finding or a note are counted,
        each by the run's geolocation evidence (``destinations``) for its
        server: a flow whose server has no evidence is not high.
        """
        high, total = self.attributed_share(run_id)
        if total:
            return Attribution(high, total, "connections")
        f, n, d = schema.findings.c, schema.notes.c, schema.destinations.c
        flows = (
            select(f.flow_id, f.host, f.ip)
            .where(f.run_id == run_id)
            .union(select(n.flow_id, n.host, n.ip).where(n.run_id == run_id))
            .subquery()
        )
        # A server is matched on (host, ip), a missing part as "". The run's servers placed
        # with high confidence are one set, built once and looked up per flow (SQLite keeps
        # it as a temporary index, PostgreSQL hashes it). A join of the flows with the
        # destinations on these expressions compares every flow with every server of the
        # run instead, as no index serves them: time grew with flows times servers.
        high_servers = select(func.coalesce(d.host, ""), func.coalesce(d.ip, "")).where(
            d.run_id == run_id, d.confidence == "high"
        )
        server = tuple_(func.coalesce(flows.c.host, ""), func.coalesce(flows.c.ip, ""))
        stmt = select(
            func.count(distinct(flows.c.flow_id)),
            func.count(distinct(case((server.in_(high_servers), flows.c.flow_id)))),
        )
        with self.engine.connect() as conn:
            total, high = conn.execute(stmt).one()
        return Attribution(int(high), int(total), "flows with findings")

    def query_destinations(
        self,
        *,
        run_id: int | None = None,
        country: str | None = None,
        host: str | None = None,
        confidence: str | None = None,
        verdict: str | None = None,
        disputed: bool | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredDestination]:
        """Destinations with their sources and evidence, by ascending id, after ``after_id``."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within 1..{MAX_LIMIT}, not {limit}")
        c = schema.destinations.c
        stmt = select(schema.destinations).order_by(c.id).limit(limit)
        if run_id is not None:
            stmt = stmt.where(c.run_id == run_id)
        if country is not None:
            stmt = stmt.where(c.country == country.upper())
        if host is not None:
            stmt = stmt.where(c.host == host.lower())
        if confidence is not None:
            stmt = stmt.where(c.confidence == confidence)
        if verdict is not None:
            stmt = stmt.where(c.verdict == verdict)
        if disputed is not None:
            stmt = stmt.where(c.disputed == disputed)
        if after_id is not None:
            stmt = stmt.where(c.id > after_id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [row_to_destination(row) for row in rows]

    def count_notes(self, run_id: int | None = None) -> int:
        """How many notes a run (or the whole store) holds."""
        stmt = select(func.count()).select_from(schema.notes)
        if run_id is not None:
            stmt = stmt.where(schema.notes.c.run_id == run_id)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())


def _chain_rows(rows: list[dict[str, Any]], length: int, head: str) -> list[dict[str, Any]]:
    """Number rows after ``length`` and link each to the one before, from ``head``."""
    prev = bytes.fromhex(head)
    for row in rows:
        length += 1
        row["seq"] = length
        row["prev_hash"] = prev
        prev = row["record_hash"] = chain.link(prev, row)
    return rows


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy appends the SQL and a docs link; the first line is the cause.
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
