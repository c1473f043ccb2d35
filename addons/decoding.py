"""Pipeline stage 2: the bytes a device sent, decoded into Documents.

Personal data is looked for in the device-to-server direction: what the car
receives is not a transfer of its owner's data out of the country. The
server-to-device direction of telematics protocols is decoded too, for the
commands it carries (remote control from abroad). Anything that cannot be
decoded becomes a Note, so that "nothing found" never hides "not read".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from mitmproxy import ctx, http, tcp, udp
from mitmproxy.exceptions import OptionsError

from shekara.addons import state
from shekara.audit.decoders import (
    DecodeError,
    StreamError,
    decode_body,
    decode_content,
    decode_headers,
    decode_path,
    decode_query,
    opaque,
    ota,
    streams,
    teltonika,
)
from shekara.audit.decoders.protobuf import SchemaError, Schemas, load_schemas
from shekara.audit.model import Document, FlowAnalysis, Note

log = logging.getLogger(__name__)

DEFAULT_BODY_LIMIT = 8 * 1024 * 1024
#: Client bytes kept while the protocol of a raw TCP connection is not yet known.
SNIFF_LIMIT = 4096


@dataclass
class _TcpState:
    """One raw TCP connection: its protocol and a decoder per direction."""

    protocol: str = "tcp"
    pending: bytearray = field(default_factory=bytearray)
    up: streams.Stream | None = None
    down: streams.Stream | None = None
    failed: bool = False


def _note(a: FlowAnalysis, source: str, reason: str) -> None:
    a.notes.append(Note(a.flow_id, source, reason, a.destination, a.observed_at))


def http_documents(
    a: FlowAnalysis, req: http.Request, limit: int, schemas: Schemas | None = None
) -> None:
    """Decode a request's query, path, headers and body into ``a.documents``."""
    path = req.path
    if "?" in path:  # parsing the query only to find it empty costs more than this look
        query = list(req.query.fields)
        if query:
            a.documents.append(decode_query(query))
    a.documents.append(decode_path(path.split("?", 1)[0]))
    a.documents.append(decode_headers([(k, v) for k, v in req.headers.items(multi=True)]))
    raw = req.raw_content
    if not raw:
        return
    try:
        body = decode_content(raw, req.headers.get("content-encoding"), limit=limit)
    except DecodeError as e:
        _note(a, "request.body", f"undecodable: {e}")
        return
    _body_document(a, body, req.headers.get("content-type"), "request.body", schemas, req.path)


def ota_document(a: FlowAnalysis, resp: http.Response, limit: int) -> None:
    """A server's answer is read only for update instructions (a remote command)."""
    ctype = resp.headers.get("content-type", "")
    if "json" not in ctype or not resp.raw_content:
        return
    try:
        body = decode_content(resp.raw_content, resp.headers.get("content-encoding"), limit=limit)
        tree = decode_body(body, ctype, source="response.body").tree
    except DecodeError:
        return  # an unreadable answer is not evidence of anything sent by the device
    command = ota.instruction(tree)
    if command is not None:
        a.documents.append(Document("http.down.response", command))


def _body_document(
    a: FlowAnalysis,
    body: bytes,
    content_type: str | None,
    source: str,
    schemas: Schemas | None = None,
    path: str | None = None,
) -> None:
    try:
        a.documents.append(
            decode_body(body, content_type, source=source, schemas=schemas, path=path)
        )
    except DecodeError as e:
        if str(e).startswith("binary body"):
            _note(a, source, opaque.describe(body, content_type or "no content type"))
        else:
            _note(a, source, f"undecodable: {e}")


class Decoding:
    def __init__(self) -> None:
        self.body_limit = DEFAULT_BODY_LIMIT
        self.schemas: Schemas | None = None
        self._tcp: dict[str, _TcpState] = {}
        self._udp_noted: set[str] = set()

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "shekara_body_limit",
            int,
            DEFAULT_BODY_LIMIT,
            "Largest decoded (decompressed) body the auditor reads, in bytes; "
            "larger bodies are recorded as undecodable.",
        )

        loader.add_option(
            "shekara_proto",
            Sequence[str],
            [],
            "Operator .proto files or folders: protobuf bodies are decoded with their field "
            "names (messages chosen by gRPC method, or by the best fit).",
        )

    def configure(self, updated: set[str]) -> None:
        if "shekara_body_limit" in updated:
            self.body_limit = max(1024, int(ctx.options.shekara_body_limit))
        if "shekara_proto" in updated:
            try:
                self.schemas = (
                    load_schemas(ctx.options.shekara_proto) if ctx.options.shekara_proto else None
                )
            except SchemaError as e:
                raise OptionsError(f"shekara_proto: {e}") from e

    def _http(self, f: http.HTTPFlow) -> None:
        a = state.begin(f, f.request.timestamp_start)
        try:
            http_documents(a, f.request, self.body_limit, self.schemas)
        except Exception as e:  # a decoder bug must not lose the flow
            log.exception("decoding failed for flow %s", f.id)
            _note(a, "request", f"decoder error: {type(e).__name__}: {e}")

    def response(self, f: http.HTTPFlow) -> None:
        self._http(f)
        a = state.current(f)
        if a is not None and f.response is not None:
            try:
                ota_document(a, f.response, self.body_limit)
            except Exception as e:
                log.exception("decoding the response of flow %s failed", f.id)
                _note(a, "response", f"decoder error: {type(e).__name__}: {e}")

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
            _body_document(a, msg.content, None, source)
        except Exception as e:
            log.exception("decoding failed for flow %s", f.id)
            _note(a, source, f"decoder error: {type(e).__name__}: {e}")

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        if state.passthrough(f) is not None:
            return  # TLS the proxy did not open: nothing readable to decode
        msg = f.messages[-1]
        a = state.begin(f, msg.timestamp)
        conn = self._tcp.get(f.id)
        if conn is None:
            conn = self._tcp[f.id] = _TcpState()
        if conn.failed:
            return
        try:
            if msg.from_client:
                self._client_bytes(a, f, conn, msg.content)
            elif conn.down is not None:
                self._feed(a, conn.down, msg.content, conn, down=True)
        except Exception as e:
            conn.failed = True
            log.exception("decoding failed for flow %s", f.id)
            _note(a, "tcp", f"decoder error: {type(e).__name__}: {e}")

    def _client_bytes(self, a: FlowAnalysis, f: tcp.TCPFlow, conn: _TcpState, data: bytes) -> None:
        if conn.up is not None:
            self._feed(a, conn.up, data, conn, down=False)
            return
        # Until the protocol is known, the client's first bytes are kept (bounded) and
        # sniffed again as more arrive: a first segment may hold half a frame.
        conn.pending += data
        port = f.server_conn.address[1] if f.server_conn.address else None
        proto = streams.sniff(bytes(conn.pending), port)
        if proto is None:
            if len(conn.pending) >= SNIFF_LIMIT:
                conn.failed = True
                _note(
                    a,
                    "tcp",
                    "unrecognised protocol; "
                    + opaque.describe(bytes(conn.pending), "first client bytes"),
                )
                conn.pending.clear()
            return
        conn.protocol = proto.name
        state.set_protocol(f, proto.name)
        conn.up = proto.stream(from_client=True)
        if proto.downstream:
            conn.down = proto.stream(from_client=False)
        first, conn.pending = bytes(conn.pending), bytearray()
        self._feed(a, conn.up, first, conn, down=False)

    def _feed(
        self, a: FlowAnalysis, stream: streams.Stream, data: bytes, conn: _TcpState, down: bool
    ) -> None:
        try:
            a.documents.extend(stream.feed(data))
        except DecodeError as e:
            # Frames before the damage still count; the rest cannot be framed.
            if isinstance(e, StreamError):
                a.documents.extend(e.documents)
            if down:
                conn.down = None
            else:
                conn.failed = True
            _note(a, f"{conn.protocol}{'.down' if down else ''}", f"undecodable: {e}")
        for u in stream.take_notes():
            _note(a, u.source, f"undecodable: {u.reason}")

    def udp_message(self, f: udp.UDPFlow) -> None:
        msg = f.messages[-1]
        a = state.begin(f, msg.timestamp)
        if not msg.from_client:
            return
        try:
            if teltonika.looks_like_udp(msg.content):
                a.documents.extend(teltonika.decode_udp(msg.content))
            elif f.id not in self._udp_noted:
                self._udp_noted.add(f.id)
                _note(
                    a, "udp", "unrecognised protocol; " + opaque.describe(msg.content, "datagram")
                )
        except DecodeError as e:
            _note(a, "udp", f"undecodable: {e}")
        except Exception as e:
            log.exception("decoding failed for flow %s", f.id)
            _note(a, "udp", f"decoder error: {type(e).__name__}: {e}")

    def tcp_end(self, f: tcp.TCPFlow) -> None:
        conn = self._tcp.pop(f.id, None)
        if conn is not None and conn.up is None and not conn.failed and conn.pending:
            # The connection ended before its protocol could be recognised.
            a = state.begin(f, f.timestamp_created)
            _note(
                a,
                "tcp",
                "unrecognised protocol; " + opaque.describe(bytes(conn.pending), "client bytes"),
            )

    def tcp_error(self, f: tcp.TCPFlow) -> None:
        self.tcp_end(f)

    def udp_end(self, f: udp.UDPFlow) -> None:
        self._udp_noted.discard(f.id)
