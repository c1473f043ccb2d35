"""``/destinations`` with the geolocation evidence the geo stage recorded, on both back ends.

The destinations are placed by the real Locator over small real .mmdb files
and the embedded GeoLite2 database, so the evidence is what a session stores.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shekara.audit.model import Confidence, Destination, Verdict
from shekara.evidence.store import FindingStore
from shekara.geo.locate import Locator
from shekara.geo.names import NameBook

from ..geo.conftest import write_asn, write_city
from .conftest import build_finding


@pytest.fixture
def located(tmp_path: Path) -> dict[str, Destination]:
    """A high-confidence CN server, a disputed one and a CDN edge, as the Locator places them."""
    city = write_city(
        tmp_path / "city.mmdb",
        {"223.5.5.0/24": ("CN", "Hangzhou"), "46.4.0.0/24": ("KZ", "Almaty")},
    )
    asn = write_asn(tmp_path / "asn.mmdb", {"223.5.5.0/24": (37963, "Alibaba (example)")})
    names = NameBook()
    names.learn(
        {"maps.example.de": "maps.example.de.cdn.cloudflare.net"},
        [("maps.example.de.cdn.cloudflare.net", "88.198.0.1")],
    )
    loc = Locator.from_paths([city, asn], names=names)
    return {
        "high": loc.locate("tsp.example.cn", "223.5.5.5", 443, sni="tsp.example.cn"),
        "disputed": loc.locate("split.example.kz", "46.4.0.9", 443),
        "cdn": loc.locate("maps.example.de", "88.198.0.1", 443),
    }


@pytest.fixture
def session(store: FindingStore, located: dict[str, Destination]) -> int:
    run = store.start_run("proxy")
    store.add(
        run,
        [build_finding(flow_id=f"cn-{i}", destination=located["high"]) for i in range(3)]
        + [
            build_finding(
                flow_id="split",
                destination=located["disputed"],
                verdict=Verdict.DISPUTED,
                violation=False,
            ),
            build_finding(
                flow_id="edge",
                destination=located["cdn"],
                verdict=Verdict.CDN_EDGE,
                violation=False,
            ),
        ],
    )
    return run


def test_the_locator_gave_the_three_kinds(located: dict[str, Destination]) -> None:
    assert located["high"].confidence is Confidence.HIGH and located["high"].country == "CN"
    assert located["disputed"].disputed and located["disputed"].confidence is Confidence.LOW
    assert located["cdn"].cdn == "Cloudflare" and located["cdn"].confidence is Confidence.LOW


def test_every_destination_carries_its_evidence(client: TestClient, session: int) -> None:
    body = client.get("/destinations").json()
    assert body["count"] == 3
    by_host = {d["host"]: d for d in body["data"]}
    cn = by_host["tsp.example.cn"]
    geo = cn["geolocation"]
    assert cn["confidence"] == geo["confidence"] == "high" and geo["caveats"] == []
    assert geo["session"] == session and geo["verdict"] == "cross_border"
    assert geo["outcome"] == "agreed" and geo["candidates"] == ["CN"]
    answers = {(s["source"], s["country"]) for s in geo["sources"]}
    assert answers == {("GeoLite2-City (city.mmdb)", "CN"), ("GeoLite2-City (embedded)", "CN")}
    assert (geo["asn"], geo["org"]) == (37963, "Alibaba (example)")
    assert {(n["name"], n["how"]) for n in geo["names"]} == {("tsp.example.cn", "flow-host")}

    split = by_host["split.example.kz"]["geolocation"]
    assert split["disputed"] and split["country"] is None
    assert split["caveats"] == ["low_confidence", "disputed"] and split["verdict"] == "disputed"
    assert sorted(split["candidates"]) == ["DE", "KZ"]

    edge = by_host["maps.example.de"]["geolocation"]
    assert edge["cdn"] == "Cloudflare" and edge["verdict"] == "cdn_edge"
    assert edge["caveats"] == ["low_confidence", "cdn_edge"]
    learnt = {n["how"]: n["cname_chain"] for n in edge["names"] if n["name"] == "maps.example.de"}
    assert learnt == {
        "flow-host": [],
        "device-dns": ["maps.example.de", "maps.example.de.cdn.cloudflare.net"],
    }
    # A miss is an answer too: the operator's database had nothing for this address.
    assert {(s["source"], s["country"]) for s in edge["sources"]} == {
        ("GeoLite2-City (city.mmdb)", None),
        ("GeoLite2-City (embedded)", "DE"),
    }


def test_filters_by_confidence_and_verdict(client: TestClient, session: int) -> None:
    low = client.get("/destinations", params={"confidence": "low"}).json()
    assert sorted(d["host"] for d in low["data"]) == ["maps.example.de", "split.example.kz"]
    assert low["count"] == 2
    edge = client.get("/destinations", params={"verdict": "cdn_edge"}).json()
    assert [d["host"] for d in edge["data"]] == ["maps.example.de"]
    high_cn = client.get("/destinations", params={"confidence": "high", "country": "cn"}).json()
    assert [d["host"] for d in high_cn["data"]] == ["tsp.example.cn"]
    assert client.get("/destinations", params={"confidence": "sure"}).status_code == 422
    # Pages walk the filtered list by its cursor.
    first = client.get("/destinations", params={"confidence": "low", "limit": 1}).json()
    rest = client.get(
        "/destinations", params={"confidence": "low", "limit": 1, "cursor": first["next"]}
    ).json()
    assert [d["host"] for d in first["data"] + rest["data"]] == [
        "maps.example.de",
        "split.example.kz",
    ]
    assert rest["next"] is None


def test_the_latest_session_gives_the_evidence(
    client: TestClient, store: FindingStore, session: int, located: dict[str, Destination]
) -> None:
    later = store.start_run("proxy")
    moved = replace(located["high"], confidence=Confidence.MEDIUM)
    store.add(later, [build_finding(flow_id="again", destination=moved, observed_at=2e9)])
    (cn,) = client.get("/destinations", params={"host": "tsp.example.cn"}).json()["data"]
    assert cn["geolocation"]["session"] == later and cn["confidence"] == "medium"
    (old,) = client.get(
        "/destinations", params={"host": "tsp.example.cn", "session": session}
    ).json()["data"]
    assert old["geolocation"]["session"] == session and old["confidence"] == "high"
    # Filtered by confidence, a destination shows the evidence that matched.
    (high,) = client.get(
        "/destinations", params={"host": "tsp.example.cn", "confidence": "high"}
    ).json()["data"]
    assert high["geolocation"]["session"] == session and high["confidence"] == "high"


def test_exports_carry_the_confidence_and_sources(client: TestClient, session: int) -> None:
    rows = list(csv.DictReader(io.StringIO(client.get("/destinations/export").text)))
    by_host = {r["host"]: r for r in rows}
    assert set(by_host) == {"maps.example.de", "split.example.kz", "tsp.example.cn"}
    edge = by_host["maps.example.de"]
    assert (edge["confidence"], edge["caveats"], edge["cdn"]) == (
        "low",
        "low_confidence cdn_edge",
        "Cloudflare",
    )
    assert edge["sources"] == ("GeoLite2-City (city.mmdb)=no answer; GeoLite2-City (embedded)=DE")
    low = client.get("/destinations/export", params={"format": "json", "confidence": "low"})
    assert sorted(r["host"] for r in low.json()) == ["maps.example.de", "split.example.kz"]


def test_one_destination_in_full(client: TestClient, session: int) -> None:
    (row,) = client.get("/destinations", params={"host": "maps.example.de"}).json()["data"]
    dest_id = row["geolocation"]["destination_id"]
    detail = client.get(f"/destinations/{dest_id}").json()
    assert (detail["host"], detail["ip"], detail["findings"], detail["violations"]) == (
        "maps.example.de",
        "88.198.0.1",
        1,
        0,
    )
    assert detail["categories"] == ["vin"]
    assert detail["geolocation"] == row["geolocation"]
    kinds = {e["kind"] for e in detail["evidence"]}
    assert {"name", "mmdb", "cdn", "consensus"} <= kinds
    assert client.get("/destinations/987654").status_code == 404
    assert client.get("/destinations/0").status_code == 422


def test_a_findings_geolocation_comes_from_the_same_evidence(
    client: TestClient, store: FindingStore, session: int
) -> None:
    (edge,) = [
        s for s in store.query_findings(run_id=session, limit=100) if s.finding.flow_id == "edge"
    ]
    geo = client.get(f"/findings/{edge.id}").json()["geolocation"]
    listed = client.get("/destinations", params={"host": "maps.example.de"}).json()["data"][0]
    assert geo["evidence"] == listed["geolocation"]
    assert geo["confidence"] == "low" and geo["evidence"]["cdn"] == "Cloudflare"


def test_high_confidence_share_of_a_replay_comes_from_the_evidence(
    client: TestClient, session: int
) -> None:
    body = client.get(f"/sessions/{session}/coverage").json()
    # No connection records: the five flows with findings, three of them to a high one.
    assert body["attributed_basis"] == "flows with findings"
    assert (body["attributed_high"], body["attributed_total"]) == (3, 5)
    assert body["share_attributed_high"] == pytest.approx(0.6)
    assert body["share_read"] is None


def test_the_openapi_examples_are_valid(client: TestClient) -> None:
    from shekara.api.schemas import DestinationDetail, DestinationSummary, GeolocationEvidence

    components = client.get("/openapi.json").json()["components"]["schemas"]
    for model in (GeolocationEvidence, DestinationSummary, DestinationDetail):
        (example,) = components[model.__name__]["examples"]
        model.model_validate(example)
