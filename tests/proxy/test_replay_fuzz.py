"""Mutated pcap, pcapng and HAR captures: a result or a clear error, never a crash or a hang."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shekara.proxy import pipeline, replay
from tests.proxy import pcapgen
from tests.proxy.inprocess import HOME
from tests.proxy.test_har_replay import har_document

PKTS = pcapgen.capture_packets(pcapgen.standard_conversations())


def _bytes_of(kind: str, tmp: Path) -> bytes:
    if kind == "har":
        return json.dumps(har_document()).encode()
    return pcapgen.write_pcap(tmp / f"seed.{kind}", PKTS, ng=kind == "pcapng").read_bytes()


@st.composite
def mutations(draw: st.DrawFn, size: int) -> list[tuple[str, int, bytes]]:
    """A few edits: cut the file, overwrite bytes (often with huge length fields), insert."""
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "overwrite", "insert", "huge"]))
        at = draw(st.integers(0, max(size - 1, 0)))
        data = draw(st.binary(min_size=1, max_size=8))
        edits.append((kind, at, data))
    return edits


def _apply(seed: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for kind, at, blob in edits:
        at = min(at, len(data))
        if kind == "cut":
            del data[at:]
        elif kind == "overwrite":
            data[at : at + len(blob)] = blob
        elif kind == "insert":
            data[at:at] = blob
        else:
            data[at : at + 4] = b"\xff\xff\xff\x7f"
    return bytes(data)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pipeline.Context]:
    tmp = tmp_path_factory.mktemp("fuzz")
    # With the connection stages a packet capture's replay runs through.
    c = pipeline.build(f"sqlite:///{tmp / 'f.db'}", "replay", home=HOME["path"], connections=True)
    yield c
    c.close(0, "completed")


@pytest.mark.parametrize("kind", ["pcap", "pcapng", "har"])
@pytest.mark.timeout(240)
def test_mutated_captures_end_cleanly(
    kind: str, ctx: pipeline.Context, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp(kind)
    seed = _bytes_of(kind, tmp)
    target = tmp / f"mutated.{kind}"

    @settings(
        max_examples=80,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(mutations(len(seed)))
    def check(edits: list[tuple[str, int, bytes]]) -> None:
        target.write_bytes(_apply(seed, edits))
        result = replay.replay(target, ctx.addons, remark=ctx.remark)
        assert result.flows >= 0
        if result.error is not None:
            assert str(target) in result.error and "byte" in result.error, result.error

    check()
