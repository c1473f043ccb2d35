"""JSON Web Tokens in strings: the claims a token carries are data the device sent.

A JWS in compact form is ``header.payload.signature``, each base64url without
padding; the header is a JSON object naming its ``alg``. The signature is not
checked (there is no key, and an unsigned token says as much as a signed one).
Encrypted tokens (JWE, five segments) cannot be read and are left alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import string
from typing import Any

_B64URL = frozenset(string.ascii_letters + string.digits + "-_")
_MIN_SEGMENT = 4  # '{"a"' is 4 base64 characters; nothing shorter is a JSON object
_BEARER = "bearer "


def jwt_claims(text: str) -> dict[str, Any] | None:
    """The payload of a JWS compact token (an ``Authorization`` "Bearer " prefix allowed).

    None unless the string is three base64url segments (the signature may be empty)
    whose header decodes to a JSON object with ``alg`` and whose payload decodes to
    a JSON object. Cheap rejects come first: this runs on every string leaf.
    """
    first = text[:1]
    if first in ("B", "b") and text[:7].lower() == _BEARER:
        text = text[7:].strip()
    elif first != "e":  # a JSON object's base64 starts with "e" ('{' is 0x7B)
        return None
    if not text.startswith("e") or text.count(".") != 2:
        return None
    header, payload, signature = text.split(".")
    if len(header) < _MIN_SEGMENT or len(payload) < _MIN_SEGMENT:
        return None
    if not (_B64URL.issuperset(header) and _B64URL.issuperset(payload)):
        return None
    if not _B64URL.issuperset(signature):
        return None
    head = _json_object(header)
    if head is None or "alg" not in head:
        return None
    return _json_object(payload)


def _json_object(segment: str) -> dict[str, Any] | None:
    if len(segment) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
