"""Free text (sentences, text/plain bodies, long strings): one combined regex finds candidates.

Every candidate is validated by its category's detector with ``check_token``,
which trusts only self-validating forms: there is no key in free text.
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
    r"(?P<digits>(?<![0-9A-Za-z])\d{15,20}(?![0-9A-Za-z]))"
    r"|(?P<vin>(?<![0-9A-Za-z])[A-HJ-NPR-Z0-9]{17}(?![0-9A-Za-z]))"
    r"|(?P<email>(?<![\w.%+-])[\w.%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)"
    r"|(?P<phone>(?<![\w+])\+\d[\d ()-]{5,20}\d)"
    r"|(?P<mac>(?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}(?![0-9A-Fa-f:-]))"
    r"|(?P<nmea>\$(?:GP|GN|GL|GA|GB|BD)[A-Z]{3},[^\r\n$*]{0,200}\*[0-9A-Fa-f]{2})"
    r"|(?P<pair>(?<![\d.])[-+]?\d{1,3}\.\d{4,15}, ?[-+]?\d{1,3}\.\d{4,15}(?![\d.]))"
)

_BY_GROUP: dict[str, tuple[Detector, ...]] = {
    "vin": (vin.DETECTOR,),
    "email": (email.DETECTOR,),
    "phone": (phone.DETECTOR,),
    "mac": (mac_address.DETECTOR,),
    "nmea": (location.DETECTOR,),
    "pair": (location.DETECTOR,),
}


def scan_text(text: str) -> Iterator[tuple[Category, Match]]:
    """Validated (category, match) pairs found in free text, at most one per category."""
    found: set[Category] = set()
    for count, candidate in enumerate(_CANDIDATES.finditer(text, 0, MAX_TEXT)):
        if count >= MAX_CANDIDATES:
            break
        group = candidate.lastgroup
        token = candidate.group()
        if group == "digits":
            n = len(token)
            detectors: tuple[Detector, ...] = (
                (imei.DETECTOR,) if n == 15 else (iccid.DETECTOR,) if n >= 19 else ()
            )
        else:
            detectors = _BY_GROUP.get(group or "", ())
        for detector in detectors:
            if detector.category in found:
                continue
            match = detector.check_token(token)
            if match:
                found.add(detector.category)
                yield detector.category, match
