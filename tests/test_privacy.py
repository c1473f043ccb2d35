"""No plain personal-data value reaches the database file, the logs or the API responses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from shekara.api.apikeys import create_key
from shekara.api.app import create_app
from shekara.api.settings import Settings
from shekara.evidence import schema
from shekara.evidence.store import FindingStore

ROOT = Path(__file__).resolve().parents[1]
SHEKARA = str(Path(sys.executable).with_name("shekara"))


def planted_values() -> set[str]:
    """Every planted identifier, and each coordinate written with 3 or more decimals."""
    out: set[str] = set()

    def add(v: object) -> None:
        if isinstance(v, str) and len(v) >= 6:
            out.add(v)
        elif isinstance(v, float) and len(repr(v).split(".")[-1]) >= 3:
            out.add(repr(v))
        elif isinstance(v, list):
            for x in v:
                add(x)

    for name in ("sample", "labelled"):
        flows = json.loads((ROOT / "captures" / f"{name}.manifest.json").read_text())["flows"]
        for flow in flows.values():
            for f in flow["findings"]:
                if f["category"] != "remote_control":  # a command name is not personal data
                    add(f["value"])
    return out


def test_nothing_plain_in_db_logs_or_api(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    env = {**os.environ, "SHEKARA_HOME": str(tmp_path / "home")}
    logs = ""
    for name in ("sample", "labelled"):
        proc = subprocess.run(
            [
                SHEKARA,
                "-v",
                "replay",
                str(ROOT / "captures" / f"{name}.mitm"),
                "--format",
                "jsonl",
                # Every flow's row, so that every redacted URL is in the file scanned below.
                "--flow-records",
                "all",
                "--db",
                f"sqlite:///{db}",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        logs += proc.stdout + proc.stderr
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("p.db*"))
    assert len(stored) > 10_000

    reader = FindingStore(f"sqlite:///{db}")
    _, key = create_key(reader.engine, "privacy test", "official")
    reader.dispose()
    client = TestClient(create_app(Settings(db_url=f"sqlite:///{db}")), headers={"X-API-Key": key})
    pages, url = [], "/violations?limit=1000"
    while url:
        r = client.get(url)
        assert r.status_code == 200
        pages.append(r.text)
        nxt = r.json()["next"]
        url = f"/violations?limit=1000&cursor={nxt}" if nxt else ""
    assert json.loads(pages[0])["count"] > 100
    # Each finding's evidence, with the metadata of the flow that carried it (its URL).
    ids = [row["id"] for page in pages for row in json.loads(page)["data"]]
    for finding_id in ids:
        r = client.get(f"/findings/{finding_id}")
        assert r.status_code == 200
        pages.append(r.text)
    api = "".join(pages)
    assert api.count('"url":"http') > 100
    with reader.engine.connect() as conn:
        urls = conn.execute(select(schema.flows.c.url)).scalars().all()
    # Flows table rows are in the database file scanned below; some carried values in the URL.
    assert len(urls) > 200 and any("*" in (u or "") for u in urls)

    values = planted_values()
    assert len(values) > 200
    leaks = [
        (where, v)
        for v in values
        for where, text in (("db", stored), ("logs", logs), ("api", api))
        if (v.encode() in text if isinstance(text, bytes) else v in text)
    ]
    assert leaks == []
