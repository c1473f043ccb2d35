"""Opaque page cursors: the last finding id seen, so pages stay stable while rows are added."""

from __future__ import annotations

import base64
import binascii

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
