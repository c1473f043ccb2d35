"""``shekara geo explain``: every piece of evidence, the country, the confidence and the verdict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shekara.proxy.cli import main
from shekara.rulesets.loader import default_ruleset_path
from tests.geo.conftest import geoip2_record, write_db
from tests.geo.dnsserver import dns_server


@pytest.fixture
def dbs(tmp_path: Path) -> list[str]:
    a = write_db(
        tmp_path / "a.mmdb",
        "GeoLite2-City",
        {"5.1.0.0/16": geoip2_record("KZ", "Almaty"), "5.2.0.0/16": geoip2_record("CN")},
    )
    b = write_db(
        tmp_path / "b.mmdb",
        "DBIP-Country-Lite",
        {"5.1.0.0/16": geoip2_record("KZ"), "5.2.0.0/16": geoip2_record("KZ")},
    )
    return ["--no-embedded", "--geoip", str(a), "--geoip", str(b)]


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["geo", "explain", *argv]) == 0
    return capsys.readouterr().out


def test_agreeing_sources(capsys: pytest.CaptureFixture[str], dbs: list[str]) -> None:
    out = _explain(capsys, "5.1.2.3", *dbs)
    assert "GeoLite2-City (a.mmdb) (build " in out and "KZ, Almaty, network 5.1.0.0/16" in out
    assert "DBIP-Country-Lite (b.mmdb)" in out
    assert "country    KZ\n" in out and "confidence high\n" in out
    assert "verdict    domestic (KZ-DOM-001)" in out


def test_disagreeing_sources_are_disputed(
    capsys: pytest.CaptureFixture[str], dbs: list[str]
) -> None:
    out = _explain(capsys, "5.2.0.1", *dbs)
    assert "country    - (DISPUTED)" in out
    assert "confidence low (LOW: do not rely on it alone)" in out
    assert "verdict    disputed (KZ-DSP-001)" in out
    assert "candidates CN, KZ" in out


def test_override_from_a_ruleset(
    capsys: pytest.CaptureFixture[str], dbs: list[str], tmp_path: Path
) -> None:
    rs = tmp_path / "rs"
    shutil.copytree(default_ruleset_path(), rs)
    text = (rs / "overrides" / "KZ-GEO-001.yaml").read_text()
    text = text.replace("id: KZ-GEO-001", "id: KZ-GEO-002").replace(
        "networks: []", "networks: [5.2.0.0/16]"
    )
    (rs / "overrides" / "KZ-GEO-002.yaml").write_text(text)
    out = _explain(capsys, "5.2.0.1", *dbs, "--ruleset", str(rs), "--json")
    d = json.loads(out)
    assert (d["country"], d["confidence"], d["verdict"]) == ("KZ", "high", "domestic")
    kinds = [e["kind"] for e in d["evidence"]]
    assert kinds.count("override") == 1 and kinds.count("mmdb") == 2
    assert [e["source"] for e in d["evidence"] if e.get("overruled")] == ["GeoLite2-City (a.mmdb)"]


def test_name_resolved_with_a_given_dns_server(
    capsys: pytest.CaptureFixture[str], dbs: list[str]
) -> None:
    zone = {
        "tsp.example-oem.cn.": [("CNAME", "edge.example-oem.cn.akamaiedge.net.")],
        "edge.example-oem.cn.akamaiedge.net.": [("A", "5.1.9.9")],
    }
    with dns_server(zone) as server:
        out = _explain(capsys, "tsp.example-oem.cn", *dbs, "--dns-server", server)
    assert "tsp.example-oem.cn (audit-resolution), CNAME chain tsp.example-oem.cn -> " in out
    assert "Akamai (name " in out and "not where the data is stored" in out
    assert "verdict    cdn_edge (KZ-CDN-001)" in out


def test_bad_station_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["geo", "explain", "5.1.2.3", "--station", "Astana"]) == 2
    assert "latitude,longitude" in capsys.readouterr().err
