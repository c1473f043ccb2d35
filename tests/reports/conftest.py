"""Stores for the report tests: the sample capture replayed, and sessions made by hand."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from shekara.evidence import schema
from shekara.evidence.store import FindingStore
from shekara.proxy import pipeline, replay

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "captures" / "sample.mitm"
MANIFEST = ROOT / "captures" / "sample.manifest.json"
# Every letter of the Kazakh alphabet that Russian lacks.
KAZAKH_LETTERS = "әғқңөұүһі"


def replay_sample(url: str, home: Path) -> tuple[FindingStore, int]:
    """Replay the sample capture into the store at ``url`` as one closed, signed run."""
    ctx = pipeline.build(
        url,
        "replay",
        capture=str(SAMPLE),
        capture_sha256=replay.sha256_file(SAMPLE),
        home=home,
    )
    result = replay.replay(SAMPLE, ctx.addons)
    ctx.close(result.flows, "completed", result.error)
    return ctx.store, ctx.run_id


def describe_session(
    store: FindingStore,
    run_id: int,
    *,
    make: str,
    model: str,
    vin_preview: str,
    firmware: str,
    scenario: str,
) -> None:
    """What the engineer records when starting a session: the vehicle, firmware and scenario."""
    with store.engine.begin() as conn:
        vehicle_id = conn.execute(
            schema.vehicles.insert().values(
                vin_hash="f" * 64,
                vin_preview=vin_preview,
                make=make,
                model=model,
                created_at=time.time(),
            )
        ).inserted_primary_key[0]
        conn.execute(
            update(schema.runs)
            .where(schema.runs.c.id == run_id)
            .values(vehicle_id=vehicle_id, firmware=firmware, scenario=scenario)
        )


def manifest_transfers() -> Counter[tuple[str, str]]:
    """(category, country) -> cross-border transfers the sample manifest expects."""
    flows = json.loads(MANIFEST.read_text())["flows"].values()
    return Counter(
        (hit["category"], flow["country"])
        for flow in flows
        for hit in flow["findings"]
        if hit["violation"] and hit["category"] != "remote_control"
    )


@pytest.fixture(scope="module")
def sample_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FindingStore, int]]:
    """A SQLite store with the sample capture replayed, shared by a module's tests."""
    folder = tmp_path_factory.mktemp("sample")
    store, run_id = replay_sample(f"sqlite:///{folder / 'store.db'}", folder / "home")
    describe_session(
        store,
        run_id,
        make="JAC",
        model=f"JS4 {KAZAKH_LETTERS.upper()}{KAZAKH_LETTERS}",
        vin_preview="LGX************05",
        firmware="TBOX 3.2.1",
        scenario="Алматы → Қапшағай, навигация қосулы",
    )
    yield store, run_id
    store.dispose()
