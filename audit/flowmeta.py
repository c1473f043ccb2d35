"""Flow metadata for the evidence: protocol, method, a URL with no secret or personal value left.

An official reading a finding needs to see the request that carried it (the
method, where it went, how big it was, when) without the evidence view
becoming a copy of the secrets and personal data the device sent. So the URL
is rebuilt from its parts: the user-info is dropped; a query, fragment or
path parameter whose *name* says secret (token, key, sig, auth, session,
password, ...) keeps its name and loses its value; every value the detectors
flagged as personal data in the flow (a hit of any source) is replaced by its
masked preview (``audit.redact.preview``), and a parameter or path segment
that a hit was located in but whose text does not show the value plainly
(base64, JSON, a JWT) is masked whole. The result is bounded in length.

The core takes what the addon read off the mitmproxy flow (``FlowFacts``) and
the flow's hits, and returns a frozen ``FlowMeta``; no mitmproxy here.

``FlowMeta.digest`` is the sha256 of the record's canonical JSON. It is stored
with the flow row and shown with the evidence, so a reader can recompute it
from the fields shown (or exported) and see that they are the ones recorded.
It is deliberately *not* linked into the findings' hash chain: a stream's
record is refreshed when the connection ends (sizes, end time), after its
findings were chained, and the chain's records must not change shape. The
digest makes a damaged or edited row detectable against an earlier export;
tamper evidence for the finding itself remains the chain and its signed
closing statement. The run id is left out of the record, since a run opened
while the store was down changes id when it is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from shekara.audit.model import Category, Hit
from shekara.audit.redact import preview

PROTOCOLS = ("http", "https", "ws", "wss", "mqtt", "tcp", "udp", "dns")

#: Longest redacted URL kept; longer ones are cut and end in ``TRUNCATED``.
MAX_URL = 2048
#: Longest part of an incoming URL that is read at all: a hostile request line of
#: megabytes costs no more than this to redact.
MAX_URL_INPUT = 64 * 1024
#: Parameters read from a query or fragment; the rest are counted, not shown.
MAX_PARAMS = 200
#: Detected values looked for in a URL (the URL's own hits always are).
MAX_FLAGGED = 512
_URL_SOURCES = frozenset({"request.query", "request.path"})
MAX_HOST = 255
MAX_METHOD = 32
MAX_APPLICATION = 32
MAX_ADDRESS = 64
TRUNCATED = "…"
#: What a secret value, or a personal value hidden in an encoding, is shown as.
MASK = "***"

# Names of parameters whose values are secrets, as parts of the lower-cased name with
# separators removed ("access_token", "X-Api-Key", "sessionid", "passwd"). Names are a
# weak signal: over-masking a harmless "signal=3" costs nothing, a shown token does.
_SECRET_PARTS = re.compile(
    r"token|key|sig|auth|session|sess|sid|passw|pwd|pass|secret|cred|jwt|bearer|"
    r"otp|ticket|nonce|hmac|cookie|csrf|xsrf|salt|pin|cvv|ssn"
)
_SECRET_NAMES = frozenset({"code", "p", "pw", "hash", "state", "assertion"})
# Characters left as they are when a piece is shown as it was written (already encoded),
# and when a masked text is put into a parameter value (delimiters and "%" encoded).
_SAFE_WRITTEN = "!$&'()*+,;=:@/?~-._%[]"
_SAFE_VALUE = "!$'()*,:@/~-._"
_PATH_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class FlowFacts:
    """What the proxy saw of one flow, read off it by the addon.

    ``transport`` is ``http``, ``tcp``, ``udp`` or ``dns``; ``target`` is the
    request target as sent (a path with query, or an absolute URL);
    ``application`` the protocol a raw stream was recognised as (``mqtt``,
    ``jt808``, ...). Sizes are bytes: ``*_body_bytes`` the payload as sent
    (compressed if it was), ``request_bytes``/``response_bytes`` everything
    the proxy relayed for it when known (HTTP/1 head and body), else None.
    """

    flow_id: str
    transport: str
    scheme: str | None = None
    websocket: bool = False
    application: str | None = None
    method: str | None = None
    host: str | None = None
    port: int | None = None
    target: str | None = None
    status: int | None = None
    request_body_bytes: int | None = None
    request_bytes: int | None = None
    response_body_bytes: int | None = None
    response_bytes: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    client: str | None = None
    server: str | None = None


@dataclass(frozen=True, slots=True)
class FlowMeta:
    """One flow as the evidence shows it; ``url`` holds no secret and no personal value."""

    flow_id: str
    protocol: str
    application: str | None
    method: str | None
    url: str | None
    host: str | None
    port: int | None
    status: int | None
    request_body_bytes: int | None
    request_bytes: int | None
    response_body_bytes: int | None
    response_bytes: int | None
    started_at: float | None
    ended_at: float | None
    client: str | None
    server: str | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return round(max(0.0, self.ended_at - self.started_at), 6)

    def canonical(self) -> bytes:
        """The record as sorted, compact JSON: what ``digest`` hashes."""
        return json.dumps(
            asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode("ascii")

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def flow_meta_from_dict(data: Mapping[str, object]) -> FlowMeta:
    """A FlowMeta from its fields (a stored row, a spooled record); extra keys are ignored."""
    return FlowMeta(**{k: data.get(k) for k in FlowMeta.__dataclass_fields__})  # type: ignore[arg-type]


def is_secret_name(name: str) -> bool:
    """Whether a parameter called ``name`` most likely holds a secret."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return flat in _SECRET_NAMES or _SECRET_PARTS.search(flat) is not None


def protocol_of(facts: FlowFacts) -> str:
    """One of ``PROTOCOLS``: what an official would call the flow's protocol."""
    match facts.transport:
        case "http":
            secure = (facts.scheme or "").lower() in ("https", "wss")
            if facts.websocket:
                return "wss" if secure else "ws"
            return "https" if secure else "http"
        case "tcp":
            return "mqtt" if facts.application == "mqtt" else "tcp"
        case "udp" | "dns":
            return facts.transport
    return "tcp"


@dataclass(frozen=True, slots=True)
class _Flags:
    """What the hits say about a URL: values to mask, and where they were located."""

    values: dict[str, str]  # raw text -> masked preview, replaced wherever it occurs
    exact: dict[str, str]  # short values masked only when they are a whole parameter
    coordinates: tuple[float, ...]  # detected latitudes and longitudes
    query_paths: tuple[str, ...]  # locator paths below request.query
    path_segments: frozenset[int]


def _flags(hits: Iterable[Hit]) -> _Flags:
    values: dict[str, str] = {}
    exact: dict[str, str] = {}
    coordinates: list[float] = []
    query: list[str] = []
    segments: set[int] = set()
    # A body of thousands of hits must not make every URL part cost thousands of
    # searches: the hits located in the URL come first, and the flagged values stop at
    # MAX_FLAGGED (the rest of a body's values are unlikely to repeat in its URL).
    ordered = sorted(hits, key=lambda h: h.field.source not in _URL_SOURCES)
    for h in ordered:
        if len(values) + len(exact) >= MAX_FLAGGED and h.field.source not in _URL_SOURCES:
            break
        shown = preview(h.category, h.canonical)
        # Coordinates are masked as numbers (below), wherever and however they are written.
        texts = () if h.category == Category.LOCATION else (h.field.value, h.canonical)
        for raw in texts:
            text = str(raw) if raw is not None and not isinstance(raw, bool) else ""
            # Very short values ("1", "ru") would mask every digit of the URL.
            if len(text) >= 4 and text != shown:
                values.setdefault(text, shown)
            elif text and text != shown:
                exact.setdefault(text, shown)
        if h.category == Category.LOCATION:
            # One hit stands for the pair: the longitude has a field of its own.
            for part in h.canonical.split(",")[:2] if len(coordinates) < MAX_FLAGGED else ():
                with contextlib.suppress(ValueError):
                    coordinates.append(float(part))
        elif h.category == Category.CELL_LOCATION:
            # Area and cell ids locate a person; they are short numbers of their own.
            for part in h.canonical.split("-")[2:4]:
                exact.setdefault(part, "*")
        _, _, path = h.field.locator.partition(":")
        if h.field.source == "request.query":
            query.append(path)
        elif h.field.source == "request.path":
            m = _PATH_INDEX.match(path)
            if m:
                segments.add(int(m.group(1)))
    return _Flags(values, exact, tuple(coordinates), tuple(query), frozenset(segments))


_NUMBER = re.compile(r"[-+]?\d{1,12}(?:\.\d{1,15})?")


def _mask_number(m: re.Match[str], coordinates: tuple[float, ...]) -> str:
    text = m.group(0)
    v = float(text)
    decimals = len(text.partition(".")[2])
    # Degrees written with 3+ decimals, or micro-degrees as integers (1e6, 1e7).
    candidates = [v] if decimals >= 3 else [v / 1e6, v / 1e7] if abs(v) >= 1e6 else []
    for c in candidates:
        if any(abs(c - x) < 1e-3 for x in coordinates):
            return f"{c:.1f}"
    return text


def _mask_values(text: str, flags: _Flags) -> str:
    values = flags.values
    for raw in sorted(values, key=len, reverse=True):
        if raw in text:
            text = text.replace(raw, values[raw])
    if flags.coordinates:
        text = _NUMBER.sub(lambda m: _mask_number(m, flags.coordinates), text)
    return text


def _enc(text: str) -> str:
    """Written URL text as it may be shown: controls, spaces and non-ASCII percent-encoded."""
    return quote(text, safe=_SAFE_WRITTEN)


def _put(text: str) -> str:
    """Plain (masked) text put into a URL part: its delimiters encoded too."""
    return quote(text, safe=_SAFE_VALUE)


def _located(name: str, paths: Sequence[str]) -> bool:
    """Whether a hit was located in the parameter ``name`` (or something decoded from it)."""
    return any(p == name or (p.startswith(name) and p[len(name)] in "[<.'") for p in paths)


def _redact_value(raw: str, flagged: bool, flags: _Flags, plus: bool = True) -> str:
    """One parameter value, as written (percent-encoded), made safe to show."""
    plain = unquote_plus(raw) if plus else unquote(raw)
    if plain in flags.exact:
        return _put(flags.exact[plain])
    masked = _mask_values(plain, flags)
    if masked != plain:
        return _put(masked)
    if flagged:
        # A hit was decoded out of it but its text does not show the value plainly.
        return MASK
    return _enc(raw)


def _redact_params(text: str, sep: str, flags: _Flags, query: bool) -> str:
    pairs = text.split(sep)
    out: list[str] = []
    for piece in pairs[:MAX_PARAMS]:
        name, eq, value = piece.partition("=")
        plain_name = unquote_plus(name)
        masked_name = _mask_values(plain_name, flags)
        shown_name = _put(masked_name) if masked_name != plain_name else _enc(name)
        flagged = query and _located(plain_name, flags.query_paths)
        if not eq:
            # A bare value: nothing names it, so only detected values are masked.
            out.append(_redact_value(name, flagged, flags))
        elif is_secret_name(plain_name):
            out.append(f"{shown_name}={MASK}")
        else:
            out.append(f"{shown_name}={_redact_value(value, flagged, flags)}")
    if len(pairs) > MAX_PARAMS:
        out.append(f"{TRUNCATED}{len(pairs) - MAX_PARAMS}-more")
    return sep.join(out)


def _redact_path(path: str, flags: _Flags) -> str:
    # Segments are numbered as decode_path numbers them: the non-empty ones.
    out: list[str] = []
    index = 0
    for seg in path.split("/"):
        if not seg:
            out.append(seg)
            continue
        head, semi, params = seg.partition(";")
        shown = _redact_value(head, index in flags.path_segments, flags, plus=False)
        if semi:
            # Matrix parameters (";jsessionid=...") are named like query parameters.
            shown += ";" + _redact_params(params, ";", flags, query=False)
        out.append(shown)
        index += 1
    return "/".join(out)


def _bounded(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text or None


def _host(host: str | None, flags: _Flags) -> str | None:
    if not host:
        return None
    host = host.rpartition("@")[2]  # user-info names an account, and may hold its password
    return _bounded(_mask_values(host, flags).lower(), MAX_HOST)


def redact_url(
    target: str | None,
    hits: Iterable[Hit] = (),
    *,
    scheme: str | None = None,
    host: str | None = None,
    port: int | None = None,
) -> str | None:
    """The URL of a request with secrets and detected personal values masked, names kept.

    ``target`` is the request target as sent: a path (``/a?b=c``) completed
    with ``scheme``, ``host`` and ``port``, or an absolute URL whose own
    parts win. Never raises on odd input; the result is at most ``MAX_URL``
    characters.
    """
    return _redact_url(target, _flags(hits), scheme, host, port)


def _redact_url(
    target: str | None, flags: _Flags, scheme: str | None, host: str | None, port: int | None
) -> str | None:
    if target is None and host is None:
        return None
    text = target or ""
    if len(text) > MAX_URL_INPUT:
        # Whole parameters only: a value cut in half would no longer match its hit.
        cut = text.rfind("&", 0, MAX_URL_INPUT)
        text = text[:cut] if cut > 0 else text[:MAX_URL_INPUT].partition("?")[0]
    scheme_, netloc_host, netloc_port = scheme, host, port
    path, query, fragment = text, "", ""
    if "://" in text.split("?", 1)[0].split("#", 1)[0] or text.startswith("//"):
        try:
            parts = urlsplit(text)
            scheme_ = parts.scheme or scheme
            netloc_host = parts.hostname or host  # user-info is dropped here
            netloc_port = parts.port if parts.port is not None else port
            path, query, fragment = parts.path, parts.query, parts.fragment
        except ValueError:
            # A broken authority ("http://[::1", a port of letters) names no host worth
            # showing; the rest is still the request's.
            netloc_host, netloc_port = None, None
            rest = text.partition("//")[2]
            path = "/" + rest.partition("/")[2] if "/" in rest else ""
            path, _, fragment = path.partition("#")
            path, _, query = path.partition("?")
    else:
        path, _, fragment = path.partition("#")
        path, _, query = path.partition("?")
    url = ""
    shown_host = _host(netloc_host, flags)
    if shown_host:
        scheme_ = (scheme_ or "http").lower()
        bracketed = f"[{shown_host}]" if ":" in shown_host else shown_host
        url = f"{_enc(scheme_)}://{_enc(bracketed)}"
        if netloc_port is not None and netloc_port != _DEFAULT_PORTS.get(scheme_):
            url += f":{int(netloc_port)}"
    if path and not path.startswith("/") and url:
        path = "/" + path
    url += _redact_path(path, flags)
    if query:
        url += "?" + _redact_params(query, "&", flags, query=True)
    if fragment:
        if "=" in fragment:
            url += "#" + _redact_params(fragment, "&", flags, query=False)
        else:
            url += "#" + _redact_value(fragment, False, flags, plus=False)
    if len(url) > MAX_URL:
        url = url[: MAX_URL - len(TRUNCATED)] + TRUNCATED
    return url or None


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _size(n: int | None) -> int | None:
    return None if n is None or n < 0 else int(n)


def _time(t: float | None) -> float | None:
    if t is None or not math.isfinite(t):
        return None
    return float(t)


def describe(facts: FlowFacts, hits: Iterable[Hit] = ()) -> FlowMeta:
    """The flow's metadata as stored and shown: its URL redacted, every field bounded."""
    flags = _flags(hits)
    protocol = protocol_of(facts)
    if facts.transport == "http":
        url = _redact_url(facts.target, flags, protocol, facts.host, facts.port)
    elif facts.host:
        # Raw streams have no URL of their own; scheme, host and port say where they went.
        url = _redact_url(None, flags, protocol, facts.host, facts.port)
    else:
        url = None
    started, ended = _time(facts.started_at), _time(facts.ended_at)
    return FlowMeta(
        flow_id=facts.flow_id[:100],
        protocol=protocol,
        application=_bounded(facts.application, MAX_APPLICATION),
        method=_bounded(_mask_values(facts.method, flags), MAX_METHOD) if facts.method else None,
        url=url,
        host=_host(facts.host, flags),
        port=facts.port if facts.port is not None and 0 <= facts.port <= 65535 else None,
        status=facts.status if facts.status is not None and 0 <= facts.status <= 9999 else None,
        request_body_bytes=_size(facts.request_body_bytes),
        request_bytes=_size(facts.request_bytes),
        response_body_bytes=_size(facts.response_body_bytes),
        response_bytes=_size(facts.response_bytes),
        started_at=started,
        ended_at=ended,
        client=_bounded(facts.client, MAX_ADDRESS),
        server=_bounded(facts.server, MAX_ADDRESS),
    )
