"""Opaque page cursors: the last finding id seen, so pages stay stable while rows are added."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

_PREFIX = "f1:"
_MAX_ID = 2**63 - 1


class InvalidCursorError(ValueError):
    """A cursor this API did not hand out."""


def encode_cursor(last_id: int) -> str:
    """The cursor that continues after the finding with ``last_id``."""
    raw = f"{_PREFIX}{last_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The finding id a cursor continues after; InvalidCursorError if it is not one of ours."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
    digits = raw[len(_PREFIX) :]
    if not raw.startswith(_PREFIX) or not digits.isdigit() or len(digits) > 19:
        raise InvalidCursorError("cursor is not valid")
    last_id = int(digits)
    # Ids are 64-bit signed in every backend; a larger one is not ours.
    if last_id > _MAX_ID:
        raise InvalidCursorError("cursor is not valid")
    return last_id


_KEYSET_PREFIX = "k1:"
Key = str | int | float | None


def encode_keyset(sort: str, values: tuple[Key, ...]) -> str:
    """A cursor continuing after the row whose sort key is ``values`` under ``sort``."""
    raw = _KEYSET_PREFIX + json.dumps([sort, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_keyset(cursor: str, sort: str, types: tuple[type, ...]) -> tuple[Key, ...]:
    """The sort key a cursor continues after; it must have been made for the same ``sort``.

    A cursor of the older id-only kind continues an ascending-id walk.
    """
    if sort == "id" and types == (int,):
        try:
            return (decode_cursor(cursor),)
        except InvalidCursorError:
            pass
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        if not raw.startswith(_KEYSET_PREFIX):
            raise ValueError("not a keyset cursor")
        doc = json.loads(raw[len(_KEYSET_PREFIX) :])
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
    if not isinstance(doc, list) or len(doc) != len(types) + 1 or doc[0] != sort:
        raise InvalidCursorError("cursor is not valid for this sort order")
    values: tuple[Any, ...] = tuple(doc[1:])
    for value, kind in zip(values, types, strict=True):
        if isinstance(value, bool) or not _fits(value, kind):
            raise InvalidCursorError("cursor is not valid")
    return values


def _fits(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and -_MAX_ID <= value <= _MAX_ID
    if kind is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, kind)
