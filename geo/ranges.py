"""IP ranges mapped to labels, looked up by bisection: CDN edges and operator overrides.

Testing an address against each network in turn costs a microsecond a
network; disjoint integer intervals cost one bisection whatever the number
of ranges, which keeps the destination stage near the speed of the
database lookup itself.
"""

from __future__ import annotations

import bisect
import ipaddress
import itertools
import socket
from collections.abc import Iterable

#: An address as (IP version, integer value): parsed once, compared as integers.
Address = tuple[int, int]

# IANA special-purpose ranges that are not globally reachable (RFC 6890 and its
# registry): no country can be claimed for them. Kept as a table so that the
# check is one bisection; a test holds it equal to ``ipaddress``'s ``is_global``.
NOT_GLOBAL = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
)
# Exceptions inside 2001::/23 and 192.0.0.0/24 that are globally reachable.
GLOBAL_EXCEPTIONS = (
    "192.0.0.9/32",
    "192.0.0.10/32",
    "2001:1::1/128",
    "2001:1::2/128",
    "2001:3::/32",
    "2001:4:112::/48",
    "2001:20::/28",
    "2001:30::/28",
)


def parse(ip: str) -> Address | None:
    """(version, integer) of an IP address text, or None when it is not one."""
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, ip))
    except (OSError, ValueError):  # ValueError: text that cannot be encoded (surrogates)
        pass
    try:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, ip.split("%")[0]))
    except (OSError, ValueError):
        return None


def network_of(addr: Address, prefix: int) -> str:
    """The network text (``95.56.0.0/20``) of ``prefix`` bits around an address."""
    version, n = addr
    bits = 32 if version == 4 else 128
    prefix = max(0, min(prefix, bits))
    masked = n >> (bits - prefix) << (bits - prefix) if prefix else 0
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    return f"{socket.inet_ntop(family, masked.to_bytes(bits // 8))}/{prefix}"


class RangeMap[T]:
    """Labels by IP network; where networks nest, the narrowest one's label holds."""

    def __init__(self, entries: Iterable[tuple[str, T]] = ()) -> None:
        nets: list[tuple[int, int, int, T]] = []
        for cidr, label in entries:
            net = ipaddress.ip_network(cidr, strict=False)
            nets.append((net.version, int(net.network_address), int(net.broadcast_address), label))
        self.size = len(nets)
        self._tables: dict[int, tuple[list[int], list[tuple[int, T]]]] = {}
        for version in (4, 6):
            mine = [(s, e, lab) for v, s, e, lab in nets if v == version]
            self._tables[version] = _flatten(mine)

    def __len__(self) -> int:
        return self.size

    def get(self, addr: Address) -> T | None:
        version, n = addr
        starts, spans = self._tables[version]
        i = bisect.bisect_right(starts, n) - 1
        if i < 0:
            return None
        end, label = spans[i]
        return label if n <= end else None


def _flatten[T](nets: list[tuple[int, int, T]]) -> tuple[list[int], list[tuple[int, T]]]:
    """Disjoint (start, end, label) intervals, each with its narrowest covering network."""
    points = sorted({p for s, e, _ in nets for p in (s, e + 1)})
    starts: list[int] = []
    spans: list[tuple[int, T]] = []
    for lo, hi in itertools.pairwise(points):
        covering = [(e - s, label) for s, e, label in nets if s <= lo and hi - 1 <= e]
        if not covering:
            continue
        label = min(covering, key=lambda c: c[0])[1]
        if spans and spans[-1][0] == lo - 1 and spans[-1][1] is label:
            spans[-1] = (hi - 1, label)
        else:
            starts.append(lo)
            spans.append((hi - 1, label))
    return starts, spans


_SPECIAL: RangeMap[bool] = RangeMap(
    [(n, False) for n in NOT_GLOBAL] + [(n, True) for n in GLOBAL_EXCEPTIONS]
)


def is_global(addr: Address) -> bool:
    """Globally reachable: an address for which a country can be claimed."""
    version, n = addr
    if version == 6 and n >> 32 == 0xFFFF:
        return is_global((4, n & 0xFFFFFFFF))  # IPv4-mapped: as the IPv4 address
    return _SPECIAL.get(addr) is not False
