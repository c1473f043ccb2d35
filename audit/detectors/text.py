"""Free text (sentences, text/plain bodies, long strings): one combined regex finds candidates.

Every candidate is validated by its category's detector with ``check_token``,
which trusts only self-validating forms: there is no key in free text.

Speed: CPython's ``re`` skips quickly only over characters that cannot start
a match when the pattern opens with a single character class. So the
combined pattern opens with ``[0-9A-Z+$:-]`` and each branch checks with a
lookbehind which candidate that first character starts. E-mail addresses,
whose first character can be any letter, are found from their ``@`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from shekara.audit.detectors import email, iccid, imei, location, mac_address, phone, vin
from shekara.audit.detectors.base import Detector, Match
from shekara.audit.model import Category

#: Text past this many characters is not scanned: a bound on time for huge bodies.
MAX_TEXT = 1 << 20
#: At most this many candidates are validated per string.
MAX_CANDIDATES = 512

_CANDIDATES = re.compile(
    r"[0-9A-Z+$:-]"
    r"(?:"
    # 15-20 digits (IMEI, ICCID) not inside a longer word
    r"(?P<digits>(?<=[0-9])(?<![0-9A-Za-z][0-9])[0-9]{14,19}(?![0-9A-Za-z]))"
    # 17 characters of the VIN alphabet
    r"|(?P<vin>(?<=[A-HJ-NPR-Z0-9])(?<![0-9A-Za-z].)[A-HJ-NPR-Z0-9]{16}(?![0-9A-Za-z]))"
    # +international phone number
    r"|(?P<phone>(?<=\+)(?<![\w+].)\d[\d ()-]{5,20}\d)"
    # NMEA position sentence
    r"|(?P<nmea>(?<=\$)(?:GP|GN|GL|GA|GB|BD)[A-Z]{3},[^\r\n$*]{0,200}\*[0-9A-Fa-f]{2})"
    # "lat,lon" with 4+ decimals each
    r"|(?P<pair>(?<=[-+0-9])(?<![\d.].)\d{0,3}\.\d{4,15}, ?[-+]?\d{1,3}\.\d{4,15}(?!\d|\.\d))"
    # MAC address, matched from its first separator (the two hex digits before it are
    # added back below)
    r"|(?P<mac>(?<=[0-9A-Fa-f]{2}[:-])(?<![0-9A-Fa-f:-][0-9A-Fa-f]{2}[:-])"
    r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){4}(?![0-9A-Fa-f:-]))"
    r")"
)
_MAC_LEAD = 2  # hex digits before the match start

_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
_EMAIL_LOCAL_MAX = 64

_BY_GROUP: dict[str, Detector] = {
    "vin": vin.DETECTOR,
    "phone": phone.DETECTOR,
    "mac": mac_address.DETECTOR,
    "nmea": location.DETECTOR,
    "pair": location.DETECTOR,
}


def _candidates(text: str) -> Iterator[tuple[Detector, str]]:
    """(detector, token) for each candidate, in no particular order."""
    for count, found in enumerate(_CANDIDATES.finditer(text, 0, MAX_TEXT)):
        if count >= MAX_CANDIDATES:
            break
        group = found.lastgroup
        if group == "digits":
            token = found.group()
            if len(token) == 15:
                yield imei.DETECTOR, token
            elif len(token) >= 19:
                yield iccid.DETECTOR, token
        elif group == "mac":
            yield mac_address.DETECTOR, text[found.start() - _MAC_LEAD : found.end()]
        elif group is not None:
            yield _BY_GROUP[group], found.group()
    at = text.find("@", 0, MAX_TEXT)
    for _ in range(MAX_CANDIDATES):
        if at < 0:
            break
        start = at
        while start > 0 and at - start < _EMAIL_LOCAL_MAX and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        # A local part longer than 64 characters is no address: don't take its tail.
        bounded = start == 0 or text[start - 1] not in _EMAIL_LOCAL
        if domain and start < at and bounded:
            yield email.DETECTOR, text[start : domain.end()].lstrip(".")
        at = text.find("@", at + 1, MAX_TEXT)


def scan_text(text: str) -> Iterator[tuple[Category, Match]]:
    """Validated (category, match) pairs found in free text, at most one per category."""
    found: set[Category] = set()
    for detector, token in _candidates(text):
        if detector.category in found:
            continue
        match = detector.check_token(token)
        if match:
            found.add(detector.category)
            yield detector.category, match
