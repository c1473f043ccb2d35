"""``shekara diff`` between runs of one capture under two rulesets or geolocation data;
``replay --jobs`` reading several captures in parallel into one run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shekara.evidence import verify
from shekara.evidence.store import FindingStore
from shekara.proxy.replay import sha256_file
from tests.proxy import pcapgen
from tests.proxy.inprocess import HOME, Ran
from tests.proxy.test_pcap_replay import findings

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("diff")
    pkts = pcapgen.capture_packets(pcapgen.standard_conversations())
    return pcapgen.write_pcap(tmp / "car.pcap", pkts)


def other_ruleset(tmp_path: Path) -> Path:
    """The bundled rules, but Russia adequate and no separate rule for locations."""
    folder = tmp_path / "other"
    shutil.copytree(RULESETS / "kz", folder)
    header = yaml.safe_load((folder / "ruleset.yaml").read_text())
    header["version"] = "2026.12.0-draft"
    header["jurisdiction"]["adequate_countries"] = ["RU"]
    (folder / "ruleset.yaml").write_text(yaml.safe_dump(header, allow_unicode=True))
    (folder / "rules" / "KZ-XB-LOC.yaml").unlink()
    return folder


def diff_rows(cli: Callable[..., Ran], db: str, a: int, b: int) -> list[dict[str, Any]]:
    proc = cli(["diff", str(a), str(b), "--db", db, "--format", "jsonl"])
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_diff_under_two_rulesets(cli: Callable[..., Ran], capture: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    assert cli(["replay", str(capture), "--db", db]).returncode == 0
    proc = cli(["replay", str(capture), "--db", db, "--ruleset", str(other_ruleset(tmp_path))])
    assert proc.returncode == 0, proc.stderr
    rows = diff_rows(cli, db, 1, 2)
    assert rows and all(r["change"] == "changed" for r in rows)  # same traffic, same findings
    by_change: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        for attr, (old, new) in r["changes"].items():
            by_change.setdefault(attr, set()).add((str(old), str(new)))
    # Russia is adequate now: its transfers are observed but no longer violations ...
    ru = [r for r in rows if r["b"]["country"] == "RU"]
    assert ru and all(r["changes"]["violation"] == [True, False] for r in ru)
    # ... and locations sent to China fall to the general cross-border rule.
    cn_loc = [r for r in rows if r["b"]["country"] == "CN" and r["b"]["category"] == "location"]
    assert cn_loc and all(r["changes"]["rule"] == ["KZ-XB-LOC", "KZ-XB-001"] for r in cn_loc)
    # Domestic findings and other categories to China did not change.
    store = FindingStore(db)
    unchanged = {
        (s.finding.flow_id, s.finding.field)
        for s in store.query_findings(run_id=1, limit=1000)
        if s.finding.destination.country in ("KZ",)
        or (s.finding.destination.country == "CN" and s.finding.category.value != "location")
    }
    assert unchanged and not unchanged & {(r["a"]["flow_id"], r["a"]["field"]) for r in rows}
    # The text form names both rulesets.
    text = cli(["diff", "1", "2", "--db", db]).stdout
    assert "2026.11.1" in text and "2026.12.0-draft" in text
    assert f"0 added, 0 removed, {len(rows)} changed" in text


def test_diff_shows_a_verdict_changed_by_a_geolocation_update(
    cli: Callable[..., Ran], capture: Path, tmp_path: Path
) -> None:
    """A newer database that places a server elsewhere: never a silent pick, a dispute."""
    from tests.geo.conftest import write_city

    newer = write_city(tmp_path / "newer.mmdb", {"223.5.5.0/24": ("KZ", "Almaty")})
    db = f"sqlite:///{tmp_path / 'g.db'}"
    assert cli(["replay", str(capture), "--db", db]).returncode == 0
    assert cli(["replay", str(capture), "--db", db], SHEKARA_GEOIP=str(newer)).returncode == 0
    rows = diff_rows(cli, db, 1, 2)
    moved = [r for r in rows if r["a"]["ip"] == "223.5.5.5"]
    assert moved and len(moved) == len(rows)
    for r in moved:
        assert r["changes"]["country"] == ["CN", None]
        assert r["changes"]["verdict"] == ["cross_border", "disputed"]
    # The encrypted connection to that server too, and nothing else about it changed.
    [tls] = [r for r in moved if r["a"]["category"] == "undetermined_content"]
    assert tls["a"]["field"] == "tls.passthrough" and "value_hash" not in tls["changes"]


def test_two_replays_of_one_capture_do_not_differ(
    cli: Callable[..., Ran], capture: Path, tmp_path: Path
) -> None:
    """Encrypted connections included: their findings carry the capture's times, not now."""
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert cli(["replay", str(capture), "--db", db]).returncode == 0
    assert cli(["replay", str(capture), "--db", db]).returncode == 0
    assert diff_rows(cli, db, 1, 2) == []
    store = FindingStore(db)
    [a], [b] = (
        [
            s.finding
            for s in store.query_findings(run_id=run, limit=1000)
            if s.finding.category.value == "undetermined_content"
        ]
        for run in (1, 2)
    )
    assert (a.flow_id, a.value_hash, a.preview) == (b.flow_id, b.value_hash, b.preview)
    text = cli(["diff", "1", "2", "--db", db]).stdout
    assert f"0 added, 0 removed, 0 changed, {store.count(run_id=1)} unchanged" in text


def test_diff_lists_added_and_removed_findings(
    cli: Callable[..., Ran], capture: Path, tmp_path: Path
) -> None:
    pkts = pcapgen.capture_packets(pcapgen.standard_conversations())
    fewer = pcapgen.write_pcap(tmp_path / "fewer.pcap", pkts[: len(pkts) // 2])
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert cli(["replay", str(fewer), "--db", db]).returncode == 0
    assert cli(["replay", str(capture), "--db", db]).returncode == 0
    forward = diff_rows(cli, db, 1, 2)
    assert forward and {r["change"] for r in forward} == {"added"}
    backward = diff_rows(cli, db, 2, 1)
    assert {r["change"] for r in backward} == {"removed"} and len(backward) == len(forward)
    assert diff_rows(cli, db, 2, 2) == []


def test_diff_of_an_unknown_run(cli: Callable[..., Ran], tmp_path: Path, capture: Path) -> None:
    db = f"sqlite:///{tmp_path / 'u.db'}"
    assert cli(["replay", str(capture), "--db", db]).returncode == 0
    proc = cli(["diff", "1", "7", "--db", db])
    assert proc.returncode == 1 and "no run 7" in proc.stderr


def test_jobs_read_many_captures_into_one_run(cli: Callable[..., Ran], tmp_path: Path) -> None:
    convs = pcapgen.standard_conversations()
    parts = [
        pcapgen.write_pcap(tmp_path / f"part{i}.pcap", pcapgen.capture_packets(convs[i::3], seed=i))
        for i in range(3)
    ]
    db = f"sqlite:///{tmp_path / 'j.db'}"
    proc = cli(["replay", *map(str, parts), "--jobs", "2", "--db", db, "--progress"])
    assert proc.returncode == 0, proc.stderr
    assert "3 captures:" in proc.stderr and "run 1," in proc.stderr
    store = FindingStore(db)
    run = store.get_run(1)
    assert run is not None and run.status == "completed"
    assert [c["path"] for c in run.captures] == [str(p) for p in parts]
    assert [c["sha256"] for c in run.captures] == [sha256_file(p) for p in parts]
    assert all(c["format"] == "pcap" and c["flows"] > 0 for c in run.captures)
    # One signed, unbroken chain although three processes wrote to it.
    [report] = verify.verify_store(store, 1)
    assert report.state == "signed" and report.fault is None, report
    # The same findings as each capture read on its own.
    separate = f"sqlite:///{tmp_path / 's.db'}"
    for p in parts:
        assert cli(["replay", str(p), "--db", separate]).returncode == 0
    sep = FindingStore(separate)
    expected = set().union(*(findings(sep, r) for r in (1, 2, 3)))
    assert findings(store, 1) == expected and expected


@pytest.mark.slow  # worker processes are spawned: ~10 s
def test_jobs_keep_going_past_a_damaged_capture(cli: Callable[..., Ran], tmp_path: Path) -> None:
    good = pcapgen.write_pcap(
        tmp_path / "good.pcap", pcapgen.capture_packets(pcapgen.standard_conversations()[:2])
    )
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(good.read_bytes()[:300])
    db = f"sqlite:///{tmp_path / 'b.db'}"
    proc = cli(["replay", str(good), str(bad), "--jobs", "2", "--db", db])
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}: damaged capture" in proc.stderr and "Traceback" not in proc.stderr
    run = FindingStore(db).get_run(1)
    assert run is not None and run.status == "failed"
    assert FindingStore(db).count(run_id=1) > 0


@pytest.mark.slow  # a separate interpreter spawning workers: ~15 s
def test_jobs_jsonl_lines_stay_whole(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    convs = pcapgen.standard_conversations()
    parts = [
        pcapgen.write_pcap(tmp_path / f"p{i}.pcap", pcapgen.capture_packets(convs[i::2], seed=i))
        for i in range(2)
    ]
    db = f"sqlite:///{tmp_path / 'l.db'}"
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("shekara")),
            "replay",
            *map(str, parts),
            "--jobs",
            "2",
            "--format",
            "jsonl",
            "--db",
            db,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "SHEKARA_HOME": str(HOME["path"])},
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    got = {(r["flow_id"], r["field"], r["category"]) for r in rows}
    stored = {
        (s.finding.flow_id, s.finding.field, s.finding.category.value)
        for s in FindingStore(db).query_findings(run_id=1, limit=1000)
    }
    assert got == stored and stored
