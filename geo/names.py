"""Hostname matching by suffix, and the name book: the names an IP was reached under.

The name book is fed by the device's own DNS answers (``addons.naming``), so a
destination seen only by its IP still shows the names the device asked for and
the CNAME chain that led there (a CDN or cloud provider often shows only in
that chain). It is pure and bounded: bytes never enter it, only names.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: How a name was learned, as recorded in the evidence.
DEVICE_DNS = "device-dns"
AUDIT_RESOLUTION = "audit-resolution"


def normalise_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


class SuffixMap[T]:
    """Labels for DNS names: ``example.com`` covers itself and every name under it.

    A pattern ``*.example.com`` covers only the names under it. The longest
    matching suffix wins.
    """

    def __init__(self, entries: Iterable[tuple[str, T]] = ()) -> None:
        self._exact: dict[str, T] = {}
        self._under: dict[str, T] = {}
        for pattern, label in entries:
            p = normalise_name(pattern)
            if p.startswith("*."):
                self._under.setdefault(p[2:], label)
            else:
                self._exact.setdefault(p, label)
                self._under.setdefault(p, label)

    def __len__(self) -> int:
        return len(self._exact) + len(self._under)

    def get(self, name: str) -> tuple[str, T] | None:
        """(the pattern's suffix, its label) for the longest suffix of ``name`` known."""
        n = normalise_name(name)
        if n in self._exact:
            return n, self._exact[n]
        i = n.find(".")
        while i >= 0:
            suffix = n[i + 1 :]
            if suffix in self._under:
                return suffix, self._under[suffix]
            i = n.find(".", i + 1)
        return None


@dataclass(frozen=True, slots=True)
class NameRecord:
    """One name an IP was reached under: how it was learned and the chain that led to it."""

    name: str
    how: str
    chain: tuple[str, ...]  # the CNAME chain from ``name`` to the record's owner, inclusive
    seen_at: float


class NameBook:
    """IP → names, from DNS answers; bounded (least recently learned IPs go first)."""

    def __init__(self, max_ips: int = 100_000, max_names_per_ip: int = 16) -> None:
        self.max_ips = max_ips
        self.max_names_per_ip = max_names_per_ip
        self._by_ip: OrderedDict[str, dict[str, NameRecord]] = OrderedDict()
        self._lock = threading.Lock()
        #: Bumped on every change, so cached destinations know when to look again.
        self.version = 0

    def learn(
        self,
        cnames: Mapping[str, str],
        addresses: Iterable[tuple[str, str]],
        how: str = DEVICE_DNS,
        seen_at: float = 0.0,
    ) -> int:
        """Record one DNS answer: ``cnames`` alias → target, ``addresses`` (owner, ip).

        Each address is filed under its owner and under every alias whose
        CNAME chain ends at that owner. Returns how many (ip, name) pairs are new.
        """
        targets = {normalise_name(a): normalise_name(t) for a, t in cnames.items()}
        new = 0
        with self._lock:
            for owner, ip in addresses:
                owner_n = normalise_name(owner)
                for alias, chain in _chains_to(owner_n, targets):
                    new += self._add(ip, NameRecord(alias, how, chain, seen_at))
            if new:
                self.version += 1
        return new

    def _add(self, ip: str, rec: NameRecord) -> int:
        names = self._by_ip.get(ip)
        if names is None:
            names = self._by_ip[ip] = {}
            while len(self._by_ip) > self.max_ips:
                self._by_ip.popitem(last=False)
        else:
            self._by_ip.move_to_end(ip)
        if rec.name in names or len(names) >= self.max_names_per_ip:
            return 0
        names[rec.name] = rec
        return 1

    def names(self, ip: str) -> tuple[NameRecord, ...]:
        with self._lock:
            got = self._by_ip.get(ip)
            return tuple(got.values()) if got else ()

    def __len__(self) -> int:
        return len(self._by_ip)


def _chains_to(owner: str, targets: Mapping[str, str]) -> list[tuple[str, tuple[str, ...]]]:
    """Every name whose CNAME chain ends at ``owner``, with the chain (owner itself included)."""
    out: list[tuple[str, tuple[str, ...]]] = [(owner, (owner,))]
    for alias in targets:
        chain = [alias]
        seen = {alias}
        cur = alias
        while cur in targets and len(chain) < 16:
            cur = targets[cur]
            if cur in seen:
                break  # a CNAME loop: no chain
            chain.append(cur)
            seen.add(cur)
        if cur == owner and alias != owner:
            out.append((alias, tuple(chain)))
    return out
