"""Builds the analysis context both the live proxy and replay share."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from shekara import __version__
from shekara.addons import Sink, pipeline
from shekara.addons.passthrough import ENCRYPTED_IN_CAPTURE, OPERATOR_LIST
from shekara.audit.drivetrack import DriveTrack
from shekara.audit.knownvalues import KnownValues
from shekara.audit.model import Note
from shekara.audit.redact import Redactor
from shekara.audit.verdict import Judge
from shekara.evidence import raw, schema
from shekara.evidence.pending import PendingRuns
from shekara.evidence.spool import DEFAULT_MAX_BYTES, Spool, SpoolRuns
from shekara.evidence.store import FindingStore, RunClosedError, UnknownRunError
from shekara.evidence.writer import SpooledWriter, StoreWriter, is_transient
from shekara.geo.locate import Locator
from shekara.proxy.keys import hashing_key, station_key
from shekara.proxy.leases import LeaseBook
from shekara.proxy.pcapflows import Remark
from shekara.rulesets.loader import Ruleset, load_ruleset

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger(__name__)


@dataclass
class Context:
    store: FindingStore
    writer: StoreWriter | SpooledWriter
    locator: Locator
    ruleset: Ruleset
    judge: Judge
    run_id: int
    addons: list[object]
    spool: Spool | None = None
    spool_runs: SpoolRuns | None = None
    # Signs the closing statement; None closes the run unsigned.
    signing_key: Ed25519PrivateKey | None = None
    # The session's flows, when the operator keeps raw evidence.
    raw_evidence: Path | None = None

    # Opens runs that started while the store was unreachable (live proxy only).
    pending: PendingRuns | None = None

    def remark(self, r: Remark) -> None:
        """Record what the capture itself tells about a flow (a hole, a cut, a failure)."""
        dest = self.locator.locate(r.host, r.ip, r.port, r.sni)
        self.writer.submit(self.run_id, [], [Note(r.flow_id, r.source, r.reason, dest, r.ts)])

    def keep_flows(self, folder: Path) -> Path:
        """Create this run's private capture file and record where it is."""
        self.raw_evidence = raw.create_capture_file(folder, self.run_id)
        if self.spool_runs is None or not self.spool_runs.update_pending(
            self.run_id, raw_evidence_path=str(self.raw_evidence)
        ):
            raw.record_path(self.store, self.store_run_id(), self.raw_evidence)
        return self.raw_evidence

    def store_run_id(self) -> int:
        """This run's id in the store; a provisional run is opened there first."""
        if self.pending is None or self.run_id >= 0:
            return self.run_id
        return self.pending.real_id(self.run_id)

    def _closable_run_id(self) -> int | None:
        try:
            return self.store_run_id()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.error("run %d cannot be opened in the store yet: %s", self.run_id, exc)
            return None

    def _raw_sha256(self) -> str | None:
        if self.raw_evidence is None or not self.raw_evidence.exists():
            return None
        return raw.sha256_file(self.raw_evidence)

    def release(self) -> bool:
        """Store what is queued and let go, leaving the run open for its owner to close."""
        try:
            return self.writer.close()
        finally:
            self.locator.close()

    def close(
        self, flows_read: int, status: str, error: str | None = None, *, finish: bool = True
    ) -> None:
        """Drain the writer and close the run (``finish=False``: a session keeps it open)."""
        stored_all = False
        try:
            stored_all = self.writer.close()
        finally:
            try:
                run_id = None
                if finish and (self.spool_runs is None or stored_all):
                    run_id = self._closable_run_id()
                if run_id is not None:
                    self.store.finish_run(
                        run_id,
                        flows_read,
                        status,
                        error,
                        key=self.signing_key,
                        raw_evidence_sha256=self._raw_sha256(),
                    )
                if self.spool_runs is not None and stored_all and (run_id or not finish):
                    self.spool_runs.closed([r for r in (self.run_id, run_id) if r is not None])
                elif self.spool_runs is not None:
                    # Its chain is not complete yet: the next start delivers the rest, then
                    # closes the run as interrupted.
                    log.error(
                        "run %d stays open until its spooled findings are stored", self.run_id
                    )
            finally:
                if self.spool is not None:
                    self.spool.close()
                self.locator.close()


def _left_raw_evidence_sha256(store: FindingStore, run_id: int) -> str | None:
    """The sha256 of the raw evidence a killed run left, as the file is now.

    A killed writer may have left a last flow cut short; the hash still fixes
    the file as it was when the run was sealed, which is what a later reader
    must be able to check.
    """
    with store.engine.connect() as conn:
        recorded = conn.execute(
            select(schema.runs.c.raw_evidence_path).where(schema.runs.c.id == run_id)
        ).scalar()
    path = Path(recorded) if recorded else None
    if path is None or not path.is_file():
        return None
    try:
        return raw.sha256_file(path)
    except OSError as exc:
        log.error("raw evidence of run %d could not be read: %s", run_id, exc)
        return None


def close_interrupted_runs(store: FindingStore, runs: SpoolRuns, home: Path | None = None) -> None:
    """Close, as interrupted, the runs of earlier processes once their spooled records are in.

    A run that an earlier process could only open provisionally (the store was
    down) and that spooled nothing is opened now, so the session is on record.
    """
    if not runs.interrupted:
        return
    key = station_key(home)
    pending = PendingRuns(store, runs)
    closed: list[int] = []
    for provisional_or_real in runs.interrupted:
        run_id = pending.real_id(provisional_or_real)
        closed.append(run_id)
        try:
            store.finish_run(
                run_id,
                0,
                "interrupted",
                "the proxy ended without closing the run (killed or crashed)",
                key=key,
                raw_evidence_sha256=_left_raw_evidence_sha256(store, run_id),
            )
        except (RunClosedError, UnknownRunError):
            pass
        else:
            log.warning("run %d of an earlier proxy process closed as interrupted", run_id)
    runs.closed([*runs.interrupted, *closed])


def build(
    db_url: str,
    kind: str,
    ruleset_path: str | Path | None = None,
    geoip: Sequence[str | Path] = (),
    capture: str | None = None,
    capture_sha256: str | None = None,
    sinks: Sequence[Sink] = (),
    home: Path | None = None,
    spool_dir: Path | None = None,
    spool_max_bytes: int = DEFAULT_MAX_BYTES,
    status_path: Path | None = None,
    live: bool = False,
    run_id: int | None = None,
    known: KnownValues | None = None,
    dhcp_leases: Path | None = None,
    track: DriveTrack | None = None,
    connections: bool | None = None,
) -> Context:
    """The addons and their collaborators for one run.

    With ``spool_dir`` (the live proxy) findings and connection records are
    acknowledged once fsynced in the spool and drained into the store from
    there; records left by an earlier process are delivered first, into the
    runs they belong to.
    With ``run_id`` the context joins a run another process opened (a worker of
    ``replay --jobs``): it writes findings into it and leaves closing it to its owner.
    ``connections`` (by default: live) keeps connection records and records TLS
    passed through as undetermined content; a packet capture's replay keeps
    them too (``replay.keeps_connections``).
    """
    ruleset = load_ruleset(ruleset_path)
    locator = Locator.from_paths(geoip, overrides=ruleset.overrides)
    judge = Judge(ruleset, Redactor(hashing_key(home)))
    # Loaded now, so a key file with bad permissions stops the run before it starts.
    signing_key = station_key(home)
    # Taken first: a second proxy on the same spool must fail before it opens a run.
    spool = Spool(spool_dir, max_bytes=spool_max_bytes) if spool_dir is not None else None
    store = FindingStore(db_url)
    facts: dict[str, Any] = {
        "kind": kind,
        "capture": capture,
        "capture_sha256": capture_sha256,
        "ruleset_name": ruleset.header.name,
        "ruleset_version": f"{ruleset.header.version}+{ruleset.digest}",
        "geo_sources": locator.describe(),
        "tool_version": __version__,
        "started_at": time.time(),
    }
    try:
        # Named without its password, which may change while the database stays the same.
        target = store.url.render_as_string(hide_password=True)
        spool_runs = SpoolRuns(spool, target) if spool is not None else None
        joining = run_id is not None
        try:
            store.create_schema()
            if run_id is None:
                run_id = store.start_run(**facts)
        except Exception as exc:
            if spool_runs is None or joining or not is_transient(exc):
                raise
            # The device's traffic must flow now; the run is opened when the store answers.
            run_id = spool_runs.provisional(facts)
            log.error(
                "the findings store is unreachable (%s); run %d is opened there when it "
                "answers, findings are spooled to %s meanwhile",
                exc,
                run_id,
                spool_dir,
            )
        else:
            if spool_runs is not None and not joining:
                spool_runs.opened(run_id)
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    writer: StoreWriter | SpooledWriter
    pending = None
    if spool is not None and spool_runs is not None:
        pending = PendingRuns(store, spool_runs)
        writer = SpooledWriter(
            pending,
            spool,
            status_path=status_path,
            after_recovery=lambda: close_interrupted_runs(store, spool_runs, home),
        )
    else:
        writer = StoreWriter(store)
    if connections is None:
        connections = live
    addons = pipeline(
        locator,
        judge,
        writer,
        run_id,
        sinks,
        connections,
        known,
        leases=LeaseBook(dhcp_leases),
        track=track,
        unlisted=OPERATOR_LIST if live else ENCRYPTED_IN_CAPTURE,
    )
    return Context(
        store,
        writer,
        locator,
        ruleset,
        judge,
        run_id,
        addons,
        spool,
        spool_runs,
        signing_key,
        pending=pending,
    )
