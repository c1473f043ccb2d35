"""Flow metadata: URLs with secrets and detected personal values masked, names kept, bounded."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shekara.audit.decoders import decode_path, decode_query
from shekara.audit.detectors import detect
from shekara.audit.flowmeta import (
    MASK,
    MAX_URL,
    FlowFacts,
    FlowMeta,
    describe,
    flow_meta_from_dict,
    is_secret_name,
    protocol_of,
    redact_url,
)
from shekara.audit.model import Category, Field, Hit

VIN = "LGXV5VRB4GC147605"
IMEI = "352099001063078"
PHONE = "+77011234567"


def hits_of(target: str) -> list[Hit]:
    """What the detectors find in a request target's path and query, as the pipeline does."""
    path, _, query = target.partition("?")
    docs = [decode_path(path)]
    if query:
        docs.append(decode_query(query))
    return [h for d in docs for h in detect(d)]


def hit(category: Category, locator: str, value: str, canonical: str | None = None) -> Hit:
    source = locator.partition(":")[0]
    key = locator.partition(":")[2].split("[")[0] or None
    return Hit(category, Field(locator, key, value, source), canonical or value, "test")


@pytest.mark.parametrize(
    "name, secret",
    [
        ("access_token", True),
        ("X-Api-Key", True),
        ("apikey", True),
        ("sig", True),
        ("signature", True),
        ("Authorization", True),
        ("sessionid", True),
        ("JSESSIONID", True),
        ("password", True),
        ("passwd", True),
        ("client_secret", True),
        ("code", True),
        ("lat", False),
        ("speed", False),
        ("lang", False),
        ("timestamp", False),
        ("vin", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    "target, shown, hidden",
    [
        # Secrets by name: the value goes, the name stays.
        (
            "/v1/report?access_token=eyJhbGciOi.abc.def&speed=11",
            "/v1/report?access_token=***&speed=11",
            ["eyJhbGciOi"],
        ),
        ("/a?api_key=K123456789&sig=deadbeef", "/a?api_key=***&sig=***", ["K123456789"]),
        ("/a;jsessionid=ABCDEF0123/b?x=1", "/a;jsessionid=***/b?x=1", ["ABCDEF0123"]),
        # Personal data by detection: its masked preview instead.
        (f"/track?imei={IMEI}&batt=87", "/track?imei=352**********78&batt=87", [IMEI]),
        (f"/api/v1/vehicles/{VIN}/status", "/api/v1/vehicles/LGX************05/status", [VIN]),
        ("/t?lat=43.238949&lon=76.889709&n=3", "/t?lat=43.2&lon=76.9&n=3", ["43.238949"]),
        # Encoded: the VIN is inside base64 JSON, so the whole value is masked.
        (
            "/u?d=eyJ2aW4iOiJMR1hWNVZSQjRHQzE0NzYwNSJ9&k=1",
            f"/u?d={MASK}&k=1",
            ["eyJ2aW4iOiJMR1hWNVZSQjRHQzE0NzYwNSJ9"],
        ),
        # Nothing to hide: the URL as sent.
        ("/v1/config?lang=ru&v=2", "/v1/config?lang=ru&v=2", []),
    ],
)
def test_redaction_with_the_pipelines_own_hits(target: str, shown: str, hidden: list[str]) -> None:
    url = redact_url(target, hits_of(target))
    assert url == shown
    for value in hidden:
        assert value not in url and value not in unquote(url)


def test_a_value_detected_elsewhere_is_masked_everywhere_in_the_url() -> None:
    # The phone was found in the body; the device repeats it in a parameter named "u".
    h = hit(Category.PHONE, "request.body:$.owner.phone", PHONE)
    url = redact_url(f"/sync?u={PHONE.replace('+', '%2B')}&v=1", [h], scheme="https", host="h.cn")
    assert url == "https://h.cn/sync?u=%2B770******67&v=1"
    assert "1234567" not in url


def test_user_info_is_dropped_and_scheme_host_port_kept() -> None:
    assert (
        redact_url("https://alice:s3cret@API.Example.cn:8443/a?token=t0k3n")
        == "https://api.example.cn:8443/a?token=***"
    )
    assert redact_url("/a", scheme="https", host="bob:pw@h.kz", port=443) == "https://h.kz/a"
    assert redact_url("/a", scheme="http", host="10.0.0.1", port=5055) == "http://10.0.0.1:5055/a"
    assert redact_url("/a", scheme="https", host="2001:db8::1", port=8443) == (
        "https://[2001:db8::1]:8443/a"
    )


def test_fragment_values_are_redacted_like_query_values() -> None:
    url = redact_url("/cb#access_token=abc123xyz&state=s1&lang=kk")
    assert url == "/cb#access_token=***&state=***&lang=kk"


@pytest.mark.parametrize(
    "target",
    [
        "http://[::1/a?token=secret1",  # broken authority
        "http://h:port/a?token=secret1",  # a port of letters
        "/a?token=secret1&=&&x&%ZZ=1&y=%E0%A4",  # empty and malformed pairs
        "/a\x00b\r\n?token=secret1",  # controls
        "/" + "é" * 10 + "?token=secret1",  # non-ASCII
    ],
)
def test_hostile_urls_never_raise_and_never_show_the_secret(target: str) -> None:
    url = redact_url(target)
    assert url is not None and "secret1" not in url
    assert all(c.isprintable() and c != " " for c in url)


def test_length_is_bounded_and_a_long_input_is_cut_at_whole_parameters() -> None:
    target = "/a?" + "&".join(f"p{i}=v{i}" for i in range(20_000)) + "&token=zzzsecret"
    url = redact_url(target)
    assert url is not None and len(url) <= MAX_URL and url.endswith("-more")
    assert "zzzsecret" not in url and "p199=v199" in url and "p200=" not in url
    url = redact_url("/a?x=" + "v" * 5000 + "&token=zzzsecret") or ""
    assert len(url) == MAX_URL and url.endswith("…") and "zzzsecret" not in url
    # Beyond the bound, a secret value cut in half must not appear either.
    long_value = "/a?x=1&token=" + "S" * 100_000
    assert "SSSS" not in (redact_url(long_value) or "")
    assert redact_url("/" + "a" * 100_000) is not None


@given(
    st.text(max_size=300),
    st.text(min_size=8, max_size=40, alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789"),
)
def test_any_url_hides_a_detected_value(noise: str, secret: str) -> None:
    h = hit(Category.ACCOUNT_ID, "request.query:id", secret)
    url = redact_url(f"/x/{noise}?id={secret}&note={noise}", [h]) or ""
    assert secret not in url and secret not in unquote(url)
    assert len(url) <= MAX_URL


@pytest.mark.parametrize(
    "facts, protocol",
    [
        (FlowFacts("f", "http", scheme="https"), "https"),
        (FlowFacts("f", "http", scheme="http"), "http"),
        (FlowFacts("f", "http", scheme="https", websocket=True), "wss"),
        (FlowFacts("f", "http", scheme="http", websocket=True), "ws"),
        (FlowFacts("f", "tcp", application="mqtt"), "mqtt"),
        (FlowFacts("f", "tcp", application="jt808"), "tcp"),
        (FlowFacts("f", "udp"), "udp"),
        (FlowFacts("f", "dns"), "dns"),
    ],
)
def test_protocols(facts: FlowFacts, protocol: str) -> None:
    assert protocol_of(facts) == protocol


def test_describe_bounds_every_field_and_hashes_the_canonical_record() -> None:
    facts = FlowFacts(
        flow_id="f1",
        transport="http",
        scheme="https",
        method="POST" * 20,
        host="TSP.example.cn",
        port=443,
        target=f"/v/{VIN}?token=abc",
        status=200,
        request_body_bytes=221,
        request_bytes=411,
        response_body_bytes=-5,
        response_bytes=None,
        started_at=100.0,
        ended_at=100.25,
        client="10.42.0.17:40000",
        server="223.5.5.5:443",
    )
    meta = describe(facts, hits_of(f"/v/{VIN}"))
    assert meta.url == "https://tsp.example.cn/v/LGX************05?token=***"
    assert meta.method is not None and len(meta.method) == 32
    assert meta.host == "tsp.example.cn" and meta.response_body_bytes is None
    assert meta.duration == 0.25
    record = json.loads(meta.canonical())
    assert set(record) == set(FlowMeta.__dataclass_fields__)
    assert meta.digest == hashlib.sha256(meta.canonical()).hexdigest()
    assert flow_meta_from_dict({**record, "sha256": "x", "run_id": 3}) == meta


def test_raw_streams_name_where_they_went_without_a_path() -> None:
    facts = FlowFacts(
        "t1", "tcp", application="mqtt", host="mqtt.example.ru", port=1883, started_at=1.0
    )
    meta = describe(facts)
    assert (meta.protocol, meta.url, meta.method) == ("mqtt", "mqtt://mqtt.example.ru:1883", None)
    assert meta.duration is None


def test_a_flow_of_thousands_of_hits_still_masks_its_urls_own_values() -> None:
    body = [
        hit(Category.ACCOUNT_ID, f"request.body:$.ids[{i}]", f"ACC{i:08d}") for i in range(20_000)
    ]
    target = f"/v/{VIN}?imei={IMEI}&" + "&".join(f"p{i}=ACC{i:08d}" for i in range(150))
    # The URL's own hits come last here: they are looked for first all the same.
    url = redact_url(target, [*body, *hits_of(target)]) or ""
    assert VIN not in url and IMEI not in url
    # The first of the body's values are still looked for.
    assert "ACC00000001" not in url
