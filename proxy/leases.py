"""Which device holds an address: the audit Wi-Fi's DHCP leases (dnsmasq's lease file).

A car on the audit Wi-Fi is several clients: the telematics unit, the
infotainment unit, the driver's phone. Each connection record names the
client by address, and by the MAC address and DHCP host name its lease gives,
so that findings of the telematics unit read apart from those of a phone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: How often the lease file's modification time is looked at, at most.
RECHECK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Lease:
    mac: str
    hostname: str | None


def parse_leases(text: str) -> dict[str, Lease]:
    """dnsmasq lease lines ``<expiry> <mac> <ip> <hostname|*> <client-id|*>`` by IP.

    Malformed lines are skipped: a lease file being rewritten must not stop the proxy.
    """
    leases: dict[str, Lease] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] == "duid" or not parts[0].isdigit():
            continue
        mac, ip, hostname = parts[1].lower(), parts[2], parts[3]
        if mac.count(":") != 5:
            continue
        leases[ip] = Lease(mac, None if hostname == "*" else hostname)
    return leases


class LeaseBook:
    """The lease file, read again when it changes; ``None`` path: no attribution."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._leases: dict[str, Lease] = {}
        self._mtime: float | None = None
        self._checked = 0.0

    def lookup(self, ip: str | None) -> Lease | None:
        if self.path is None or ip is None:
            return None
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            self._reload()
        return self._leases.get(ip)

    def _reload(self) -> None:
        assert self.path is not None
        try:
            mtime = self.path.stat().st_mtime
            if mtime == self._mtime:
                return
            self._leases = parse_leases(self.path.read_text(errors="replace"))
            self._mtime = mtime
        except OSError as e:
            log.warning("cannot read the DHCP leases %s: %s", self.path, e)
