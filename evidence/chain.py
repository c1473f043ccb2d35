"""The findings hash chain and the signed closing statement, as pure functions.

Every finding of a run commits to the one before it::

    record_hash = sha256(bytes.fromhex(prev_hash) || canonical(row))

where ``canonical(row)`` is deterministic JSON (sorted keys, no whitespace,
ASCII only, floats as ``repr``) of every stored column of the finding except
``id``, ``prev_hash`` and ``record_hash``; ``run_id`` and ``seq`` are in it,
so a record moved to another run or another place is detected. The first
record's ``prev_hash`` is the run's genesis hash, derived from its id and
start time. When the run closes, a statement of the run's facts and the
chain's length and head is signed with the station's Ed25519 key.

Nothing here touches a database or a file: the store, ``verify`` and an
offline recipient all compute the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import operator
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CHAIN_FORMAT = "shekara-chain-v1"
STATEMENT_FORMAT = "shekara-closing-v1"

# What each chained column holds. Explicit rather than read from the schema:
# a column added later must not silently change the bytes of records already
# signed (a test checks that every column is either here or excluded).
FINDING_COLUMNS: dict[str, str] = {
    "run_id": "int",
    "seq": "int",
    "dedup_key": "str",
    "flow_id": "str",
    "category": "str",
    "field": "str",
    "source": "str",
    "preview": "str",
    "value_hash": "str",
    "host": "str",
    "ip": "str",
    "port": "int",
    "sni": "str",
    "country": "str",
    "city": "str",
    "asn": "int",
    "org": "str",
    "geo_source": "str",
    "geo_build": "str",
    "geo_confidence": "str",
    "private": "bool",
    "verdict": "str",
    "violation": "bool",
    "rule_id": "str",
    "severity": "str",
    "detector": "str",
    "confidence": "str",
    "observed_at": "float",
    "recorded_at": "float",
    "legal_refs": "json",
}
# The row id is given by the database after hashing; the links are the chain itself.
UNCHAINED_COLUMNS = ("id", "prev_hash", "record_hash")

# Run facts in the closing statement: statement key -> (runs column, kind).
# raw_evidence_path and raw_evidence_deleted_at stay out: retention changes
# them after closing, while the capture's sha256 keeps the statement true.
STATEMENT_RUN_FIELDS: dict[str, tuple[str, str]] = {
    "run_id": ("id", "int"),
    "kind": ("kind", "str"),
    "started_at": ("started_at", "float"),
    "finished_at": ("finished_at", "float"),
    "status": ("status", "str"),
    "error": ("error", "str"),
    "flows_read": ("flows_read", "int"),
    "capture": ("capture", "str"),
    "capture_sha256": ("capture_sha256", "str"),
    "ruleset_name": ("ruleset_name", "str"),
    "ruleset_version": ("ruleset_version", "str"),
    "geo_sources": ("geo_sources", "json"),
    "tool_version": ("tool_version", "str"),
    "raw_evidence_sha256": ("raw_evidence_sha256", "str"),
    "station_key": ("station_key", "str"),
}


_MISFIT = object()
# (name, kind, the one Python type that needs no normalising), in sorted order:
# values that already have their type are taken as they are (the hot path of
# every insert), and a dict built in sorted order encodes with sorted keys.
_EXACT = {"str": str, "int": int, "float": float, "bool": bool}
_ITEMS = tuple((name, kind, _EXACT.get(kind)) for name, kind in sorted(FINDING_COLUMNS.items()))
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=True)
# The C encoder behind _ENCODER, built once: JSONEncoder.encode builds a new one for
# every call, which costs as much as encoding a record. The same C code, the same
# arguments, so the same bytes; a test holds the two equal. Without the C
# extension (another Python implementation) records go through _ENCODER.
_C_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Any = (
    _C_MAKE_ENCODER(
        None, None, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    if _C_MAKE_ENCODER is not None
    else None
)
_NAMES = tuple(name for name, _, _ in _ITEMS)
_GET = operator.itemgetter(*_NAMES)
# Type signatures of rows whose values all fit as they are: such a row is
# encoded without looking at each value (the store writes a handful of these).
_FITTING: set[tuple[type, ...]] = set()
_FITTING_MAX = 1024


class CanonicalError(ValueError):
    """A value that does not fit its column: refused when writing, a fault when verifying."""


def _raw(value: Any) -> dict[str, str]:
    # A value of the wrong type (written with SQL behind the store's back) keeps a
    # form of its own, so it can never hash like the value that was recorded.
    return {"$type": type(value).__name__, "$repr": repr(value)}


def normalise(kind: str, value: Any, *, strict: bool = False) -> Any:
    """The canonical value of one column; ``strict`` raises where it would mark a misfit.

    Databases hand back what was written in their own types (SQLite: 0/1 for
    booleans, JSON as text; an integer written to a REAL column comes back as
    a float); this maps each back to one form and nothing else to it.
    """
    if value is None:
        return None
    ok: Any = _MISFIT
    if kind == "str":
        if isinstance(value, str):
            ok = value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            ok = int(value)
    elif kind == "float":
        if isinstance(value, float):
            ok = value
        elif isinstance(value, int) and not isinstance(value, bool):
            ok = float(value)
    elif kind == "bool":
        if isinstance(value, bool):
            ok = value
        elif isinstance(value, int) and value in (0, 1):
            ok = bool(value)
    elif kind == "json":
        ok = _json_value(value)
    else:
        raise ValueError(f"unknown column kind {kind!r}")
    if ok is _MISFIT:
        if strict:
            raise CanonicalError(f"{value!r} is not a {kind}")
        return _raw(value)
    return ok


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        # SQLite (and a text-typed read) hands JSON columns back as their text.
        try:
            value = json.loads(value)
        except ValueError:
            return _MISFIT
        return value
    if not isinstance(value, list | dict | int | float):
        return _MISFIT  # bytes, say: a JSON column never holds them
    return value


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, ASCII, floats as repr."""
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True
        )
    except (TypeError, ValueError) as exc:
        raise CanonicalError(f"not JSON: {exc}") from None
    return text.encode("ascii")


def canonical_record(row: Mapping[str, Any], *, strict: bool = False) -> bytes:
    """The bytes a finding row is hashed as: its chained columns, canonical JSON."""
    try:
        got = _GET(row)
    except KeyError as exc:
        raise CanonicalError(f"the row has no {exc.args[0]!r} column") from None
    signature = tuple(map(type, got))
    if signature in _FITTING:
        values = dict(zip(_NAMES, got, strict=True))
    else:
        values = {}
        fits = True
        for (name, kind, exact), value in zip(_ITEMS, got, strict=True):
            if value is None or type(value) is exact or (kind == "json" and type(value) is list):
                values[name] = value
            else:
                values[name] = normalise(kind, value, strict=strict)
                fits = False
        if fits and len(_FITTING) < _FITTING_MAX:
            _FITTING.add(signature)
    try:
        # Built in sorted order: the same bytes as canonical_json, without sorting again.
        if _C_ENCODE is not None:
            return "".join(_C_ENCODE(values, 0)).encode("ascii")
        return _ENCODER.encode(values).encode("ascii")
    except (TypeError, ValueError, RecursionError) as exc:
        raise CanonicalError(f"not JSON: {exc}") from None


def record_hash(prev_hash: str, row: Mapping[str, Any], *, strict: bool = False) -> str:
    """The hex sha256 a finding row chains to: its predecessor's hash, then its canonical bytes."""
    try:
        prev = bytes.fromhex(prev_hash)
    except (TypeError, ValueError):
        raise CanonicalError(f"prev_hash {prev_hash!r} is not hex") from None
    if len(prev) != 32:
        raise CanonicalError(f"prev_hash {prev_hash!r} is not a sha256")
    return hashlib.sha256(prev + canonical_record(row, strict=strict)).hexdigest()


def link(prev: bytes, row: Mapping[str, Any]) -> bytes:
    """``record_hash`` on raw digests, for the writer that chains a batch in a row.

    Strict: a value that does not fit its column is refused, never recorded.
    """
    return hashlib.sha256(prev + canonical_record(row, strict=True)).digest()


def link_hex(value: bytes | memoryview | str | None) -> str | None:
    """A stored chain link (32 raw bytes) as the hex the chain, exports and the API speak."""
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def genesis_hash(run_id: int, started_at: float) -> str:
    """The ``prev_hash`` of a run's first finding: bound to the run's id and start."""
    label = f"{CHAIN_FORMAT}/genesis\x00{int(run_id)}\x00{float(started_at)!r}"
    return hashlib.sha256(label.encode("ascii")).hexdigest()


# -- the closing statement ------------------------------------------------------


def closing_statement(run: Mapping[str, Any], chain_length: int, chain_head: str) -> bytes:
    """The canonical bytes that close a run: its facts, the chain's length and head.

    ``run`` maps runs columns (``id``, ``started_at``, …, ``station_key``) to
    their values; ``chain_head`` of an empty chain is the genesis hash.
    """
    statement: dict[str, Any] = {
        key: normalise(kind, run.get(column), strict=True)
        for key, (column, kind) in STATEMENT_RUN_FIELDS.items()
    }
    statement["format"] = STATEMENT_FORMAT
    statement["chain"] = CHAIN_FORMAT
    statement["chain_length"] = int(chain_length)
    statement["chain_head"] = chain_head
    return canonical_json(statement)


def parse_statement(text: str | bytes) -> dict[str, Any]:
    """The fields of a stored statement; CanonicalError when it is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CanonicalError(f"the statement is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != STATEMENT_FORMAT:
        raise CanonicalError(f"the statement is not a {STATEMENT_FORMAT} statement")
    missing = [k for k in (*STATEMENT_RUN_FIELDS, "chain_length", "chain_head") if k not in data]
    if missing:
        raise CanonicalError(f"the statement lacks {', '.join(missing)}")
    if not isinstance(data["chain_length"], int) or not isinstance(data["run_id"], int):
        raise CanonicalError("the statement's run_id and chain_length must be integers")
    return data


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A public key as stored and printed: base64 of its 32 raw bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_fingerprint(public_key: str) -> str:
    """A short name for a public key: the first 16 hex digits of sha256 of its raw bytes."""
    try:
        raw = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        raw = public_key.encode("utf-8", "replace")
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, statement: bytes) -> str:
    """The base64 Ed25519 signature of a statement."""
    return base64.b64encode(key.sign(statement)).decode("ascii")


def signature_valid(public_key: str, statement: bytes, signature: str) -> bool:
    """True when ``signature`` (base64) is the key's Ed25519 signature of ``statement``."""
    try:
        raw_key = _b64_exact(public_key)
        raw_sig = _b64_exact(signature)
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_sig, statement)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def _b64_exact(text: str) -> bytes:
    # Base64 has several spellings of the same bytes (the unused bits before the
    # padding); only the canonical one is accepted, so a changed column never verifies.
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw
