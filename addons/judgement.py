"""Pipeline stage 4: each hit judged against its destination under the ruleset."""

from __future__ import annotations

import time

from mitmproxy import flow as mflow

from shekara.addons import state
from shekara.audit.verdict import Judge


class Judgement:
    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    def _judge(self, f: mflow.Flow) -> None:
        a = state.current(f)
        if a is None or not a.hits:
            return
        now = time.time()
        a.destination = state.destination(f)
        seen: set[tuple[str, str]] = set()
        for hit in a.hits:
            key = (hit.field.locator, hit.category.value)
            if key in seen:
                continue
            seen.add(key)
            a.findings.append(self.judge.judge(hit, a.destination, f.id, a.observed_at, now))

    def response(self, f: mflow.Flow) -> None:
        self._judge(f)

    def error(self, f: mflow.Flow) -> None:
        self._judge(f)

    def websocket_message(self, f: mflow.Flow) -> None:
        self._judge(f)

    def tcp_message(self, f: mflow.Flow) -> None:
        self._judge(f)
