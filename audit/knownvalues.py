"""The vehicle's own identifiers, found in any encoding anywhere in its traffic.

The engineer who starts a test session registers the VIN, IMEI, ICCID, phone
number, IIN and owner's name of the car under test. Those *known values* are
then looked for not only as they are written but hex-, base64- and
URL-encoded, packed as BCD (plain and nibble-swapped), in upper or lower case,
and as MD5, SHA-1 and SHA-256 digests: a manufacturer that hashes the VIN
before sending it still sends a stable identifier of this car. A match is
evidence of the highest confidence, since it is compared against the
vehicle's own data rather than guessed from a pattern.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from shekara.audit.decoders.tree import flatten
from shekara.audit.model import Category, Confidence, Document, Field, Hit

__all__ = ["KNOWN_PREFIX", "KnownValues", "Match"]

#: Hit.evidence (Finding.detector) of a known-value match starts with this.
KNOWN_PREFIX = "known-value"
#: Shorter values would match by chance.
MIN_LENGTH = 6


@dataclass(frozen=True, slots=True)
class Match:
    category: Category
    canonical: str
    encoding: str


@dataclass(frozen=True, slots=True)
class _Needle:
    text: str
    fold: bool  # compare case-insensitively
    match: Match


def _forms(category: Category, value: str) -> list[str]:
    """The spellings a value is registered under: as given, and digits only for numbers."""
    v = value.strip()
    forms = [v]
    if category in (Category.PHONE, Category.IMEI, Category.ICCID, Category.IIN, Category.IMSI):
        digits = re.sub(r"\D", "", v)
        if digits and digits != v:
            forms.append(digits)
    if category is Category.VIN:
        forms = [v.upper()]
    return [f for f in dict.fromkeys(forms) if len(f) >= MIN_LENGTH]


def _bcd(digits: str) -> list[tuple[str, bytes]]:
    """Packed BCD of a digit string: padded with a leading 0 or a trailing F; nibble-swapped."""
    out: list[tuple[str, bytes]] = []
    padded = [("0" + digits, "bcd")] if len(digits) % 2 else [(digits, "bcd")]
    if len(digits) % 2:
        padded.append((digits + "f", "bcd"))
    for p, name in padded:
        out.append((name, bytes.fromhex(p)))
        swapped = "".join(p[i + 1] + p[i] for i in range(0, len(p), 2))
        out.append(("tbcd", bytes.fromhex(swapped)))
    return out


def _b64(raw: bytes) -> list[str]:
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return list(dict.fromkeys([std.rstrip("="), url.rstrip("=")]))


class KnownValues:
    """Needles for each registered value; ``hits`` scans a decoded Document."""

    def __init__(self, values: Mapping[Category, Iterable[str]]) -> None:
        self.needles: list[_Needle] = []
        self.byte_needles: list[tuple[bytes, Match]] = []
        for category, items in values.items():
            for value in items:
                forms = _forms(category, value)
                for form in forms:
                    # Every spelling is reported as the registered value, so that one
                    # identifier has one keyed hash whichever encoding carried it.
                    self._add(category, form, forms[0])
        # Longest first: a digest's match is reported, not a short value inside it.
        self.needles.sort(key=lambda n: len(n.text), reverse=True)

    def __bool__(self) -> bool:
        return bool(self.needles)

    def _add(self, category: Category, form: str, canonical: str) -> None:
        def text(needle: str, encoding: str, fold: bool) -> None:
            self.needles.append(_Needle(needle.lower() if fold else needle, fold, m(encoding)))

        def m(encoding: str) -> Match:
            return Match(category, canonical, encoding)

        raw = form.encode("utf-8")
        text(form, "plain", True)
        text(raw.hex(), "hex", True)
        quoted = quote(form, safe="")
        if quoted != form:
            text(quoted, "url-encoded", True)
        for b in _b64(raw):
            text(b, "base64", False)
        self.byte_needles.append((raw, m("plain")))
        spellings = dict.fromkeys([form, form.upper(), form.lower()])
        for spelling in spellings:
            for name in ("md5", "sha1", "sha256"):
                digest = hashlib.new(name, spelling.encode("utf-8")).digest()
                text(digest.hex(), name, True)
                for b in _b64(digest):
                    text(b, f"{name} base64", False)
                self.byte_needles.append((digest, m(name)))
        if form.isdigit():
            for name, packed in _bcd(form):
                text(packed.hex(), name, True)
                self.byte_needles.append((packed, m(name)))

    def find_text(self, s: str) -> Match | None:
        """The first (longest) registered value in ``s``, in whichever encoding."""
        if len(s) < MIN_LENGTH:
            return None
        folded = s.lower()
        for n in self.needles:
            if n.text in (folded if n.fold else s):
                return n.match
        return None

    def find_bytes(self, data: bytes) -> Match | None:
        for needle, match in self.byte_needles:
            if needle in data:
                return match
        return None

    def hits(self, doc: Document) -> list[Hit]:
        out: list[Hit] = []
        for f in flatten(doc):
            if f.value is None or isinstance(f.value, bool):
                continue
            found = self.find_text(str(f.value))
            if found is not None:
                out.append(self._hit(f, found))
        return out

    def bytes_hit(self, data: bytes, source: str) -> Hit | None:
        """A match in raw bytes (a binary frame or body), located at ``source:bytes``."""
        found = self.find_bytes(data)
        if found is None:
            return None
        return self._hit(Field(f"{source}:bytes", None, None, source), found)

    @staticmethod
    def _hit(f: Field, found: Match) -> Hit:
        encoding = found.encoding
        if encoding == "plain" and "<base64>" in f.locator:
            encoding = "base64"
        elif encoding == "plain" and "<hex>" in f.locator:
            encoding = "hex"
        return Hit(
            found.category,
            f,
            found.canonical,
            f"{KNOWN_PREFIX} ({encoding}): matched against the vehicle's registered data",
            Confidence.HIGH,
        )
