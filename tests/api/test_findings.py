"""/findings and /violations on known data: filters, sorts, cursors, evidence, exports."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shekara.api.settings import Settings
from shekara.audit.model import Category, Note, Verdict
from shekara.evidence import schema
from shekara.evidence.chain import link_hex
from shekara.evidence.store import FindingStore

from .conftest import CN, DE, FLEET_VIN, KZ, PLAIN_VIN, build_finding, hash_vin

CATS = [Category.VIN, Category.PHONE, Category.LOCATION, Category.EMAIL]
DESTS = [CN, DE, KZ]
SEVERITIES = ["high", "medium", "low", "critical"]
T0 = 1_700_000_000.0


@pytest.fixture
def varied(store: FindingStore, fleet: dict[str, int], settings: Settings) -> list[dict[str, Any]]:
    """A third run of 40 findings with varied category, destination, severity and time.

    Some times repeat, so sorting by time must break ties by id. One finding
    carries the fleet's VIN itself (its keyed hash). Returns every stored row.
    """
    run = store.start_run("proxy")
    made = []
    for i in range(40):
        dest = DESTS[i % 3]
        violation = dest.country != "KZ"
        made.append(
            build_finding(
                flow_id=f"v-{i}",
                category=CATS[i % 4],
                destination=replace(dest, org=f"Org {i % 2}"),
                verdict=Verdict.CROSS_BORDER if violation else Verdict.DOMESTIC,
                violation=violation,
                rule_id="KZ-XB-001" if violation else "KZ-DOM-001",
                severity=SEVERITIES[i % 4],
                observed_at=T0 + 3600 * (i % 7) + (i % 5),
                value_hash=hash_vin(settings, FLEET_VIN) if i == 0 else "ab" * 32,
            )
        )
    store.add(run, made, [])
    with store.engine.connect() as conn:
        return [_as_served(r) for r in conn.execute(select(schema.findings)).mappings()]


def walk(client: TestClient, path: str, params: dict[str, Any]) -> tuple[list[dict], int]:
    """Every item of a listing, following ``next``; and the count each page reported."""
    items: list[dict] = []
    counts = set()
    params = dict(params)
    for _ in range(500):
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        counts.add(body["count"])
        assert len(body["data"]) <= params.get("limit", 100)
        items += body["data"]
        if body["next"] is None:
            break
        params["cursor"] = body["next"]
    assert len(counts) == 1
    return items, counts.pop()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def reference(rows: list[dict], fleet: dict[str, int], vin_hash: str, **flt: Any) -> list[int]:
    """The ids an official expects, worked out in Python from the stored rows."""
    out = []
    for r in rows:
        ok = True
        for name, want in flt.items():
            match name:
                case "category" | "rule_id" | "severity" | "verdict" | "org":
                    ok &= r[name] == want
                case "country":
                    ok &= r["country"] == want.upper()
                case "host":
                    ok &= r["host"] == want.lower()
                case "session":
                    ok &= r["run_id"] == want
                case "violation":
                    ok &= r["violation"] == want
                case "since":
                    ok &= r["observed_at"] >= want
                case "until":
                    ok &= r["observed_at"] < want
                case "in_fleet":
                    in_fleet = r["run_id"] in (fleet["a"], fleet["b"])
                    ok &= in_fleet or (r["category"] == "vin" and r["value_hash"] == vin_hash)
        if ok:
            out.append(r["id"])
    return sorted(out)


CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {}),
    ({"category": "phone"}, {"category": "phone"}),
    ({"country": "de"}, {"country": "DE"}),
    ({"host": "API.example.kz"}, {"host": "api.example.kz"}),
    ({"org": "Org 1"}, {"org": "Org 1"}),
    ({"rule": "KZ-DOM-001"}, {"rule_id": "KZ-DOM-001"}),
    ({"severity": "critical"}, {"severity": "critical"}),
    ({"verdict": "domestic"}, {"verdict": "domestic"}),
    ({"violation": "false"}, {"violation": False}),
    ({"violation": "true", "country": "CN"}, {"violation": True, "country": "CN"}),
    ({"since": iso(T0 + 7200)}, {"since": T0 + 7200}),
    ({"until": iso(T0 + 3600)}, {"until": T0 + 3600}),
    (
        {"since": "2023-11-14T23:13:20", "until": iso(T0 + 5 * 3600), "category": "vin"},
        {"since": T0 + 3600, "until": T0 + 5 * 3600, "category": "vin"},
    ),
    (
        {"category": "email", "country": "KZ", "severity": "critical"},
        {"category": "email", "country": "KZ", "severity": "critical"},
    ),
]


@pytest.mark.parametrize("params, expected", CASES)
def test_filters_match_the_stored_rows(
    client: TestClient,
    varied: list[dict],
    fleet: dict[str, int],
    settings: Settings,
    params: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    want = reference(varied, fleet, hash_vin(settings, FLEET_VIN), **expected)
    items, count = walk(client, "/findings", {**params, "limit": 7})
    assert sorted(i["id"] for i in items) == want
    assert count == len(want)
    only_violations = reference(
        varied, fleet, hash_vin(settings, FLEET_VIN), **{**expected, "violation": True}
    )
    if "violation" not in params:
        items, count = walk(client, "/violations", {**params, "limit": 7})
        assert sorted(i["id"] for i in items) == only_violations and count == len(only_violations)


def test_session_vendor_model_and_vin_filters(
    client: TestClient, varied: list[dict], fleet: dict[str, int], settings: Settings
) -> None:
    h = hash_vin(settings, FLEET_VIN)
    a, b = fleet["a"], fleet["b"]
    assert walk(client, "/findings", {"session": b})[1] == len(
        reference(varied, fleet, h, session=b)
    )
    assert walk(client, "/violations", {"run_id": a})[1] == 15
    fleet_ids = sorted(r["id"] for r in varied if r["run_id"] in (a, b))
    for params in (
        {"vendor": "chery"},
        {"model": "TIGGO 7"},
        {"vendor": "Chery", "model": "Tiggo 7"},
    ):
        items, _ = walk(client, "/findings", params)
        assert sorted(i["id"] for i in items) == fleet_ids
    # The VIN: the vehicle's sessions, and the finding that carried the VIN itself.
    items, count = walk(client, "/findings", {"vin": f" {FLEET_VIN.lower()} "})
    assert sorted(i["id"] for i in items) == reference(varied, fleet, h, in_fleet=True)
    assert count == len(fleet_ids) + 1
    assert FLEET_VIN not in client.get("/findings", params={"vin": FLEET_VIN}).text
    assert walk(client, "/findings", {"vin": PLAIN_VIN})[1] == 0
    assert walk(client, "/findings", {"vendor": "Lada"})[1] == 0


@pytest.mark.parametrize("sort", ["id", "-id", "observed_at", "-observed_at"])
@pytest.mark.parametrize("limit", [1, 6, 1000])
def test_sorting_is_stable_and_pages_are_complete(
    client: TestClient, varied: list[dict], sort: str, limit: int
) -> None:
    items, count = walk(client, "/findings", {"sort": sort, "limit": limit})
    key = "id" if sort.lstrip("-") == "id" else "observed_at"
    want = sorted(varied, key=lambda r: (r[key], r["id"]), reverse=sort.startswith("-"))
    assert [i["id"] for i in items] == [r["id"] for r in want]
    assert count == len(varied)


def test_a_cursor_belongs_to_its_sort(client: TestClient, varied: list[dict]) -> None:
    first = client.get("/findings", params={"sort": "-observed_at", "limit": 2}).json()
    response = client.get("/findings", params={"sort": "id", "cursor": first["next"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    "params",
    [
        {"severity": "extreme"},
        {"verdict": "guilty"},
        {"since": "yesterday"},
        {"vin": "short"},
        {"vin": "WVWZZZ1JZXW00000!"},
        {"session": 0},
        {"sort": "country"},
        {"violation": "maybe"},
        {"org": ""},
    ],
)
def test_bad_filters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/findings", params=params)
    assert response.status_code == 422, response.text


def test_evidence_of_a_finding(client: TestClient, varied: list[dict], store: FindingStore) -> None:
    row = next(r for r in varied if r["flow_id"] == "v-0")
    note = Note(flow_id="v-0", source="request.body", reason="opaque payload")
    store.add(row["run_id"], [], [note])
    body = client.get(f"/findings/{row['id']}").json()
    assert body["locator"] == row["field"] == body["finding"]["field"]
    assert body["preview"] == row["preview"]
    assert body["hashes"] == {
        "value_hash": row["value_hash"],
        "record_hash": row["record_hash"],
        "prev_hash": row["prev_hash"],
        "seq": row["seq"],
    }
    assert body["flow"]["flow_id"] == "v-0" and body["flow"]["findings_in_flow"] == 1
    assert body["flow"]["notes"] == [{"source": "request.body", "reason": "opaque payload"}]
    assert body["flow"]["port"] == 443 and body["flow"]["sni"] == row["sni"]
    geo = body["geolocation"]
    assert (geo["country"], geo["asn"], geo["source"], geo["build"]) == (
        "CN",
        4134,
        "geolite2-country",
        "2024-06-01",
    )
    assert body["session"]["id"] == row["run_id"]
    assert client.get("/findings/999999").status_code == 404


def _stored(store: FindingStore, **where: Any) -> list[dict]:
    c = schema.findings.c
    stmt = select(schema.findings).order_by(c.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(c, name) == value)
    with store.engine.connect() as conn:
        return [_as_served(r) for r in conn.execute(stmt).mappings()]


def _as_served(row: Any) -> dict[str, Any]:
    """A stored row with its chain links as the hex the API serves them in."""
    out = dict(row)
    for name in ("record_hash", "prev_hash"):
        out[name] = link_hex(out[name])
    return out


def test_json_export_matches_the_stored_rows(
    client: TestClient, store: FindingStore, varied: list[dict]
) -> None:
    response = client.get("/findings/export", params={"format": "json", "country": "DE"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert 'filename="findings.json"' in response.headers["content-disposition"]
    exported = response.json()
    stored = _stored(store, country="DE")
    assert len(exported) == len(stored) > 0
    for doc, row in zip(exported, stored, strict=True):
        for column, value in doc.items():
            if column in ("observed_at", "recorded_at"):
                assert datetime.fromisoformat(value).timestamp() == row[column]
            else:
                assert value == row[column], column


def test_csv_export_matches_the_stored_rows(
    client: TestClient, store: FindingStore, varied: list[dict]
) -> None:
    response = client.get("/violations/export", params={"sort": "-id"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    stored = list(reversed(_stored(store, violation=True)))
    assert [int(r["id"]) for r in rows] == [r["id"] for r in stored]
    for got, row in zip(rows, stored, strict=True):
        assert got["preview"] == row["preview"]
        assert got["value_hash"] == row["value_hash"]
        assert got["record_hash"] == row["record_hash"]
        assert got["country"] == row["country"]
        assert got["violation"] == "true"
        assert got["legal_refs"] == ";".join(row["legal_refs"])
        assert datetime.fromisoformat(got["observed_at"]).timestamp() == row["observed_at"]


def test_export_of_an_empty_selection(client: TestClient, varied: list[dict]) -> None:
    assert client.get("/findings/export?format=json&country=US").json() == []
    text = client.get("/findings/export?country=US").text
    assert text.splitlines() == [text.splitlines()[0]] and text.startswith("id,run_id")


def test_csv_cells_cannot_run_as_formulas(client: TestClient, store: FindingStore) -> None:
    run = store.start_run("replay")
    store.add(run, [build_finding(flow_id="x", field='=HYPERLINK("http://x")')], [])
    rows = list(csv.DictReader(io.StringIO(client.get("/findings/export").text)))
    assert rows[-1]["field"] == '\'=HYPERLINK("http://x")'
    # JSON keeps the value as stored: it is not read by a spreadsheet.
    assert client.get("/findings/export?format=json").json()[-1]["field"].startswith("=")


def test_exports_stream_many_rows(client: TestClient, store: FindingStore) -> None:
    run = store.start_run("replay")
    store.add(run, [build_finding(flow_id=f"m-{i}") for i in range(3000)], [])
    with client.stream("GET", "/findings/export", params={"format": "json"}) as response:
        chunks = [c for c in response.iter_text()]
    assert len(chunks) > 3
    assert len(json.loads("".join(chunks))) == 3000


def test_counting_stops_at_its_bound_unless_asked(
    client: TestClient, runs: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shekara.api.routes import findings

    monkeypatch.setattr(findings, "COUNT_BOUND", 5)
    capped = client.get("/violations", params={"limit": 2}).json()
    assert (capped["count"], capped["count_exact"]) == (5, False)
    exact = client.get("/violations", params={"limit": 2, "exact_count": True}).json()
    assert (exact["count"], exact["count_exact"]) == (17, True)
    small = client.get("/violations", params={"category": "phone"}).json()
    assert (small["count"], small["count_exact"]) == (3, True)
    # Paging is unaffected: every row is reached.
    items, _ = walk(client, "/violations", {"limit": 4})
    assert len(items) == 17
