"""HAR 1.2 archives replay like the mitmproxy capture of the same exchanges; damage is named."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import connection, http, io
from mitmproxy.connection import ConnectionState
from mitmproxy.io import tnetstring

from shekara.evidence.store import FindingStore
from tests.proxy.inprocess import Ran
from tests.proxy.test_pcap_replay import findings, flow_records, run_replay

VIN = "LSVAU218XN2183294"
STARTED = "2026-11-20T08:15:30.250Z"

EXCHANGES: list[dict[str, Any]] = [
    {
        "url": "https://tsp.example-cn-oem.cn/api/v1/telemetry?imei=356938035643809",
        "ip": "223.5.5.5",
        "method": "POST",
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"vin": VIN, "lat": 55.751244, "lon": 37.618423}).encode(),
        "b64": False,
    },
    {
        # A binary-safe body: the archive holds it base64-encoded.
        "url": "https://maps.example.de/v3/route",
        "ip": "88.198.0.1",
        "method": "PUT",
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"phone": "+77011234567", "owner": {"vin": VIN}}).encode(),
        "b64": True,
    },
    {
        # Compressed on the wire, kept decoded in the archive.
        "url": "https://api.example-insurer.kz/v2/trips",
        "ip": "2.133.0.1",
        "method": "POST",
        "headers": {"content-type": "application/json", "content-encoding": "gzip"},
        "body": json.dumps({"vin": VIN}).encode(),
        "b64": False,
    },
]


def har_document(exchanges: list[dict[str, Any]] = EXCHANGES) -> dict[str, Any]:
    entries = []
    for x in exchanges:
        post: dict[str, Any] = {"mimeType": x["headers"]["content-type"]}
        if x["b64"]:
            post |= {"text": base64.b64encode(x["body"]).decode(), "encoding": "base64"}
        else:
            post["text"] = x["body"].decode()
        entries.append(
            {
                "startedDateTime": STARTED,
                "time": 120.5,
                "serverIPAddress": x["ip"],
                "request": {
                    "method": x["method"],
                    "url": x["url"],
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v} for k, v in x["headers"].items()],
                    "queryString": [],
                    "cookies": [],
                    "headersSize": -1,
                    "bodySize": len(x["body"]),
                    "postData": post,
                },
                "response": {
                    "status": 200,
                    "statusText": "OK",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "content-type", "value": "application/json"}],
                    "cookies": [],
                    "content": {"size": 11, "mimeType": "application/json", "text": '{"ok":true}'},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": 11,
                },
                "cache": {},
                "timings": {"send": 1, "wait": 100, "receive": 19.5},
            }
        )
    return {
        "log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}
    }


def write_har(path: Path, doc: dict[str, Any] | None = None) -> Path:
    path.write_text(json.dumps(har_document() if doc is None else doc, indent=1))
    return path


def write_mitm(path: Path) -> Path:
    with path.open("wb") as fh:
        w = io.FlowWriter(fh)
        for x in EXCHANGES:
            req = http.Request.make(x["method"], x["url"], b"", x["headers"])
            if x["headers"].get("content-encoding") == "gzip":
                req.raw_content = gzip.compress(x["body"])
            else:
                req.raw_content = x["body"]
            host, port = req.host, req.port
            f = http.HTTPFlow(
                connection.Client(
                    peername=("10.42.0.17", 40000), sockname=(x["ip"], port), timestamp_start=1.0
                ),
                connection.Server(
                    address=(host, port), peername=(x["ip"], port), state=ConnectionState.CLOSED
                ),
            )
            f.request = req
            f.response = http.Response.make(
                200, b'{"ok":true}', {"content-type": "application/json"}
            )
            w.add(f)
    return path


def test_har_gives_the_findings_of_the_mitm_capture(tmp_path: Path) -> None:
    store, run_id, result = run_replay(write_har(tmp_path / "a.har"), tmp_path, "h.db")
    assert result.error is None and result.flows == 3 and result.format == "har"
    got = findings(store, run_id)
    mstore, mrun, _ = run_replay(write_mitm(tmp_path / "a.mitm"), tmp_path, "m.db")
    expected = findings(mstore, mrun)
    assert got == expected
    # Each entry contributed, the base64 one and the compressed one included.
    hosts = {h for _, _, h, *_ in got}
    assert hosts == {"tsp.example-cn-oem.cn", "maps.example.de", "api.example-insurer.kz"}
    assert {c for c, *_ in got} >= {"vin", "imei", "location", "phone"}

    # The same flow records as from the .mitm file (flow ids aside).
    def described(store: FindingStore, run: int) -> set[tuple[object, ...]]:
        return {
            (m.protocol, m.method, m.url, m.status, m.request_body_bytes)
            for m in flow_records(store, run).values()
        }

    assert described(store, run_id) == described(mstore, mrun)
    assert len(described(store, run_id)) == 3


def test_truncated_har_keeps_the_entries_before_the_cut(
    cli: Callable[..., Ran], tmp_path: Path
) -> None:
    text = write_har(tmp_path / "full.har").read_text()
    second = text.index('"startedDateTime"', text.index('"startedDateTime"') + 1)
    entry_start = text.rindex("{", 0, second)
    cut = tmp_path / "cut.har"
    cut.write_text(text[: entry_start + 200])
    db = tmp_path / "c.db"
    proc = cli(["replay", str(cut), "--format", "jsonl", "--db", f"sqlite:///{db}"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{cut}: damaged HAR file: read 1 entries, stopped at byte {entry_start}" in proc.stderr
    hosts = {json.loads(line)["host"] for line in proc.stdout.splitlines()}
    assert hosts == {"tsp.example-cn-oem.cn"}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda d: d["log"]["entries"][1]["request"].pop("url"),
            "entry 1: request.url: Field required",
        ),
        (
            lambda d: d["log"]["entries"][0]["request"]["postData"].update(
                text="***", encoding="base64"
            ),
            "entry 0: request.postData: invalid base64",
        ),
        (lambda d: d["log"]["entries"][0].update(startedDateTime="yesterday"), "ISO 8601"),
        (lambda d: d.pop("log"), 'no "log": {"entries": [...]} found'),
    ],
)
def test_invalid_entries_are_clear_errors(
    cli: Callable[..., Ran], mutate: Any, message: str, tmp_path: Path
) -> None:
    doc = har_document()
    mutate(doc)
    bad = write_har(tmp_path / "bad.har", doc)
    proc = cli(["replay", str(bad), "--db", f"sqlite:///{tmp_path / 'b.db'}"])
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "damaged HAR file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mitm_file_of_an_unreadable_version_says_so(
    cli: Callable[..., Ran], tmp_path: Path
) -> None:
    """A flow file from a mitmproxy this one cannot read: a clear message, not 'damaged'."""
    src = write_mitm(tmp_path / "new.mitm")
    with src.open("rb") as fh:
        state = tnetstring.load(fh)
    assert isinstance(state, dict)
    state["version"] = (0, 9)  # older than any format mitmproxy still converts
    old = tmp_path / "old.mitm"
    with old.open("wb") as fh:
        tnetstring.dump(state, fh)
    proc = cli(["replay", str(old), "--db", f"sqlite:///{tmp_path / 'o.db'}"])
    assert proc.returncode == 2, proc.stderr
    assert "a mitmproxy flow file this version cannot read" in proc.stderr
    assert "flow format version (0, 9)" in proc.stderr
    assert "Traceback" not in proc.stderr
