"""Valid synthetic identifiers, so a detector that checks checksums must still find them.

Every maker takes a seeded ``random.Random`` and returns a value that passes the
same check a detector would apply (VIN check digit, Luhn, KZ IIN checksum,
phonenumbers validity); none of them belongs to a real person or vehicle.
"""

from __future__ import annotations

import datetime as dt
import random
import string

import phonenumbers
from stdnum import luhn

# VIN transliteration and position weights (ISO 3779 / 49 CFR 565.15).
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_YEAR_CHARS = "ABCDEFGHJKLMNPRSTVWXY123456789"

# WMIs that vininfo knows, so a detector that also checks the maker still accepts them.
VIN_WMIS = ("LGX", "LSJ", "LFV", "LVS", "XTA", "KMH", "JTD", "X7L", "LB3", "Z94")

# Type allocation codes of common handsets and telematics modules (first 8 IMEI digits).
IMEI_TACS = ("35693803", "86210003", "35332510", "86475203", "35209900", "86112904")

KZ_MNCS = ("01", "02", "07", "77")
KZ_MOBILE_PREFIXES = ("700", "701", "702", "705", "707", "708", "747", "771", "775", "777", "778")

# Real OUIs (universally administered, unicast) of car head units and modules.
MAC_OUIS = ("3C:22:FB", "00:1A:7D", "F4:5C:89", "B8:27:EB", "00:26:B6", "AC:83:F3", "98:D3:31")

PLATE_LETTERS = "ABCDEFGHKLMNOPRSTUXYZ"


def vin_check_digit(vin: str) -> str:
    """The 9th character a VIN must carry, computed over all 17 positions."""
    if len(vin) != 17:
        raise ValueError("VIN needs 17 characters")
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin.upper(), _VIN_WEIGHTS, strict=True))
    rem = total % 11
    return "X" if rem == 10 else str(rem)


def vin_is_valid(vin: str) -> bool:
    return len(vin) == 17 and all(c in VIN_CHARS for c in vin) and vin[8] == vin_check_digit(vin)


def make_vin(rng: random.Random, wmi: str | None = None) -> str:
    wmi = wmi or rng.choice(VIN_WMIS)
    vds = "".join(rng.choice(VIN_CHARS) for _ in range(5))
    year = rng.choice(_YEAR_CHARS)
    plant = rng.choice(string.ascii_uppercase.replace("I", "").replace("O", "").replace("Q", ""))
    serial = "".join(rng.choice(string.digits) for _ in range(6))
    draft = f"{wmi}{vds}0{year}{plant}{serial}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


def make_bad_vin(rng: random.Random) -> str:
    """A 17-character VIN-alphabet part number whose check digit is wrong (a decoy)."""
    good = make_vin(rng)
    wrong = next(d for d in "0123456789X" if d != good[8])
    return good[:8] + wrong + good[9:]


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def make_imei(rng: random.Random) -> str:
    return _luhn_complete(rng, rng.choice(IMEI_TACS), 15)


def make_iccid(rng: random.Random) -> str:
    # 89 = telecom, 7 = country code of Kazakhstan, then issuer; 19 or 20 digits with Luhn.
    return _luhn_complete(rng, rng.choice(("8970101", "8970102", "8970177")), rng.choice((19, 20)))


def make_luhn_failing(rng: random.Random, length: int) -> str:
    """A number of ``length`` digits that fails Luhn (an order or invoice number decoy)."""
    good = _luhn_complete(rng, str(rng.randint(1, 9)), length)
    return good[:-1] + str((int(good[-1]) + 1 + rng.randint(0, 8)) % 10)


def make_imsi(rng: random.Random) -> str:
    """A Kazakh IMSI (MCC 401); kept Luhn-invalid so it cannot also pass as an IMEI."""
    head = "401" + rng.choice(KZ_MNCS)
    while True:
        imsi = head + "".join(rng.choice(string.digits) for _ in range(15 - len(head)))
        if not luhn.is_valid(imsi):
            return imsi


def make_phone(rng: random.Random) -> str:
    """A valid Kazakh mobile number in E.164."""
    while True:
        number = "+7" + rng.choice(KZ_MOBILE_PREFIXES) + f"{rng.randint(0, 9_999_999):07d}"
        parsed = phonenumbers.parse(number)
        if (
            phonenumbers.is_valid_number(parsed)
            and phonenumbers.region_code_for_number(parsed) == "KZ"
        ):
            return number


def format_phone(e164: str, style: int) -> str:
    """The same number as vendors write it: E.164, spaced, bracketed, national 8-prefix."""
    n = e164[2:]
    styles = (
        e164,
        f"+7 {n[:3]} {n[3:6]} {n[6:8]} {n[8:]}",
        f"+7 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
        f"8{n}",
        f"7{n}",
    )
    return styles[style % len(styles)]


_IIN_W1 = tuple(range(1, 12))
_IIN_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def iin_check_digit(first11: str) -> int | None:
    """KZ IIN control digit (weights 1..11, then 3..11,1,2); None when no digit is possible."""
    digits = [int(c) for c in first11]
    s = sum(d * w for d, w in zip(digits, _IIN_W1, strict=True)) % 11
    if s == 10:
        s = sum(d * w for d, w in zip(digits, _IIN_W2, strict=True)) % 11
    return None if s == 10 else s


def iin_is_valid(iin: str) -> bool:
    if len(iin) != 12 or not iin.isdigit():
        return False
    check = iin_check_digit(iin[:11])
    return check is not None and check == int(iin[11])


def make_iin(rng: random.Random) -> str:
    while True:
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 55))
        century = 3 if born.year < 2000 else 5
        gender = rng.randint(0, 1)
        first11 = born.strftime("%y%m%d") + str(century + gender) + f"{rng.randint(0, 9999):04d}"
        check = iin_check_digit(first11)
        if check is not None:
            return first11 + str(check)


def make_bad_iin(rng: random.Random) -> str:
    """A 12-digit number with a plausible birth date but a wrong IIN control digit."""
    good = make_iin(rng)
    return good[:11] + str((int(good[11]) + 1 + rng.randint(0, 8)) % 10)


def make_mac(rng: random.Random, sep: str = ":") -> str:
    oui = rng.choice(MAC_OUIS).split(":")
    tail = [f"{rng.randint(0, 255):02X}" for _ in range(3)]
    return sep.join(oui + tail)


def make_plate(rng: random.Random, spaced: bool = False) -> str:
    """A Kazakh plate of the 2012 format: 3 digits, 3 letters, 2-digit region."""
    digits = f"{rng.randint(1, 999):03d}"
    letters = "".join(rng.choice(PLATE_LETTERS) for _ in range(3))
    region = f"{rng.randint(1, 18):02d}"
    return f"{digits} {letters} {region}" if spaced else f"{digits}{letters}{region}"


# (male, female) first names and surnames, so generated names agree in gender.
_FIRST_LAT = (
    ("Aidos", "Nurlan", "Yerlan", "Timur", "Arman"),
    ("Aigerim", "Dana", "Saule", "Madina"),
)
_LAST_LAT = (("Nurlanov", "Akhmetov", "Omarov", "Seitkali"), ("Sadykova", "Bekova", "Zhunusova"))
_FIRST_CYR = (("Айдос", "Нурлан", "Ерлан", "Тимур"), ("Айгерим", "Дана", "Сауле", "Мадина"))
_LAST_CYR = (("Нурланов", "Ахметов", "Омаров", "Сейткали"), ("Садыкова", "Бекова", "Жунусова"))


def make_name(rng: random.Random, cyrillic: bool = False) -> str:
    gender = rng.randint(0, 1)
    if cyrillic:
        return f"{rng.choice(_LAST_CYR[gender])} {rng.choice(_FIRST_CYR[gender])}"
    return f"{rng.choice(_FIRST_LAT[gender])} {rng.choice(_LAST_LAT[gender])}"


def make_email(rng: random.Random, name: str | None = None) -> str:
    if name is None or not name.isascii():
        name = make_name(rng)
    first, last = name.lower().split()
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{last}{rng.randint(70, 99)}"))
    return f"{local}@{rng.choice(('example.kz', 'mail.example.com', 'example-cn-oem.cn'))}"


# City centres the synthetic positions scatter around (Almaty, Astana, Shymkent).
CITIES = ((43.238949, 76.945465), (51.128207, 71.430411), (42.341685, 69.590101))


def make_position(rng: random.Random) -> tuple[float, float]:
    lat, lon = rng.choice(CITIES)
    return round(lat + rng.uniform(-0.05, 0.05), 6), round(lon + rng.uniform(-0.05, 0.05), 6)


def make_track(rng: random.Random, points: int) -> list[tuple[float, float]]:
    lat, lon = make_position(rng)
    track = []
    for _ in range(points):
        lat = round(lat + rng.uniform(-0.0008, 0.0008), 6)
        lon = round(lon + rng.uniform(-0.0008, 0.0008), 6)
        track.append((lat, lon))
    return track


def make_uuid(rng: random.Random) -> str:
    return "%08x-%04x-4%03x-%04x-%012x" % (  # noqa: UP031 - fixed-width hex groups
        rng.getrandbits(32),
        rng.getrandbits(16),
        rng.getrandbits(12),
        0x8000 | rng.getrandbits(14),
        rng.getrandbits(48),
    )


def make_hex(rng: random.Random, nbytes: int) -> str:
    return rng.randbytes(nbytes).hex()
