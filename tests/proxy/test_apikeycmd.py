"""``shekara apikey create|list|revoke``: keys that open the API, kept only as salted hashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.proxy.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_create_list_revoke(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "apikey", "create", "--scope", "official", "--name", "Ministry", "--db", db_url
    )
    assert status == 0 and "shown only now" in err
    key = out.strip()
    assert key.startswith("shk_") and len(key.splitlines()) == 1
    _, out, _ = run(capsys, "apikey", "create", "--scope", "admin", "--name", "ops", "--db", db_url)
    admin = out.strip()

    status, out, _ = run(capsys, "apikey", "list", "--json", "--db", db_url)
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(k["name"], k["scope"], k["revoked_at"]) for k in listed] == [
        ("Ministry", "official", None),
        ("ops", "admin", None),
    ]
    assert key.split("_")[2] not in out and admin.split("_")[2] not in out
    status, table, _ = run(capsys, "apikey", "list", "--db", db_url)
    assert "Ministry" in table and key.split("_")[2] not in table

    settings = Settings(db_url=db_url, status_file=None, hashing_key_file=tmp_path / "hmac.key")
    with TestClient(create_app(settings)) as c:
        assert c.get("/rules", headers={"X-API-Key": key}).status_code == 200
        assert c.get("/apikeys", headers={"X-API-Key": key}).status_code == 403
        names = [k["name"] for k in c.get("/apikeys", headers={"X-API-Key": admin}).json()["data"]]
        assert names == ["Ministry", "ops"]
        status, _, err = run(capsys, "apikey", "revoke", listed[0]["key_id"], "--db", db_url)
        assert status == 0 and "revoked official key" in err
        assert c.get("/rules", headers={"X-API-Key": key}).status_code == 401
    status, _, err = run(capsys, "apikey", "revoke", listed[0]["key_id"], "--db", db_url)
    assert status == 1 and "no active key" in err


def test_bad_scope_and_name_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    with pytest.raises(SystemExit):
        main(["apikey", "create", "--scope", "root", "--name", "x", "--db", db])
    status, out, err = run(
        capsys, "apikey", "create", "--scope", "official", "--name", " ", "--db", db
    )
    assert status == 2 and out == "" and "name" in err
