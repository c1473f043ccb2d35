"""GET /events: findings as they are stored, as server-sent events, for readers only."""

from __future__ import annotations

import json
import re
import threading

from fastapi.testclient import TestClient

from shekara.evidence.store import FindingStore

from .conftest import auth, build_finding


def _events(client: TestClient, params: dict[str, object]) -> list[dict]:
    out = []
    with client.stream("GET", "/events", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                out.append(json.loads(line[5:]))
    return out


def test_events_carry_stored_and_new_findings(
    client: TestClient, store: FindingStore, runs: tuple[int, int]
) -> None:
    a, b = runs
    late = threading.Timer(0.3, lambda: store.add(b, [build_finding(flow_id="live-1")]))
    late.start()
    try:
        events = _events(client, {"after": 0, "max_seconds": 1.5, "poll": 0.2})
    finally:
        late.join()
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 22
    assert {e["run_id"] for e in events} == {a, b}
    assert set(events[0]) == {
        "id",
        "run_id",
        "category",
        "country",
        "host",
        "severity",
        "violation",
        "observed_at",
    }
    only_b = _events(client, {"after": 0, "session": b, "max_seconds": 0.3})
    assert {e["run_id"] for e in only_b} == {b}


def test_events_start_now_by_default(client: TestClient, runs: tuple[int, int]) -> None:
    assert _events(client, {"max_seconds": 0.3}) == []


def test_events_need_a_key(anon: TestClient, keys: dict[str, str]) -> None:
    assert anon.get("/events", params={"max_seconds": 0.2}).status_code == 401
    for role in ("official", "engineer", "admin"):
        response = anon.get("/events", params={"max_seconds": 0.2}, headers=auth(keys[role]))
        assert response.status_code == 200


def test_the_dashboard_page_is_public_and_holds_no_data(anon: TestClient) -> None:
    page = anon.get("/dashboard/")
    assert page.status_code == 200 and "Shekara" in page.text
    assert anon.get("/dashboard/vendor/d3-geo.min.js").status_code == 200
    assert anon.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
    # Everything the page shows comes from the API, with the key.
    # (No address of anywhere else: a link is only checked to be http(s) before it is shown.)
    script = anon.get("/dashboard/dashboard.js").text
    assert not re.search(r"https?://(?!www\.w3\.org/)", script)
    assert not re.search(r"\b(?:src|href)\s*=\s*[\"'](?:https?:)?//", script)
