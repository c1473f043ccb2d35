"""Range lookups by bisection: nesting, misses, and the non-global table against ipaddress."""

from __future__ import annotations

import ipaddress
import random

import pytest

from shekara.geo.ranges import RangeMap, is_global, network_of, parse


def test_narrowest_network_wins_and_misses_are_none() -> None:
    m = RangeMap([("10.0.0.0/8", "wide"), ("10.1.0.0/16", "narrow"), ("2001:db8::/32", "v6")])
    assert m.get(parse("10.1.2.3")) == "narrow"  # type: ignore[arg-type]
    assert m.get(parse("10.2.0.1")) == "wide"  # type: ignore[arg-type]
    assert m.get(parse("10.255.255.255")) == "wide"  # type: ignore[arg-type]
    assert m.get(parse("11.0.0.0")) is None  # type: ignore[arg-type]
    assert m.get(parse("9.255.255.255")) is None  # type: ignore[arg-type]
    assert m.get(parse("2001:db8::1")) == "v6"  # type: ignore[arg-type]
    assert RangeMap([]).get(parse("1.2.3.4")) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["", "1.2.3", "999.1.1.1", "host.example", "1.2.3.4/24", "1.2.3.\udcff", "::\udcff"]
)
def test_not_an_address(text: str) -> None:
    assert parse(text) is None


def test_network_of() -> None:
    assert network_of(parse("95.56.7.9"), 20) == "95.56.0.0/20"  # type: ignore[arg-type]
    assert network_of(parse("2001:db8::1"), 32) == "2001:db8::/32"  # type: ignore[arg-type]


# Where Python versions' ``ipaddress`` tables differ (3.12.1 vs 3.12.4+), IANA decides.
UNSETTLED = [
    ipaddress.ip_network(n)
    for n in ("192.0.0.0/24", "2001::/23", "2002::/16", "3fff::/20", "5f00::/16", "64:ff9b:1::/48")
]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("192.0.0.9", True),
        ("192.0.0.100", False),
        ("2001:4:112::1", True),
        ("2001:40::1", False),
        ("2002:ae62::1", False),
        ("3fff::1", False),
        ("100.64.0.1", False),
        ("8.8.8.8", True),
    ],
)
def test_is_global_follows_the_iana_registry(text: str, expected: bool) -> None:
    assert is_global(parse(text)) is expected  # type: ignore[arg-type]


def test_is_global_agrees_with_ipaddress_elsewhere() -> None:
    rng = random.Random(3)
    samples = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(20000)]
    samples += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(2000)]
    samples += ["10.1.2.3", "127.0.0.1", "::1", "fe80::1", "fc00::5", "::ffff:1.2.3.4"]
    for s in samples:
        ip = ipaddress.ip_address(s)
        if any(ip in n for n in UNSETTLED if n.version == ip.version):
            continue
        addr = parse(s)
        assert addr is not None
        assert is_global(addr) == ip.is_global, s
