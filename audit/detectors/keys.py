"""Key-name hints: what a field's name says about its value, computed once per distinct key.

A key is evidence, never the only evidence: detectors still validate the value.
Hints are plain int bit flags (not ``enum.IntFlag``) because they are tested
for every leaf of every body and ``IntFlag`` arithmetic is an order of
magnitude slower than ``int``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

# --- hint bits -------------------------------------------------------------
VIN = 1 << 0
IMEI = 1 << 1
IMSI = 1 << 2
ICCID = 1 << 3
SIM = 1 << 4  # "sim", "subscriber": IMSI or ICCID, not IMEI
PHONE = 1 << 5
IIN = 1 << 6
PERSON_NAME = 1 << 7  # first_name, full_name, fio, driver_name ...
BARE_NAME = 1 << 8  # plain "name": a person only with more evidence
DISPLAY_NAME = 1 << 9  # display_name: a person only under a person-ish parent
PERSON_PARENT = 1 << 10  # driver, owner, user, contact ...: the dict below describes a person
THING_PARENT = 1 << 11  # vehicle, device, app, wifi ...: the dict below describes a thing
PLATE = 1 << 12
MAC = 1 << 13
LAT = 1 << 14
LON = 1 << 15
LOCATION = 1 << 16  # location, position, coords: a "lat,lon" string or a [lat, lon] pair
TRACK = 1 << 17  # track, route, points: a list of points
POLYLINE = 1 << 18  # an encoded polyline
ORDER = 1 << 19  # order/invoice/transaction numbers: a Luhn pass there is chance, not an IMEI
NOT_PERSONAL = 1 << 20  # ids, counters, timestamps: a 12-digit string there is not an IIN
SCALE_E6 = 1 << 21  # latE6: integer micro-degrees
SCALE_E7 = 1 << 22  # latitudeE7: integer 1e-7 degrees

ACCOUNT = 1 << 23  # user_id, accountId, uid, openid ...: a service account's identifier
SECRET = 1 << 24  # password, api_key, access_token ...: a credential in the value itself
AUTH_HEADER = 1 << 25  # authorization: "Bearer …" / "Basic …"
MCC = 1 << 26  # the four parts of a serving cell: MCC, MNC, LAC/TAC, cell id
MNC = 1 << 27
LAC = 1 << 28
CELL_ID = 1 << 29
CELL_PARENT = 1 << 30  # cells, towers, lbs: a list or dict of cells
CONTACT_LIST = 1 << 31  # contacts, phonebook, call_log, sms: a list of people and numbers
MEDIA = 1 << 32  # image, photo, snapshot, audio, video: a value that may hold media bytes
BIOMETRIC = 1 << 33  # face, selfie, voiceprint, driver monitoring: media of a person's body
MEDIA_PART = 1 << 34  # "media": the kind of a decoded binary part (multipart decoder)
MARKER = 1 << 35  # password_present, credentials: a decoder's note that a secret was sent

#: hints that name a digit-only identifier; when any is present the key decides the category.
DIGIT_IDS = IMEI | IMSI | ICCID | SIM | PHONE | IIN
#: keys whose integer values are worth a detector call at all.
INT_KEYS = DIGIT_IDS | ACCOUNT | SECRET
#: hints that make the scanner look at the enclosing dict as a whole (after its keys).
CELL_PARTS = MCC | MNC | LAC | CELL_ID
STRUCTURAL = LAT | LON | CELL_PARTS | MEDIA_PART | MARKER


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one hint matches: on the normalised key, on its tokens, or on token pairs."""

    bit: int
    exact: frozenset[str] = frozenset()
    tokens: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    pairs: frozenset[tuple[str, str]] = frozenset()

    def matches(self, norm: str, tokens: tuple[str, ...]) -> bool:
        if norm in self.exact:
            return True
        if self.tokens and not self.tokens.isdisjoint(tokens):
            return True
        if self.prefixes and norm.startswith(self.prefixes):
            return True
        if self.suffixes and norm.endswith(self.suffixes):
            return True
        if any(c in norm for c in self.contains):
            return True
        return bool(self.pairs) and any(p in self.pairs for p in itertools.pairwise(tokens))


def _fs(*words: str) -> frozenset[str]:
    return frozenset(words)


_PERSON_NOUNS = (
    "driver",
    "drivers",
    "owner",
    "owners",
    "user",
    "users",
    "contact",
    "contacts",
    "customer",
    "customers",
    "account",
    "accounts",
    "profile",
    "profiles",
    "person",
    "persons",
    "people",
    "member",
    "members",
    "passenger",
    "passengers",
    "emergency",
    "holder",
    "cardholder",
    "recipient",
    "sender",
    "employee",
)

_RULES: tuple[_Rule, ...] = (
    # "vin" only as a whole token or at the end of a compound ("vehiclevin"): as a
    # substring it hides in "driving", "saving".
    _Rule(
        VIN,
        exact=_fs(
            "vin",
            "vinnumber",
            "vincode",
            "vinno",
            "chassis",
            "chassisno",
            "chassisnumber",
            "framenumber",
            "frameno",
        ),
        tokens=_fs("vin", "vins"),
        suffixes=("vin",),
    ),
    _Rule(IMEI, contains=("imei",)),
    _Rule(IMSI, contains=("imsi",)),
    _Rule(ICCID, contains=("iccid",), exact=_fs("icc", "simserial", "simserialnumber")),
    _Rule(
        SIM,
        tokens=_fs("sim", "subscriber"),
        prefixes=("sim",),
        exact=_fs("subscriberid", "subscribernumber"),
    ),
    # "tel" and "mobile" only as tokens: as substrings they hide in "telemetry", "automobile".
    _Rule(
        PHONE,
        exact=_fs(
            "tel",
            "telno",
            "telnumber",
            "mobileno",
            "mobilenumber",
            "sos",
            "sosnumber",
            "contactnumber",
            "emergencynumber",
            "cellphone",
            "cell",
            "whatsapp",
        ),
        tokens=_fs(
            "phone",
            "phones",
            "msisdn",
            "mobile",
            "tel",
            "telephone",
            "sos",
            "cellphone",
            "whatsapp",
        ),
        prefixes=("phone", "msisdn", "telephone"),
        suffixes=("phone", "phones", "phonenumber", "phoneno", "msisdn", "mobile", "telno"),
    ),
    _Rule(
        IIN,
        exact=_fs(
            "iin",
            "иин",
            "inn",
            "инн",
            "nationalid",
            "nationalidnumber",
            "taxpayerid",
            "taxpayer",
            "taxpayernumber",
            "personalid",
            "personalnumber",
            "idnumber",
            "citizenid",
            "iinbin",
            "rnn",
        ),
        tokens=_fs("iin", "иин", "inn", "taxpayer"),
    ),
    _Rule(
        PERSON_NAME,
        exact=_fs(
            "fullname",
            "firstname",
            "lastname",
            "surname",
            "givenname",
            "familyname",
            "middlename",
            "secondname",
            "patronymic",
            "fio",
            "фио",
            "forename",
            "ownername",
            "drivername",
            "contactname",
            "customername",
            "personname",
            "realname",
            "holdername",
            "cardholdername",
            "имя",
            "фамилия",
            "отчество",
        ),
        tokens=_fs(
            "surname",
            "patronymic",
            "fio",
            "фио",
            "forename",
            "firstname",
            "lastname",
            "fullname",
            "givenname",
            "familyname",
            "middlename",
        ),
        pairs=frozenset(
            (w, "name")
            for w in (
                "first",
                "last",
                "full",
                "given",
                "family",
                "middle",
                "second",
                "sur",
                "owner",
                "driver",
                "contact",
                "customer",
                "person",
                "real",
                "holder",
                "father",
                "maiden",
                "legal",
            )
        ),
    ),
    _Rule(BARE_NAME, exact=_fs("name")),
    _Rule(DISPLAY_NAME, exact=_fs("displayname")),
    _Rule(
        PERSON_PARENT,
        tokens=_fs(*_PERSON_NOUNS),
        exact=_fs("emergencycontact", "userinfo", "userprofile", "driverinfo"),
    ),
    _Rule(
        THING_PARENT,
        tokens=_fs(
            "vehicle",
            "vehicles",
            "car",
            "cars",
            "device",
            "devices",
            "model",
            "app",
            "apps",
            "product",
            "products",
            "network",
            "networks",
            "wifi",
            "ssid",
            "file",
            "files",
            "host",
            "bundle",
            "package",
            "service",
            "services",
            "station",
            "stations",
            "poi",
            "place",
            "places",
            "city",
            "country",
            "street",
            "brand",
            "manufacturer",
            "firmware",
            "sensor",
            "sensors",
            "feature",
            "features",
            "event",
            "events",
            "server",
            "dealer",
            "charger",
            "chargers",
            "route",
            "program",
            "mode",
        ),
    ),
    _Rule(
        PLATE,
        exact=_fs(
            "plate",
            "plates",
            "plateno",
            "platenumber",
            "licenseplate",
            "licenceplate",
            "licenseplatenumber",
            "licenceplatenumber",
            "numberplate",
            "registrationnumber",
            "registrationno",
            "regnumber",
            "regno",
            "regplate",
            "gosnomer",
            "госномер",
            "госзнак",
            "номер",
            "carnumber",
            "vehiclenumber",
            "vehicleplate",
            "carplate",
            "plateid",
            "platecode",
            "vrn",
        ),
        tokens=_fs(
            "plate",
            "plates",
            "gosnomer",
            "госномер",
            "госзнак",
            "numberplate",
            "licenseplate",
            "licenceplate",
        ),
        suffixes=("plate", "plateno", "platenumber", "platenum"),
        pairs=frozenset(
            {
                ("registration", "number"),
                ("registration", "no"),
                ("reg", "no"),
                ("reg", "number"),
                ("gos", "nomer"),
                ("plate", "no"),
            }
        ),
    ),
    # "mac" only as a token or a compound end: as a substring it hides in "machine".
    _Rule(
        MAC,
        exact=_fs(
            "mac",
            "macaddress",
            "macaddr",
            "btmac",
            "wifimac",
            "wlanmac",
            "ethmac",
            "bluetoothmac",
            "bssid",
            "bluetoothaddress",
            "btaddress",
            "btaddr",
            "hwaddr",
            "hwaddress",
        ),
        tokens=_fs("mac", "bssid", "macaddress", "macaddr", "hwaddr"),
        suffixes=("mac", "macaddress", "macaddr", "bssid"),
    ),
    _Rule(
        LAT,
        exact=_fs(
            "lat",
            "latitude",
            "gpslat",
            "gpslatitude",
            "latdeg",
            "lati",
            "estlat",
            "nativelatitude",
            "latitudee7",
            "latitudee6",
            "late7",
            "late6",
            "широта",
        ),
        tokens=_fs("lat", "latitude", "широта"),
        prefixes=("latitude",),
        suffixes=("latitude",),
    ),
    _Rule(
        LON,
        exact=_fs(
            "lon",
            "lng",
            "long",
            "longitude",
            "gpslon",
            "gpslng",
            "gpslong",
            "gpslongitude",
            "londeg",
            "lngdeg",
            "estlng",
            "estlon",
            "nativelongitude",
            "longitudee7",
            "longitudee6",
            "lone7",
            "lone6",
            "lnge7",
            "lnge6",
            "долгота",
        ),
        tokens=_fs("lon", "lng", "longitude", "долгота"),
        prefixes=("longitude",),
        suffixes=("longitude",),
    ),
    _Rule(
        LOCATION,
        exact=_fs(
            "ll",
            "latlng",
            "latlon",
            "lnglat",
            "lonlat",
            "gps",
            "geo",
            "geolocation",
            "location",
            "loc",
            "position",
            "pos",
            "coords",
            "coord",
            "coordinates",
            "point",
            "gpscoordinates",
            "gpsposition",
            "lastlocation",
            "currentlocation",
        ),
        tokens=_fs(
            "location",
            "loc",
            "position",
            "pos",
            "coords",
            "coord",
            "coordinates",
            "latlng",
            "latlon",
            "lnglat",
            "gps",
            "geo",
            "geolocation",
            "point",
        ),
    ),
    _Rule(
        TRACK,
        tokens=_fs(
            "track",
            "tracks",
            "route",
            "routes",
            "path",
            "points",
            "trajectory",
            "coords",
            "coordinates",
            "waypoints",
            "positions",
            "trail",
            "breadcrumbs",
            "polyline",
            "trip",
            "trips",
            "locations",
            "history",
            "geometry",
        ),
    ),
    _Rule(
        POLYLINE,
        exact=_fs(
            "polyline",
            "overviewpolyline",
            "encodedpolyline",
            "encodedpath",
            "route",
            "path",
            "points",
            "encoded",
            "encodedroute",
            "geometry",
        ),
        tokens=_fs("polyline", "encoded"),
    ),
    _Rule(
        ORDER,
        tokens=_fs(
            "order",
            "orders",
            "invoice",
            "transaction",
            "txn",
            "payment",
            "receipt",
            "ticket",
            "booking",
        ),
    ),
    _Rule(
        NOT_PERSONAL,
        tokens=_fs(
            "id",
            "ids",
            "uuid",
            "guid",
            "order",
            "ts",
            "timestamp",
            "time",
            "date",
            "seq",
            "sequence",
            "count",
            "counter",
            "nonce",
            "version",
            "ver",
            "build",
            "crc",
            "checksum",
            "hash",
            "index",
            "idx",
            "offset",
            "size",
            "length",
            "total",
            "amount",
            "price",
            "serial",
            "session",
            "request",
            "trace",
            "msg",
            "message",
        ),
        exact=_fs("id", "ts", "seq", "cnt"),
    ),
    # Not "id" and not "user": only keys that name the identifier of an account.
    _Rule(
        ACCOUNT,
        exact=_fs(
            "uid",
            "userid",
            "accountid",
            "customerid",
            "memberid",
            "ownerid",
            "openid",
            "unionid",
            "useruid",
            "accountuid",
        ),
        suffixes=(
            "userid",
            "userids",
            "accountid",
            "accountids",
            "customerid",
            "memberid",
            "ownerid",
            "openid",
        ),
    ),
    # "token" alone, and tokens that sign in; not push/FCM/CSRF/page tokens, which are
    # device registrations or one-request nonces rather than credentials.
    _Rule(
        SECRET,
        exact=_fs(
            "password",
            "passwd",
            "pwd",
            "pass",
            "passwort",
            "пароль",
            "secret",
            "clientsecret",
            "appsecret",
            "secretkey",
            "apikey",
            "accesstoken",
            "refreshtoken",
            "authtoken",
            "token",
            "sessiontoken",
            "idtoken",
            "bearertoken",
            "privatekey",
            "accesskey",
            "secretaccesskey",
        ),
        suffixes=(
            "password",
            "passwd",
            "secret",
            "apikey",
            "accesstoken",
            "refreshtoken",
            "authtoken",
            "sessiontoken",
            "privatekey",
            "secretkey",
        ),
    ),
    _Rule(AUTH_HEADER, exact=_fs("authorization", "proxyauthorization")),
    _Rule(MCC, exact=_fs("mcc", "mobilecountrycode")),
    _Rule(MNC, exact=_fs("mnc", "mobilenetworkcode")),
    _Rule(LAC, exact=_fs("lac", "tac", "locationareacode", "trackingareacode")),
    _Rule(
        CELL_ID,
        exact=_fs("cellid", "cid", "ci", "eci", "ecid", "nci", "cellidentity", "ecellid"),
    ),
    _Rule(
        CELL_PARENT,
        exact=_fs(
            "cell",
            "cells",
            "lbs",
            "tower",
            "towers",
            "celltower",
            "celltowers",
            "cellinfo",
            "cellinfos",
            "servingcell",
            "neighborcells",
            "neighbourcells",
        ),
    ),
    _Rule(
        CONTACT_LIST,
        exact=_fs(
            "contacts",
            "contactlist",
            "phonebook",
            "addressbook",
            "calllog",
            "calllogs",
            "callhistory",
            "calls",
            "sms",
            "smslist",
            "messages",
            "sosnumbers",
            "emergencycontacts",
        ),
        tokens=_fs("contacts", "phonebook", "addressbook", "calllog", "sms"),
        pairs=frozenset(
            {
                ("call", "log"),
                ("call", "logs"),
                ("call", "history"),
                ("address", "book"),
                ("phone", "book"),
                ("sos", "numbers"),
            }
        ),
    ),
    _Rule(
        MEDIA,
        tokens=_fs(
            "image",
            "images",
            "img",
            "photo",
            "photos",
            "picture",
            "pic",
            "snapshot",
            "frame",
            "jpeg",
            "jpg",
            "audio",
            "voice",
            "recording",
            "video",
            "clip",
            "camera",
            "cam",
        ),
    ),
    # "face" only as a word: as a substring it hides in "interface", "surface".
    _Rule(
        BIOMETRIC,
        tokens=_fs(
            "face",
            "faces",
            "facial",
            "faceid",
            "selfie",
            "voiceprint",
            "biometric",
            "biometrics",
            "iris",
            "fingerprint",
            "dms",
            "fatigue",
            "drowsiness",
            "drowsy",
        ),
        contains=("voiceprint", "drivermonitor", "biometric", "fingerprint", "faceid"),
        pairs=frozenset({("voice", "print"), ("driver", "monitor"), ("driver", "monitoring")}),
    ),
    _Rule(MEDIA_PART, exact=_fs("media")),
    _Rule(MARKER, exact=_fs("passwordpresent", "credentials")),
    _Rule(SCALE_E6, suffixes=("e6",)),
    _Rule(SCALE_E7, suffixes=("e7",)),
)

_SEPARATORS = re.compile(r"[\W_]+")
_REPEAT_SUFFIX = re.compile(r"\[\d+\]$")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def normalise_key(key: str) -> str:
    """Lower-case and drop separators, so ``vehicleVin``, ``vehicle_vin`` and ``VIN`` compare."""
    return "".join(ch for ch in _REPEAT_SUFFIX.sub("", key).lower() if ch.isalnum())


def key_tokens(key: str) -> tuple[str, ...]:
    """Split a key into lower-case words at separators, case changes and letter/digit borders."""
    tokens: list[str] = []
    for chunk in _SEPARATORS.split(_REPEAT_SUFFIX.sub("", key)):
        start = 0
        for i in range(1, len(chunk)):
            a, b = chunk[i - 1], chunk[i]
            if (
                (a.islower() and b.isupper())
                or (a.isalpha() != b.isalpha())
                or (a.isupper() and b.isupper() and i + 1 < len(chunk) and chunk[i + 1].islower())
            ):
                tokens.append(chunk[start:i].lower())
                start = i
        if chunk:
            tokens.append(chunk[start:].lower())
    return tuple(tokens)


def biometric_hint(text: str) -> bool:
    """Whether a name (a part's field name, a file name, a URL path) says face or voice data.

    For callers that have evidence outside the Document, such as the request path
    ``/api/dms/upload`` of a multipart body.
    """
    if len(text) > 1024:
        return False
    return bool(hints_for(text) & BIOMETRIC)


def key_segment(key: str) -> str:
    """The locator path step for a dict key: ``.key``, or ``['key']`` when it needs quoting."""
    if _PLAIN_KEY.fullmatch(key):
        return "." + key
    return "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"


def hints_for(key: str) -> int:
    """All hint bits a key name carries."""
    norm = normalise_key(key)
    tokens = key_tokens(key)
    bits = 0
    for rule in _RULES:
        if rule.matches(norm, tokens):
            bits |= rule.bit
    return bits


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Everything the scanner needs about one key name, computed once."""

    raw: str
    lower: str
    bits: int
    segment: str
    #: bits & (LAT | LON): tested for every key of every dict, so kept precomputed
    latlon: int = 0
    #: bits & STRUCTURAL: a key that makes its dict worth a second look (one test per key)
    struct: int = 0


#: The info used for values that have no key (the root, or a list at the root).
NO_KEY = KeyInfo(raw="", lower="", bits=0, segment="")

#: Read directly by the scanner's inner loop (a dict lookup is cheaper than a call).
CACHE: dict[str, KeyInfo] = {}
# Keys repeat across flows, so the cache pays off; the bound keeps a flood of
# distinct keys (e.g. ids used as keys) from growing memory without limit.
_CACHE_MAX = 65536


def key_info(key: str) -> KeyInfo:
    """Cached :class:`KeyInfo` for a key name."""
    info = CACHE.get(key)
    if info is None:
        bits = hints_for(key)
        info = KeyInfo(
            raw=key,
            lower=key.lower(),
            bits=bits,
            segment=key_segment(key),
            latlon=bits & (LAT | LON),
            struct=bits & STRUCTURAL,
        )
        if len(CACHE) >= _CACHE_MAX:
            CACHE.clear()
        CACHE[key] = info
    return info
