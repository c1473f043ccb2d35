"""Typed accessors for what the pipeline stages share through ``flow.metadata``.

Each event (a request, a WebSocket message, a TCP message) fills a fresh
``FlowAnalysis``; the recording stage removes it again within the same event,
so a flow saved to disk (raw evidence, mitmproxy's own save) carries no
analysis objects and no detected values. The destination stays on the flow
as plain serialisable data: saved flows keep their geolocation evidence.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import flow as mflow

from shekara.audit.model import (
    Destination,
    FlowAnalysis,
    destination_from_dict,
    destination_to_dict,
)
from shekara.evidence.connections import ConnectionRecord

KEY = "shekara.analysis"
DEST_KEY = "shekara.destination"
#: Why a connection's TLS was forwarded unopened; its bytes are not decoded.
PASSTHROUGH_KEY = "shekara.passthrough"
#: The run (test session) a flow belongs to.
RUN_KEY = "shekara.run"
#: The record of a connection that just ended, for the recording stage to hand on.
CONNECTION_KEY = "shekara.connection"
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


def set_destination(f: mflow.Flow, d: Destination, as_dict: dict[str, Any] | None = None) -> None:
    """Store ``d`` on the flow; ``as_dict`` is its ``destination_to_dict`` form if already made.

    Flows to one server may share that form: it is only read through
    ``destination`` (which copies) and mitmproxy deep-copies metadata when it
    copies or saves a flow.
    """
    f.metadata[DEST_KEY] = as_dict if as_dict is not None else destination_to_dict(d)


def forget(f: mflow.Flow) -> None:
    f.metadata.pop(KEY, None)
    f.metadata.pop(DEST_KEY, None)
    f.metadata.pop(CONNECTION_KEY, None)


def set_connection(f: mflow.Flow, record: ConnectionRecord) -> None:
    f.metadata[CONNECTION_KEY] = record


def take_connection(f: mflow.Flow) -> ConnectionRecord | None:
    r = f.metadata.pop(CONNECTION_KEY, None)
    return r if isinstance(r, ConnectionRecord) else None


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
