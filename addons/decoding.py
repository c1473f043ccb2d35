"""Pipeline stage 2: the bytes a device sent, decoded into Documents.

Only the device-to-server direction is decoded: what the car receives is not
a transfer of its owner's data out of the country. Anything that cannot be
decoded becomes a Note, so that "nothing found" never hides "not read".
"""

from __future__ import annotations

import logging

from mitmproxy import ctx, http, tcp
from mitmproxy import flow as mflow

from shekara.addons import state
from shekara.audit.decoders import (
    DecodeError,
    MqttStream,
    MqttStreamError,
    decode_body,
    decode_content,
    decode_headers,
    decode_path,
    decode_query,
    looks_like_mqtt,
)
from shekara.audit.model import FlowAnalysis, Note

log = logging.getLogger(__name__)

DEFAULT_BODY_LIMIT = 8 * 1024 * 1024


def _note(a: FlowAnalysis, source: str, reason: str) -> None:
    a.notes.append(Note(a.flow_id, source, reason, a.destination, a.observed_at))


def http_documents(a: FlowAnalysis, req: http.Request, limit: int) -> None:
    """Decode a request's query, path, headers and body into ``a.documents``."""
    if req.query:
        a.documents.append(decode_query(list(req.query.items(multi=True))))
    a.documents.append(decode_path(req.path.split("?", 1)[0]))
    a.documents.append(decode_headers([(k, v) for k, v in req.headers.items(multi=True)]))
    raw = req.raw_content
    if not raw:
        return
    try:
        body = decode_content(raw, req.headers.get("content-encoding"), limit=limit)
        a.documents.append(decode_body(body, req.headers.get("content-type")))
    except DecodeError as e:
        _note(a, "request.body", f"undecodable: {e}")


class Decoding:
    def __init__(self) -> None:
        self.body_limit = DEFAULT_BODY_LIMIT
        self._mqtt: dict[str, MqttStream | None] = {}

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "shekara_body_limit",
            int,
            DEFAULT_BODY_LIMIT,
            "Largest decoded (decompressed) body the auditor reads, in bytes; "
            "larger bodies are recorded as undecodable.",
        )

    def configure(self, updated: set[str]) -> None:
        if "shekara_body_limit" in updated:
            self.body_limit = max(1024, int(ctx.options.shekara_body_limit))

    def _http(self, f: http.HTTPFlow) -> None:
        a = state.begin(f, f.request.timestamp_start)
        try:
            http_documents(a, f.request, self.body_limit)
        except Exception as e:  # a decoder bug must not lose the flow
            log.exception("decoding failed for flow %s", f.id)
            _note(a, "request", f"decoder error: {type(e).__name__}: {e}")

    def response(self, f: http.HTTPFlow) -> None:
        self._http(f)

    def error(self, f: http.HTTPFlow) -> None:
        if f.response is None:
            self._http(f)

    def websocket_message(self, f: http.HTTPFlow) -> None:
        assert f.websocket is not None
        msg = f.websocket.messages[-1]
        a = state.begin(f, msg.timestamp)
        if not msg.from_client:
            return
        idx = len(f.websocket.messages) - 1
        source = f"websocket.message[{idx}]"
        try:
            a.documents.append(decode_body(msg.content, None, source=source))
        except DecodeError as e:
            _note(a, source, f"undecodable: {e}")
        except Exception as e:
            log.exception("decoding failed for flow %s", f.id)
            _note(a, source, f"decoder error: {type(e).__name__}: {e}")

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        msg = f.messages[-1]
        a = state.begin(f, msg.timestamp)
        if not msg.from_client:
            return
        if f.id not in self._mqtt:
            # Decide the protocol on the first client bytes and stick with it.
            self._mqtt[f.id] = MqttStream() if looks_like_mqtt(msg.content) else None
            if self._mqtt[f.id] is None:
                _note(a, "tcp", f"unrecognised protocol, {len(msg.content)} bytes not decoded")
        stream = self._mqtt[f.id]
        if stream is None:
            return
        try:
            a.documents.extend(stream.feed(msg.content))
        except MqttStreamError as e:
            # Packets before the damage still count; the rest of the stream cannot be framed.
            a.documents.extend(e.documents)
            self._mqtt[f.id] = None
            _note(a, "mqtt", f"undecodable: {e}")
        except Exception as e:
            self._mqtt[f.id] = None
            log.exception("decoding failed for flow %s", f.id)
            _note(a, "mqtt", f"decoder error: {type(e).__name__}: {e}")
        for u in stream.take_notes():
            _note(a, u.source, f"undecodable: {u.reason}")

    def tcp_end(self, f: tcp.TCPFlow) -> None:
        self._mqtt.pop(f.id, None)

    def tcp_error(self, f: tcp.TCPFlow) -> None:
        self._mqtt.pop(f.id, None)

    def _forget(self, f: mflow.Flow) -> None:
        self._mqtt.pop(f.id, None)
