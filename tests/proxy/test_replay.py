"""Replaying the bundled captures gives their manifests; damaged files keep what was read."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shekara.audit.model import Category
from shekara.audit.redact import mask_known, preview
from shekara.evidence.store import FindingStore
from shekara.proxy import pipeline, replay

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
SHEKARA = str(Path(sys.executable).with_name("shekara"))


def manifest(name: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return json.loads((CAPTURES / f"{name}.manifest.json").read_text())["flows"]


def stored_locator(field: str, flow: dict) -> str:  # type: ignore[type-arg]
    """A manifest locator as the store keeps it: detected values inside it masked."""
    secrets = {
        f["value"]: preview(Category(f["category"]), f["value"])
        for f in flow["findings"]
        if isinstance(f["value"], str) and len(f["value"]) >= 6
    }
    return mask_known(field, secrets)


def expected_findings(flows: dict[str, dict]) -> set[tuple[str, str, str, bool]]:  # type: ignore[type-arg]
    return {
        (fid, f["category"], stored_locator(f["field"], flow), f["violation"])
        for fid, flow in flows.items()
        for f in flow["findings"]
    }


def expected_notes(flows: dict[str, dict]) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(fid, n["source"]) for fid, flow in flows.items() for n in flow["notes"]}


def run_replay(path: Path, tmp_path: Path) -> tuple[FindingStore, int, replay.ReplayResult]:
    ctx = pipeline.build(f"sqlite:///{tmp_path / 'r.db'}", "replay", home=tmp_path / "home")
    result = replay.replay(path, ctx.addons)
    ctx.close(result.flows, "failed" if result.error else "completed", result.error)
    return ctx.store, ctx.run_id, result


@pytest.mark.parametrize("name", ["sample", "labelled"])
def test_replay_matches_manifest(name: str, tmp_path: Path) -> None:
    flows = manifest(name)
    store, run_id, result = run_replay(CAPTURES / f"{name}.mitm", tmp_path)
    assert result.error is None and result.flows == len(flows)
    got = {
        (s.finding.flow_id, s.finding.category.value, s.finding.field, s.finding.violation)
        for s in store.query_findings(run_id=run_id, limit=10_000)
    }
    assert got == expected_findings(flows)
    notes = {
        (n.note.flow_id, n.note.source) for n in store.query_notes(run_id=run_id, limit=10_000)
    }
    assert expected_notes(flows) <= notes
    # Every other note is an opaque payload, never a decoder crash.
    for n in store.query_notes(run_id=run_id, limit=10_000):
        assert "error" not in n.note.reason, n.note.reason
    for s in store.query_findings(run_id=run_id, limit=10_000):
        flow = flows[s.finding.flow_id]
        d = s.finding.destination
        assert (d.ip, d.country) == (flow["ip"], flow["country"])
        if flow["country"]:
            assert (d.geo_source, d.geo_build) == ("GeoLite2-City (embedded)", "2019-12-24")


def test_cli_jsonl_carries_only_findings(tmp_path: Path) -> None:
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [
            SHEKARA,
            "replay",
            str(CAPTURES / "sample.mitm"),
            "--format",
            "jsonl",
            "--db",
            f"sqlite:///{tmp_path / 'j.db'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    required = {"flow_id", "category", "field", "host", "ip", "country", "violation", "rule"}
    assert all(required <= r.keys() for r in rows)
    got = {(r["flow_id"], r["category"], r["field"], r["violation"]) for r in rows}
    assert got == expected_findings(manifest("sample"))
    assert f"{len(manifest('sample'))} flows" in proc.stderr
    # No planted plain value reaches the output.
    planted = [
        f["value"]
        for fl in manifest("sample").values()
        for f in fl["findings"]
        if f["category"] != "remote_control"  # a command name is not personal data
    ]
    for value in planted:
        if isinstance(value, str) and len(value) >= 8:
            assert value not in proc.stdout


def test_cli_table(tmp_path: Path) -> None:
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [
            SHEKARA,
            "replay",
            str(CAPTURES / "sample.mitm"),
            "--db",
            f"sqlite:///{tmp_path / 't.db'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["COUNTRY", "HOST", "CATEGORY", "COUNT"]
    countries = {line.split()[0] for line in lines[2:]}
    assert countries == {"CN", "DE", "RU"}  # KZ and the private address are no violations


def _flow_offsets(path: Path) -> list[int]:
    """Byte offsets where each flow record starts, found by reading the file as mitmproxy does."""
    from mitmproxy.io import tnetstring

    offsets = []
    with path.open("rb") as fh:
        while True:
            pos = fh.tell()
            if not fh.read(1):
                return offsets
            fh.seek(pos)
            tnetstring.load(fh)
            offsets.append(pos)


@pytest.mark.parametrize("cut_flow, extra", [(0, 0), (10, 7), (20, 200), (36, 1)])
def test_truncated_capture_keeps_earlier_findings(
    cut_flow: int, extra: int, tmp_path: Path
) -> None:
    src = CAPTURES / "sample.mitm"
    offsets = _flow_offsets(src)
    cut = offsets[cut_flow] + extra
    damaged = tmp_path / "damaged.mitm"
    damaged.write_bytes(src.read_bytes()[:cut])
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    db = tmp_path / "d.db"
    proc = subprocess.run(
        [SHEKARA, "replay", str(damaged), "--format", "jsonl", "--db", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if extra == 0:  # cut exactly on a record boundary: a shorter, valid capture
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode == 2, proc.stderr
        assert str(damaged) in proc.stderr
        assert f"read {cut_flow} flows, stopped at byte {offsets[cut_flow]}" in proc.stderr
    flows = manifest("sample")
    kept_ids = list(flows)[:cut_flow]
    store = FindingStore(f"sqlite:///{db}")
    got = {
        (s.finding.flow_id, s.finding.category.value, s.finding.field, s.finding.violation)
        for s in store.query_findings(limit=10_000)
    }
    assert got == expected_findings({k: flows[k] for k in kept_ids})
    [run] = [store.get_run(1)]
    assert run is not None and run.flows_read == cut_flow


@pytest.mark.parametrize(
    "content",
    [b"garbage that is not a capture", b"99999999999:", b"5:hello,", b"\x00\x01\x02" * 100],
)
def test_corrupt_capture_is_a_clear_error(content: bytes, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mitm"
    bad.write_bytes(content)
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [SHEKARA, "replay", str(bad), "--db", f"sqlite:///{tmp_path / 'b.db'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"{bad}: damaged capture: read 0 flows, stopped at byte 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_corrupted_bytes_inside_a_flow(tmp_path: Path) -> None:
    """Flip bytes in the middle of the file: an error or a clean read, never a crash."""
    src = (CAPTURES / "sample.mitm").read_bytes()
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    damaged = []
    for i, pos in enumerate(range(1000, len(src), len(src) // 12)):
        data = bytearray(src)
        data[pos : pos + 4] = b"\xff:{]"
        bad = tmp_path / f"flip{i}.mitm"
        bad.write_bytes(bytes(data))
        damaged.append(str(bad))
    # One replay of them all: each capture is read on its own, its damage reported.
    proc = subprocess.run(
        [SHEKARA, "replay", *damaged, "--db", f"sqlite:///{tmp_path / 'f.db'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(damaged) >= 12
    lines = proc.stderr.splitlines()
    for path in damaged:
        # Each capture gets its own line: its damage, or what was read.
        said = [line for line in lines if line.startswith(f"{path}: ")]
        assert said, f"nothing said of {path}"
        assert any(
            "damaged capture" in line or "cross-border transfers observed" in line for line in said
        ), said


def test_missing_capture(tmp_path: Path) -> None:
    proc = subprocess.run(
        [SHEKARA, "replay", str(tmp_path / "nope.mitm"), "--db", f"sqlite:///{tmp_path / 'n.db'}"],
        capture_output=True,
        text=True,
        env={**os.environ, "SHEKARA_HOME": str(tmp_path)},
        timeout=60,
    )
    assert proc.returncode == 1 and "no such capture file" in proc.stderr


def test_operator_geoip_setting_changes_the_country(tmp_path: Path) -> None:
    """SHEKARA_GEOIP names a newer database; disagreeing with the embedded one, it is a dispute."""
    from tests.geo.conftest import write_city

    db = write_city(tmp_path / "newer.mmdb", {"223.5.5.0/24": ("KZ", "Almaty")})
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home"), "SHEKARA_GEOIP": str(db)}
    proc = subprocess.run(
        [
            SHEKARA,
            "replay",
            str(CAPTURES / "sample.mitm"),
            "--format",
            "jsonl",
            "--db",
            f"sqlite:///{tmp_path / 'g.db'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    moved = [r for r in rows if r["ip"] == "223.5.5.5"]
    # The newer database says KZ, the embedded one CN: no silent pick, no violation claimed.
    assert moved and all(r["country"] is None and not r["violation"] for r in moved)
    assert all(r["verdict"] == "disputed" for r in moved)
    assert all(
        r["geo_source"] == "disputed: GeoLite2-City (newer.mmdb)=KZ, GeoLite2-City (embedded)=CN"
        for r in moved
    )
    # Shown apart after the summary, so nobody reads the dispute as a firm verdict.
    assert "geolocation to check" in proc.stderr
    assert "tsp.example-cn-oem.cn 223.5.5.5: ??, disputed" in proc.stderr
    others = [r for r in rows if r["ip"] == "88.198.0.1"]
    assert others and all(r["geo_source"] == "GeoLite2-City (embedded)" for r in others)


def test_bad_proto_refused_before_any_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.proto"
    bad.write_text("message {")
    db = tmp_path / "p.db"
    proc = subprocess.run(
        [
            SHEKARA,
            "replay",
            str(CAPTURES / "sample.mitm"),
            "--proto",
            str(bad),
            "--db",
            f"sqlite:///{db}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "SHEKARA_HOME": str(tmp_path)},
        timeout=60,
    )
    assert proc.returncode == 1 and "bad.proto" in proc.stderr
    assert "Traceback" not in proc.stderr and not db.exists()


def test_a_replay_leaves_no_log_handler_behind(tmp_path: Path) -> None:
    # A handler left on the root logger would hand later records to the replay's
    # closed event loop: logging anything afterwards would raise.
    before = list(logging.getLogger().handlers)
    for _ in range(2):
        run_replay(CAPTURES / "sample.mitm", tmp_path)
    assert logging.getLogger().handlers == before
    logging.getLogger("shekara.test").error("after the replays")
