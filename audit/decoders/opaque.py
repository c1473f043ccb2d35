"""What can still be said of bytes nobody can read: their size and their entropy.

An encrypted or compressed payload sent abroad is still a transfer; a report
says "opaque payload to <country>", with the evidence that it is opaque.
"""

from __future__ import annotations

import math
from collections import Counter

SAMPLE = 64 * 1024


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte of (a prefix of) ``data``: ~8 for ciphertext."""
    sample = data[:SAMPLE]
    if not sample:
        return 0.0
    n = len(sample)
    return -sum(c / n * math.log2(c / n) for c in Counter(sample).values())


def describe(data: bytes, what: str) -> str:
    h = entropy(data)
    kind = "encrypted or compressed" if h >= 7.5 else "binary"
    return f"opaque payload ({what}): {len(data)} bytes, entropy {h:.2f} bits/byte, likely {kind}"
