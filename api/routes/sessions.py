"""``GET /sessions/{run_id}/coverage``: how much of a test session the evidence covers.

Three figures, because "no transfer observed" must never read as "no
transfer": the share of bytes whose content was read (the rest went out
encrypted, content undetermined), the share of connections whose destination
was attributed with high confidence, and the paths the audit Wi-Fi cannot see.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from shekara.api.deps import StoreDep
from shekara.api.schemas import HostCoveragePublic, MarkerPublic, SessionCoveragePublic

router = APIRouter(prefix="/sessions", tags=["sessions"])

#: What a session on the audit Wi-Fi never shows, whatever its figures.
NOT_OBSERVED = (
    "traffic of units with their own mobile connection (a telematics unit's SIM), "
    "which never touches the audit Wi-Fi",
    "traffic relayed by a paired phone over Bluetooth or its own mobile data",
    "UDP other than DNS (QUIC is refused so that apps fall back to TLS over TCP)",
)


@router.get("/{run_id}/coverage", response_model=SessionCoveragePublic)
def session_coverage(
    store: StoreDep, run_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> SessionCoveragePublic:
    """Decryption coverage per session and per host, attribution confidence, markers."""
    if store.get_run(run_id) is None:
        raise HTTPException(status_code=404, detail=f"no run {run_id}")
    whole, per_host = store.coverage(run_id)
    high, total = store.attributed_share(run_id)
    return SessionCoveragePublic(
        run_id=run_id,
        bytes_total=whole.bytes_total,
        bytes_read=whole.bytes_read,
        share_read=whole.share_read,
        connections=whole.connections,
        undetermined_connections=whole.undetermined_connections,
        share_attributed_high=high / total if total else None,
        hosts=[HostCoveragePublic.from_coverage(c) for c in per_host],
        markers=[MarkerPublic.at_epoch(at, label) for at, label in store.markers(run_id)],
        not_observed=list(NOT_OBSERVED),
    )
