"""Fail open: an analysis stage that raises never touches the device's traffic.

mitmproxy already logs an addon's exception and forwards the flow, but says
nothing about the flow's evidence. Each analysis stage is wrapped so that its
exception is counted per stage, logged (with the traceback the first time,
then every thousandth), the flow is marked not analysed, and a note records
the failure with the flow, so that a missing finding is never silent.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from mitmproxy import exceptions
from mitmproxy import flow as mflow

from shekara.addons import state
from shekara.audit.model import Note

log = logging.getLogger(__name__)

#: flow.metadata key: the stage and error that left the flow (partly) unanalysed.
NOT_ANALYSED_KEY = "shekara.not_analysed"
#: Hooks that configure the stage rather than analyse a flow: their errors must surface.
_LIFECYCLE = frozenset({"load", "configure", "running", "done"})


class Failures:
    """Analysis failures per stage, shared by the guards of one pipeline."""

    def __init__(self) -> None:
        self.by_stage: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_stage.values())


class Guarded:
    """Wraps one stage; mitmproxy sees the stage's hooks under the stage's own name.

    The wrapped hooks are instance attributes made once, so that mitmproxy's
    ``getattr(addon, hook, None)`` for every event and addon stays a plain
    attribute lookup.
    """

    def __init__(self, stage: object, failures: Failures) -> None:
        self.stage = stage
        self.failures = failures
        self.name = type(stage).__name__.lower()
        for attr in dir(type(stage)):
            if attr.startswith("_") or attr in ("name", "stage", "failures"):
                continue
            target = getattr(stage, attr)
            if not callable(target):
                continue
            setattr(self, attr, target if attr in _LIFECYCLE else self._guard(attr, target))

    def _guard(self, hook: str, target: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any) -> Any:
            try:
                return target(*args)
            except (exceptions.AddonHalt, exceptions.OptionsError):
                raise
            except Exception as e:
                self._failed(hook, e, args[0] if args else None)
                return None

        return guarded

    def _failed(self, hook: str, e: Exception, subject: object) -> None:
        self.failures.by_stage[self.name] += 1
        n = self.failures.by_stage[self.name]
        if n == 1 or n % 1000 == 0:
            log.error(
                "analysis stage %s failed in %s (%d so far); the traffic is forwarded unanalysed",
                self.name,
                hook,
                n,
                exc_info=e if n == 1 else None,
            )
        if not isinstance(subject, mflow.Flow):
            return
        reason = f"{self.name}.{hook}: {type(e).__name__}: {e}"
        subject.metadata[NOT_ANALYSED_KEY] = reason
        try:
            a = state.current(subject) or state.begin(subject, time.time())
            a.notes.append(
                Note(
                    subject.id,
                    "analysis",
                    f"not analysed: {reason}",
                    state.destination(subject),
                    a.observed_at,
                )
            )
        except Exception:
            log.exception("could not record the failure of %s", self.name)
