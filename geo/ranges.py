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
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


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

    def get(self, ip: Address) -> T | None:
        starts, spans = self._tables[ip.version]
        n = int(ip)
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
