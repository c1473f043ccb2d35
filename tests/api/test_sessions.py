"""``GET /sessions/{run_id}/coverage`` over a real store on both back ends."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shekara.evidence.connections import READ, UNDETERMINED, ConnectionRecord
from shekara.evidence.store import FindingStore


def conn(flow_id: str, host: str, content: str, size: int, confidence: str) -> ConnectionRecord:
    return ConnectionRecord(
        flow_id=flow_id,
        transport="tcp",
        content=content,
        started_at=1_795_000_000.0,
        host=host,
        bytes_up=size // 2,
        bytes_down=size - size // 2,
        geo_confidence=confidence,
    )


def test_coverage_of_a_session(store: FindingStore, client: TestClient) -> None:
    run = store.start_run("proxy")
    store.add_connections(
        run,
        [
            conn("a", "pinned.example.cn", UNDETERMINED, 9000, "medium"),
            conn("b", "api.example.cn", READ, 1000, "high"),
            conn("c", "api.example.cn", READ, 500, "high"),
            conn("d", "tracker.example.kz", READ, 500, "medium"),
        ],
    )
    store.add_marker(run, "navigation to Astana", at=1_795_000_100.0)
    r = client.get(f"/sessions/{run}/coverage")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["bytes_total"], body["bytes_read"]) == (11_000, 2_000)
    assert body["share_read"] == 2_000 / 11_000
    assert body["share_attributed_high"] == 0.5
    assert (body["attributed_high"], body["attributed_total"]) == (2, 4)
    assert body["attributed_basis"] == "connections"
    assert body["undetermined_connections"] == 1
    assert [(h["host"], h["share_read"]) for h in body["hosts"]] == [
        ("pinned.example.cn", 0.0),
        ("api.example.cn", 1.0),
        ("tracker.example.kz", 1.0),
    ]
    assert body["markers"] == [{"at": "2026-11-18T11:08:20Z", "label": "navigation to Astana"}]
    assert any("own mobile connection" in n for n in body["not_observed"])


def test_a_session_without_traffic_has_unknown_coverage(
    store: FindingStore, client: TestClient
) -> None:
    run = store.start_run("proxy")
    body = client.get(f"/sessions/{run}/coverage").json()
    assert body["share_read"] is None and body["share_attributed_high"] is None
    assert body["hosts"] == [] and body["markers"] == []


def test_unknown_session_is_404(client: TestClient) -> None:
    assert client.get("/sessions/987654/coverage").status_code == 404
    assert client.get("/sessions/0/coverage").status_code == 422
