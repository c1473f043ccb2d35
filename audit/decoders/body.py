"""Turn an HTTP request's body, query, headers and path into Documents that detectors can walk."""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..model import Document
from .binary_formats import decode_cbor, decode_msgpack
from .errors import DecodeError
from .multipart import decode_multipart
from .protobuf import FieldBudget, Schemas, decode_protobuf, grpc_frames
from .tree import MAX_VALUES, KeyValues, expand_embedded

_JSON_TYPES = frozenset({"application/json", "text/json"})
_FORM_TYPE = "application/x-www-form-urlencoded"
_PROTOBUF_TYPES = frozenset(
    {
        "application/protobuf",
        "application/x-protobuf",
        "application/x-protobuffer",
        "application/x-google-protobuf",
        "application/vnd.google.protobuf",
    }
)
_GRPC_TYPES = frozenset({"application/grpc", "application/grpc-web"})
_GRPC_TEXT = "application/grpc-web-text"
_MSGPACK_TYPES = frozenset(
    {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}
)
_CBOR_TYPE = "application/cbor"
#: multipart inside multipart inside multipart: deeper is not a real upload.
MAX_PART_NESTING = 3
# C0 controls other than tab, newline, carriage return and form feed, plus DEL: text
# that holds them is a binary format (protobuf, images) that merely happens to decode.
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# Headers that describe the transport or the client's preferences, never the person.
_SKIP_HEADERS = frozenset(
    {
        "accept",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "expect",
        "host",
        "keep-alive",
        "pragma",
        "priority",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_SKIP_HEADER_PREFIXES = ("accept-", "if-", "sec-fetch-", "sec-ch-", "sec-websocket-", ":")


@dataclass(frozen=True, slots=True)
class _Context:
    """What every nested decode of one body shares: protobuf schemas, URL path, budget."""

    schemas: Schemas | None
    path: str | None
    budget: FieldBudget = field(default_factory=FieldBudget)

    def protobuf(self, data: bytes, *, sniff: bool = False) -> Any:
        return decode_protobuf(
            data, schemas=self.schemas, path=self.path, sniff=sniff, budget=self.budget
        )


def decode_body(
    data: bytes,
    content_type: str | None,
    source: str = "request.body",
    *,
    schemas: Schemas | None = None,
    path: str | None = None,
) -> Document:
    """Decode an (already content-decoded) body into a Document.

    By content type: JSON (``application/json``, ``text/json``, ``*+json``); form bodies
    become a KeyValues Document with source ``*.form`` (``request.body`` ->
    ``request.form``); protobuf (``application/protobuf``, ``x-protobuf``, ...), gRPC and
    gRPC-Web (5-byte framed; one message gives its tree, several a list), msgpack, CBOR
    (``application/cbor``, ``*+cbor``) and ``multipart/*`` (parts under their names,
    binary parts as summaries) become trees as their modules describe. ``schemas``
    (from ``protobuf.load_schemas``) name protobuf fields; ``path`` (the URL path)
    chooses the message type. Without a decisive type, a body starting with ``{``/``[``
    that parses is JSON; other text is one string leaf at ``$``; binary that walks
    completely and plausibly as protobuf is decoded as such. An empty body gives an
    empty tree. Raises DecodeError for malformed content under a declared type, for
    other binary bodies (``"binary body, N bytes, not decoded"``) and for hostile
    nesting or size.
    """
    media_type, params = _parse_content_type(content_type)
    tree = _decode_tree(data, media_type, params, _Context(schemas, path), 0)
    if media_type == _FORM_TYPE and isinstance(tree, KeyValues):
        source = _form_source(source)
    return Document(source, expand_embedded(tree))


def _decode_tree(
    data: bytes, media_type: str, params: dict[str, str], ctx: _Context, depth: int
) -> Any:
    """The tree of one body or multipart part, before embedded strings are expanded."""
    binary = _binary_tree(data, media_type, params, ctx, depth)
    if binary is not _NOT_BINARY:
        return binary
    charset = params.get("charset")
    is_form = media_type == _FORM_TYPE
    if not data.strip():
        return KeyValues() if is_form else {}
    if media_type in _JSON_TYPES or media_type.endswith("+json"):
        return _parse_json(data)
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            return _parse_json(data)
        except DecodeError:
            pass  # Sniffing is a guess: fall back to text (or form) below.
    try:
        text = _decode_text(data, charset)
    except DecodeError as binary_body:
        try:
            return ctx.protobuf(data, sniff=True)
        except DecodeError:
            raise binary_body from None
    if is_form:
        return _pairs(_parse_qs(text, charset))
    return text


_NOT_BINARY = object()


def _binary_tree(
    data: bytes, media_type: str, params: dict[str, str], ctx: _Context, depth: int
) -> Any:
    """The tree for a declared binary or multipart type; ``_NOT_BINARY`` for other types."""
    if media_type in _PROTOBUF_TYPES:
        return ctx.protobuf(data) if data else {}
    base, _, suffix = media_type.partition("+")
    if base in _GRPC_TYPES or base == _GRPC_TEXT:
        frames = grpc_frames(data, text=base == _GRPC_TEXT)
        trees = [_parse_json(f) if suffix == "json" else ctx.protobuf(f) for f in frames]
        return trees[0] if len(trees) == 1 else trees if trees else {}
    if media_type in _MSGPACK_TYPES:
        return decode_msgpack(data)
    if media_type == _CBOR_TYPE or suffix == "cbor":
        return decode_cbor(data)
    if media_type.startswith("multipart/"):
        if not data.strip():
            return {}
        if depth >= MAX_PART_NESTING:
            raise DecodeError(f"multipart nested deeper than {MAX_PART_NESTING} levels")

        def decode_part(part: bytes, content_type: str | None) -> Any:
            part_type, part_params = _parse_content_type(content_type)
            return _decode_tree(part, part_type, part_params, ctx, depth + 1)

        return decode_multipart(data, params.get("boundary"), decode_part)
    return _NOT_BINARY


def decode_query(query: list[tuple[str, str]] | str) -> Document:
    """Decode a query string (leading ``?`` optional) or parsed pairs into ``request.query``."""
    if isinstance(query, str):
        query = _parse_qs(query.removeprefix("?"), None)
    return Document("request.query", expand_embedded(_pairs(query)))


def decode_headers(headers: list[tuple[str, str]]) -> Document:
    """Decode request headers into ``request.header``: lower-cased names, transport ones skipped.

    The ``cookie`` header(s) become one nested KeyValues of cookie names, so a cookie
    is located as ``request.header:cookie.session``.
    """
    tree = KeyValues()
    cookies = KeyValues()
    for name, value in headers:
        lname = name.strip().lower()
        if lname in _SKIP_HEADERS or lname.startswith(_SKIP_HEADER_PREFIXES):
            continue
        if lname == "cookie":
            for cname, cvalue in _split_cookies(value):
                _add(cookies, cname, cvalue)
            continue
        _add(tree, lname, value)
    if cookies:
        tree["cookie"] = cookies
    return Document("request.header", expand_embedded(tree))


def decode_path(path: str) -> Document:
    """Decode the URL path into ``request.path``: a list of URL-decoded, non-empty segments."""
    if "://" in path.split("?", 1)[0]:
        path = urlsplit(path).path
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = [unquote(seg) for seg in path.split("/") if seg]
    return Document("request.path", expand_embedded(segments))


def _parse_content_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """The lower-cased media type and its parameters (names lower-cased, values as sent)."""
    if not content_type:
        return "", {}
    media_type, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    for param in rest.split(";"):
        key, _, value = param.partition("=")
        key = key.strip().lower()
        if key and key not in params:
            params[key] = value.strip().strip('"')
    charset = params.get("charset", "").lower()
    if charset:
        params["charset"] = charset
    else:
        params.pop("charset", None)
    return media_type.strip().lower(), params


def _form_source(source: str) -> str:
    return source.removesuffix(".body") + ".form" if source.endswith(".body") else source


def _parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"malformed JSON: invalid {exc.encoding} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise DecodeError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise DecodeError("JSON nested too deeply, not decoded") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise DecodeError(f"malformed JSON: {exc}") from None


def _decode_text(data: bytes, charset: str | None) -> str:
    encoding = "utf-8-sig"
    if charset:
        try:
            name = codecs.lookup(charset).name
        except LookupError:
            name = "utf-8"
        encoding = "utf-8-sig" if name == "utf-8" else name
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise DecodeError(f"binary body, {len(data)} bytes, not decoded") from None
    if _BINARY_CHARS.search(text):
        raise DecodeError(f"binary body, {len(data)} bytes, not decoded")
    return text


def _parse_qs(text: str, charset: str | None) -> list[tuple[str, str]]:
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding=charset or "utf-8",
            errors="replace",
            max_num_fields=MAX_VALUES,
        )
    except LookupError:
        return _parse_qs(text, None)
    except ValueError:
        raise DecodeError(f"more than {MAX_VALUES} fields, not decoded") from None


def _pairs(pairs: list[tuple[str, str]]) -> KeyValues:
    tree = KeyValues()
    for key, value in pairs:
        _add(tree, key, value)
    return tree


def _add(tree: KeyValues, key: str, value: str) -> None:
    """Add ``key``; a repeated key turns into a list (rendered ``key``, ``key[1]``, ...)."""
    if key not in tree:
        tree[key] = value
    elif isinstance(tree[key], list):
        tree[key].append(value)
    else:
        tree[key] = [tree[key], value]


def _split_cookies(header: str) -> list[tuple[str, str]]:
    cookies = []
    for piece in header.split(";"):
        name, eq, value = piece.strip().partition("=")
        if not name and not eq:
            continue
        if not eq:  # A bare token is a value without a name (RFC 6265 5.4 as browsers do).
            name, value = "", name
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if "%" in value:
            value = unquote(value)
        cookies.append((name.strip(), value))
    return cookies
