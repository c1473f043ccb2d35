"""The one error type decoders raise, so callers can turn unreadable input into a Note."""

from __future__ import annotations


class DecodeError(ValueError):
    """Input that could not be decoded; the message is short and meant for a human.

    Examples: ``"gzip: invalid header at byte 0"``,
    ``"body inflates beyond 8 MiB cap"``, ``"binary body, 512 bytes, not decoded"``.
    """
