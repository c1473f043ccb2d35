"""Replays a saved mitmproxy capture through the same addons the live proxy runs.

The flows go through mitmproxy's own AddonManager, event by event as
``eventsequence`` yields them, but without the proxy's network machinery: a
stored flow needs analysing, not proxying. A damaged file stops the replay
with the position reached; findings from the flows before it are kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import eventsequence, exceptions, io, master, options

log = logging.getLogger(__name__)


class CaptureError(Exception):
    """A capture that cannot be read to its end."""


@dataclass
class ReplayResult:
    flows: int
    error: str | None = None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


async def _replay(path: Path, addons: list[object], opts: dict[str, object]) -> ReplayResult:
    m = master.Master(options.Options(), with_termlog=False)
    m.addons.add(*addons)
    if opts:
        m.options.update(**opts)
    flows = 0
    offset = 0
    error: str | None = None
    try:
        with path.open("rb") as fh:
            reader = io.FlowReader(fh)
            stream = iter(reader.stream())
            while True:
                offset = fh.tell()
                try:
                    f = next(stream)
                except StopIteration:
                    break
                except exceptions.FlowReadException:
                    raise
                except Exception as e:  # a well-formed record that is not a flow
                    raise exceptions.FlowReadException(f"{type(e).__name__}: {e}") from e
                for event in eventsequence.iterate(f):
                    m.addons.trigger(event)
                flows += 1
    except exceptions.FlowReadException as e:
        error = f"{path}: damaged capture: read {flows} flows, stopped at byte {offset}: {e}"
    except OSError as e:
        error = f"{path}: cannot read: {e}"
    m.addons.trigger(_done_hook())
    return ReplayResult(flows, error)


def _done_hook():  # type: ignore[no-untyped-def]
    from mitmproxy.hooks import DoneHook

    return DoneHook()


def replay(path: Path, addons: list[object], opts: dict[str, object] | None = None) -> ReplayResult:
    return asyncio.run(_replay(path, addons, opts or {}))
