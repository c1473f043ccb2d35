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
        a.destination = state.destination(f)
        findings, a.notes = self.judge.judge_all(
            a.hits, a.destination, f.id, a.observed_at, time.time(), a.notes
        )
        a.findings.extend(findings)

    def response(self, f: mflow.Flow) -> None:
        self._judge(f)

    def error(self, f: mflow.Flow) -> None:
        self._judge(f)

    def websocket_message(self, f: mflow.Flow) -> None:
        self._judge(f)

    def tcp_message(self, f: mflow.Flow) -> None:
        self._judge(f)

    def udp_message(self, f: mflow.Flow) -> None:
        self._judge(f)
