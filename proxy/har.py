"""HTTP Archive (HAR 1.2) entries as mitmproxy HTTPFlows.

Entries are decoded one by one from the ``log.entries`` array, so a file cut
short or damaged in the middle still gives the entries before the damage,
and the error names the byte offset where reading stopped. Each entry is
validated (pydantic) before it becomes a flow: a missing URL is a clear
error, not a KeyError. HAR keeps bodies decoded (text, or base64 for binary
content); they are re-encoded as the recorded Content-Encoding says, so the
decoders see what went over the wire.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from mitmproxy import connection, http
from mitmproxy import flow as mflow
from mitmproxy.connection import ConnectionState
from pydantic import BaseModel, ConfigDict, ValidationError

NAMESPACE = uuid.UUID("8d0f2a61-3c55-4a8e-b1f4-686172656e74")
_ENTRIES = re.compile(r'"entries"\s*:\s*\[')
_SPACE = re.compile(r"[\s,]*")


class HarError(Exception):
    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NameValue(_Model):
    name: str
    value: str = ""


class PostData(_Model):
    mimeType: str | None = None
    text: str | None = None
    encoding: str | None = None  # not in HAR 1.2, but written by several exporters
    params: list[NameValue] = []


class HarRequest(_Model):
    method: str
    url: str
    httpVersion: str = "HTTP/1.1"
    headers: list[NameValue] = []
    postData: PostData | None = None


class Content(_Model):
    mimeType: str | None = None
    text: str | None = None
    encoding: str | None = None


class HarResponse(_Model):
    status: int
    httpVersion: str = "HTTP/1.1"
    headers: list[NameValue] = []
    content: Content = Content()


class Entry(_Model):
    startedDateTime: str
    time: float = 0.0
    request: HarRequest
    response: HarResponse | None = None
    serverIPAddress: str | None = None


def _decoded(text: str | None, encoding: str | None, what: str) -> bytes:
    if not text:
        return b""
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ValueError(f"{what}: invalid base64: {e}") from e
    return text.encode("utf-8", "surrogateescape")


def _set_body(message: http.Message, body: bytes) -> None:
    try:
        message.content = body  # encoded again as its Content-Encoding says
    except ValueError:
        message.raw_content = body


def _version(v: str) -> str:
    v = v.upper()
    return "HTTP/2.0" if v in ("HTTP/2", "H2") else (v if v.startswith("HTTP/") else "HTTP/1.1")


def entry_to_flow(e: Entry, index: int) -> http.HTTPFlow:
    try:
        started = datetime.fromisoformat(e.startedDateTime.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ValueError(f"startedDateTime {e.startedDateTime!r} is not an ISO 8601 time") from exc
    url = urlsplit(e.request.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"request.url {e.request.url!r} is not an http(s) URL")
    port = url.port or (443 if url.scheme == "https" else 80)
    ip = (e.serverIPAddress or "").strip("[]") or None
    tls = url.scheme == "https"
    client = connection.Client(
        peername=("0.0.0.0", 0),
        sockname=(ip or "0.0.0.0", port),
        timestamp_start=started,
        state=ConnectionState.CLOSED,
        tls=tls,
        sni=url.hostname if tls else None,
    )
    server = connection.Server(
        address=(url.hostname, port),
        peername=(ip, port) if ip else None,
        timestamp_start=started,
        state=ConnectionState.CLOSED,
        tls=tls,
        sni=url.hostname if tls else None,
    )
    f = http.HTTPFlow(client, server)
    f.id = str(
        uuid.uuid5(NAMESPACE, f"{index}|{e.startedDateTime}|{e.request.method}|{url.geturl()}")
    )
    f.timestamp_created = started
    headers = http.Headers([(h.name.encode(), h.value.encode()) for h in e.request.headers])
    req = http.Request.make(e.request.method, e.request.url, b"", headers)
    req.http_version = _version(e.request.httpVersion)
    pd = e.request.postData
    if pd is not None:
        body = _decoded(pd.text, pd.encoding, "request.postData")
        if not body and pd.params:
            body = urlencode([(p.name, p.value) for p in pd.params]).encode()
        _set_body(req, body)
    req.timestamp_start = started
    req.timestamp_end = started + max(e.time, 0.0) / 1000
    f.request = req
    r = e.response
    if r is None or r.status == 0:  # a request that got no answer (blocked, failed)
        f.error = mflow.Error("no response recorded", req.timestamp_end)
        return f
    rheaders = http.Headers([(h.name.encode(), h.value.encode()) for h in r.headers])
    resp = http.Response(
        _version(r.httpVersion).encode(),
        r.status,
        http.status_codes.RESPONSES.get(r.status, "").encode(),
        rheaders,
        b"",
        None,
        req.timestamp_end,
        req.timestamp_end,
    )
    _set_body(resp, _decoded(r.content.text, r.content.encoding, "response.content"))
    f.response = resp
    return f


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8", "surrogatepass"))


def read_flows(path: Path) -> Iterator[tuple[http.HTTPFlow, int]]:
    """(flow, byte offset after its entry) for each entry, in file order; HarError on damage."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise HarError(e.start, f"not UTF-8 text: {e.reason}") from None
    m = _ENTRIES.search(text)
    if not text.lstrip().startswith("{") or m is None:
        raise HarError(0, 'not an HTTP Archive: no "log": {"entries": [...]} found')
    decoder = json.JSONDecoder()
    pos = m.end()
    index = 0
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            raise HarError(_byte_offset(text, pos), "file ends inside the entries array")
        if text[pos] == "]":
            return
        start = pos
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise HarError(
                _byte_offset(text, start),
                f"entry {index}: invalid JSON: {e.msg} at byte {_byte_offset(text, e.pos)}",
            ) from None
        try:
            flow = entry_to_flow(Entry.model_validate(obj), index)
        except ValidationError as e:
            errs = "; ".join(
                f"{'.'.join(str(x) for x in err['loc']) or 'entry'}: {err['msg']}"
                for err in e.errors()[:3]
            )
            raise HarError(_byte_offset(text, start), f"entry {index}: {errs}") from None
        except ValueError as e:
            raise HarError(_byte_offset(text, start), f"entry {index}: {e}") from None
        index += 1
        yield flow, pos  # a character offset: close enough for a progress display
