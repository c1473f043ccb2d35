"""Pipeline stage 3: personal-data hits in the decoded documents."""

from __future__ import annotations

import logging

from mitmproxy import flow as mflow

from shekara.addons import state
from shekara.audit.detectors import detect
from shekara.audit.model import Note

log = logging.getLogger(__name__)


class Detection:
    def _detect(self, f: mflow.Flow) -> None:
        a = state.current(f)
        if a is None:
            return
        for doc in a.documents:
            try:
                a.hits.extend(detect(doc))
            except Exception as e:
                log.exception("detection failed for flow %s in %s", f.id, doc.source)
                a.notes.append(
                    Note(
                        f.id,
                        doc.source,
                        f"detector error: {type(e).__name__}: {e}",
                        a.destination,
                        a.observed_at,
                    )
                )

    def response(self, f: mflow.Flow) -> None:
        self._detect(f)

    def error(self, f: mflow.Flow) -> None:
        self._detect(f)

    def websocket_message(self, f: mflow.Flow) -> None:
        self._detect(f)

    def tcp_message(self, f: mflow.Flow) -> None:
        self._detect(f)

    def udp_message(self, f: mflow.Flow) -> None:
        self._detect(f)
