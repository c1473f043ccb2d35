"""Physical plausibility: a round trip cannot beat light in fibre.

Light in fibre covers about 200 km per millisecond, so a server answering a
TCP handshake in ``rtt`` ms from the station is at most ``rtt / 2 * 200`` km
away, whatever any database says. A claim farther than that is physically
impossible and is flagged as a contradiction. The converse is weaker (routes
wander, servers queue), so a slow answer only lowers confidence in a claim
of a nearby server, and never proves it far.
"""

from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass
from typing import Any

KM_PER_MS_ONE_WAY = 200.0
EARTH_RADIUS_KM = 6371.0
#: Where the audit station is when the operator does not say: Almaty.
ALMATY = (43.2389, 76.8897)
#: A slow answer for a nearby claim: this many ms beyond the physical minimum plus slack.
SLOW_FACTOR = 4.0
SLOW_SLACK_MS = 40.0

# Rough reference points for countries when a database gives no coordinates:
# (latitude, longitude, radius in km that covers the country from that point).
COUNTRY_EXTENT: dict[str, tuple[float, float, float]] = {
    "KZ": (48.0, 67.0, 1600.0),
    "RU": (61.5, 99.0, 4500.0),
    "CN": (35.0, 103.0, 2600.0),
    "KG": (41.2, 74.8, 450.0),
    "UZ": (41.4, 64.6, 800.0),
    "DE": (51.2, 10.4, 500.0),
    "NL": (52.2, 5.3, 200.0),
    "FR": (46.6, 2.4, 650.0),
    "GB": (54.0, -2.5, 650.0),
    "IE": (53.4, -8.2, 250.0),
    "FI": (64.5, 26.0, 650.0),
    "SE": (62.0, 15.0, 900.0),
    "PL": (52.0, 19.4, 400.0),
    "TR": (39.0, 35.2, 900.0),
    "US": (39.8, -98.6, 4500.0),
    "CA": (56.1, -106.3, 3000.0),
    "JP": (36.2, 138.3, 1300.0),
    "KR": (36.5, 127.9, 350.0),
    "SG": (1.35, 103.8, 40.0),
    "HK": (22.3, 114.2, 40.0),
    "IN": (22.0, 79.0, 1800.0),
    "AE": (24.0, 54.0, 350.0),
}


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Claim:
    """Where a source places a server: a point and a radius around it (km)."""

    country: str
    latitude: float
    longitude: float
    radius_km: float
    basis: str  # "database coordinates" or "country extent"


def claim_for(
    country: str, latitude: float | None, longitude: float | None, radius_km: float | None
) -> Claim | None:
    if latitude is not None and longitude is not None:
        return Claim(country, latitude, longitude, radius_km or 0.0, "database coordinates")
    ext = COUNTRY_EXTENT.get(country)
    if ext is None:
        return None
    return Claim(country, ext[0], ext[1], ext[2], "country extent")


@dataclass(frozen=True, slots=True)
class RttCheck:
    """One claim tested against a measured round trip."""

    rtt_ms: float
    max_km: float
    claim: Claim
    nearest_km: float
    farthest_km: float
    outcome: str  # "consistent", "implausible" (contradiction) or "slow"

    def evidence(self) -> dict[str, Any]:
        return {
            "kind": "rtt",
            "rtt_ms": round(self.rtt_ms, 3),
            "max_km": round(self.max_km),
            "claimed_country": self.claim.country,
            "claim_basis": self.claim.basis,
            "claim_nearest_km": round(self.nearest_km),
            "outcome": self.outcome,
            "contradicts": self.outcome == "implausible",
            "rule": f"light in fibre: {KM_PER_MS_ONE_WAY:.0f} km per ms one way",
        }


def check(rtt_ms: float, station: tuple[float, float], claim: Claim) -> RttCheck:
    """Is a server ``rtt_ms`` away from ``station`` possibly where ``claim`` puts it?"""
    centre = distance_km(station, (claim.latitude, claim.longitude))
    nearest = max(0.0, centre - claim.radius_km)
    farthest = centre + claim.radius_km
    max_km = rtt_ms / 2 * KM_PER_MS_ONE_WAY
    if nearest > max_km:
        outcome = "implausible"
    elif rtt_ms > SLOW_FACTOR * (2 * farthest / KM_PER_MS_ONE_WAY) + SLOW_SLACK_MS:
        outcome = "slow"
    else:
        outcome = "consistent"
    return RttCheck(rtt_ms, max_km, claim, nearest, farthest, outcome)


class TcpProbe:
    """Times TCP handshakes to a destination: the minimum of a few is the round trip.

    Active, so off unless the operator asks (``--rtt``): it sends packets to
    the server from the station, which a passive audit does not.
    """

    def __init__(self, attempts: int = 3, timeout: float = 2.0) -> None:
        self.attempts = attempts
        self.timeout = timeout

    def measure(self, ip: str, port: int) -> float | None:
        """The smallest handshake time in ms, or None when no handshake completed."""
        best: float | None = None
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        for _ in range(self.attempts):
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                start = time.perf_counter()
                try:
                    s.connect((ip, port))
                except ConnectionRefusedError:
                    pass  # a reset is an answer too: the host is that near
                except OSError:
                    continue
                took = (time.perf_counter() - start) * 1000
            best = took if best is None else min(best, took)
        return best


def parse_station(text: str | None) -> tuple[float, float]:
    """``"43.24,76.89"`` → (latitude, longitude); empty means Almaty."""
    if not text:
        return ALMATY
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise ValueError(f"station location {text!r} is not 'latitude,longitude'") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"station location {text!r} is out of range")
    return lat, lon
