"""`shekara verify`, `export-chain` and `station-key`: exit codes, lines, offline checks."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from shekara.evidence import chain
from shekara.evidence.store import FindingStore
from shekara.proxy import cli
from shekara.proxy.keys import STATION_KEY_FILE, station_key

from ..evidence.conftest import build_finding

SAMPLE = Path(__file__).resolve().parents[2] / "captures" / "sample.mitm"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SHEKARA_HOME", str(path))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def replayed(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A SQLite store holding one replay of the sample capture, closed and signed."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    status, _, _ = _run(capsys, "replay", str(SAMPLE), "--db", url, "--format", "jsonl")
    assert status == 0
    return url


def test_a_replayed_run_verifies(
    replayed: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "verify", "--db", replayed)
    assert status == 0, out + err
    public = chain.public_key_text(station_key(home))
    assert out.startswith(f"run 1: OK, signed by station key {chain.key_fingerprint(public)}, ")
    assert "1 run(s) verified, 0 failed" in err
    key_file = home / STATION_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_sql_tampering_fails_verify_and_names_the_record(
    replayed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = replayed.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        (rid,) = db.execute("SELECT id FROM findings WHERE seq = 5").fetchone()
        db.execute("UPDATE findings SET country = 'KZ', violation = 0 WHERE seq = 5")
    status, out, _ = _run(capsys, "verify", "--db", replayed, "--session", "1")
    assert status == 1
    assert out.strip() == (
        f"run 1: FAILED: altered at seq 5, id {rid}: "
        "its contents do not match its record hash (a column was changed)"
    )


def test_unknown_session(replayed: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "verify", "--db", replayed, "--session", "42")
    assert status == 1 and "no run 42" in err


def test_a_database_that_is_not_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'nothing.db'}"
    status, out, err = _run(capsys, "verify", "--db", url)
    assert (status, out) == (1, "")
    assert "cannot verify" in err and "missing tables" in err


def test_an_empty_store_verifies(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    FindingStore(db_url).create_schema()
    status, out, err = _run(capsys, "verify", "--db", db_url)
    assert (status, out) == (0, "")
    assert "no runs" in err


def test_open_runs_pass_unless_signatures_are_required(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FindingStore(db_url)
    store.create_schema()
    run_id = store.start_run("proxy")
    store.add(run_id, [build_finding(flow_id="a"), build_finding(flow_id="b")], [])
    store.dispose()
    status, out, _ = _run(capsys, "verify", "--db", db_url)
    assert status == 0
    assert out.startswith(f"run {run_id}: OK, open, unsigned")
    status, out, _ = _run(capsys, "verify", "--db", db_url, "--require-signed")
    assert status == 1 and "FAILED: unsigned" in out


def test_one_failing_run_fails_the_whole_check(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FindingStore(db_url)
    store.create_schema()
    key = Ed25519PrivateKey.generate()
    good, bad = store.start_run("replay"), store.start_run("replay")
    for run_id in (good, bad):
        store.add(run_id, [build_finding(flow_id="a")], [])
        store.finish_run(run_id, 1, "completed", key=key)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM findings WHERE run_id = :r"), {"r": bad})
    store.dispose()
    status, out, _ = _run(capsys, "verify", "--db", db_url)
    lines = out.splitlines()
    assert status == 1
    assert lines[0].startswith(f"run {good}: OK")
    assert lines[1].startswith(f"run {bad}: FAILED: deleted at seq 1")


# -- offline -----------------------------------------------------------------------


def test_export_and_offline_verification(
    replayed: str, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "run1.chain.jsonl"
    status, _, err = _run(
        capsys, "export-chain", "--db", replayed, "--session", "1", "-o", str(export)
    )
    assert status == 0 and "findings exported" in err
    header = json.loads(export.read_text().splitlines()[0])
    assert header["format"] == "shekara-chain-export-v1"
    assert chain.parse_statement(header["closing_statement"])["chain_head"] == header["chain_head"]

    status, public, _ = _run(capsys, "station-key")
    public = public.strip()
    assert len(base64.b64decode(public)) == 32

    status, out, _ = _run(capsys, "verify", "--statement", str(export), "--trusted-key", public)
    assert status == 0 and out.startswith("run 1: OK, signed")

    keys = tmp_path / "trusted.txt"
    keys.write_text(chain.public_key_text(Ed25519PrivateKey.generate()) + "  other station\n")
    status, out, _ = _run(capsys, "verify", "--statement", str(export), "--trusted-key", str(keys))
    assert status == 1 and "FAILED: untrusted key" in out

    lines = export.read_text().splitlines()
    row = json.loads(lines[2])
    row["preview"] = row["preview"] + "?"
    export.write_text("\n".join([*lines[:2], json.dumps(row), *lines[3:]]) + "\n")
    status, out, _ = _run(capsys, "verify", "--statement", str(export))
    assert status == 1 and f"FAILED: altered at seq {row['seq']}" in out


def test_export_to_stdout_and_a_bad_file(
    replayed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, "export-chain", "--db", replayed, "--session", "1")
    assert status == 0 and len(out.splitlines()) > 1
    status, _, err = _run(capsys, "export-chain", "--db", replayed, "--session", "9")
    assert status == 1 and "no run 9" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    status, _, err = _run(capsys, "verify", "--statement", str(bad))
    assert status == 1 and "not JSON" in err
    status, _, err = _run(capsys, "verify", "--statement", str(tmp_path / "missing.jsonl"))
    assert status == 1


def test_station_key_is_stable(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _run(capsys, "station-key")[1]
    second = _run(capsys, "station-key", "--home", str(home))[1]
    assert first == second
    assert first.strip() == chain.public_key_text(station_key(home))
