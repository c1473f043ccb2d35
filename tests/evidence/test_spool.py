"""Spool: framing, torn tails, CRC damage, the size bound, recovery, release, concurrency."""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path

import pytest

from shekara.audit.model import Finding, Note
from shekara.evidence.connections import ConnectionRecord
from shekara.evidence.spool import (
    HEADER_SIZE,
    SEGMENT_SUFFIX,
    Spool,
    SpoolError,
    SpoolLockedError,
    SpoolRuns,
    decode_payload,
    encode_payload,
    note_to_json,
)

from .conftest import build_finding, build_note


def _finding(i: int) -> Finding:
    return build_finding(flow_id=f"flow-{i}", value_hash=f"{i:064x}")


def _item(i: int, run_id: int = 1) -> tuple[int, list[Finding], list[Note]]:
    return (run_id, [_finding(i)], [build_note(flow_id=f"flow-{i}")] if i % 3 == 0 else [])


def _segments(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.name.endswith(SEGMENT_SUFFIX))


def _flows(records: list) -> list[str]:  # type: ignore[type-arg]
    return [f.flow_id for r in records for f in r.findings]


def test_payload_round_trip_keeps_every_field() -> None:
    f = build_finding(legal_refs=("A", "B"))
    n = build_note(destination=None)
    rec = decode_payload(7, encode_payload(3, [f], [n, build_note()]))
    assert (rec.seq, rec.run_id) == (7, 3)
    assert rec.findings == (f,)
    assert rec.notes == (n, build_note())


def test_append_read_release_in_order(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        seqs = spool.append_many([_item(i) for i in range(5)])
        assert seqs == [1, 2, 3, 4, 5]
        assert spool.pending == 5
        first = spool.read(max_records=3)
        assert [r.seq for r in first] == [1, 2, 3]
        assert _flows(first) == ["flow-0", "flow-1", "flow-2"]
        assert first[0].notes and first[0].run_id == 1
        # Read once: the reader is not given a record twice.
        rest = spool.read()
        assert [r.seq for r in rest] == [4, 5]
        assert spool.read() == []
        spool.release(5)
        assert spool.pending == 0


def test_files_are_private(tmp_path: Path) -> None:
    d = tmp_path / "spool"
    with Spool(d) as spool:
        spool.append_many([_item(1)])
    assert os.stat(d).st_mode & 0o077 == 0
    for seg in _segments(d):
        assert os.stat(seg).st_mode & 0o077 == 0


def test_recovery_delivers_what_was_not_released(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append_many([_item(i) for i in range(5)])
        spool.read()
        spool.release(2)
    with Spool(tmp_path) as spool:
        assert spool.recovered == 3
        assert spool.pending == 3
        assert [r.seq for r in spool.read()] == [3, 4, 5]
        # Numbering goes on after the recovered records.
        assert spool.append_many([_item(9)]) == [6]
        assert [r.seq for r in spool.read()] == [6]


def test_a_torn_tail_is_cut_off_and_the_rest_delivered(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append_many([_item(i) for i in range(3)])
    (seg,) = _segments(tmp_path)
    size = seg.stat().st_size
    with open(seg, "r+b") as fh:
        fh.truncate(size - 5)  # the last record lost its end (SIGKILL mid-write)
    with Spool(tmp_path) as spool:
        assert [r.seq for r in spool.read()] == [1, 2]
        assert spool.corrupted == 0
        assert spool.append_many([_item(7)]) == [3]
        assert _flows(spool.read()) == ["flow-7"]
    assert seg.stat().st_size < size - 5 + 1  # truncated to the last whole record


@pytest.mark.parametrize("tail", [b"S", b"SHKR\x00\x00", b"\x00" * (HEADER_SIZE + 40)])
def test_garbage_after_the_last_record_is_ignored(tmp_path: Path, tail: bytes) -> None:
    with Spool(tmp_path) as spool:
        spool.append_many([_item(i) for i in range(2)])
    (seg,) = _segments(tmp_path)
    with open(seg, "ab") as fh:
        fh.write(tail)
    with Spool(tmp_path) as spool:
        assert [r.seq for r in spool.read()] == [1, 2]


def _flip_byte_in_record(seg: Path, index: int) -> None:
    data = bytearray(seg.read_bytes())
    pos = 0
    for _ in range(index):
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        pos += HEADER_SIZE + length
    data[pos + HEADER_SIZE + 10] ^= 0x20
    seg.write_bytes(bytes(data))


def test_a_crc_mismatch_in_the_middle_skips_only_that_record(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append_many([_item(i) for i in range(3)])
    (seg,) = _segments(tmp_path)
    _flip_byte_in_record(seg, 1)
    with Spool(tmp_path) as spool:
        records = spool.read()
        assert [r.seq for r in records] == [1, 3]
        assert spool.corrupted == 1


def test_a_crc_mismatch_in_the_last_record_is_not_delivered(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append_many([_item(i) for i in range(2)])
    (seg,) = _segments(tmp_path)
    _flip_byte_in_record(seg, 1)
    with Spool(tmp_path) as spool:
        assert [r.seq for r in spool.read()] == [1]
        assert spool.corrupted == 1


def test_the_bound_refuses_what_does_not_fit_then_release_makes_room(tmp_path: Path) -> None:
    record = HEADER_SIZE + len(encode_payload(*_item(1)))
    with Spool(tmp_path, max_bytes=record * 4 + 10, segment_bytes=record * 2) as spool:
        seqs = spool.append_many([_item(1) for _ in range(6)])
        assert seqs[:4] == [1, 2, 3, 4]
        assert seqs[4:] == [None, None]
        assert spool.refused == 2
        assert spool.stats().disk_bytes <= spool.max_bytes
        assert spool.append_many([_item(1)]) == [None]
        assert [r.seq for r in spool.read()] == [1, 2, 3, 4]
        spool.release(4)
        # Released segments are deleted: the spool takes records again.
        assert spool.append_many([_item(1), _item(2)]) == [5, 6]
        assert [r.seq for r in spool.read()] == [5, 6]
        assert spool.stats().disk_bytes <= spool.max_bytes
    with Spool(tmp_path) as spool:
        assert [r.seq for r in spool.read()] == [5, 6]


def test_release_deletes_finished_segments_only(tmp_path: Path) -> None:
    record = HEADER_SIZE + len(encode_payload(*_item(1)))
    with Spool(tmp_path, segment_bytes=record * 2) as spool:
        spool.append_many([(1, [_finding(i)], []) for i in range(1, 7)])
        assert len(_segments(tmp_path)) == 3
        spool.read()
        spool.release(3)  # the first segment (1, 2) is done; the second (3, 4) is not
        assert len(_segments(tmp_path)) == 2
        spool.release(6)
        # The active segment stays (it is written to); the rest go.
        assert len(_segments(tmp_path)) == 1
    with Spool(tmp_path) as spool:
        assert spool.pending == 0
        assert spool.read() == []
    assert _segments(tmp_path) == []


def test_a_failed_write_acknowledges_nothing_and_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Spool(tmp_path) as spool:
        spool.append_many([_item(1)])
        real_fsync = os.fsync

        def full_disk(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", full_disk)
        with pytest.raises(OSError):
            spool.append_many([_item(2), _item(3)])
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert spool.append_many([_item(4)]) == [2]
        assert _flows(spool.read()) == ["flow-1", "flow-4"]
    with Spool(tmp_path) as spool:
        assert _flows(spool.read()) == ["flow-1", "flow-4"]


def test_a_second_process_cannot_take_the_spool(tmp_path: Path) -> None:
    with Spool(tmp_path), pytest.raises(SpoolLockedError):
        Spool(tmp_path)
    Spool(tmp_path).close()  # free again once closed


def test_concurrent_append_and_drain_deliver_every_record_once(tmp_path: Path) -> None:
    rng = random.Random(5)
    record = HEADER_SIZE + len(encode_payload(*_item(1)))
    spool = Spool(tmp_path, segment_bytes=record * 7)
    total = 2000
    done = threading.Event()
    seen: list[int] = []
    flows: list[str] = []

    def drain() -> None:
        while True:
            finished = done.is_set()
            batch = spool.read(max_records=rng.randint(1, 40))
            if batch:
                seen.extend(r.seq for r in batch)
                flows.extend(_flows(batch))
                spool.release(batch[-1].seq)
            elif finished:
                return

    reader = threading.Thread(target=drain)
    reader.start()
    i = 0
    while i < total:
        n = min(rng.randint(1, 25), total - i)
        assert None not in spool.append_many([_item(k) for k in range(i, i + n)])
        i += n
    done.set()
    reader.join(30)
    assert not reader.is_alive()
    assert seen == list(range(1, total + 1))
    assert flows == [f"flow-{k}" for k in range(total)]
    assert spool.pending == 0
    assert len(_segments(tmp_path)) <= 1
    spool.close()


def test_spool_runs_tracks_open_runs_and_refuses_another_database(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        runs = SpoolRuns(spool, "sqlite:///a.db")
        assert runs.interrupted == ()
        runs.opened(1)
        runs.opened(2)
        runs.closed([1])
        spool.append_many([_item(1, run_id=2)])
    with Spool(tmp_path) as spool:
        assert SpoolRuns(spool, "sqlite:///a.db").interrupted == (2,)
        with pytest.raises(SpoolError, match="another database"):
            SpoolRuns(spool, "sqlite:///b.db")


def test_connection_records_travel_in_the_spool_and_old_records_still_read(
    tmp_path: Path,
) -> None:
    conn = ConnectionRecord(
        "c1", "tcp", "undetermined", 1.5, 2.5, reason="pinned", port=0, bytes_up=7, ja4="t13d"
    )
    with Spool(tmp_path / "spool") as spool:
        spool.append_many([(-1, [_finding(1)], [], [conn]), (2, [], [], [conn, conn])])
        first, second = spool.read()
    assert (first.run_id, first.connections, first.size) == (-1, (conn,), 2)
    assert second.connections == (conn, conn) and second.findings == ()
    # A record written before connection records travelled here has none.
    old = json.dumps({"run": 3, "f": [], "n": [note_to_json(build_note())]}).encode()
    assert decode_payload(9, old).connections == ()
    # A damaged connection record is refused, not half read.
    bad = json.dumps({"run": 3, "f": [], "n": [], "c": [{"flow_id": "x"}]}).encode()
    with pytest.raises(TypeError):
        decode_payload(9, bad)
