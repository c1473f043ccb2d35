"""A bounded on-disk queue of findings: acknowledged means fsynced here, before the store has them.

The spool is a folder of append-only segment files named after the sequence
number of their first record. A record is a 20-byte header (magic, payload
length, sequence number, CRC32 of sequence number and payload) and a JSON
payload holding one event's findings, notes and connection records (the
connection a flow ended travels with the flow's last findings). A write torn by SIGKILL or a
power cut fails its CRC or length check: recovery cuts it off the end of the
segment, and a damaged record in the middle is skipped and counted, never
delivered half.

Records are read back in order by one reader (the writer's drain thread) and
*released* once the store has committed them. The highest released sequence
number is kept in ``released``; fully released segments are deleted. A crash
between commit and release delivers a record twice, which the store's unique
keys turn into exactly once. The total size of the segment files is bounded:
an append that does not fit is refused (the caller counts and logs it).

Only masked previews and keyed hashes are in a finding, so the spool holds no
plain personal data; its folder is still private (0700, files 0600).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shekara.audit.flowmeta import FlowMeta, flow_meta_from_dict
from shekara.audit.model import (
    Category,
    Confidence,
    Destination,
    Finding,
    Note,
    Verdict,
    destination_from_dict,
    destination_to_dict,
)
from shekara.evidence.connections import ConnectionRecord

log = logging.getLogger(__name__)

MAGIC = b"SHKR"
_HEADER = struct.Struct("<4sIQI")  # magic, payload length, seq, crc32(seq + payload)
HEADER_SIZE = _HEADER.size
SEGMENT_SUFFIX = ".seg"
RELEASED_FILE = "released"
LOCK_FILE = "lock"
META_FILE = "meta.json"

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
# A header announcing more than this is damage, not a record.
MAX_RECORD_BYTES = 64 * 1024 * 1024


class SpoolError(Exception):
    """The spool folder cannot be used (locked by another process, unreadable)."""


class SpoolLockedError(SpoolError):
    """Another process holds the spool."""


# -- records ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One acknowledged event: its sequence number, run, findings, notes, connections and flows."""

    seq: int
    run_id: int
    findings: tuple[Finding, ...]
    notes: tuple[Note, ...]
    connections: tuple[ConnectionRecord, ...] = ()
    flows: tuple[FlowMeta, ...] = ()

    @property
    def size(self) -> int:
        return len(self.findings) + len(self.notes) + len(self.connections) + len(self.flows)


#: What ``Spool.append_many`` takes: (run_id, findings, notes[, connections[, flows]]).
SpoolItem = (
    tuple[int, Sequence[Finding], Sequence[Note]]
    | tuple[int, Sequence[Finding], Sequence[Note], Sequence[ConnectionRecord]]
    | tuple[int, Sequence[Finding], Sequence[Note], Sequence[ConnectionRecord], Sequence[FlowMeta]]
)


def _destination_to_json(d: Destination) -> dict[str, Any]:
    return destination_to_dict(d)


def _destination_from_json(d: dict[str, Any]) -> Destination:
    return destination_from_dict(d)


def finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "flow_id": f.flow_id,
        "category": str(f.category),
        "field": f.field,
        "source": f.source,
        "preview": f.preview,
        "value_hash": f.value_hash,
        "destination": _destination_to_json(f.destination),
        "verdict": str(f.verdict),
        "violation": f.violation,
        "rule_id": f.rule_id,
        "severity": f.severity,
        "detector": f.detector,
        "confidence": str(f.confidence),
        "observed_at": f.observed_at,
        "recorded_at": f.recorded_at,
        "legal_refs": list(f.legal_refs),
    }


def finding_from_json(d: dict[str, Any]) -> Finding:
    return Finding(
        **{
            **d,
            "category": Category(d["category"]),
            "destination": _destination_from_json(d["destination"]),
            "verdict": Verdict(d["verdict"]),
            "confidence": Confidence(d["confidence"]),
            "legal_refs": tuple(d["legal_refs"]),
        }
    )


def note_to_json(n: Note) -> dict[str, Any]:
    return {
        "flow_id": n.flow_id,
        "source": n.source,
        "reason": n.reason,
        "destination": _destination_to_json(n.destination) if n.destination else None,
        "observed_at": n.observed_at,
    }


def note_from_json(d: dict[str, Any]) -> Note:
    dest = d.get("destination")
    return Note(**{**d, "destination": _destination_from_json(dest) if dest else None})


# Each field of a connection record with its default (MISSING when it has none).
_CONNECTION_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ConnectionRecord)}


def connection_to_json(c: ConnectionRecord) -> dict[str, Any]:
    # Fields at their defaults are left out: most records carry no TLS fingerprint.
    out: dict[str, Any] = {}
    for name, default in _CONNECTION_DEFAULTS.items():
        value = getattr(c, name)
        if default is dataclasses.MISSING or value != default:
            out[name] = value
    return out


def connection_from_json(d: dict[str, Any]) -> ConnectionRecord:
    unknown = set(d) - set(_CONNECTION_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown connection record fields {sorted(unknown)}")
    return ConnectionRecord(**d)


def encode_payload(
    run_id: int,
    findings: Sequence[Finding],
    notes: Sequence[Note],
    connections: Sequence[ConnectionRecord] = (),
    flows: Sequence[FlowMeta] = (),
) -> bytes:
    doc: dict[str, Any] = {
        "run": run_id,
        "f": [finding_to_json(f) for f in findings],
        "n": [note_to_json(n) for n in notes],
    }
    if connections:
        doc["c"] = [connection_to_json(c) for c in connections]
    if flows:
        # Absent in records written before flow metadata was kept: read as none.
        doc["m"] = [asdict(m) for m in flows]
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_payload(seq: int, payload: bytes) -> SpoolRecord:
    doc = json.loads(payload)
    return SpoolRecord(
        seq=seq,
        run_id=int(doc["run"]),
        findings=tuple(finding_from_json(f) for f in doc["f"]),
        notes=tuple(note_from_json(n) for n in doc["n"]),
        # Spools written before connection records or flow metadata travelled here
        # have no "c" or "m".
        connections=tuple(connection_from_json(c) for c in doc.get("c", ())),
        flows=tuple(flow_meta_from_dict(m) for m in doc.get("m", ())),
    )


def _crc(seq: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<Q", seq)))


def frame(seq: int, payload: bytes) -> bytes:
    """One record as written to a segment: header then payload."""
    return _HEADER.pack(MAGIC, len(payload), seq, _crc(seq, payload)) + payload


@dataclass(frozen=True, slots=True)
class _Parsed:
    offset: int
    end: int
    seq: int | None  # None: damaged (bad magic, CRC or undecodable payload)
    payload: bytes


def _parse(data: bytes, base: int) -> tuple[list[_Parsed], int | None]:
    """Records framed in ``data`` (which starts at file offset ``base``).

    Returns the records and the offset of a torn tail (an incomplete or
    implausible header/length) or None when ``data`` ends on a record boundary.
    A complete record whose CRC fails is returned with ``seq=None``.
    """
    out: list[_Parsed] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < HEADER_SIZE:
            return out, base + pos
        magic, length, seq, crc = _HEADER.unpack_from(data, pos)
        if magic != MAGIC or length > MAX_RECORD_BYTES:
            return out, base + pos
        end = pos + HEADER_SIZE + length
        if end > len(data):
            return out, base + pos
        payload = bytes(data[pos + HEADER_SIZE : end])
        ok = _crc(seq, payload) == crc
        out.append(_Parsed(base + pos, base + end, seq if ok else None, payload))
        pos = end
    return out, None


def _read_records(path: Path, offset: int, end: int, budget: int) -> list[_Parsed]:
    """Complete records of ``path`` from ``offset`` (about ``budget`` bytes, at least one)."""
    want = min(end - offset, max(budget, 1 << 20))
    with open(path, "rb") as fh:
        while True:
            fh.seek(offset)
            data = fh.read(want)
            parsed, _torn = _parse(data, offset)
            if parsed or want >= end - offset:
                return parsed
            # The first record is larger than the window read: read it whole.
            want = min(end - offset, max(want * 2, HEADER_SIZE + MAX_RECORD_BYTES))


# -- the spool ---------------------------------------------------------------


@dataclass
class _Segment:
    first_seq: int
    path: Path
    size: int  # bytes of complete, durable records
    last_seq: int | None  # highest sequence number in it, None while empty


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """A snapshot of the spool's counters."""

    pending_records: int
    disk_bytes: int
    max_bytes: int
    segments: int
    appended: int
    released_seq: int
    refused: int
    corrupted: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The spool folder: append (durably), read in order, release after commit.

    ``append_many`` is called by one thread at a time (the writer's appender);
    ``read``/``release`` by one reader. Both may run concurrently.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        segment_bytes: int | None = None,
        fsync: bool = True,
    ) -> None:
        if max_bytes < HEADER_SIZE + 2:
            raise ValueError("max_bytes is too small to hold a record")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(4096, min(DEFAULT_SEGMENT_BYTES, max_bytes // 8))
        self.fsync = fsync
        self._lock = threading.Lock()
        self._append_lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_fd = self._take_lock()
        self._segments: list[_Segment] = []
        self._active_fd: int | None = None
        self._active_written = 0  # bytes written to the active segment, synced or not
        self._released = 0
        self._next_seq = 1
        self._disk_bytes = 0
        # The reader's position: the next record it has not been given yet.
        self._cursor_seg = 0  # first_seq of the segment being read
        self._cursor_off = 0
        self._cursor_seq = 0  # highest seq given to the reader
        self.appended = 0
        self.refused = 0
        self.corrupted = 0
        self.recovered = 0
        try:
            self._recover()
        except BaseException:
            self.close()
            raise

    # -- opening ----------------------------------------------------------------

    def _take_lock(self) -> int:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolLockedError(
                f"{self.directory} is in use by another shekara process"
            ) from None
        return fd

    def _read_released(self) -> int:
        try:
            return int((self.directory / RELEASED_FILE).read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            # Losing the mark only delivers released records again: the store skips them.
            log.warning("spool: unreadable %s (%s); re-delivering every record", RELEASED_FILE, exc)
            return 0

    def _recover(self) -> None:
        self._released = self._read_released()
        names = sorted(
            p for p in self.directory.iterdir() if p.name.endswith(SEGMENT_SUFFIX) and p.is_file()
        )
        max_seq = self._released
        pending = 0
        for path in names:
            try:
                first = int(path.name[: -len(SEGMENT_SUFFIX)])
            except ValueError:
                log.warning("spool: ignoring %s (not a segment name)", path)
                continue
            data = path.read_bytes()
            parsed, torn = _parse(data, 0)
            if torn is not None:
                lost = len(data) - torn
                log.warning(
                    "spool: %s ends in a torn record (%d bytes cut off at offset %d): "
                    "it was never acknowledged",
                    path.name,
                    lost,
                    torn,
                )
                with open(path, "r+b") as fh:
                    fh.truncate(torn)
                    os.fsync(fh.fileno())
                data = data[:torn]
            last = None
            for rec in parsed:
                if rec.seq is None:
                    # Counted when the reader skips it.
                    log.error(
                        "spool: damaged record in %s at offset %d (CRC mismatch); skipped",
                        path.name,
                        rec.offset,
                    )
                    continue
                last = rec.seq if last is None else max(last, rec.seq)
                if rec.seq > self._released:
                    pending += 1
            if last is None or last <= self._released:
                # Empty, wholly released or wholly damaged: nothing to deliver.
                path.unlink()
                continue
            self._segments.append(_Segment(first, path, len(data), last))
            self._disk_bytes += len(data)
            if last is not None:
                max_seq = max(max_seq, last)
        self._next_seq = max_seq + 1
        self.recovered = pending
        self._cursor_seq = self._released
        if self._segments:
            self._cursor_seg = self._segments[0].first_seq
        if pending:
            log.warning(
                "spool %s: %d records not yet confirmed by the store; re-delivering them",
                self.directory,
                pending,
            )
        _fsync_dir(self.directory)

    # -- appending ----------------------------------------------------------------

    def _open_segment(self) -> None:
        """Start a new active segment; the old one stays for the reader until released."""
        first = self._next_seq
        path = self.directory / f"{first:020d}{SEGMENT_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        if self.fsync:
            # The new name must survive a power cut, or the records in it would not.
            _fsync_dir(self.directory)
        with self._lock:
            self._segments.append(_Segment(first, path, 0, None))
        self._active_fd = fd
        self._active_written = 0

    def _active(self) -> _Segment | None:
        if self._active_fd is None or not self._segments:
            return None
        return self._segments[-1]

    def _reclaim_active(self) -> bool:
        """Delete the active segment if every record in it is released; True if it was."""
        seg = self._active()
        if seg is None or seg.last_seq is None or self._active_written != seg.size:
            return False
        with self._lock:
            if seg.last_seq > self._released:
                return False
            self._segments.remove(seg)
            self._disk_bytes -= seg.size
        assert self._active_fd is not None
        os.close(self._active_fd)
        self._active_fd = None
        seg.path.unlink(missing_ok=True)
        return True

    def append_many(self, items: Sequence[SpoolItem]) -> list[int | None]:
        """Write each (run_id, findings, notes[, connections[, flows]]) as a record, fsync, seqs.

        An item that does not fit under ``max_bytes`` gets None (refused, not
        written). On an OS error (disk full) the unsynced part of the write is
        cut off again and the error raised: the caller acknowledges nothing.
        """
        payloads = [encode_payload(*item) for item in items]
        with self._append_lock:
            results: list[int | None] = []
            # Bytes and seqs written to the active segment but not yet published.
            pending_size = 0
            pending_first: int | None = None
            pending_last: int | None = None
            try:
                for payload in payloads:
                    size = HEADER_SIZE + len(payload)
                    if not self._fits(size + pending_size):
                        if pending_last is None:
                            self._reclaim_active()
                        if not self._fits(size + pending_size):
                            results.append(None)
                            self.refused += 1
                            continue
                    if self._active_fd is None or (
                        self._active_written > 0
                        and self._active_written + size > self.segment_bytes
                    ):
                        if self._active_fd is not None:
                            self._sync_and_publish(pending_size, pending_first, pending_last)
                            pending_size, pending_first, pending_last = 0, None, None
                            os.close(self._active_fd)
                            self._active_fd = None
                        self._open_segment()
                    assert self._active_fd is not None
                    seq = self._next_seq
                    data = memoryview(frame(seq, payload))
                    while data:
                        data = data[os.write(self._active_fd, data) :]
                    self._next_seq += 1
                    self._active_written += size
                    pending_size += size
                    if pending_first is None:
                        pending_first = seq
                    pending_last = seq
                    results.append(seq)
                self._sync_and_publish(pending_size, pending_first, pending_last)
            except BaseException:
                seg = self._active()
                if seg is not None and pending_first is not None:
                    # Cut the unsynced records off again; their numbers are reused.
                    try:
                        os.truncate(seg.path, seg.size)
                    except OSError as exc:
                        log.error("spool: cannot cut a failed write off %s: %s", seg.path, exc)
                    self._active_written = seg.size
                    self._next_seq = pending_first
                raise
            return results

    def _fits(self, size: int) -> bool:
        with self._lock:
            return self._disk_bytes + size <= self.max_bytes

    def _sync_and_publish(self, size: int, first: int | None, last: int | None) -> None:
        """fsync the active segment and let the reader see its new records."""
        if first is None or last is None:
            return
        assert self._active_fd is not None
        if self.fsync:
            os.fsync(self._active_fd)
        seg = self._segments[-1]
        with self._lock:
            seg.size += size
            seg.last_seq = last
            self._disk_bytes += size
            self.appended += last - first + 1

    # -- reading and releasing ------------------------------------------------------

    def read(self, max_records: int = 500, max_bytes: int = 8 * 1024 * 1024) -> list[SpoolRecord]:
        """The next records not yet given to the reader, in order (empty when none)."""
        out: list[SpoolRecord] = []
        budget = max_bytes
        while len(out) < max_records and budget > 0:
            with self._lock:
                seg = next((s for s in self._segments if s.first_seq >= self._cursor_seg), None)
                if seg is None:
                    break
                if seg.first_seq != self._cursor_seg:
                    self._cursor_seg, self._cursor_off = seg.first_seq, 0
                end = seg.size
                is_last = seg is self._segments[-1]
                offset = self._cursor_off
            if offset >= end:
                if is_last:
                    break
                with self._lock:
                    self._cursor_seg, self._cursor_off = seg.first_seq + 1, 0
                continue
            try:
                parsed = _read_records(seg.path, offset, end, budget)
            except FileNotFoundError:
                # Released and deleted meanwhile: go on with the next segment.
                with self._lock:
                    self._cursor_seg, self._cursor_off = seg.first_seq + 1, 0
                continue
            if not parsed:
                # Cannot happen for bytes below a published size; do not spin on it.
                log.error("spool: unreadable bytes in %s at %d; skipping segment", seg.path, offset)
                with self._lock:
                    self._cursor_seg, self._cursor_off = seg.first_seq + 1, 0
                continue
            new_off = offset
            for rec in parsed:
                if len(out) >= max_records or (out and budget <= 0):
                    break
                new_off = rec.end
                budget -= rec.end - rec.offset
                if rec.seq is None:
                    self.corrupted += 1
                    log.error("spool: damaged record in %s at %d; skipped", seg.path, rec.offset)
                    continue
                if rec.seq <= self._cursor_seq:
                    continue  # released before a restart
                try:
                    record = decode_payload(rec.seq, rec.payload)
                except (ValueError, KeyError, TypeError) as exc:
                    self.corrupted += 1
                    log.error("spool: undecodable record %d (%s); skipped", rec.seq, exc)
                    continue
                out.append(record)
                self._cursor_seq = rec.seq
            with self._lock:
                self._cursor_off = new_off
        return out

    def release(self, seq: int) -> None:
        """Every record up to ``seq`` is committed to the store: forget them."""
        with self._lock:
            if seq <= self._released:
                return
            self._released = seq
            active = self._segments[-1] if self._active_fd is not None and self._segments else None
            done = [
                s
                for s in self._segments
                if s is not active and (s.last_seq is None or s.last_seq <= seq)
            ]
            for s in done:
                self._segments.remove(s)
                self._disk_bytes -= s.size
        self._write_released(seq)
        for s in done:
            s.path.unlink(missing_ok=True)

    def _write_released(self, seq: int) -> None:
        # Not fsynced: a mark lost in a power cut only delivers records again.
        tmp = self.directory / (RELEASED_FILE + ".tmp")
        tmp.write_text(f"{seq}\n")
        os.replace(tmp, self.directory / RELEASED_FILE)

    def quarantine(self, record: SpoolRecord, reason: str) -> None:
        """Keep a record the store refuses for good in ``rejected.spool``, then move on."""
        path = self.directory / "rejected.spool"
        payload = encode_payload(
            record.run_id, record.findings, record.notes, record.connections, record.flows
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, frame(record.seq, payload))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        log.error(
            "spool: record %d (%d findings, %d notes, %d connections of run %d) refused by "
            "the store: %s; kept in %s",
            record.seq,
            len(record.findings),
            len(record.notes),
            len(record.connections),
            record.run_id,
            reason,
            path,
        )

    @property
    def last_seq(self) -> int:
        """The highest sequence number given out so far (0 when none)."""
        with self._lock:
            return self._next_seq - 1

    # -- state ------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records appended (or recovered) and not yet released."""
        with self._lock:
            return max(0, self._next_seq - 1 - self._released)

    def stats(self) -> SpoolStats:
        with self._lock:
            return SpoolStats(
                pending_records=max(0, self._next_seq - 1 - self._released),
                disk_bytes=self._disk_bytes,
                max_bytes=self.max_bytes,
                segments=len(self._segments),
                appended=self.appended,
                released_seq=self._released,
                refused=self.refused,
                corrupted=self.corrupted,
            )

    def read_meta(self) -> dict[str, Any]:
        """The spool's small JSON side file (which runs and database it serves), or {}."""
        try:
            value = json.loads((self.directory / META_FILE).read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("spool: unreadable %s (%s)", META_FILE, exc)
            return {}
        return value if isinstance(value, dict) else {}

    def write_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.directory / (META_FILE + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(meta, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / META_FILE)
        _fsync_dir(self.directory)

    def close(self) -> None:
        """Close the files and let another process take the spool."""
        if self._active_fd is not None:
            os.close(self._active_fd)
            self._active_fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None  # type: ignore[assignment]

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class SpoolRuns:
    """Which database a spool serves and which of its runs were never closed (``meta.json``).

    A process that dies leaves its run open; the next start delivers the
    spooled records into that run and then closes it as interrupted. Records
    meant for one database must never be delivered into another.
    """

    def __init__(self, spool: Spool, database: str) -> None:
        self._spool = spool
        self._lock = threading.Lock()
        self.database = hashlib.sha256(database.encode("utf-8")).hexdigest()
        meta = spool.read_meta()
        previous = meta.get("database")
        runs = [int(r) for r in meta.get("open_runs", []) if isinstance(r, int)]
        if previous is not None and previous != self.database:
            if spool.pending:
                raise SpoolError(
                    f"the spool {spool.directory} holds {spool.pending} records for another "
                    "database; start the proxy with that --db to deliver them, or move the "
                    "spool folder away"
                )
            if runs:
                log.warning(
                    "spool %s served another database; its open runs %s are left as they are",
                    spool.directory,
                    runs,
                )
            runs = []
        pending = meta.get("pending_runs", {}) if previous == self.database else {}
        resolved = meta.get("resolved_runs", {}) if previous == self.database else {}
        #: Provisional (negative) run id -> the run's facts, for runs opened while the
        #: store was unreachable; created in the store when it answers.
        self._pending: dict[int, dict[str, Any]] = {
            int(k): v for k, v in pending.items() if isinstance(v, dict)
        }
        #: Provisional run id -> the id the store gave it.
        self._resolved: dict[int, int] = {
            int(k): int(v) for k, v in resolved.items() if isinstance(v, int)
        }
        #: Runs of earlier processes that ended without closing them.
        self.interrupted: tuple[int, ...] = tuple(runs)
        self._open = list(runs)
        self._save()

    def _save(self) -> None:
        self._spool.write_meta(
            {
                "database": self.database,
                "open_runs": self._open,
                "pending_runs": {str(k): v for k, v in self._pending.items()},
                "resolved_runs": {str(k): v for k, v in self._resolved.items()},
            }
        )

    def provisional(self, facts: dict[str, Any]) -> int:
        """A negative run id for a run the store could not open yet; ``facts`` open it later.

        ``facts`` are ``FindingStore.start_run`` keyword arguments (JSON values);
        the run is opened with them, its own start time included, when its first
        records are delivered.
        """
        with self._lock:
            run_id = min([-1, *(k - 1 for k in self._pending), *(k - 1 for k in self._resolved)])
            self._pending[run_id] = dict(facts)
            self._open.append(run_id)
            self._save()
            return run_id

    def update_pending(self, run_id: int, **facts: Any) -> bool:
        """Add facts to a still provisional run; False when it is already in the store."""
        with self._lock:
            if run_id not in self._pending:
                return False
            self._pending[run_id].update(facts)
            self._save()
            return True

    def pending_facts(self, run_id: int) -> dict[str, Any] | None:
        with self._lock:
            facts = self._pending.get(run_id)
            return dict(facts) if facts is not None else None

    def resolved(self, run_id: int) -> int | None:
        """The store's id of a run: itself when not provisional, None when not opened yet."""
        if run_id >= 0:
            return run_id
        with self._lock:
            return self._resolved.get(run_id)

    def resolve(self, run_id: int, real_id: int) -> None:
        """Record that the store opened provisional run ``run_id`` as ``real_id``."""
        with self._lock:
            self._pending.pop(run_id, None)
            self._resolved[run_id] = real_id
            self._open = [real_id if r == run_id else r for r in self._open]
            self._save()

    def opened(self, run_id: int) -> None:
        with self._lock:
            self._open.append(run_id)
            self._save()

    def closed(self, run_ids: Sequence[int]) -> None:
        with self._lock:
            self._open = [r for r in self._open if r not in run_ids]
            # A mapping is kept while records of its provisional id may still be spooled.
            if not self._spool.pending:
                self._resolved = {k: v for k, v in self._resolved.items() if v in self._open}
            self._save()
