"""Operator overrides from a ruleset: ranges and names verified to be hosted in one country."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from shekara.geo.names import SuffixMap
from shekara.geo.ranges import Address, RangeMap
from shekara.rulesets.schema import Override


class OverrideIndex:
    """Finds the overrides covering an address or any of a destination's names."""

    def __init__(self, overrides: Sequence[Override] = ()) -> None:
        self.overrides = tuple(overrides)
        self._ranges: RangeMap[Override] = RangeMap(
            (str(n), o) for o in self.overrides for n in o.networks
        )
        self._names: SuffixMap[Override] = SuffixMap(
            (h, o) for o in self.overrides for h in o.hosts
        )

    def __bool__(self) -> bool:
        return bool(self.overrides)

    def by_address(self, addr: Address | None) -> Override | None:
        return self._ranges.get(addr) if addr is not None else None

    def by_names(self, names: Iterable[str]) -> list[tuple[str, Override]]:
        """(name, override) for every name an override covers."""
        out = []
        for name in names:
            got = self._names.get(name)
            if got is not None:
                out.append((name, got[1]))
        return out


def override_evidence(o: Override, matched_by: str, today: dt.date | None = None) -> dict[str, Any]:
    expired = o.expires_on is not None and (today or dt.date.today()) > o.expires_on
    return {
        "kind": "override",
        "source": f"override {o.id}",
        "country": o.country,
        "matched_by": matched_by,
        "title": o.title,
        "verified_by": o.verified_by,
        "verified_on": o.verified_on.isoformat(),
        "how": o.how,
        "expires_on": o.expires_on.isoformat() if o.expires_on else None,
        "expired": expired,
    }
