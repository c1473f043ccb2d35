"""A private network namespace whose loopback also carries 'public' test-host addresses.

The namespace has no interface but ``lo`` and no route out, so a test server
bound to 223.5.5.5 in it is reachable from inside only, and nothing a test
sends can leave the machine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def namespace(addresses: Sequence[str]) -> Iterator[str]:
    name = f"shk-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    try:
        _ip("netns", "add", name)
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise RuntimeError(
            f"cannot create network namespace {name} (root and iproute2 are needed): {detail}"
        ) from e
    try:
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        for addr in addresses:
            _ip("netns", "exec", name, "ip", "addr", "add", f"{addr}/32", "dev", "lo")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def in_namespace(name: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", name, *argv]
