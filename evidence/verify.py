"""Recomputes runs' hash chains and checks their signed closing statements.

``verify_store`` reads a store as the database holds it (raw column values,
not the store's typed mapping, so a value written behind the store's back is
seen as it is) and names, per run, the first record at fault and what
happened to it. ``export_run`` writes a run's statement, signature and
findings to a JSON-lines file that ``verify_export`` checks offline, with no
database.

The kinds of fault named:

- ``altered``: a record's contents (or a link) no longer hash to what was chained;
- ``inserted``: a record the chain never held (no place, a seq taken twice,
  after the recorded end, or numbered into the middle);
- ``deleted``: records missing from the middle or the end;
- ``reordered``: a record, or its contents, found at another place in the chain;
- ``signature invalid``: the closing statement or its signature was changed;
- ``statement mismatch``: the run's row disagrees with its signed statement;
- ``untrusted key``: signed by a key the verifier was not told to trust;
- ``unsigned``: a closed run without a signed statement (it was removed, or
  the run was closed without a station key).

A run still open (or killed before closing) has no signature yet: its chain
is checked against the run's row only, and reported as open and unsigned.
Nothing can tell such a run from a closed one whose signature was stripped
and whose status was set back to running; ``require_signed`` treats both as
faults.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, text

from shekara.evidence import chain
from shekara.evidence.store import FindingStore, UnknownRunError

EXPORT_FORMAT = "shekara-chain-export-v1"

ALTERED = "altered"
INSERTED = "inserted"
DELETED = "deleted"
REORDERED = "reordered"
SIGNATURE_INVALID = "signature invalid"
STATEMENT_MISMATCH = "statement mismatch"
UNTRUSTED_KEY = "untrusted key"
UNSIGNED = "unsigned"

# A record renumbered by a deletion or insertion nearby is recognised when it
# moved by at most this many places (each guess costs one hash, on failure only).
_RENUMBER_WINDOW = 16

# A finding or run row as the database hands it back (SQLAlchemy's RowMapping, or a dict).
Row = Mapping[Any, Any]

_ROW_COLUMNS = ("id", "seq", "prev_hash", "record_hash", *chain.FINDING_COLUMNS)


@dataclass(frozen=True, slots=True)
class Fault:
    """The first thing found wrong in a run, and where."""

    kind: str
    detail: str
    seq: int | None = None
    record_id: int | None = None

    def describe(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.record_id is not None:
            where.append(f"id {self.record_id}")
        at = f" at {', '.join(where)}" if where else ""
        return f"{self.kind}{at}: {self.detail}"


@dataclass(frozen=True, slots=True)
class RunReport:
    """What ``verify`` found for one run.

    ``state`` is ``signed``, ``open`` (running or killed before closing,
    nothing signed yet) or ``closed-unsigned`` (always a fault); ``length``
    and ``head`` are those of the chain as recomputed up to the first fault.
    """

    run_id: int
    state: str
    length: int
    head: str
    station_key: str | None
    fault: Fault | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None

    def describe(self) -> str:
        """One line: OK and how, or FAILED and the first fault."""
        if self.fault is not None:
            return f"run {self.run_id}: FAILED: {self.fault.describe()}"
        findings = f"{self.length} finding{'s' if self.length != 1 else ''}"
        if self.state == "signed":
            key = chain.key_fingerprint(self.station_key or "")
            return (
                f"run {self.run_id}: OK, signed by station key {key}, "
                f"{findings}, head {self.head[:16]}"
            )
        return (
            f"run {self.run_id}: OK, open, unsigned (still running, or ended without "
            f"closing): {findings} consistent with the run's row"
        )


# -- the chain walk ---------------------------------------------------------------


def _seq_key(row: Row) -> tuple[int, int, Any]:
    seq = row["seq"]
    if isinstance(seq, int) and not isinstance(seq, bool):
        return (0, seq, _int_or_zero(row["id"]))
    return (1 if seq is not None else 2, 0, _int_or_zero(row["id"]))


def _int_or_zero(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _hash_as(row: Row, prev_hash: Any, **overrides: Any) -> str | None:
    """The record hash ``row`` would have with ``prev_hash`` and some columns replaced."""
    values = {**row, **overrides} if overrides else row
    try:
        return chain.record_hash(prev_hash, values)
    except chain.CanonicalError:
        return None


def check_chain(
    run_id: int,
    started_at: float,
    rows: Iterable[Row],
    *,
    recorded_length: int | None,
    recorded_head: str | None,
    load_all: Callable[[], Sequence[Row]] | None = None,
) -> tuple[int, str, Fault | None]:
    """Walk a run's findings in seq order; return (length, head, first fault or None).

    ``rows`` are raw finding rows sorted by seq (numbers first, ascending,
    then anything else). ``recorded_length``/``recorded_head`` are what the
    chain must end in (the signed statement, or the run's row); None when
    nothing was recorded (an export of an open run). ``load_all`` gives every
    row again, only to name what happened once something is found wrong;
    without it the rows seen so far are kept for that.
    """
    genesis = chain.genesis_hash(run_id, started_at)
    head, length = genesis, 0
    seen: list[Row] | None = [] if load_all is None else None

    def everything() -> Sequence[Row]:
        if load_all is not None:
            return load_all()
        assert seen is not None
        return seen + list(iterator)

    def diagnose(row: Row | None) -> Fault:
        return _diagnose(length + 1, head, genesis, row, everything())

    iterator = iter(rows)
    if recorded_length == 0 and recorded_head not in (None, genesis):
        return length, head, _head_mismatch(0, recorded_head, genesis, [])
    for row in iterator:
        if seen is not None:
            seen.append(row)
        expected = length + 1
        seq, rid = row["seq"], _record_id(row)
        if seq is None:
            return length, head, Fault(INSERTED, "a record with no place in the chain", None, rid)
        if not isinstance(seq, int) or isinstance(seq, bool):
            return length, head, Fault(ALTERED, f"its seq {seq!r} is not a number", None, rid)
        if seq < expected:
            detail = f"a second record numbered seq {seq}"
            return length, head, Fault(INSERTED, detail, seq, rid)
        if recorded_length is not None and expected > recorded_length and seq >= expected:
            detail = f"after the recorded end of the chain (length {recorded_length})"
            return length, head, Fault(INSERTED, detail, seq, rid)
        if seq > expected or not _links(row, head):
            return length, head, diagnose(row)
        head, length = row["record_hash"], expected
        if length == recorded_length and head != recorded_head:
            fault = _head_mismatch(length, recorded_head, genesis, everything())
            return length, head, fault
    if recorded_length is not None and length < recorded_length:
        missing = (
            f"seq {length + 1}"
            if length + 1 == recorded_length
            else f"seq {length + 1}..{recorded_length}"
        )
        detail = (
            f"the last records ({missing}) are missing: the recorded chain has {recorded_length}"
        )
        return length, head, Fault(DELETED, detail, length + 1, None)
    return length, head, None


def _record_id(row: Row) -> int | None:
    rid = row.get("id")
    return rid if isinstance(rid, int) else None


def _links(row: Row, head: str) -> bool:
    return row["prev_hash"] == head and _hash_as(row, head) == row["record_hash"]


def _head_mismatch(
    length: int, recorded_head: str | None, genesis: str, rows: Sequence[Row]
) -> Fault:
    """The records up to the recorded length do not end in the recorded head."""
    # Follow the links back from the recorded head: if they reach the genesis,
    # the recorded chain is still in the table, and the first place where the
    # table's order leaves it is the fault.
    by_hash = {r["record_hash"]: r for r in rows}
    recorded: list[Row] = []
    link, visited = recorded_head, set()
    while link in by_hash and link not in visited:
        visited.add(link)
        recorded.append(by_hash[link])
        link = by_hash[link]["prev_hash"]
    if link == genesis and recorded:
        recorded.reverse()
        ids = {_record_id(r) for r in recorded}
        placed = sorted((r for r in rows if isinstance(r["seq"], int)), key=_seq_key)
        for position, (now, was) in enumerate(zip(placed, recorded, strict=False), 1):
            if _record_id(now) == _record_id(was):
                continue
            if _record_id(now) not in ids:
                detail = (
                    f"a record the chain never held; the one chained as seq {position} "
                    f"(id {_record_id(was)}) now has seq {was['seq']}"
                )
                return Fault(INSERTED, detail, position, _record_id(now))
            detail = f"the record chained as seq {position} (id {_record_id(was)}) is elsewhere"
            return Fault(REORDERED, detail, position, _record_id(now))
    return Fault(
        ALTERED,
        f"the records up to seq {length} hash to another head than the one recorded: "
        "records were rewritten with fresh hashes",
        None,
        None,
    )


def _diagnose(
    expected: int,
    head: str,
    genesis: str,
    row: Row | None,
    rows: Sequence[Row],
) -> Fault:
    """Name what happened at the first place the walk failed: ``row`` holds seq ``expected``,
    or a later seq (a gap), and does not follow ``head``."""
    rid = _record_id(row) if row is not None else None
    others = [r for r in rows if row is None or _record_id(r) != rid]
    # 1. The record that really follows `head` is elsewhere: it was moved.
    for other in others:
        if (
            other["prev_hash"] == head
            and _hash_as(other, head, seq=expected) == other["record_hash"]
        ):
            now = f"now has seq {other['seq']}" if other["seq"] is not None else "now has no seq"
            detail = f"the record chained as seq {expected} (id {_record_id(other)}) {now}"
            if row is not None and row["seq"] == expected:
                detail += f"; seq {expected} holds id {rid}"
            return Fault(REORDERED, detail, expected, _record_id(other))
    if row is None or row["seq"] != expected:
        last = row["seq"] - 1 if row is not None else None
        span = f"seq {expected}" if last in (None, expected) else f"seq {expected}..{last}"
        return Fault(DELETED, f"records {span} are missing", expected, rid)
    content_ok = _hash_as(row, row["prev_hash"]) == row["record_hash"]
    if not content_ok:
        # 2. Its contents are those recorded for another place (rows swapped).
        for other in others:
            moved = _hash_as(row, other["prev_hash"], seq=other["seq"], run_id=other["run_id"])
            if moved is not None and moved == other["record_hash"]:
                detail = f"it holds the contents recorded as seq {other['seq']}"
                return Fault(REORDERED, detail, expected, rid)
        # 3. A genuine record renumbered: records were inserted or deleted before it.
        by_hash = {r["record_hash"]: r for r in rows}
        guesses: list[int] = []
        if row["prev_hash"] == genesis:
            guesses.append(1)
        before = by_hash.get(row["prev_hash"])
        if before is not None and isinstance(before["seq"], int):
            guesses.append(before["seq"] + 1)
        for d in range(1, _RENUMBER_WINDOW + 1):
            guesses += [expected + d, expected - d]
        for was in guesses:
            if was < 1 or was == expected:
                continue
            if _hash_as(row, row["prev_hash"], seq=was) == row["record_hash"]:
                return _renumbered(row, was, expected, rows)
        return Fault(
            ALTERED,
            "its contents do not match its record hash (a column was changed)",
            expected,
            rid,
        )
    # Its own hash holds, but it does not follow the record before it.
    before = next((r for r in others if r["record_hash"] == row["prev_hash"]), None)
    if before is not None:
        detail = f"it follows the record now at seq {before['seq']} (id {_record_id(before)})"
        return Fault(REORDERED, detail, expected, rid)
    if expected == 1:
        detail = (
            "the first record is not chained to this run's genesis: the run's id or start "
            "time was changed, or the record was forged with a fresh hash"
        )
        return Fault(ALTERED, detail, 1, rid)
    previous = next((r for r in others if r["seq"] == expected - 1), None)
    detail = (
        f"seq {expected - 1} was rewritten with a fresh hash: seq {expected} (id {rid}) "
        "was chained to a different record"
    )
    return Fault(ALTERED, detail, expected - 1, _record_id(previous) if previous else None)


def _renumbered(row: Row, was: int, now: int, rows: Sequence[Row]) -> Fault:
    rid = _record_id(row)
    if was < now:
        first = next((r for r in rows if r["seq"] == was), None)
        detail = (
            f"records were inserted: the record now at seq {now} (id {rid}) was chained "
            f"as seq {was}"
        )
        return Fault(INSERTED, detail, was, _record_id(first) if first else None)
    span = f"seq {now}" if was == now + 1 else f"seq {now}..{was - 1}"
    detail = (
        f"records chained as {span} are missing and later ones renumbered: the record "
        f"now at seq {now} (id {rid}) was chained as seq {was}"
    )
    return Fault(DELETED, detail, now, rid)


# -- runs in a store ---------------------------------------------------------------


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# Raw values, no type processing: a value written with SQL is seen as it is.
_FINDINGS_SQL = (
    f"SELECT {_quoted(_ROW_COLUMNS)} FROM findings WHERE run_id = :run_id "
    "ORDER BY CASE WHEN seq IS NULL THEN 1 ELSE 0 END, seq, id"
)


def hex_links(row: Row) -> dict[Any, Any]:
    """A finding row with its links as hex, the form the chain and exports speak.

    The store keeps them as 32 raw bytes. Anything else found there (text or a
    number written with SQL, bytes of another length) keeps a form of its own
    that matches no hash, so it is reported where it is.
    """
    out = dict(row)
    for name in ("prev_hash", "record_hash"):
        value = out.get(name)
        if isinstance(value, memoryview):
            value = value.tobytes()
        if isinstance(value, bytes) and len(value) == 32:
            out[name] = value.hex()
        elif value is not None:
            out[name] = f"<not a stored sha256: {value!r:.80}>"
    return out


def _finding_rows(
    conn: Connection, run_id: int, *, stream: bool
) -> Generator[dict[Any, Any], None, None]:
    stmt = text(_FINDINGS_SQL)
    if stream:
        stmt = stmt.execution_options(yield_per=2000)
    with conn.execute(stmt, {"run_id": run_id}).mappings() as result:
        for row in result:
            yield hex_links(row)


def _state(run: Row) -> str:
    if run["closing_statement"] is None and run["signature"] is None:
        return "open" if run["status"] == "running" else "closed-unsigned"
    return "signed"


def _row_head(run: Row, genesis: str) -> Any:
    # An empty chain's head is its genesis; the row keeps NULL until a finding arrives.
    if run["chain_head"] is None and run["chain_length"] == 0:
        return genesis
    return run["chain_head"]


def verify_run(
    conn: Connection,
    run: Row,
    *,
    trusted_keys: Sequence[str] = (),
    require_signed: bool = False,
    load_all: Callable[[], Sequence[Row]] | None = None,
) -> RunReport:
    """Check one run's chain and statement; ``run`` is its raw ``runs`` row."""
    run_id = int(run["id"])
    state = _state(run)
    statement: dict[str, Any] | None = None
    fault: Fault | None = None
    if state == "signed":
        statement, fault = _check_statement(run)
    genesis = chain.genesis_hash(run_id, _float(run["started_at"]))
    if statement is not None:
        recorded_length, recorded_head = statement["chain_length"], statement["chain_head"]
    else:
        recorded_length, recorded_head = run["chain_length"], _row_head(run, genesis)
    # Streamed: a run may hold millions of findings; all are loaded only to explain a fault.
    rows = _finding_rows(conn, run_id, stream=True)
    length, head, chain_fault = check_chain(
        run_id,
        _float(run["started_at"]),
        rows,
        recorded_length=recorded_length,
        recorded_head=recorded_head,
        load_all=load_all or (lambda: list(_finding_rows(conn, run_id, stream=False))),
    )
    rows.close()
    fault = chain_fault or fault or _unsigned(state, require_signed)
    if fault is None and statement is not None:
        fault = _compare_with_statement(run, statement, genesis)
        if fault is None and trusted_keys and run["station_key"] not in trusted_keys:
            fp = chain.key_fingerprint(str(run["station_key"]))
            fault = Fault(UNTRUSTED_KEY, f"signed by station key {fp}, not a trusted key")
    return RunReport(run_id, state, length, head, run["station_key"], fault)


def _unsigned(state: str, require_signed: bool) -> Fault | None:
    if state == "closed-unsigned":
        detail = (
            "the run is closed but carries no signed statement "
            "(it was removed, or the run was closed without a station key)"
        )
        return Fault(UNSIGNED, detail)
    if state == "open" and require_signed:
        return Fault(UNSIGNED, "the run is open: nothing is signed yet")
    return None


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def _check_statement(run: Row) -> tuple[dict[str, Any] | None, Fault | None]:
    """The signed statement's fields if the signature holds, else the fault."""
    text_ = run["closing_statement"]
    if run["status"] == "running":
        return None, Fault(STATEMENT_MISMATCH, "the run is marked running but has been closed")
    if not isinstance(text_, str) or not run["signature"] or not run["station_key"]:
        return None, Fault(SIGNATURE_INVALID, "the statement, signature or key is missing")
    if not chain.signature_valid(run["station_key"], text_.encode("utf-8"), run["signature"]):
        detail = "the closing statement does not match its signature under the stored key"
        return None, Fault(SIGNATURE_INVALID, detail)
    try:
        return chain.parse_statement(text_), None
    except chain.CanonicalError as exc:
        return None, Fault(SIGNATURE_INVALID, f"the signed statement is malformed: {exc}")


def _compare_with_statement(run: Row, statement: Row, genesis: str) -> Fault | None:
    for key, (column, kind) in chain.STATEMENT_RUN_FIELDS.items():
        actual = chain.normalise(kind, run[column])
        if actual != statement[key]:
            detail = f"runs.{column} is {actual!r}, the signed statement says {statement[key]!r}"
            return Fault(STATEMENT_MISMATCH, detail)
    for column in ("chain_length", "chain_head"):
        actual = run["chain_length"] if column == "chain_length" else _row_head(run, genesis)
        if actual != statement[column]:
            detail = f"runs.{column} is {actual!r}, the signed statement says {statement[column]!r}"
            return Fault(STATEMENT_MISMATCH, detail)
    return None


def verify_store(
    store: FindingStore,
    run_id: int | None = None,
    *,
    trusted_keys: Sequence[str] = (),
    require_signed: bool = False,
) -> list[RunReport]:
    """Reports for every run of the store (ascending id), or for one; UnknownRunError if absent."""
    where = " WHERE id = :run_id" if run_id is not None else ""
    reports = []
    with _snapshot(store) as conn:
        runs = conn.execute(
            text(f"SELECT * FROM runs{where} ORDER BY id"), {"run_id": run_id}
        ).mappings()
        run_rows = runs.all()
        if run_id is not None and not run_rows:
            raise UnknownRunError(run_id)
        for run in run_rows:
            reports.append(
                verify_run(conn, run, trusted_keys=trusted_keys, require_signed=require_signed)
            )
    return reports


@contextmanager
def _snapshot(store: FindingStore) -> Iterator[Connection]:
    """A read-only connection that sees one state of the database throughout.

    Without it a writer appending to an open run between reading the run's
    row and its findings would look like an insertion after the recorded end.
    """
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            conn.execute(text("SET TRANSACTION READ ONLY"))
        elif store.dialect == "sqlite":
            dbapi = conn.connection.dbapi_connection
            # The driver begins transactions only before writes; reads need one too.
            if dbapi is not None and not dbapi.in_transaction:
                conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


# -- offline: exported chains ---------------------------------------------------------


def export_run(store: FindingStore, run_id: int, out: IO[str]) -> int:
    """Write one run's chain as JSON lines to ``out``; return the number of findings.

    The first line holds the run's id and start, its closing statement (the
    exact signed text), the signature and the station's public key; each
    further line one finding: ``id``, ``seq``, ``prev_hash``, ``record_hash``
    and every chained column as the chain hashes it.
    """
    with _snapshot(store) as conn:
        run = conn.execute(text("SELECT * FROM runs WHERE id = :id"), {"id": run_id}).mappings()
        row = run.first()
        if row is None:
            raise UnknownRunError(run_id)
        header = {
            "format": EXPORT_FORMAT,
            "run_id": row["id"],
            "started_at": row["started_at"],
            "status": row["status"],
            "chain_length": row["chain_length"],
            "chain_head": row["chain_head"],
            "closing_statement": row["closing_statement"],
            "signature": row["signature"],
            "station_key": row["station_key"],
        }
        out.write(json.dumps(header, sort_keys=True) + "\n")
        n = 0
        for finding in _finding_rows(conn, run_id, stream=True):
            out.write(json.dumps(_export_row(finding), sort_keys=True) + "\n")
            n += 1
    return n


def _export_row(row: Row) -> dict[str, Any]:
    values = {
        name: chain.normalise(kind, row[name]) for name, kind in chain.FINDING_COLUMNS.items()
    }
    values.update(
        id=row["id"], seq=row["seq"], prev_hash=row["prev_hash"], record_hash=row["record_hash"]
    )
    return values


class ExportError(ValueError):
    """A file that is not a chain export."""


def read_export(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and finding rows of an export file."""
    header: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(_lines(fh), 1):
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise ExportError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(item, dict):
                raise ExportError(f"{path}:{number}: not a JSON object")
            if header is None:
                if item.get("format") != EXPORT_FORMAT:
                    raise ExportError(f"{path}: not a {EXPORT_FORMAT} file")
                header = item
                continue
            missing = [c for c in _ROW_COLUMNS if c not in item]
            if missing:
                raise ExportError(f"{path}:{number}: no {', '.join(missing)}")
            rows.append(item)
    if header is None:
        raise ExportError(f"{path}: empty")
    return header, rows


def _lines(fh: IO[str]) -> Iterator[str]:
    for line in fh:
        if line.strip():
            yield line


def verify_export(
    path: Path, *, trusted_keys: Sequence[str] = (), require_signed: bool = False
) -> RunReport:
    """Check an exported run offline: its signature, statement and every finding's hash."""
    header, rows = read_export(path)
    rows.sort(key=_seq_key)
    statement_text = header.get("closing_statement")
    key = header.get("station_key")
    run_id = header.get("run_id")
    if not isinstance(run_id, int):
        raise ExportError(f"{path}: the header has no run id")
    if statement_text is None:
        started = header.get("started_at")
        if not isinstance(started, int | float):
            raise ExportError(f"{path}: the header has no start time")
        recorded_length = header.get("chain_length")
        genesis = chain.genesis_hash(run_id, float(started))
        length, head, fault = check_chain(
            run_id,
            float(started),
            rows,
            recorded_length=recorded_length if isinstance(recorded_length, int) else -1,
            recorded_head=header.get("chain_head") or (genesis if recorded_length == 0 else None),
            load_all=lambda: rows,
        )
        state = "open" if header.get("status") == "running" else "closed-unsigned"
        return RunReport(
            run_id, state, length, head, None, fault or _unsigned(state, require_signed)
        )
    if not isinstance(key, str) or not isinstance(header.get("signature"), str):
        return RunReport(
            run_id, "signed", 0, "", None, Fault(SIGNATURE_INVALID, "no signature or key")
        )
    if not chain.signature_valid(key, statement_text.encode("utf-8"), header["signature"]):
        fault = Fault(SIGNATURE_INVALID, "the closing statement does not match its signature")
        return RunReport(run_id, "signed", 0, "", key, fault)
    try:
        statement = chain.parse_statement(statement_text)
    except chain.CanonicalError as exc:
        fault = Fault(SIGNATURE_INVALID, f"the signed statement is malformed: {exc}")
        return RunReport(run_id, "signed", 0, "", key, fault)
    if statement["station_key"] != key or statement["run_id"] != run_id:
        detail = "the header's run id or key differs from the signed statement's"
        return RunReport(run_id, "signed", 0, "", key, Fault(STATEMENT_MISMATCH, detail))
    length, head, fault = check_chain(
        run_id,
        _float(statement["started_at"]),
        rows,
        recorded_length=statement["chain_length"],
        recorded_head=statement["chain_head"],
        load_all=lambda: rows,
    )
    if fault is None and trusted_keys and key not in trusted_keys:
        fault = Fault(UNTRUSTED_KEY, f"signed by station key {chain.key_fingerprint(key)}")
    return RunReport(run_id, "signed", length, head, key, fault)
