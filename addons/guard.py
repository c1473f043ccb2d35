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


class Stages:
    """The guarded analysis stages as one mitmproxy addon, run in order for each event.

    mitmproxy dispatches every event to every addon (a coroutine per addon and
    event, whether it has the hook or not); one addon for the whole chain
    keeps that cost from growing with the number of stages. Lifecycle hooks
    (``load``, ``configure``, ``running``, ``done``) reach every stage as they
    would as separate addons, errors included.
    """

    name = "shekara"

    def __init__(self, stages: list[object], failures: Failures) -> None:
        self.failures = failures
        self.stages = [Guarded(s, failures) for s in stages]
        events = _event_names()
        chains: dict[str, list[Callable[..., Any]]] = {}
        for g in self.stages:
            for attr, value in vars(g).items():
                if attr in events and attr not in _LIFECYCLE and callable(value):
                    chains.setdefault(attr, []).append(value)
        for event, hooks in chains.items():
            setattr(self, event, _chain(hooks))

    def get(self, name: str) -> object:
        """The stage called ``name`` (its class name in lower case)."""
        for g in self.stages:
            if g.name == name:
                return g.stage
        raise KeyError(name)

    def load(self, loader: Any) -> None:
        for g in self.stages:
            if hasattr(g.stage, "load"):
                g.stage.load(loader)

    def configure(self, updated: set[str]) -> None:
        for g in self.stages:
            if hasattr(g.stage, "configure"):
                g.stage.configure(updated)

    def running(self) -> None:
        for g in self.stages:
            if hasattr(g.stage, "running"):
                g.stage.running()

    def done(self) -> None:
        for g in self.stages:
            if hasattr(g.stage, "done"):
                g.stage.done()


def _chain(hooks: list[Callable[..., Any]]) -> Callable[..., None]:
    if len(hooks) == 1:
        return hooks[0]

    def run_all(*args: Any) -> None:
        for hook in hooks:
            hook(*args)

    return run_all


def _event_names() -> frozenset[str]:
    # Importing the layers registers every event mitmproxy has (hooks.all_hooks).
    import mitmproxy.addons.next_layer
    import mitmproxy.proxy.layers
    import mitmproxy.proxy.server_hooks  # noqa: F401
    from mitmproxy import hooks

    return frozenset(hooks.all_hooks)
