"""Decoded trees: unwrap JSON or base64 hidden in strings, then flatten them into located fields.

A tree is what ``Document.tree`` holds: dicts, lists, strings, numbers, booleans and
``None``, plus two markers that only this module gives meaning to:

* ``Embedded(kind, tree)`` replaces a string leaf whose text was itself an encoding:
  ``kind`` is ``"json"`` (a JSON object/array inside a string), ``"base64"`` (base64
  whose bytes are JSON or readable text), ``"jwt"`` (a JSON Web Token: ``tree`` is its
  payload's claims) or ``"hex"`` (hex digits whose bytes are JSON or readable text);
  ``tree`` is the decoded content, which may be another ``Embedded``
  (``<base64><json>``, ``<hex><json>``). flatten() renders it as ``<kind>``.
* ``KeyValues`` is a ``dict`` for flat key/value sources (query, form, headers,
  cookies): a ``list`` value there means the key was repeated, rendered ``key``,
  ``key[1]``, ``key[2]`` instead of ``[0]``, ``[1]``; at the root its keys are
  rendered bare (``request.query:lat``) rather than as ``$``-paths.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from ..model import Document, Field
from .errors import DecodeError
from .jwt import jwt_claims

MAX_VALUES = 100_000
MAX_NESTING = 100
EMBED_DEPTH = 4
EMBED_SIZE = 1024 * 1024

# Flat key/value sources: their root keys are rendered bare even in a plain dict/list.
FLAT_SOURCES = frozenset(
    {"request.query", "request.form", "request.header", "request.path", "mqtt.connect"}
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_B64_MIN = 16
_B64_STD = string.ascii_letters + string.digits + "+/"
_B64_URL = string.ascii_letters + string.digits + "-_"
# Hex digits and dashes: nonces, hashes, UUIDs and plain numbers. Valid base64 in form,
# but never worth decoding: they are identifiers themselves.
_HEXISH = string.hexdigits + "-"
_TEXT_WS = str.maketrans("\t\r\n", "   ")
_TEXT_MIN_WORDY = 0.6
_HEX_MIN = 16
_HEX_MIN_PRINTABLE = 0.9
_HEX_SHORT = 16  # decoded bytes
_HEX_SHORT_WORDY = 0.8


@dataclass(frozen=True, slots=True)
class Embedded:
    """A decoded string leaf: ``kind`` is ``"json"``, ``"base64"``, ``"jwt"`` or ``"hex"``."""

    kind: Literal["json", "base64", "jwt", "hex"]
    tree: Any


class KeyValues(dict[str, Any]):
    """A flat key/value mapping (query, form, headers, cookies); list values are repeats."""

    __slots__ = ()


def is_flat(doc: Document) -> bool:
    """Whether ``doc``'s root keys are rendered bare (``request.query:lat``)."""
    return isinstance(doc.tree, KeyValues) or doc.source in FLAT_SOURCES


def flatten(doc: Document) -> Iterator[Field]:
    """Yield one Field per leaf of ``doc.tree``, in document order, located by convention.

    Paths: ``$`` root, ``.key`` or ``['key']``, ``[3]``, and ``<json>``, ``<base64>``,
    ``<jwt>`` or ``<hex>`` for decoded strings; flat sources use the bare key at the root
    (``request.header:x-imei``) and ``[i]`` for a root list (``request.path:[0]``).
    ``Field.key`` is the innermost dict key, lower-cased (list items and embedded
    values inherit their container's key).
    """
    prefix = doc.source + ":"
    source = doc.source
    flat = is_flat(doc)
    # Iterative walk: a deep tree must not exhaust the Python stack.
    stack: list[tuple[Any, str, str | None, bool]] = [(doc.tree, "" if flat else "$", None, flat)]
    while stack:
        node, path, key, bare = stack.pop()
        if isinstance(node, dict):
            multi = isinstance(node, KeyValues)
            children: list[tuple[Any, str, str | None, bool]] = []
            for k, v in node.items():
                ks = str(k)
                child_path = path + (ks if bare else _key_segment(ks))
                child_key = _lower(ks)
                if multi and isinstance(v, list):
                    for i, item in enumerate(v):
                        repeat = child_path if i == 0 else f"{child_path}[{i}]"
                        children.append((item, repeat, child_key, False))
                else:
                    children.append((v, child_path, child_key, False))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend((node[i], f"{path}[{i}]", key, False) for i in reversed(range(len(node))))
        elif isinstance(node, Embedded):
            stack.append((node.tree, f"{path}<{node.kind}>", key, False))
        else:
            value = node if node is None or isinstance(node, str | int | float) else str(node)
            yield Field(locator=prefix + (path or "$"), key=key, value=value, source=source)


@lru_cache(maxsize=4096)
def _key_segment(key: str) -> str:
    if _IDENT.fullmatch(key):
        return "." + key
    return "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"


@lru_cache(maxsize=4096)
def _lower(key: str) -> str:
    return key.lower()


def expand_embedded(
    tree: Any,
    *,
    depth_limit: int = EMBED_DEPTH,
    size_limit: int = EMBED_SIZE,
    max_values: int = MAX_VALUES,
    max_nesting: int = MAX_NESTING,
) -> Any:
    """Return a copy of ``tree`` with encoded string leaves replaced by Embedded.

    A string is expanded when it starts with ``{``/``[`` and parses as a JSON object or
    array; when it is a JSON Web Token (``jwt.jwt_claims``: its claims); when it is hex
    (at least 16 hex digits, even length) whose bytes are JSON or readable UTF-8 text
    (90% printable, letters, mostly words: hashes, nonces and UUIDs never are); or when
    it is base64 (standard or urlsafe, padded or not, at least 16 characters, not just
    hex digits and dashes) whose bytes are JSON or readable UTF-8 text. Decoded content
    is expanded again, up to ``depth_limit`` layers; strings longer than ``size_limit``
    are left alone. The input is not modified.

    Raises DecodeError if the tree (with expansions) has more than ``max_values``
    values (leaves and containers) or nests deeper than ``max_nesting`` containers:
    hostile input must fail clearly instead of exhausting memory or the stack.
    """
    walker = _Expander(depth_limit, size_limit, max_values, max_nesting)
    return walker.walk(tree, 0, 0)


class _Expander:
    __slots__ = ("depth_limit", "max_nesting", "max_values", "size_limit", "values")

    def __init__(self, depth_limit: int, size_limit: int, max_values: int, max_nesting: int):
        self.depth_limit = depth_limit
        self.size_limit = size_limit
        self.max_values = max_values
        self.max_nesting = max_nesting
        self.values = 0

    def walk(self, node: Any, nesting: int, depth: int) -> Any:
        # Containers count too, so that a million empty lists costs as much as a million leaves.
        self.values += 1
        if self.values > self.max_values:
            raise DecodeError(f"more than {self.max_values} values, not decoded")
        if isinstance(node, dict):
            self._enter(nesting)
            out = KeyValues() if isinstance(node, KeyValues) else {}
            for k, v in node.items():
                out[k] = self.walk(v, nesting + 1, depth)
            return out
        if isinstance(node, list):
            self._enter(nesting)
            return [self.walk(v, nesting + 1, depth) for v in node]
        if isinstance(node, Embedded):
            self.values -= 1
            return Embedded(node.kind, self.walk(node.tree, nesting + 1, depth + 1))
        if isinstance(node, str) and depth < self.depth_limit:
            return self._string(node, nesting, depth)
        return node

    def _enter(self, nesting: int) -> None:
        if nesting >= self.max_nesting:
            raise DecodeError(f"nested deeper than {self.max_nesting} levels, not decoded")

    def _string(self, text: str, nesting: int, depth: int) -> Any:
        if len(text) < 2 or len(text) > self.size_limit:
            return text
        parsed = _json_container(text)
        if parsed is not None:
            # The decoded tree's values replace this string.
            self.values -= 1
            return Embedded("json", self.walk(parsed, nesting + 1, depth + 1))
        claims = jwt_claims(text)
        if claims is not None:
            self.values -= 1
            return Embedded("jwt", self.walk(claims, nesting + 1, depth + 1))
        decoded = _hex_text(text)
        if decoded is not None:
            inner: Any = decoded
            if depth + 1 < self.depth_limit:
                inner = self._string(decoded, nesting, depth + 1)
            if isinstance(inner, Embedded):
                return Embedded("hex", inner)
            return Embedded("hex", decoded) if _hex_readable(decoded) else text
        decoded = _base64_text(text)
        if decoded is None:
            return text
        inner = decoded
        if depth + 1 < self.depth_limit:
            inner = self._string(decoded, nesting, depth + 1)
        if isinstance(inner, Embedded):
            return Embedded("base64", inner)
        if _readable(decoded):
            return Embedded("base64", decoded)
        return text


def _json_container(text: str) -> dict[str, Any] | list[Any] | None:
    """Parse ``text`` if it is a JSON object or array; None otherwise (cheap reject first)."""
    first = text[0]
    if first not in "{[":
        return None
    last = text[-1] if text[-1] not in " \t\r\n" else text.rstrip()[-1:]
    if last != ("}" if first == "{" else "]"):
        return None
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict | list) else None


def _base64_text(text: str) -> str | None:
    """Decode ``text`` as base64 to UTF-8 text, or None; rejects look-alikes before decoding."""
    if len(text) < _B64_MIN or not text.isascii():
        return None
    body = text.rstrip("=")
    padding = len(text) - len(body)
    if padding > 2 or len(body) % 4 == 1 or (padding and len(text) % 4):
        return None
    if not body.strip(_HEXISH):
        return None
    if not body.strip(_B64_STD):
        altchars = None
    elif not body.strip(_B64_URL):
        altchars = b"-_"
    else:
        return None
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=altchars, validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _hex_text(text: str) -> str | None:
    """Decode ``text`` as hex to UTF-8 text, or None (length and alphabet tested first)."""
    if len(text) < _HEX_MIN or len(text) % 2 or not text.isascii():
        return None
    if text.strip(string.hexdigits):
        return None
    try:
        return bytes.fromhex(text).decode("utf-8")
    except ValueError:
        return None


def _hex_readable(text: str) -> bool:
    """Whether hex-decoded bytes are text: 90% printable, with letters, mostly words.

    Random bytes (a hash, a nonce) are rarely UTF-8; short ones that are must also be
    ASCII and nearly all letters and digits, which keeps 8-byte nonces out (about 1 in
    15,000 random ones passes; none in 100,000 from 16 bytes on).
    """
    n = len(text)
    short = len(text.encode("utf-8")) < _HEX_SHORT
    if short and not text.isascii():
        return False
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\r\n")
    if printable < _HEX_MIN_PRINTABLE * n or not any(ch.isalpha() for ch in text):
        return False
    wordy = sum(1 for ch in text if ch.isalnum() or ch == " ")
    return wordy >= (_HEX_SHORT_WORDY if short else _TEXT_MIN_WORDY) * n


def _readable(text: str) -> bool:
    """Whether decoded bytes are clearly text: printable and mostly letters, digits, spaces."""
    if not text or not text.translate(_TEXT_WS).isprintable():
        return False
    wordy = sum(1 for ch in text if ch.isalnum() or ch == " ")
    return wordy >= _TEXT_MIN_WORDY * len(text)
