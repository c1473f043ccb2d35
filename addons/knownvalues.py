"""Pipeline stage 3b: the session vehicle's registered identifiers, in any encoding.

Runs after the pattern detectors and puts its hits first, so that when both
find the same field the finding says it was matched against the vehicle's
own data. Raw bytes (binary bodies, TCP frames) are scanned too, for BCD and
binary digests that no decoded tree shows.
"""

from __future__ import annotations

import logging

from mitmproxy import flow as mflow
from mitmproxy import http, tcp

from shekara.addons import state
from shekara.audit.drivetrack import DriveTrack
from shekara.audit.knownvalues import KnownValues
from shekara.audit.model import Hit

log = logging.getLogger(__name__)


class KnownValueDetection:
    def __init__(self, known: KnownValues, track: DriveTrack | None = None) -> None:
        self.known = known
        self.track = track

    def _scan(self, f: mflow.Flow, raw: bytes | None, source: str) -> None:
        a = state.current(f)
        if a is None:
            return
        hits: list[Hit] = []
        for doc in a.documents:
            hits.extend(self.known.hits(doc))
            if self.track:
                hits.extend(self.track.hits(doc))
        if raw and not hits:
            hit = self.known.bytes_hit(raw, source)
            if hit is not None:
                hits.append(hit)
        a.hits[:0] = hits

    def response(self, f: http.HTTPFlow) -> None:
        self._scan(f, f.request.get_content(strict=False), "request.body")

    def error(self, f: http.HTTPFlow) -> None:
        self._scan(f, f.request.get_content(strict=False), "request.body")

    def websocket_message(self, f: http.HTTPFlow) -> None:
        self._scan(f, None, "websocket")

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        msg = f.messages[-1] if f.messages else None
        raw = msg.content if msg is not None and msg.from_client else None
        self._scan(f, raw, "tcp")
