"""Walk a Document's tree once and route each value to the few detectors that could match it.

Speed comes from the routing: per leaf only a type test, a cached key-hint
lookup and a length or first-character test run before any regex or library
call; most leaves (floats, booleans, short strings, small integers) stop there.
"""

from __future__ import annotations

from typing import Any

from shekara.audit.decoders.tree import FLAT_SOURCES, KeyValues
from shekara.audit.detectors import (
    account_id,
    biometric,
    cabin_media,
    cell_location,
    contacts,
    credentials,
    email,
    iccid,
    iin,
    imei,
    imsi,
    keys,
    license_plate,
    location,
    mac_address,
    person_name,
    phone,
    remote_control,
    text,
    vin,
)
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.detectors.keys import NO_KEY, KeyInfo, key_info
from shekara.audit.model import Category, Document, Field, Hit

#: Nesting deeper than this is not walked: a bound against hostile or cyclic trees.
MAX_DEPTH = 100
#: Strings longer than this, or sentences, are also scanned as free text.
FREE_TEXT_MIN = 40
_SENTENCE_MIN = 16
#: Shorter strings are scanned too when they join parts: sentences, and compound
#: identifiers such as an MQTT client id ``tbox-<IMEI>`` or ``vin:<VIN>``.
_COMPOUND_SEPARATORS = frozenset(" -_:/|;")
#: Without a key hint nothing shorter can match ("a@b.kz" is the shortest).
_UNKEYED_MIN = 6

# One bit per detector, in the order they run on a leaf.
_ORDER: tuple[Detector, ...] = (
    vin.DETECTOR,
    imei.DETECTOR,
    imsi.DETECTOR,
    iccid.DETECTOR,
    phone.DETECTOR,
    email.DETECTOR,
    iin.DETECTOR,
    person_name.DETECTOR,
    license_plate.DETECTOR,
    mac_address.DETECTOR,
    location.DETECTOR,
    account_id.DETECTOR,
    credentials.DETECTOR,
    biometric.DETECTOR,  # before cabin media: the two exclude each other by key evidence
    cabin_media.DETECTOR,
)
#: Categories found in dicts and lists as a whole: the scanner calls their functions.
_STRUCTURAL: tuple[Detector, ...] = (cell_location.DETECTOR, contacts.DETECTOR)
#: The detector of each category, for callers that want to run one on its own.
DETECTORS: dict[Category, Detector] = {d.category: d for d in _ORDER + _STRUCTURAL}
_BIT = {d.category: 1 << i for i, d in enumerate(_ORDER)}
W_VIN = _BIT[Category.VIN]
W_IMEI = _BIT[Category.IMEI]
W_IMSI = _BIT[Category.IMSI]
W_ICCID = _BIT[Category.ICCID]
W_PHONE = _BIT[Category.PHONE]
W_EMAIL = _BIT[Category.EMAIL]
W_IIN = _BIT[Category.IIN]
W_NAME = _BIT[Category.PERSON_NAME]
W_PLATE = _BIT[Category.LICENSE_PLATE]
W_MAC = _BIT[Category.MAC_ADDRESS]
W_LOCATION = _BIT[Category.LOCATION]
W_ACCOUNT = _BIT[Category.ACCOUNT_ID]
W_CREDENTIALS = _BIT[Category.CREDENTIALS]
W_MEDIA = _BIT[Category.BIOMETRIC] | _BIT[Category.CABIN_MEDIA]
_KEYED_ONLY = W_ACCOUNT | W_CREDENTIALS  # detectors that only a key can ask for
_DIGIT_DETECTORS = W_IMEI | W_IMSI | W_ICCID | W_PHONE | W_IIN | W_MAC

_HINT_WANTS = (
    (keys.VIN, W_VIN),
    (keys.IMEI, W_IMEI),
    (keys.IMSI, W_IMSI),
    (keys.ICCID, W_ICCID),
    (keys.SIM, W_IMSI | W_ICCID),
    (keys.PHONE, W_PHONE),
    (keys.IIN, W_IIN),
    (keys.PERSON_NAME | keys.BARE_NAME | keys.DISPLAY_NAME, W_NAME),
    (keys.PLATE, W_PLATE),
    (keys.MAC, W_MAC),
    (keys.POLYLINE | keys.LOCATION, W_LOCATION),
    (keys.ACCOUNT, W_ACCOUNT),
    (keys.SECRET | keys.AUTH_HEADER, W_CREDENTIALS),
    (keys.MEDIA | keys.BIOMETRIC, W_MEDIA),
)
_WANTS_CACHE: dict[int, int] = {}
_ICCID_MIN = 10**18  # 19 digits
_FIFTEEN_DIGITS = 10**14
# Flags of a walk below a list that was reported as a whole: its items are not reported again.
_QUIET_LOCATION = 1
_QUIET_CELL = 2
#: Structural keys other than lat/lon: the dict is looked at as a whole after its keys.
_WHOLE_DICT = keys.STRUCTURAL & ~(keys.LAT | keys.LON)


def _keyed_wants(bits: int) -> int:
    """Detectors a key name asks for, whatever the value looks like (cached per bit set)."""
    wants = _WANTS_CACHE.get(bits)
    if wants is None:
        wants = 0
        for hint, want in _HINT_WANTS:
            if bits & hint:
                wants |= want
        if bits & keys.LAT and bits & keys.LON:
            wants |= W_LOCATION  # "lat_lon": "43.2,76.9"
        _WANTS_CACHE[bits] = wants
    return wants


def _child(path: str, key: KeyInfo) -> str:
    """The path of a dict's key: bare at the root of a flat source, else ``path.key``."""
    return path + key.segment if path else key.raw


def root_path(source: str, tree: Any) -> str:
    """Where locator paths start: ``$``, or bare keys for flat sources (as decoders.tree renders).

    A tree is flat when it is a ``KeyValues`` (query, form, headers, a non-JSON MQTT
    payload as ``{"payload": text}``) or comes from one of ``FLAT_SOURCES``.
    """
    if isinstance(tree, dict | list) and (isinstance(tree, KeyValues) or source in FLAT_SOURCES):
        return ""
    return "$"


class _Scan:
    """The state of one walk: the document's source and the hits so far, deduplicated."""

    __slots__ = ("hits", "prefix", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.prefix = source + ":"
        self.hits: dict[tuple[str, Category], Hit] = {}

    def add(self, category: Category, path: str, key: KeyInfo, value: Any, match: Match) -> None:
        locator = self.prefix + path
        slot = (locator, category)
        if slot in self.hits:
            return  # one hit per (locator, category): the first, most specific, wins
        field = Field(locator=locator, key=key.lower or None, value=value, source=self.source)
        self.hits[slot] = Hit(category, field, match.canonical, match.evidence, match.confidence)

    # --- containers -------------------------------------------------------
    def visit(self, node: Any, path: str, key: KeyInfo, parent: KeyInfo, depth: int) -> None:
        kind = type(node)
        if kind is dict:
            self.mapping(node, path, key, depth, quiet=0)
        elif kind is list or kind is tuple:
            self.sequence(node, path, key, parent, depth)
        elif kind is str:
            if node:
                self.string(node, path, key, parent)
        elif kind is int:
            self.integer(node, path, key, parent)
        elif kind is float or kind is bool or node is None:
            return
        elif isinstance(node, dict):  # KeyValues and other dict subclasses
            self.mapping(node, path, key, depth, quiet=0)
        elif isinstance(node, list | tuple):
            self.sequence(node, path, key, parent, depth)
        else:
            self.embedded(node, path, key, parent, depth)

    def embedded(self, node: Any, path: str, key: KeyInfo, parent: KeyInfo, depth: int) -> None:
        # A decoder's wrapper for a decoded string (embedded JSON, base64): anything with
        # ``kind`` and ``tree``. The path goes on with ``<kind>``; the key stays the string's.
        kind = getattr(node, "kind", None)
        tree = getattr(node, "tree", None)
        if isinstance(kind, str) and hasattr(node, "tree") and depth < MAX_DEPTH:
            if key.bits & (keys.SECRET | keys.AUTH_HEADER):
                # A token the decoders unwrapped (base64, a JWT) is still a credential sent.
                found = credentials.encoded(kind, key.raw, tree)
                if found:
                    self.add(Category.CREDENTIALS, path, key, None, found)
            self.visit(tree, f"{path}<{kind}>", key, parent, depth + 1)

    def mapping(
        self, node: dict[Any, Any], path: str, own: KeyInfo, depth: int, *, quiet: int
    ) -> None:
        if depth > MAX_DEPTH:
            return
        flat = not path
        # In KeyValues a list is a repeated key: "key", "key[1]", "key[2]" (decoders.tree).
        repeats = type(node) is not dict and isinstance(node, KeyValues)
        skip: str | None = None
        if "coordinates" in node and "type" in node:
            found = location.geojson_point(node)
            if found:
                ki = key_info("coordinates")
                self.add(Category.LOCATION, ki.raw if flat else path + ki.segment, ki, None, found)
                skip = "coordinates"  # its pairs are lon,lat: not to be read again as lat,lon
        lat: tuple[KeyInfo, Any] | None = None
        lon: tuple[KeyInfo, Any] | None = None
        seen = 0  # structural hint bits of this dict's keys
        # Locals, not globals and attributes: this loop runs for every key of every dict.
        cache = keys.CACHE
        string = self.string
        int_keys = keys.INT_KEYS
        for raw, value in node.items():
            ki = cache.get(raw) or key_info(raw if type(raw) is str else str(raw))
            kind = type(value)
            if kind is float or kind is bool or value is None:
                pass  # sensor readings: only ever half of a coordinate pair, handled below
            elif kind is str:
                if ki.bits or len(value) >= _UNKEYED_MIN:
                    string(value, path + ki.segment if path else ki.raw, ki, own)
            elif kind is int:
                if ki.bits & int_keys or value >= _FIFTEEN_DIGITS:
                    self.integer(value, path + ki.segment if path else ki.raw, ki, own)
            elif raw == skip:
                continue
            elif repeats and kind is list:
                child = ki.raw if flat else path + ki.segment
                for index, item in enumerate(value):
                    at = f"{child}[{index}]" if index else child
                    self.visit(item, at, ki, own, depth + 1)
                value = value[0] if value else None  # the first one pairs with a lat/lon
            else:
                self.visit(value, ki.raw if flat else path + ki.segment, ki, own, depth + 1)
            if ki.struct:
                seen |= ki.struct
                if ki.latlon == keys.LAT:
                    if lat is None:
                        lat = (ki, value)
                elif ki.latlon == keys.LON and lon is None:
                    lon = (ki, value)
        if seen & _WHOLE_DICT:
            self.structure(node, path, own, seen, quiet)
        if lat is not None and lon is not None and not quiet & _QUIET_LOCATION:
            found = location.coordinate_pair(lat[1], lon[1], lat[0].bits | lon[0].bits)
            if found:
                ki = lat[0]
                self.add(
                    Category.LOCATION, path + ki.segment if path else ki.raw, ki, lat[1], found
                )

    def structure(
        self, node: dict[Any, Any], path: str, own: KeyInfo, seen: int, quiet: int
    ) -> None:
        """The categories a dict shows as a whole: a serving cell, a media part, a secret marker."""
        at = path or "$"
        if seen & keys.CELL_PARTS == keys.CELL_PARTS:
            if not quiet & _QUIET_CELL:
                found = cell_location.cell_dict(node)
                if found:
                    # A flat source has no path for itself: the MCC key stands for the cell.
                    mcc = cell_location.mcc_key(node) if not path else None
                    self.add(Category.CELL_LOCATION, mcc or at, own, None, found)
        elif seen & keys.CELL_PARTS == keys.MCC | keys.MNC:
            towers = cell_location.nested_towers(node)
            if towers:
                ki = key_info(towers[0])
                self.add(Category.CELL_LOCATION, _child(path, ki), ki, None, towers[1])
        if seen & keys.MEDIA_PART:
            biometric = cabin_media.part_is_biometric(node, own.bits)
            found = cabin_media.part_match(node, biometric)
            if found:
                category = Category.BIOMETRIC if biometric else Category.CABIN_MEDIA
                self.add(category, at, own, None, found)
        if seen & keys.MARKER:
            self.markers(node, path)

    def markers(self, node: dict[Any, Any], path: str) -> None:
        # GB/T 32960 writes both ``password_present`` and ``credentials``: one secret, one hit,
        # at the marker that names its kind.
        login = node.get("username")
        context = self.source + "\x00" + (login if type(login) is str else "")
        for name in ("credentials", "password_present"):
            if name in node:
                found = credentials.marker(keys.normalise_key(name), node[name], context)
                if found:
                    ki = key_info(name)
                    self.add(Category.CREDENTIALS, _child(path, ki), ki, None, found)
                    return

    def sequence(
        self,
        node: list[Any] | tuple[Any, ...],
        path: str,
        key: KeyInfo,
        parent: KeyInfo,
        depth: int,
    ) -> None:
        if depth > MAX_DEPTH or not node:
            return
        first = type(node[0])
        quiet = 0
        if first is dict or first is list or first is tuple:
            found = location.track(node, key.bits)
            if found:
                self.add(Category.LOCATION, path, key, None, found)
                if first is not dict:
                    return  # a list of bare pairs has nothing else to find
                quiet = _QUIET_LOCATION  # its points are not reported one by one
            if first is dict:
                quiet |= self.records(node, path, key)
        elif first is float and key.bits & keys.LOCATION:
            found = location.single_pair(
                node,
                key.bits,
                lon_first=key.lower == "coordinates",  # GeoJSON's name, GeoJSON's order
            )
            if found:
                self.add(Category.LOCATION, path, key, None, found)
                return
        for index, item in enumerate(node):
            kind = type(item)
            if kind is float or kind is bool or item is None:
                continue
            if kind is str:
                if key.bits or len(item) >= _UNKEYED_MIN:
                    self.string(item, f"{path}[{index}]", key, parent)
            elif kind is int:
                if key.bits & keys.INT_KEYS or item >= _FIFTEEN_DIGITS:
                    self.integer(item, f"{path}[{index}]", key, parent)
            elif kind is dict:
                self.mapping(item, f"{path}[{index}]", key, depth + 1, quiet=quiet)
            else:
                self.visit(item, f"{path}[{index}]", key, parent, depth + 1)

    def records(self, node: list[Any] | tuple[Any, ...], path: str, key: KeyInfo) -> int:
        """Lists reported as a whole (a phone book, a list of cells); the quiet flags for items."""
        at = path or "$"
        if key.bits & keys.CONTACT_LIST:
            found = contacts.contact_list(node)
            if found:
                self.add(Category.CONTACTS, at, key, None, found)
        first = node[0]
        # Towers under any key are recognised by their MCC key: three lookups, no loop.
        if (
            key.bits & keys.CELL_PARENT
            or "mcc" in first
            or "MCC" in first
            or "mobileCountryCode" in first
        ):
            found = cell_location.tower_list(node)
            if found:
                self.add(Category.CELL_LOCATION, at, key, None, found)
                return _QUIET_CELL
        return 0

    # --- leaves -----------------------------------------------------------
    def run(self, wants: int, value: str | int, path: str, key: KeyInfo, parent: KeyInfo) -> None:
        leaf = Leaf(value, key.lower or None, key.bits, parent.bits)
        for i, detector in enumerate(_ORDER):
            if wants >> i & 1:
                match = detector.check(leaf)
                if match:
                    self.add(detector.category, path, key, value, match)

    def string(self, value: str, path: str, key: KeyInfo, parent: KeyInfo) -> None:
        bits = key.bits
        wants = _keyed_wants(bits) if bits else 0
        n = len(value)
        if not n:
            return
        first = value[0]
        if first.isdigit() and value.isascii() and value.isdigit():
            if not bits & keys.DIGIT_IDS:
                if n == 15:
                    wants |= W_IMEI
                elif n == 12:
                    wants |= W_IIN
                elif 19 <= n <= 20 and value.startswith("89"):
                    wants |= W_ICCID
        else:
            if first == "+":
                wants |= W_PHONE
            if "@" in value:
                wants |= W_EMAIL
            if n == 17:
                wants |= W_VIN
                if value[2] in ":-":
                    wants |= W_MAC
            elif n == 14 and value[4] == ".":
                wants |= W_MAC
            elif n in (20, 21) and value[-1] in "Ff" and value.startswith("89"):
                wants |= W_ICCID
            if first in license_plate.CN_PROVINCES:
                wants |= W_PLATE
            if "$" in value or (n <= 64 and ("," in value or ";" in value)):
                wants |= W_LOCATION
            if first == "d" and n > cabin_media.MIN_INLINE_BYTES and value.startswith("data:"):
                wants |= W_MEDIA
        if wants:
            self.run(wants, value, path, key, parent)
        if n > FREE_TEXT_MIN or (n >= _SENTENCE_MIN and _COMPOUND_SEPARATORS & set(value)):
            for category, match in text.scan_text(value):
                self.add(category, path, key, value, match)

    def integer(self, value: int, path: str, key: KeyInfo, parent: KeyInfo) -> None:
        bits = key.bits
        if bits & keys.DIGIT_IDS:
            wants = _keyed_wants(bits) & _DIGIT_DETECTORS
        elif value >= _FIFTEEN_DIGITS:
            # A JSON number carries no key-independent evidence beyond its digits: only the
            # self-checking forms (IMEI and ICCID Luhn) are tried.
            wants = W_IMEI if value < 10**15 else W_ICCID if value >= _ICCID_MIN else 0
        else:
            wants = 0
        if bits & (keys.ACCOUNT | keys.SECRET):
            wants |= _keyed_wants(bits) & _KEYED_ONLY  # "user_id": 81234567, "pin"-like ints
        if wants:
            self.run(wants, value, path, key, parent)


def detect(doc: Document) -> list[Hit]:
    """Every validated personal-data hit in a Document, one per (locator, category)."""
    scan = _Scan(doc.source)
    root = root_path(doc.source, doc.tree)
    scan.visit(doc.tree, root, NO_KEY, NO_KEY, 0)
    hits = list(scan.hits.values())
    command = remote_control.detect_command(doc, root)
    if command is not None:
        hits.append(command)
    return hits
