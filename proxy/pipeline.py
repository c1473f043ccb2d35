"""Builds the analysis context both the live proxy and replay share."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shekara import __version__
from shekara.addons import Sink, pipeline
from shekara.audit.redact import Redactor
from shekara.audit.verdict import Judge
from shekara.evidence import raw
from shekara.evidence.spool import DEFAULT_MAX_BYTES, Spool, SpoolRuns
from shekara.evidence.store import FindingStore, RunClosedError, UnknownRunError
from shekara.evidence.writer import SpooledWriter, StoreWriter
from shekara.geo.locate import Locator
from shekara.proxy.keys import hashing_key, station_key
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

    def keep_flows(self, folder: Path) -> Path:
        """Create this run's private capture file and record where it is."""
        self.raw_evidence = raw.create_capture_file(folder, self.run_id)
        raw.record_path(self.store, self.run_id, self.raw_evidence)
        return self.raw_evidence

    def _raw_sha256(self) -> str | None:
        if self.raw_evidence is None or not self.raw_evidence.exists():
            return None
        return raw.sha256_file(self.raw_evidence)

    def close(self, flows_read: int, status: str, error: str | None = None) -> None:
        stored_all = False
        try:
            stored_all = self.writer.close()
        finally:
            try:
                if self.spool_runs is None or stored_all:
                    self.store.finish_run(
                        self.run_id,
                        flows_read,
                        status,
                        error,
                        key=self.signing_key,
                        raw_evidence_sha256=self._raw_sha256(),
                    )
                if self.spool_runs is not None and stored_all:
                    self.spool_runs.closed([self.run_id])
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


def close_interrupted_runs(store: FindingStore, runs: SpoolRuns, home: Path | None = None) -> None:
    """Close, as interrupted, the runs of earlier processes once their spooled records are in."""
    if not runs.interrupted:
        return
    key = station_key(home)
    for run_id in runs.interrupted:
        try:
            store.finish_run(
                run_id,
                0,
                "interrupted",
                "the proxy ended without closing the run (killed or crashed)",
                key=key,
            )
        except (RunClosedError, UnknownRunError):
            pass
        else:
            log.warning("run %d of an earlier proxy process closed as interrupted", run_id)
    runs.closed(runs.interrupted)


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
) -> Context:
    """The addons and their collaborators for one run.

    With ``spool_dir`` (the live proxy) findings are acknowledged once fsynced
    in the spool and drained into the store from there; records left by an
    earlier process are delivered first, into the runs they belong to.
    """
    ruleset = load_ruleset(ruleset_path)
    locator = Locator.from_paths(geoip, overrides=ruleset.overrides)
    judge = Judge(ruleset, Redactor(hashing_key(home)))
    # Loaded now, so a key file with bad permissions stops the run before it starts.
    signing_key = station_key(home)
    # Taken first: a second proxy on the same spool must fail before it opens a run.
    spool = Spool(spool_dir, max_bytes=spool_max_bytes) if spool_dir is not None else None
    store = FindingStore(db_url)
    try:
        store.create_schema()
        # Named without its password, which may change while the database stays the same.
        target = store.url.render_as_string(hide_password=True)
        spool_runs = SpoolRuns(spool, target) if spool is not None else None
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    run_id = store.start_run(
        kind,
        capture=capture,
        capture_sha256=capture_sha256,
        ruleset_name=ruleset.header.name,
        ruleset_version=f"{ruleset.header.version}+{ruleset.digest}",
        geo_sources=locator.describe(),
        tool_version=__version__,
    )
    writer: StoreWriter | SpooledWriter
    if spool is not None and spool_runs is not None:
        spool_runs.opened(run_id)
        writer = SpooledWriter(
            store,
            spool,
            status_path=status_path,
            after_recovery=lambda: close_interrupted_runs(store, spool_runs, home),
        )
    else:
        writer = StoreWriter(store)
    addons = pipeline(locator, judge, writer, run_id, sinks)
    return Context(
        store, writer, locator, ruleset, judge, run_id, addons, spool, spool_runs, signing_key
    )
