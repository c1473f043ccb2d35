"""Per-connection traffic records: bytes to where, read or of undetermined content.

Findings say *what* left the country; connection records say how much went
where and whether the proxy could read it. A pinned telematics unit shows up
here as bytes to a foreign host of undetermined content, which is what keeps
"nothing found" from reading as "nothing sent". Decryption coverage rests on
them, so they take the findings' durable path: the live proxy spools them
(``shekara.evidence.spool``) with the findings of the event that ended the
connection, and the drain stores them once each, by run and flow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

READ = "read"
UNDETERMINED = "undetermined"


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """One connection as the proxy saw it; ``content`` is "read" or "undetermined"."""

    flow_id: str
    transport: str
    content: str
    started_at: float
    ended_at: float | None = None
    reason: str | None = None
    client_ip: str | None = None
    client_mac: str | None = None
    client_name: str | None = None
    host: str | None = None
    sni: str | None = None
    ip: str | None = None
    port: int | None = None
    country: str | None = None
    geo_confidence: str | None = None
    bytes_up: int = 0
    bytes_down: int = 0
    alpn: str | None = None
    ja3: str | None = None
    ja3_md5: str | None = None
    ja4: str | None = None

    def to_row(self, run_id: int) -> dict[str, Any]:
        row = asdict(self)
        row["run_id"] = run_id
        if row["host"]:
            row["host"] = row["host"].lower()
        if row["country"]:
            row["country"] = row["country"].upper()
        return row


@dataclass(frozen=True, slots=True)
class Coverage:
    """Share of a run's bytes whose content the proxy could read."""

    host: str | None
    bytes_total: int
    bytes_read: int
    connections: int
    undetermined_connections: int

    @property
    def share_read(self) -> float | None:
        """None when no byte was seen: unknown coverage is not full coverage."""
        return self.bytes_read / self.bytes_total if self.bytes_total else None


@dataclass(frozen=True, slots=True)
class Attribution:
    """How many of a run's flows went to a destination attributed with high confidence.

    ``basis`` says what was counted: "connections" (every connection record of
    a live session or a packet capture's replay) or "flows with findings" (a
    replay of a flow file or HAR keeps no connection records; only the flows
    that gave a finding or a note are known, each judged by the run's
    geolocation evidence for its destination).
    """

    high: int
    total: int
    basis: Literal["connections", "flows with findings"]

    @property
    def share_high(self) -> float | None:
        return self.high / self.total if self.total else None


#: What a session on the audit Wi-Fi never shows, whatever its figures: "no transfer
#: observed" must never read as "no transfer". The report translates these very texts.
NOT_OBSERVED = (
    "traffic of units with their own mobile connection (a telematics unit's SIM), "
    "which never touches the audit Wi-Fi",
    "traffic relayed by a paired phone over Bluetooth or its own mobile data",
    "UDP other than DNS (QUIC is refused so that apps fall back to TLS over TCP)",
)
