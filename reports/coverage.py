"""The decryption coverage of a run, from the connection records the proxy kept.

A live session and a replayed packet capture (pcap, pcapng) keep connection
records. A replayed flow file or HAR has none: its coverage is "not
measured", never a silent 100%.
"""

from __future__ import annotations

from sqlalchemy import func, select

from shekara.evidence import schema
from shekara.evidence.store import FindingStore
from shekara.reports.facts import MAX_HOSTS, Coverage, HostBytes, clean


def from_connections(store: FindingStore, run_id: int) -> Coverage | None:
    """Connections read and not read, with the reasons for the latter, and the share of
    bytes read per session and per server (``FindingStore.coverage``, the figures
    ``/sessions/{id}/coverage`` gives); None without records."""
    c = schema.connections.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(c.content, c.reason, func.count())
            .where(c.run_id == run_id)
            .group_by(c.content, c.reason)
        ).all()
    if not rows:
        return None
    counted = [(str(r[0]), r[1], int(r[2])) for r in rows]
    read = sum(n for content, _, n in counted if content == "read")
    reasons: dict[str, int] = {}
    for content, reason, n in counted:
        if content != "read":
            key = str(reason) if reason else "content undetermined"
            reasons[key] = reasons.get(key, 0) + n
    not_read = sum(reasons.values())
    ordered = tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    whole, per_host = store.coverage(run_id)
    return Coverage(
        flows=read + not_read,
        decrypted=read,
        not_decrypted=not_read,
        reasons=ordered,
        bytes_total=whole.bytes_total,
        bytes_read=whole.bytes_read,
        hosts=tuple(
            HostBytes(
                None if h.host is None else clean(h.host),
                h.bytes_total,
                h.bytes_read,
                h.connections,
            )
            for h in per_host[:MAX_HOSTS]
        ),
        hosts_total=len(per_host),
    )
