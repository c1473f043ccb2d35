"""The mitmproxy addons of the audit pipeline, in the one order both proxy and replay use.

naming → attribution → decoding → detection → judgement → recording: each
stage is a thin adapter from mitmproxy's events to the pure core in
``shekara.audit`` and ``shekara.geo``. Naming comes first so the names a
device's DNS answers gave are known when its flows to those IPs are attributed.
"""

from __future__ import annotations

from collections.abc import Sequence

from shekara.addons.attribution import Attribution
from shekara.addons.decoding import Decoding
from shekara.addons.detection import Detection
from shekara.addons.judgement import Judgement
from shekara.addons.naming import Naming
from shekara.addons.recording import Recording, Sink
from shekara.audit.verdict import Judge
from shekara.evidence.writer import SpooledWriter, StoreWriter
from shekara.geo.locate import Locator


def pipeline(
    locator: Locator,
    judge: Judge,
    writer: StoreWriter | SpooledWriter,
    run_id: int,
    sinks: Sequence[Sink] = (),
) -> list[object]:
    return [
        Naming(locator.names),
        Attribution(locator),
        Decoding(),
        Detection(),
        Judgement(judge),
        Recording(writer, run_id, sinks),
    ]


__all__ = [
    "Attribution",
    "Decoding",
    "Detection",
    "Judgement",
    "Naming",
    "Recording",
    "pipeline",
]
