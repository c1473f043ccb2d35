"""Between judgement and recording: a flow's method, redacted URL, status, sizes and times.

Runs after detection and judgement, so the URL is redacted with the very
hits the flow's findings came from (``audit.flowmeta``), and hands the record
to recording with the event's findings. An HTTP exchange is described once,
when it is over; a WebSocket, TCP or UDP stream when its first findings or
notes are recorded (so they never lack their flow), and again when it ends,
with its final sizes and end time. The URL redacted the first time is kept on
the flow: the later record has no hits of the handshake left to redact with.

By default only flows that gave a finding or a note are described: those are
the flows the evidence points to. Every connection is recorded anyway (bytes,
SNI, fingerprint, country: the coverage figures), so a row per quiet request
adds little but cost (a busy device's every request would be a store row) and
a URL that may still hold a value no detector knows. ``shekara_flow_records
all`` describes every flow, for researchers who want the whole list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mitmproxy import ctx, dns, http, tcp, udp
from mitmproxy import flow as mflow
from mitmproxy.net.http.http1 import assemble
from mitmproxy.websocket import WebSocketMessage

from shekara.addons import state
from shekara.audit.flowmeta import FlowFacts, FlowMeta, describe

#: flow.metadata key: the redacted URL and host of the flow's first record.
SHOWN_KEY = "shekara.flow_shown"
#: Values of the ``shekara_flow_records`` option.
EVIDENCE, ALL = "evidence", "all"


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
    def __init__(self, records: str = EVIDENCE) -> None:
        self.every_flow = records == ALL

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "shekara_flow_records",
            str,
            EVIDENCE,
            "Which flows get a metadata row: 'evidence' (those that gave a finding or a "
            "note) or 'all'.",
            choices=[EVIDENCE, ALL],
        )

    def configure(self, updated: set[str]) -> None:
        if "shekara_flow_records" in updated:
            self.every_flow = ctx.options.shekara_flow_records == ALL

    def _describe(self, f: mflow.Flow) -> None:
        a = state.current(f)
        recorded = a is not None and bool(a.findings or a.notes)
        if not (self.every_flow or recorded or isinstance(f.metadata.get(SHOWN_KEY), dict)):
            return  # nothing on record points to this flow
        facts = _facts(f)
        if a is None:
            a = state.begin(f, facts.started_at or f.timestamp_created)
        meta = describe(facts, a.hits)
        shown = f.metadata.get(SHOWN_KEY)
        if isinstance(shown, dict):
            # Redacted when the flow's hits were at hand: keep that, never redo it without them.
            meta = _shown(meta, shown)
        else:
            f.metadata[SHOWN_KEY] = {"url": meta.url, "host": meta.host}
        a.flow = meta

    def _first(self, f: mflow.Flow) -> None:
        """A stream's first event with something to record carries its flow record too."""
        a = state.current(f)
        if a is None or not (a.findings or a.notes) or isinstance(f.metadata.get(SHOWN_KEY), dict):
            return
        self._describe(f)

    def response(self, f: http.HTTPFlow) -> None:
        self._describe(f)

    def error(self, f: http.HTTPFlow) -> None:
        self._describe(f)

    def websocket_message(self, f: http.HTTPFlow) -> None:
        self._first(f)

    def websocket_end(self, f: http.HTTPFlow) -> None:
        self._describe(f)

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        self._first(f)

    def tcp_end(self, f: tcp.TCPFlow) -> None:
        self._describe(f)

    def tcp_error(self, f: tcp.TCPFlow) -> None:
        self._describe(f)

    def udp_message(self, f: udp.UDPFlow) -> None:
        self._first(f)

    def udp_end(self, f: udp.UDPFlow) -> None:
        self._describe(f)

    def dns_response(self, f: dns.DNSFlow) -> None:
        self._describe(f)

    def dns_error(self, f: dns.DNSFlow) -> None:
        self._describe(f)


def _facts(f: mflow.Flow) -> FlowFacts:
    if isinstance(f, http.HTTPFlow):
        return http_facts(f)
    if isinstance(f, tcp.TCPFlow | udp.UDPFlow):
        return stream_facts(f)
    if isinstance(f, dns.DNSFlow):
        return dns_facts(f)
    raise TypeError(f"no metadata for a {type(f).__name__}")


def _shown(meta: FlowMeta, shown: dict[str, object]) -> FlowMeta:
    url, host = shown.get("url"), shown.get("host")
    return replace(
        meta,
        url=url if isinstance(url, str) else None,
        host=host if isinstance(host, str) else None,
    )
