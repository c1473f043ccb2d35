"""Typed accessors for what the pipeline stages share through ``flow.metadata``.

Each event (a request, a WebSocket message, a TCP message) fills a fresh
``FlowAnalysis``; the recording stage removes it again, so that a flow saved
to disk later carries no analysis objects and no detected values.
"""

from __future__ import annotations

from mitmproxy import flow as mflow

from shekara.audit.model import Destination, FlowAnalysis

KEY = "shekara.analysis"
DEST_KEY = "shekara.destination"


def current(f: mflow.Flow) -> FlowAnalysis | None:
    a = f.metadata.get(KEY)
    return a if isinstance(a, FlowAnalysis) else None


def begin(f: mflow.Flow, observed_at: float) -> FlowAnalysis:
    a = FlowAnalysis(flow_id=f.id, observed_at=observed_at, destination=destination(f))
    f.metadata[KEY] = a
    return a


def end(f: mflow.Flow) -> FlowAnalysis | None:
    a = f.metadata.pop(KEY, None)
    return a if isinstance(a, FlowAnalysis) else None


def destination(f: mflow.Flow) -> Destination | None:
    d = f.metadata.get(DEST_KEY)
    return d if isinstance(d, Destination) else None


def set_destination(f: mflow.Flow, d: Destination) -> None:
    f.metadata[DEST_KEY] = d


def forget(f: mflow.Flow) -> None:
    f.metadata.pop(KEY, None)
    f.metadata.pop(DEST_KEY, None)
