"""The chain in a real store, on each back end: how add() builds it, what verify finds.

The randomised trials tamper with the database directly with SQL, as someone
with write access to it would, and require ``shekara verify`` to fail the
run every time. The tamperer knows the algorithm: forged rows carry hashes
recomputed with ``shekara.evidence.chain``. What only a key holder could do
(re-sign a rewritten run) is caught only with ``--trusted-key``, tested apart.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, func, insert, select, text, update

from shekara.audit.model import Category, Confidence, Verdict
from shekara.evidence import chain, schema, verify
from shekara.evidence.store import FindingStore, RunClosedError
from shekara.proxy import cli

from .conftest import FOREIGN, build_finding, build_note

F = schema.findings
R = schema.runs


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _findings(rng: random.Random, n: int, prefix: str = "f") -> list:
    hosts = ["telematics.example.cn", "maps.example.de", "api.example.kz", None]
    return [
        build_finding(
            flow_id=f"{prefix}{i}",
            category=rng.choice(list(Category)),
            field=f"request.body:$.v{rng.randrange(1000)}",
            value_hash=f"{rng.getrandbits(256):064x}",
            preview=f"P{rng.randrange(10**6)}***",
            observed_at=1_700_000_000 + rng.random() * 1e5,
            recorded_at=1_700_000_000.0 + i,
            violation=rng.random() < 0.7,
            verdict=rng.choice(list(Verdict)),
            confidence=rng.choice(list(Confidence)),
            legal_refs=tuple(
                rng.sample(["KZ-PDL-12(2)", "KZ-PDL-16", "KZ-PDL-9"], rng.randrange(3))
            ),
            destination=replace(
                FOREIGN,
                host=rng.choice(hosts),
                country=rng.choice(["CN", "DE", "KZ", None]),
                port=rng.choice([443, 8883, None]),
                asn=rng.choice([4134, 4_200_000_000, None]),
                private=rng.random() < 0.1,
            ),
        )
        for i in range(n)
    ]


def _fill(
    store: FindingStore,
    rng: random.Random,
    n: int,
    key: Ed25519PrivateKey | None,
    *,
    close: bool = True,
) -> int:
    """A run with n findings written in a few batches (one repeated), closed and signed."""
    run_id = store.start_run("replay", capture="c.mitm", capture_sha256="ab" * 32)
    findings = _findings(rng, n)
    cuts = sorted(rng.sample(range(1, n), min(2, n - 1))) if n > 1 else []
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        store.add(run_id, findings[a:b], [])
    store.add(run_id, findings[: max(1, n // 2)], [])  # a retried batch: no new records
    if close:
        store.finish_run(run_id, n, "completed", key=key)
    return run_id


def _rows(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    result = conn.execute(select(F).where(F.c.run_id == run_id).order_by(F.c.seq))
    return [verify.hex_links(r) for r in result.mappings()]


def _db(values: dict[str, Any]) -> dict[str, Any]:
    """Values to write with SQL: the store keeps the chain links as raw bytes."""
    return {
        k: bytes.fromhex(v) if k in ("prev_hash", "record_hash") and isinstance(v, str) else v
        for k, v in values.items()
    }


def _report(store: FindingStore, run_id: int, **kw: Any) -> verify.RunReport:
    (report,) = verify.verify_store(store, run_id, **kw)
    return report


# -- how add() builds the chain ------------------------------------------------------


def test_add_numbers_and_links_every_finding(store: FindingStore, key: Ed25519PrivateKey) -> None:
    rng = random.Random(1)
    run_id = _fill(store, rng, 25, key, close=False)
    run = store.get_run(run_id)
    assert run is not None
    with store.engine.connect() as conn:
        rows = _rows(conn, run_id)
        head, length = conn.execute(
            select(R.c.chain_head, R.c.chain_length).where(R.c.id == run_id)
        ).one()
    assert [r["seq"] for r in rows] == list(range(1, 26))
    prev = chain.genesis_hash(run_id, run.started_at)
    for r in rows:
        assert r["prev_hash"] == prev
        assert r["record_hash"] == chain.record_hash(prev, r)
        prev = r["record_hash"]
    assert (head, length) == (prev, 25)


def test_repeats_never_advance_the_chain(store: FindingStore) -> None:
    run_id = store.start_run("proxy")
    a, b = build_finding(flow_id="a"), build_finding(flow_id="b")
    store.add(run_id, [a, a, b], [])
    store.add(run_id, [b, a], [])
    store.add(run_id, [b, build_finding(flow_id="c"), a], [])
    with store.engine.connect() as conn:
        rows = _rows(conn, run_id)
    assert [(r["flow_id"], r["seq"]) for r in rows] == [("a", 1), ("b", 2), ("c", 3)]
    assert _report(store, run_id).ok


def test_a_repeated_batch_is_written_once_with_its_notes_and_destinations(
    store: FindingStore,
) -> None:
    # The repeat fails the first, optimistic insert; the whole call is written
    # again, and nothing of the first attempt may remain or be doubled.
    run_id = store.start_run("proxy")
    store.add(run_id, [build_finding(flow_id="a")], [])
    elsewhere = replace(FOREIGN, host="cdn.example.de", ip="198.51.100.9", country="DE")
    new = build_finding(flow_id="c", destination=elsewhere)
    store.add(run_id, [build_finding(flow_id="a"), new], [build_note(flow_id="c")])
    with store.engine.connect() as conn:
        rows = _rows(conn, run_id)
    assert [(r["flow_id"], r["seq"]) for r in rows] == [("a", 1), ("c", 2)]
    assert store.count_notes(run_id) == 1
    hosts = sorted(d.host or "" for d in store.query_destinations(run_id=run_id))
    assert hosts == ["cdn.example.de", "telematics.example.cn"]
    with store.engine.connect() as conn:
        head = conn.execute(
            select(schema.runs.c.chain_length, schema.runs.c.chain_head).where(
                schema.runs.c.id == run_id
            )
        ).one()
    assert tuple(head) == (2, rows[-1]["record_hash"])
    assert _report(store, run_id).ok


@pytest.mark.timeout(120)
def test_concurrent_writers_extend_one_chain(store: FindingStore, key: Ed25519PrivateKey) -> None:
    run_id = store.start_run("proxy")
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for b in range(10):
                # Overlapping batches: each finding is written by two threads.
                batch = [
                    build_finding(flow_id=f"{(w + k) % 4}-{b}-{i}")
                    for k in (0, 1)
                    for i in range(5)
                ]
                store.add(run_id, batch, [])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store.finish_run(run_id, 0, "completed", key=key)
    report = _report(store, run_id)
    assert report.ok, report.describe()
    assert report.length == 4 * 10 * 5 == store.count(run_id=run_id)


@pytest.mark.timeout(120)
def test_verify_while_a_writer_appends_sees_one_consistent_state(store: FindingStore) -> None:
    # The run's row and its findings are read from one snapshot: a batch landing
    # between the two reads must not look like an insertion after the end.
    run_id = store.start_run("proxy")
    done = threading.Event()

    def writer() -> None:
        for b in range(60):
            store.add(run_id, [build_finding(flow_id=f"{b}-{i}") for i in range(20)], [])
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reports = []
    while not done.is_set():
        reports.append(_report(store, run_id))
    thread.join()
    reports.append(_report(store, run_id))
    assert [r.describe() for r in reports if not r.ok] == []
    assert reports[-1].length == 1200 and len(reports) > 2


def test_a_closed_run_is_sealed(store: FindingStore, key: Ed25519PrivateKey) -> None:
    run_id = store.start_run("replay")
    store.add(run_id, [build_finding()], [])
    store.finish_run(run_id, 1, "completed", key=key)
    with pytest.raises(RunClosedError):
        store.add(run_id, [build_finding(flow_id="late")], [])
    with pytest.raises(RunClosedError):
        store.finish_run(run_id, 2, "failed", key=key)
    assert store.count(run_id=run_id) == 1
    assert _report(store, run_id).ok


def test_closing_stores_a_signed_statement(store: FindingStore, key: Ed25519PrivateKey) -> None:
    run_id = _fill(store, random.Random(2), 4, None, close=False)
    store.finish_run(
        run_id, 9, "failed", "boom", finished_at=200, key=key, raw_evidence_sha256="ef" * 32
    )
    with store.engine.connect() as conn:
        run = conn.execute(select(R).where(R.c.id == run_id)).mappings().one()
    statement = chain.parse_statement(run["closing_statement"])
    assert chain.signature_valid(
        run["station_key"], run["closing_statement"].encode(), run["signature"]
    )
    assert run["station_key"] == chain.public_key_text(key)
    assert statement["chain_length"] == 4 and statement["chain_head"] == run["chain_head"]
    assert (statement["flows_read"], statement["status"], statement["error"]) == (
        9,
        "failed",
        "boom",
    )
    assert statement["finished_at"] == 200.0
    assert statement["raw_evidence_sha256"] == run["raw_evidence_sha256"] == "ef" * 32
    report = _report(store, run_id)
    assert report.ok and report.state == "signed" and report.length == 4


def test_an_empty_run_closes_and_verifies(store: FindingStore, key: Ed25519PrivateKey) -> None:
    run_id = store.start_run("proxy")
    store.finish_run(run_id, 0, "completed", key=key)
    report = _report(store, run_id)
    assert report.ok and report.length == 0
    assert report.head == chain.genesis_hash(run_id, store.get_run(run_id).started_at)  # type: ignore[union-attr]


def test_open_runs_are_checked_and_said_to_be_unsigned(store: FindingStore) -> None:
    run_id = _fill(store, random.Random(3), 6, None, close=False)
    report = _report(store, run_id)
    assert report.ok and report.state == "open" and report.length == 6
    assert "open, unsigned" in report.describe()
    strict = _report(store, run_id, require_signed=True)
    assert not strict.ok and strict.fault is not None and strict.fault.kind == verify.UNSIGNED


def test_a_closed_run_without_signature_fails(store: FindingStore) -> None:
    run_id = _fill(store, random.Random(4), 3, None)
    report = _report(store, run_id)
    assert report.fault is not None and report.fault.kind == verify.UNSIGNED


# -- what verify names --------------------------------------------------------------------


@pytest.fixture
def signed(
    store: FindingStore, key: Ed25519PrivateKey
) -> tuple[FindingStore, int, list[dict[str, Any]]]:
    run_id = _fill(store, random.Random(5), 8, key)
    with store.engine.connect() as conn:
        return store, run_id, _rows(conn, run_id)


def _exec(store: FindingStore, *statements: Any) -> None:
    with store.engine.begin() as conn:
        for s in statements:
            conn.execute(s)


def _fault(store: FindingStore, run_id: int) -> verify.Fault:
    report = _report(store, run_id)
    assert report.fault is not None, report.describe()
    return report.fault


def test_names_an_altered_record(signed: tuple[FindingStore, int, list[dict[str, Any]]]) -> None:
    store, run_id, rows = signed
    _exec(store, update(F).where(F.c.id == rows[3]["id"]).values(country="KZ", violation=False))
    fault = _fault(store, run_id)
    assert (fault.kind, fault.seq, fault.record_id) == (verify.ALTERED, 4, rows[3]["id"])


def test_names_a_deleted_record(signed: tuple[FindingStore, int, list[dict[str, Any]]]) -> None:
    store, run_id, rows = signed
    _exec(store, delete(F).where(F.c.id == rows[2]["id"]))
    fault = _fault(store, run_id)
    assert (fault.kind, fault.seq) == (verify.DELETED, 3)


def test_names_a_deleted_last_record(
    signed: tuple[FindingStore, int, list[dict[str, Any]]],
) -> None:
    store, run_id, rows = signed
    _exec(store, delete(F).where(F.c.id == rows[-1]["id"]))
    fault = _fault(store, run_id)
    assert (fault.kind, fault.seq) == (verify.DELETED, 8)


def test_names_swapped_records(signed: tuple[FindingStore, int, list[dict[str, Any]]]) -> None:
    store, run_id, rows = signed
    a, b = rows[1]["id"], rows[5]["id"]
    _exec(
        store,
        update(F).where(F.c.id == a).values(seq=-1),
        update(F).where(F.c.id == b).values(seq=2),
        update(F).where(F.c.id == a).values(seq=6),
    )
    fault = _fault(store, run_id)
    assert (fault.kind, fault.seq, fault.record_id) == (verify.REORDERED, 2, a)


def test_names_a_record_inserted_after_the_end(
    signed: tuple[FindingStore, int, list[dict[str, Any]]],
) -> None:
    store, run_id, rows = signed
    forged = _forged_copy(rows[0], seq=9, prev=rows[-1]["record_hash"])
    _exec(store, insert(F).values(**_db(forged)))
    fault = _fault(store, run_id)
    assert (fault.kind, fault.seq) == (verify.INSERTED, 9)


def test_names_a_record_inserted_in_the_middle(
    signed: tuple[FindingStore, int, list[dict[str, Any]]],
) -> None:
    store, run_id, rows = signed
    with store.engine.begin() as conn:
        _shift(conn, run_id, from_seq=4, by=1)
        conn.execute(
            insert(F).values(**_db(_forged_copy(rows[1], seq=4, prev=rows[2]["record_hash"])))
        )
    fault = _fault(store, run_id)
    assert (fault.kind, fault.seq) == (verify.INSERTED, 4)


def test_names_a_changed_statement(signed: tuple[FindingStore, int, list[dict[str, Any]]]) -> None:
    store, run_id, _ = signed
    _exec(store, update(R).where(R.c.id == run_id).values(flows_read=R.c.flows_read + 1))
    fault = _fault(store, run_id)
    assert fault.kind == verify.STATEMENT_MISMATCH and "flows_read" in fault.detail
    _exec(
        store,
        update(R)
        .where(R.c.id == run_id)
        .values(
            closing_statement=func.replace(
                R.c.closing_statement, '"flows_read":8', '"flows_read":9'
            )
        ),
    )
    assert _fault(store, run_id).kind == verify.SIGNATURE_INVALID


def test_a_resigned_run_is_caught_only_against_trusted_keys(
    signed: tuple[FindingStore, int, list[dict[str, Any]]], key: Ed25519PrivateKey
) -> None:
    # Whoever holds *a* key can sign anything; only the station's known key proves origin.
    store, run_id, rows = signed
    forger = Ed25519PrivateKey.generate()
    with store.engine.begin() as conn:
        conn.execute(delete(F).where(F.c.id == rows[-1]["id"]))
        run = dict(conn.execute(select(R).where(R.c.id == run_id)).mappings().one())
        run["station_key"] = chain.public_key_text(forger)
        statement = chain.closing_statement(run, 7, rows[-2]["record_hash"])
        conn.execute(
            update(R)
            .where(R.c.id == run_id)
            .values(
                chain_length=7,
                chain_head=rows[-2]["record_hash"],
                station_key=run["station_key"],
                closing_statement=statement.decode(),
                signature=chain.sign(forger, statement),
            )
        )
    assert _report(store, run_id).ok  # the limit of a self-contained signature
    report = _report(store, run_id, trusted_keys=[chain.public_key_text(key)])
    assert report.fault is not None and report.fault.kind == verify.UNTRUSTED_KEY


def test_sqlite_raw_values_behind_the_store_are_seen_as_written(
    sqlite_store: FindingStore, key: Ed25519PrivateKey
) -> None:
    # Through a Boolean column type 2 would read as True, and legal_refs' text
    # would be re-parsed; verify reads the raw values.
    run_id = _fill(sqlite_store, random.Random(6), 4, key)
    for sql in (
        "UPDATE findings SET violation = violation + 2 WHERE seq = 2",
        "UPDATE findings SET legal_refs = legal_refs || ' ' WHERE seq = 3",
    ):
        with sqlite_store.engine.begin() as conn:
            conn.execute(text(sql))
    fault = _fault(sqlite_store, run_id)
    assert (fault.kind, fault.seq) == (verify.ALTERED, 2)


# -- offline export -------------------------------------------------------------------


def test_export_verifies_offline_and_catches_an_edit(
    signed: tuple[FindingStore, int, list[dict[str, Any]]], tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    store, run_id, _ = signed
    path = tmp_path / "run.jsonl"
    with path.open("w") as out:
        assert verify.export_run(store, run_id, out) == 8
    report = verify.verify_export(path, trusted_keys=[chain.public_key_text(key)])
    assert report.ok and report.state == "signed" and report.length == 8
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace('"country": "', '"country": "X')
    path.write_text("\n".join(lines) + "\n")
    fault = verify.verify_export(path).fault
    assert fault is not None and fault.kind == verify.ALTERED and fault.seq == 3
    del lines[5]
    path.write_text("\n".join([*lines[:3], lines[3].replace('"X', '"'), *lines[4:]]) + "\n")
    fault = verify.verify_export(path).fault
    assert fault is not None and fault.kind == verify.DELETED


def test_export_of_an_open_run(store: FindingStore, tmp_path: Path) -> None:
    run_id = _fill(store, random.Random(7), 3, None, close=False)
    path = tmp_path / "open.jsonl"
    with path.open("w") as out:
        verify.export_run(store, run_id, out)
    report = verify.verify_export(path)
    assert report.ok and report.state == "open" and report.length == 3
    assert not verify.verify_export(path, require_signed=True).ok


@pytest.mark.parametrize("content", ["", "{}\n", "not json\n", '{"format": "x"}\n'])
def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(verify.ExportError):
        verify.verify_export(path)


# -- randomised tampering -----------------------------------------------------------------

TRIALS = 200
OPEN_TRIALS = 60
# Fixed, so a failure is reproducible; set SHEKARA_TAMPER_SEED to explore others.
SEED = int(os.environ.get("SHEKARA_TAMPER_SEED", "20240905"))
HEX64 = {"prev_hash", "record_hash", "dedup_key", "value_hash", "chain_head", "capture_sha256"}


def _forged_copy(row: dict[str, Any], *, seq: int | None, prev: str | None) -> dict[str, Any]:
    """A plausible forged record: a copy with another flow and place, and a fresh own hash."""
    forged = {k: v for k, v in row.items() if k != "id"}
    forged["flow_id"] = row["flow_id"] + "-forged"
    forged["dedup_key"] = f"{random.Random(row['id']).getrandbits(256):064x}"
    forged["seq"], forged["prev_hash"] = seq, prev
    forged["record_hash"] = chain.record_hash(prev, forged) if prev else None
    return forged


def _shift(conn: Connection, run_id: int, from_seq: int, by: int) -> None:
    """Renumber seq >= from_seq by ``by`` without tripping the (run_id, seq) uniqueness."""
    where = (F.c.run_id == run_id) & (F.c.seq >= from_seq)
    conn.execute(update(F).where(where).values(seq=-F.c.seq - 1000))
    conn.execute(
        update(F)
        .where((F.c.run_id == run_id) & (F.c.seq <= -1000))
        .values(seq=-F.c.seq - 1000 + by)
    )


def _rehash(conn: Connection, run_id: int) -> None:
    """What a tamperer who knows the algorithm does: recompute every link and fix the run's row."""
    started = conn.execute(select(R.c.started_at).where(R.c.id == run_id)).scalar_one()
    prev = chain.genesis_hash(run_id, started)
    rows = _rows(conn, run_id)
    for r in rows:
        r["prev_hash"] = prev
        prev = chain.record_hash(prev, r)
        conn.execute(
            update(F)
            .where(F.c.id == r["id"])
            .values(_db({"prev_hash": r["prev_hash"], "record_hash": prev}))
        )
    conn.execute(update(R).where(R.c.id == run_id).values(chain_length=len(rows), chain_head=prev))


def _other(rng: random.Random, choices: Any, current: Any) -> Any:
    return rng.choice([c for c in choices if c != current])


def _new_value(rng: random.Random, table: Any, column: str, value: Any, ctx: dict[str, Any]) -> Any:
    """A different value for a column, one the database still accepts."""
    options = [v for v in _candidates(rng, column, value, ctx) if v != value]
    if not table.c[column].nullable:
        options = [v for v in options if v is not None]
    return rng.choice(options)


def _flip(rng: random.Random, value: str) -> str:
    i = rng.randrange(len(value))
    return value[:i] + _other(rng, "0123456789abcdef", value[i]) + value[i + 1 :]


def _candidates(rng: random.Random, column: str, value: Any, ctx: dict[str, Any]) -> list[Any]:
    if column == "run_id":
        return [ctx["sink"]]
    if column == "seq":
        n = ctx["n"]
        return [n + 1 + rng.randrange(3), 0, -1 - rng.randrange(3), n + 50, None]
    if column in HEX64:
        return [_flip(rng, value), None] if value is not None else ["0" * 64]
    enums = {
        "category": [str(c) for c in Category],
        "verdict": list(schema.VERDICTS),
        "confidence": list(schema.CONFIDENCES),
        "geo_confidence": list(schema.CONFIDENCES),
        "status": list(schema.RUN_STATUSES),
        "kind": list(schema.RUN_KINDS),
        "country": ["CN", "DE", "KZ", "RU", None],
    }
    if column in enums:
        return enums[column]
    if column == "closing_statement" and value is not None:
        return [value.replace('"status":"completed"', '"status":"failed"'), None]
    if column == "station_key":
        return [chain.public_key_text(Ed25519PrivateKey.generate()), None]
    if column == "signature":
        return [chain.sign(Ed25519PrivateKey.generate(), b"other"), None]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, float):
        return [value + rng.choice([1e-6, 0.25, 3600.0]), None]
    if isinstance(value, int):
        return [value + rng.choice([1, -1, 1000]), None]
    if isinstance(value, list):
        return [[*value, "KZ-PDL-99"], value[:-1], None]
    if value is None:
        return [{"port": 80, "asn": 1, "legal_refs": ["x"], "geo_sources": []}.get(column, "x")]
    return [value + " ", value + "x", value[:-1], value.swapcase(), None]


FINDING_COLUMNS = [c.name for c in F.columns if c.name != "id"]  # id is the database's own
CONTENT_COLUMNS = [c for c in chain.FINDING_COLUMNS if c not in ("run_id", "seq", "dedup_key")]
RUN_COLUMNS = [
    "started_at", "finished_at", "status", "error", "flows_read", "kind", "capture",
    "capture_sha256", "ruleset_version", "tool_version", "geo_sources", "raw_evidence_sha256",
    "chain_length", "chain_head", "closing_statement", "signature", "station_key",
]  # fmt: skip


def _tamper(conn: Connection, rng: random.Random, op: str, run_id: int, ctx: dict[str, Any]) -> str:
    """Apply one tampering to a run, directly with SQL; return what was done."""
    rows = _rows(conn, run_id)
    n = ctx["n"] = len(rows)
    pick = rng.randrange(n)
    row = rows[pick]
    by_id = update(F).where(F.c.id == row["id"])
    if op == "update":
        column = rng.choice(FINDING_COLUMNS)
        value = _new_value(rng, F, column, row[column], ctx)
        conn.execute(by_id.values(_db({column: value})))
        return f"{column} of seq {row['seq']}: {row[column]!r} -> {value!r}"
    if op in ("update-rehash-own", "update-rehash-all"):
        column = rng.choice(CONTENT_COLUMNS)
        value = _new_value(rng, F, column, row[column], ctx)
        changed = {**row, column: value}
        own = chain.record_hash(row["prev_hash"], changed)
        conn.execute(by_id.values(_db({column: value, "record_hash": own})))
        if op == "update-rehash-all":
            _rehash(conn, run_id)
        return f"{column} of seq {row['seq']} with fresh hashes ({op})"
    if op == "delete":
        conn.execute(delete(F).where(F.c.id == row["id"]))
        return f"deleted seq {row['seq']}"
    if op in ("delete-last", "delete-last-fix-run"):
        conn.execute(delete(F).where(F.c.id == rows[-1]["id"]))
        if op == "delete-last-fix-run":
            head = rows[-2]["record_hash"] if n > 1 else None
            conn.execute(
                update(R).where(R.c.id == run_id).values(chain_length=n - 1, chain_head=head)
            )
        return op
    if op in ("delete-renumber", "delete-renumber-rehash"):
        conn.execute(delete(F).where(F.c.id == row["id"]))
        _shift(conn, run_id, row["seq"] + 1, -1)
        if op == "delete-renumber-rehash":
            _rehash(conn, run_id)
        return f"deleted seq {row['seq']}, later ones renumbered ({op})"
    other = rows[(pick + rng.randrange(1, n)) % n]
    if op == "swap-seq":
        conn.execute(by_id.values(seq=-5))
        conn.execute(update(F).where(F.c.id == other["id"]).values(seq=row["seq"]))
        conn.execute(by_id.values(seq=other["seq"]))
        return f"swapped seq {row['seq']} and {other['seq']}"
    if op == "swap-contents":
        columns = [*CONTENT_COLUMNS, "dedup_key"]
        conn.execute(by_id.values(dedup_key="tmp"))
        conn.execute(update(F).where(F.c.id == other["id"]).values({c: row[c] for c in columns}))
        conn.execute(by_id.values({c: other[c] for c in columns}))
        return f"swapped contents of seq {row['seq']} and {other['seq']}"
    if op in ("insert-append", "insert-append-fix-run"):
        forged = _forged_copy(row, seq=n + 1, prev=rows[-1]["record_hash"])
        conn.execute(insert(F).values(**_db(forged)))
        if op == "insert-append-fix-run":
            conn.execute(
                update(R)
                .where(R.c.id == run_id)
                .values(chain_length=n + 1, chain_head=forged["record_hash"])
            )
        return op
    if op in ("insert-middle", "insert-middle-rehash"):
        at = row["seq"]
        prev = (
            rows[pick - 1]["record_hash"]
            if pick
            else chain.genesis_hash(run_id, ctx["started"][run_id])
        )
        _shift(conn, run_id, at, 1)
        conn.execute(insert(F).values(**_db(_forged_copy(other, seq=at, prev=prev))))
        if op == "insert-middle-rehash":
            _rehash(conn, run_id)
        return f"forged record inserted at seq {at} ({op})"
    if op == "insert-unplaced":
        conn.execute(insert(F).values(**_db(_forged_copy(row, seq=None, prev=None))))
        return op
    if op == "delete-all":
        conn.execute(delete(F).where(F.c.run_id == run_id))
        return op
    if op == "run-row":
        run = conn.execute(select(R).where(R.c.id == run_id)).mappings().one()
        column = rng.choice(RUN_COLUMNS)
        value = _new_value(rng, R, column, run[column], ctx)
        conn.execute(update(R).where(R.c.id == run_id).values({column: value}))
        return f"runs.{column}: {run[column]!r} -> {value!r}"
    raise AssertionError(op)


SIGNED_OPS = [
    "update", "update", "update", "update-rehash-own", "update-rehash-all", "delete",
    "delete-last", "delete-last-fix-run", "delete-renumber", "delete-renumber-rehash",
    "swap-seq", "swap-contents", "insert-append", "insert-append-fix-run", "insert-middle",
    "insert-middle-rehash", "insert-unplaced", "delete-all", "run-row", "run-row",
]  # fmt: skip
# An open run has only its own row to be checked against: whoever rewrites that
# row along with the findings is not detectable until something is signed.
OPEN_OPS = [
    "update", "update-rehash-own", "delete", "delete-last", "delete-renumber", "swap-seq",
    "swap-contents", "insert-append", "insert-middle", "insert-unplaced", "delete-all",
]  # fmt: skip
# The faults each tampering may be named as: a label, not just any failure.
EXPECTED = {
    "update": None,  # any column: its kind depends on which
    "update-rehash-own": {verify.ALTERED},
    "update-rehash-all": {verify.ALTERED},
    "delete": {verify.DELETED},
    "delete-last": {verify.DELETED},
    "delete-last-fix-run": {verify.DELETED},
    "delete-renumber": {verify.DELETED},
    "delete-renumber-rehash": {verify.ALTERED, verify.DELETED},
    "swap-seq": {verify.REORDERED},
    "swap-contents": {verify.REORDERED},
    "insert-append": {verify.INSERTED},
    "insert-append-fix-run": {verify.INSERTED},
    "insert-middle": {verify.INSERTED},
    "insert-middle-rehash": {verify.ALTERED, verify.INSERTED},
    "insert-unplaced": {verify.INSERTED},
    "delete-all": {verify.DELETED},
    "run-row": None,
}


def _trials(
    store: FindingStore,
    key: Ed25519PrivateKey,
    capsys: pytest.CaptureFixture[str],
    *,
    trials: int,
    ops: list[str],
    signed: bool,
    seed: int,
) -> None:
    rng = random.Random(seed)
    url = store.url.render_as_string(hide_password=False)
    runs = [
        _fill(store, rng, rng.randrange(2, 12), key if signed else None, close=signed)
        for _ in range(trials)
    ]
    controls = [
        _fill(store, rng, rng.randrange(2, 12), key if signed else None, close=signed)
        for _ in range(5)
    ]
    started = {r: store.get_run(r).started_at for r in runs}  # type: ignore[union-attr]
    missed: list[str] = []
    mislabelled: list[str] = []
    kinds: Counter[str] = Counter()
    for trial, run_id in enumerate(runs):
        op = ops[trial % len(ops)] if trial < len(ops) else rng.choice(ops)
        # A run of its own to move a record into: records moved by two trials
        # must not collide there on (run_id, seq), whatever the draws.
        ctx = {"sink": store.start_run("proxy"), "started": started}
        with store.engine.begin() as conn:
            what = _tamper(conn, rng, op, run_id, ctx)
        status = cli.main(["verify", "--db", url, "--session", str(run_id)])
        out = capsys.readouterr().out
        report = _report(store, run_id)
        if status != 1 or "FAILED" not in out or report.ok:
            missed.append(f"trial {trial} ({op}: {what}): exit {status}, {out.strip()}")
            continue
        assert report.fault is not None
        kinds[report.fault.kind] += 1
        allowed = EXPECTED[op]
        if allowed is not None and report.fault.kind not in allowed:
            mislabelled.append(f"trial {trial} ({op}: {what}): {report.describe()}")
    assert not missed, f"{len(missed)} of {trials} tamperings went undetected:\n" + "\n".join(
        missed
    )
    assert not mislabelled, "\n".join(mislabelled)
    # Nothing untouched is reported: the detector is not just failing everything.
    for run_id in controls:
        assert _report(store, run_id).ok
    assert len(kinds) >= 4, kinds


@pytest.mark.timeout(300)
def test_random_tampering_is_always_detected_200_trials(
    store: FindingStore, key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    _trials(store, key, capsys, trials=TRIALS, ops=SIGNED_OPS, signed=True, seed=SEED)


@pytest.mark.timeout(300)
def test_random_tampering_of_open_runs_is_detected_60_trials(
    store: FindingStore, key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    _trials(store, key, capsys, trials=OPEN_TRIALS, ops=OPEN_OPS, signed=False, seed=SEED + 1)
