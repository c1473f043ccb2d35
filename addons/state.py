"""Typed accessors for what the pipeline stages share through ``flow.metadata``.

Each event (a request, a WebSocket message, a TCP message) fills a fresh
``FlowAnalysis``; the recording stage removes it again within the same event,
so a flow saved to disk (raw evidence, mitmproxy's own save) carries no
analysis objects and no detected values. The destination stays on the flow
as plain serialisable data: saved flows keep their geolocation evidence.
"""

from __future__ import annotations

from mitmproxy import flow as mflow

from shekara.audit.model import (
    Destination,
    FlowAnalysis,
    destination_from_dict,
    destination_to_dict,
)

KEY = "shekara.analysis"
DEST_KEY = "shekara.destination"
#: Why a connection's TLS was forwarded unopened; its bytes are not decoded.
PASSTHROUGH_KEY = "shekara.passthrough"
#: The run (test session) a flow belongs to.
RUN_KEY = "shekara.run"
#: The protocol a raw TCP stream was recognised as (``mqtt``, ``jt808``, ...).
PROTOCOL_KEY = "shekara.protocol"


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
    if not isinstance(d, dict):
        return None
    try:
        return destination_from_dict(d)
    except (TypeError, KeyError, ValueError):
        return None  # written by another version: attributed again


def set_destination(f: mflow.Flow, d: Destination) -> None:
    f.metadata[DEST_KEY] = destination_to_dict(d)


def forget(f: mflow.Flow) -> None:
    f.metadata.pop(KEY, None)
    f.metadata.pop(DEST_KEY, None)


def passthrough(f: mflow.Flow) -> str | None:
    reason = f.metadata.get(PASSTHROUGH_KEY)
    return reason if isinstance(reason, str) else None


def set_passthrough(f: mflow.Flow, reason: str) -> None:
    f.metadata[PASSTHROUGH_KEY] = reason


def protocol(f: mflow.Flow) -> str | None:
    name = f.metadata.get(PROTOCOL_KEY)
    return name if isinstance(name, str) else None


def set_protocol(f: mflow.Flow, name: str) -> None:
    f.metadata[PROTOCOL_KEY] = name
