"""Masked previews and keyed hashes: the only forms in which a detected value is kept.

An unkeyed hash of a VIN or a phone number can be reversed by brute force
(the value spaces are small), so hashes are HMAC-SHA256 under a
per-installation secret; previews keep just enough to recognise a value.
"""

from __future__ import annotations

import hashlib
import hmac

from shekara.audit.model import Category, Hit


def _mask(s: str, head: int, tail: int) -> str:
    if len(s) <= head + tail:
        return "*" * len(s)
    return s[:head] + "*" * (len(s) - head - tail) + s[len(s) - tail :]


def preview(category: Category, canonical: str) -> str:
    match category:
        case Category.LOCATION:
            # About 11 km of precision: enough to tell a city, not a house.
            try:
                lat, lon = (float(p) for p in canonical.split(",")[:2])
            except ValueError:
                return "*"
            return f"{lat:.1f},{lon:.1f}"
        case Category.EMAIL:
            local, _, domain = canonical.partition("@")
            return f"{local[:1]}***@{domain}"
        case Category.PERSON_NAME:
            return " ".join(w[:1] + "***" for w in canonical.split())
        case Category.MAC_ADDRESS:
            # The first three octets name the vendor, which is evidence, not identity.
            return canonical[:8] + ":**:**:**"
        case Category.REMOTE_CONTROL:
            # A command name ("relay (cut fuel/power)") is evidence, not personal data.
            return canonical[:120]
        case Category.UNDETERMINED_CONTENT:
            # Connection metadata (server name, byte counts, JA4), not personal data.
            return canonical[:300]
        case Category.CREDENTIALS:
            # Only the kind ("password", "bearer token"): no character of a secret, not even
            # its length, since canonical holds just "kind|sha256".
            kind = canonical.partition("|")[0]
            return f"*** ({kind})" if kind and kind != canonical else "***"
        case Category.CONTACTS:
            count = canonical.partition("|")[0]
            return f"{count} contacts" if count.isdigit() else "contacts"
        case Category.CELL_LOCATION:
            # The network (country and operator) is evidence; area and cell locate a person.
            mcc, _, rest = canonical.partition("-")
            mnc = rest.partition("-")[0]
            return f"{mcc}-{mnc}-*-*" if mcc.isdigit() and mnc.isdigit() else "*"
        case Category.BIOMETRIC | Category.CABIN_MEDIA:
            media, _, rest = canonical.partition("|")
            size = rest.partition("|")[0]
            if media and size.isdigit():
                return f"{media} {size} bytes"
            return "media"
        case Category.ACCOUNT_ID:
            # Account ids are short: keep less of them than of a VIN.
            return _mask(canonical, 2, 2) if len(canonical) >= 10 else _mask(canonical, 1, 0)
        case Category.VIN:
            return _mask(canonical, 3, 2)
        case Category.PHONE:
            return _mask(canonical, 4, 2)
        case _:
            return _mask(canonical, 3, 2)


def mask_known(text: str, secrets: dict[str, str]) -> str:
    """Replaces each detected value that occurs in ``text`` by its masked preview."""
    for raw in sorted(secrets, key=len, reverse=True):
        if raw in text:
            text = text.replace(raw, secrets[raw])
    return text


class Redactor:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the hashing key must be at least 16 bytes")
        self._key = key

    def value_hash(self, category: Category, canonical: str) -> str:
        msg = f"{category.value}\x00{canonical}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def redact(self, hit: Hit) -> tuple[str, str]:
        return preview(hit.category, hit.canonical), self.value_hash(hit.category, hit.canonical)
