"""Builds the analysis context both the live proxy and replay share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shekara import __version__
from shekara.addons import Sink, pipeline
from shekara.audit.redact import Redactor
from shekara.audit.verdict import Judge
from shekara.evidence.store import FindingStore
from shekara.evidence.writer import StoreWriter
from shekara.geo.locate import Locator
from shekara.proxy.keys import hashing_key
from shekara.rulesets.loader import Ruleset, load_ruleset


@dataclass
class Context:
    store: FindingStore
    writer: StoreWriter
    locator: Locator
    ruleset: Ruleset
    judge: Judge
    run_id: int
    addons: list[object]

    def close(self, flows_read: int, status: str, error: str | None = None) -> None:
        try:
            self.writer.close()
        finally:
            self.store.finish_run(self.run_id, flows_read, status, error)
            self.locator.close()


def build(
    db_url: str,
    kind: str,
    ruleset_path: str | Path | None = None,
    geoip: Sequence[str | Path] = (),
    capture: str | None = None,
    capture_sha256: str | None = None,
    sinks: Sequence[Sink] = (),
    home: Path | None = None,
) -> Context:
    ruleset = load_ruleset(ruleset_path)
    locator = Locator.from_paths(geoip)
    judge = Judge(ruleset, Redactor(hashing_key(home)))
    store = FindingStore(db_url)
    store.create_schema()
    run_id = store.start_run(
        kind,
        capture=capture,
        capture_sha256=capture_sha256,
        ruleset_name=ruleset.header.name,
        ruleset_version=f"{ruleset.header.version}+{ruleset.digest}",
        geo_sources=locator.describe(),
        tool_version=__version__,
    )
    writer = StoreWriter(store)
    addons = pipeline(locator, judge, writer, run_id, sinks)
    return Context(store, writer, locator, ruleset, judge, run_id, addons)
