"""Between judgement and recording: a flow's method, redacted URL, status, sizes and times.

Runs after detection and judgement, so the URL is redacted with the very
hits the flow's findings came from (``audit.flowmeta``), and hands the record
to recording with the event's findings. An HTTP exchange is described once,
when it is over; a WebSocket, TCP or UDP stream when its first findings or
notes are recorded (so they never lack their flow), and again when it ends,
with its final sizes and end time. The URL redacted the first time is kept on
the flow: the later record has no hits of the handshake left to redact with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mitmproxy import dns, http, tcp, udp
from mitmproxy import flow as mflow
from mitmproxy.net.http.http1 import assemble
from mitmproxy.websocket import WebSocketMessage

from shekara.addons import state
from shekara.audit.flowmeta import FlowFacts, FlowMeta, describe

#: flow.metadata key: the redacted URL and host of the flow's first record.
SHOWN_KEY = "shekara.flow_shown"


def _address(addr: object) -> str | None:
    if not isinstance(addr, tuple) or len(addr) < 2:
        return None
    host, port = str(addr[0]), addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _server(f: mflow.Flow) -> str | None:
    return _address(f.server_conn.peername) or _address(f.server_conn.address)


def _head_bytes(message: http.Message) -> int | None:
    """Bytes of an HTTP/1 head as relayed; None for HTTP/2 and 3 (compressed headers)."""
    if not message.http_version.upper().startswith("HTTP/1"):
        return None
    try:
        if isinstance(message, http.Request):
            return len(assemble.assemble_request_head(message))
        assert isinstance(message, http.Response)
        return len(assemble.assemble_response_head(message))
    except (ValueError, AssertionError):
        return None


def _total(head: int | None, body: int | None) -> int | None:
    return head + (body or 0) if head is not None else None


def _payload(
    messages: Sequence[tcp.TCPMessage | udp.UDPMessage | WebSocketMessage],
) -> tuple[int, int, float | None, float | None]:
    """(client bytes, server bytes, first and last message times) of a stream."""
    up = down = 0
    for m in messages:
        if m.from_client:
            up += len(m.content)
        else:
            down += len(m.content)
    first = messages[0].timestamp if messages else None
    last = messages[-1].timestamp if messages else None
    return up, down, first, last


def http_facts(f: http.HTTPFlow) -> FlowFacts:
    req, resp = f.request, f.response
    req_body = len(req.raw_content) if req.raw_content is not None else None
    resp_body = len(resp.raw_content) if resp is not None and resp.raw_content is not None else None
    ended = (resp.timestamp_end if resp is not None else None) or (
        f.error.timestamp if f.error is not None else None
    )
    facts = FlowFacts(
        flow_id=f.id,
        transport="http",
        scheme=req.scheme,
        websocket=f.websocket is not None,
        method=req.method,
        host=req.pretty_host,
        port=req.port,
        target=req.path,
        status=resp.status_code if resp is not None else None,
        request_body_bytes=req_body,
        request_bytes=_total(_head_bytes(req), req_body),
        response_body_bytes=resp_body,
        response_bytes=_total(_head_bytes(resp), resp_body) if resp is not None else None,
        started_at=req.timestamp_start,
        ended_at=ended or req.timestamp_end,
        client=_address(f.client_conn.peername),
        server=_server(f),
    )
    if f.websocket is not None:
        # The messages are the stream's content; the handshake is its HTTP part.
        up, down, _, last = _payload(f.websocket.messages)
        closed = f.websocket.timestamp_end
        facts = replace(
            facts,
            request_body_bytes=up,
            request_bytes=None,
            response_body_bytes=down,
            response_bytes=None,
            ended_at=closed or last or facts.ended_at,
        )
    return facts


def stream_facts(f: tcp.TCPFlow | udp.UDPFlow) -> FlowFacts:
    up, down, first, last = _payload(f.messages)
    ends = [t for t in (last, f.client_conn.timestamp_end, f.server_conn.timestamp_end) if t]
    host = f.server_conn.sni or (str(f.server_conn.address[0]) if f.server_conn.address else None)
    port = f.server_conn.address[1] if f.server_conn.address else None
    return FlowFacts(
        flow_id=f.id,
        transport="tcp" if isinstance(f, tcp.TCPFlow) else "udp",
        application=state.protocol(f),
        host=host,
        port=port,
        # A raw stream has no body and head: its payload is all it carried.
        request_body_bytes=up,
        request_bytes=up,
        response_body_bytes=down,
        response_bytes=down,
        started_at=f.client_conn.timestamp_start or first or f.timestamp_created,
        ended_at=max(ends) if ends else None,
        client=_address(f.client_conn.peername),
        server=_server(f),
    )


def dns_facts(f: dns.DNSFlow) -> FlowFacts:
    q = f.request.questions[0] if f.request.questions else None
    resp = f.response
    return FlowFacts(
        flow_id=f.id,
        transport="dns",
        method=dns.types.to_str(q.type) if q is not None else None,
        host=q.name if q is not None else None,
        request_body_bytes=len(f.request.packed),
        response_body_bytes=len(resp.packed) if resp is not None else None,
        status=resp.response_code if resp is not None else None,
        started_at=f.request.timestamp or f.timestamp_created,
        ended_at=(resp.timestamp if resp is not None else None)
        or (f.error.timestamp if f.error is not None else None),
        client=_address(f.client_conn.peername),
        server=_server(f),
    )


class FlowMetadata:
    def _describe(self, f: mflow.Flow, facts: FlowFacts) -> None:
        a = state.current(f) or state.begin(f, facts.started_at or f.timestamp_created)
        meta = describe(facts, a.hits)
        shown = f.metadata.get(SHOWN_KEY)
        if isinstance(shown, dict):
            # Redacted when the flow's hits were at hand: keep that, never redo it without them.
            meta = _shown(meta, shown)
        else:
            f.metadata[SHOWN_KEY] = {"url": meta.url, "host": meta.host}
        a.flow = meta

    def _first(self, f: mflow.Flow, facts: FlowFacts) -> None:
        """A stream's first event with something to record carries its flow record too."""
        a = state.current(f)
        if a is None or not (a.findings or a.notes) or isinstance(f.metadata.get(SHOWN_KEY), dict):
            return
        self._describe(f, facts)

    def response(self, f: http.HTTPFlow) -> None:
        self._describe(f, http_facts(f))

    def error(self, f: http.HTTPFlow) -> None:
        self._describe(f, http_facts(f))

    def websocket_message(self, f: http.HTTPFlow) -> None:
        self._first(f, http_facts(f))

    def websocket_end(self, f: http.HTTPFlow) -> None:
        self._describe(f, http_facts(f))

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        self._first(f, stream_facts(f))

    def tcp_end(self, f: tcp.TCPFlow) -> None:
        self._describe(f, stream_facts(f))

    def tcp_error(self, f: tcp.TCPFlow) -> None:
        self._describe(f, stream_facts(f))

    def udp_message(self, f: udp.UDPFlow) -> None:
        self._first(f, stream_facts(f))

    def udp_end(self, f: udp.UDPFlow) -> None:
        self._describe(f, stream_facts(f))

    def dns_response(self, f: dns.DNSFlow) -> None:
        self._describe(f, dns_facts(f))

    def dns_error(self, f: dns.DNSFlow) -> None:
        self._describe(f, dns_facts(f))


def _shown(meta: FlowMeta, shown: dict[str, object]) -> FlowMeta:
    url, host = shown.get("url"), shown.get("host")
    return replace(
        meta,
        url=url if isinstance(url, str) else None,
        host=host if isinstance(host, str) else None,
    )
