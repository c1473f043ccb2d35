"""The mitmproxy addons of the audit pipeline, in the one order both proxy and replay use.

naming → attribution → decoding → detection → judgement → flow metadata → recording: each
stage is a thin adapter from mitmproxy's events to the pure core in
``shekara.audit`` and ``shekara.geo``. Naming comes first so the names a
device's DNS answers gave are known when its flows to those IPs are attributed.
"""

from __future__ import annotations

from collections.abc import Sequence

from shekara.addons.attribution import Attribution
from shekara.addons.decoding import Decoding
from shekara.addons.detection import Detection
from shekara.addons.flowmeta import FlowMetadata
from shekara.addons.guard import Failures, Guarded, Stages
from shekara.addons.judgement import Judgement
from shekara.addons.knownvalues import KnownValueDetection
from shekara.addons.naming import Naming
from shekara.addons.passthrough import OPERATOR_LIST, Passthrough
from shekara.addons.recording import Recording, Sink
from shekara.addons.traffic import Traffic
from shekara.audit.drivetrack import DriveTrack
from shekara.audit.knownvalues import KnownValues
from shekara.audit.verdict import Judge
from shekara.evidence.writer import SpooledWriter, StoreWriter
from shekara.geo.locate import Locator
from shekara.proxy.leases import LeaseBook


def pipeline(
    locator: Locator,
    judge: Judge,
    writer: StoreWriter | SpooledWriter,
    run_id: int,
    sinks: Sequence[Sink] = (),
    live: bool = False,
    known: KnownValues | None = None,
    failures: Failures | None = None,
    leases: LeaseBook | None = None,
    track: DriveTrack | None = None,
    unlisted: str = OPERATOR_LIST,
) -> list[object]:
    """The stages in order; with ``live`` (the proxy, or a packet capture's replay) TLS
    passthrough and connection records too, ``unlisted`` saying why passed-through TLS
    stayed closed.

    Every stage but recording is guarded (``guard.Guarded``): its exceptions are
    counted in ``failures`` and leave the flow marked not analysed. The guarded
    stages form one addon (``guard.Stages``); recording stays its own, last.
    """
    stages: list[object] = [Attribution(locator), Decoding(), Detection(), Judgement(judge)]
    if known or track:
        stages.insert(3, KnownValueDetection(known or KnownValues({}), track))
    if live:
        stages.insert(0, Passthrough(locator, writer, run_id, unlisted))
        stages.append(Traffic(judge, writer, run_id, leases))
    # Last: every finding of the event is known (a passed-through connection's are
    # made by traffic), and the URL is redacted with the hits they came from.
    stages.append(FlowMetadata())
    # Names first: every later stage may ask which names a server was reached under.
    stages.insert(0, Naming(locator.names))
    failures = failures if failures is not None else Failures()
    return [Stages(stages, failures), Recording(writer, run_id, sinks)]


__all__ = [
    "Attribution",
    "Decoding",
    "Detection",
    "Failures",
    "FlowMetadata",
    "Guarded",
    "Judgement",
    "KnownValueDetection",
    "Naming",
    "Passthrough",
    "Recording",
    "Stages",
    "Traffic",
    "pipeline",
]
