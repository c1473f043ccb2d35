"""Turn an HTTP request's body, query, headers and path into Documents that detectors can walk."""

from __future__ import annotations

import codecs
import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..model import Document
from .errors import DecodeError
from .tree import MAX_VALUES, KeyValues, expand_embedded

_JSON_TYPES = frozenset({"application/json", "text/json"})
_FORM_TYPE = "application/x-www-form-urlencoded"
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


def decode_body(data: bytes, content_type: str | None, source: str = "request.body") -> Document:
    """Decode an (already content-decoded) body into a Document.

    JSON when the content type says so (``application/json``, ``text/json``,
    ``*+json``) or the body starts with ``{``/``[`` and parses; form bodies become a
    KeyValues Document with source ``*.form`` (``request.body`` -> ``request.form``);
    anything else that is text becomes one string leaf at ``$``. An empty body gives an
    empty tree. Raises DecodeError for malformed JSON under a JSON content type, for
    binary bodies and for hostile nesting or size.
    """
    media_type, charset = _parse_content_type(content_type)
    is_json_type = media_type in _JSON_TYPES or media_type.endswith("+json")
    is_form = media_type == _FORM_TYPE
    if not data.strip():
        return Document(_form_source(source) if is_form else source, KeyValues() if is_form else {})
    if is_json_type:
        return Document(source, expand_embedded(_parse_json(data)))
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            parsed = _parse_json(data)
        except DecodeError:
            pass  # Sniffing is a guess: fall back to text (or form) below.
        else:
            return Document(source, expand_embedded(parsed))
    text = _decode_text(data, charset)
    if is_form:
        return Document(_form_source(source), expand_embedded(_pairs(_parse_qs(text, charset))))
    return Document(source, expand_embedded(text))


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


def _parse_content_type(content_type: str | None) -> tuple[str, str | None]:
    if not content_type:
        return "", None
    media_type, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or None
    return media_type.strip().lower(), charset


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
