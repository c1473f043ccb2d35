"""ClientHello parsing and JA3 / JA4 fingerprints against published reference vectors."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.tls import ClientHello

from shekara.audit.tlshello import TlsHello, TlsHelloError, is_grease, parse_client_hello

DATA = Path(__file__).parent.parent / "data" / "tls"


def record(name: str) -> bytes:
    return bytes.fromhex((DATA / name).read_text().replace("\n", ""))


# Published by FoxIO-LLC/ja4 for these captures (python/test/testdata/*.json).
FIREFOX_JA4 = "t13d1715h2_5b57614c22b0_3d5424432f57"
FIREFOX_JA4_R = (
    "t13d1715h2_002f,0035,009c,009d,1301,1302,1303,c009,c00a,c013,c014,c02b,c02c,c02f,c030,"
    "cca8,cca9_0005,000a,000b,000d,0015,0017,001c,0022,0023,002b,002d,0033,ff01_"
    "0403,0503,0603,0804,0805,0806,0401,0501,0601,0203,0201"
)
FIREFOX_JA4_RO = (
    "t13d1715h2_1301,1303,1302,c02b,c02f,cca9,cca8,c02c,c030,c00a,c009,c013,c014,009c,009d,"
    "002f,0035_0000,0017,ff01,000a,000b,0023,0010,0005,0022,0033,002b,000d,002d,001c,0015_"
    "0403,0503,0603,0804,0805,0806,0401,0501,0601,0203,0201"
)
TLS12_JA4 = "t12d4605h2_85626a9a5f7f_aaf95bb78ec9"


def test_firefox_tls13_hello_matches_published_ja4() -> None:
    hello = parse_client_hello(record("firefox_tls13.hex"))
    assert hello.ja4 == FIREFOX_JA4
    assert hello.ja4_r == FIREFOX_JA4_R
    assert hello.sni == "contile.services.mozilla.com"
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.version == 0x0304


def test_tls12_hello_matches_published_ja4() -> None:
    hello = parse_client_hello(record("tls12_alpn_h2.hex"))
    assert hello.ja4 == TLS12_JA4
    assert hello.sni == "www.cloudflare.com"
    assert hello.version == 0x0303


def test_ja3_lists_follow_wire_order_in_decimal() -> None:
    """JA3's cipher and extension lists are JA4_ro's original-order lists, in decimal."""
    hello = parse_client_hello(record("firefox_tls13.hex"))
    _, ciphers, extensions, _ = FIREFOX_JA4_RO.split("_")
    version, ja3_ciphers, ja3_extensions, groups, formats = hello.ja3.split(",")
    assert version == "771"
    assert ja3_ciphers == "-".join(str(int(c, 16)) for c in ciphers.split(","))
    assert ja3_extensions == "-".join(str(int(e, 16)) for e in extensions.split(","))
    # x25519, secp256r1, secp384r1, secp521r1, ffdhe2048, ffdhe3072; uncompressed points.
    assert groups == "29-23-24-25-256-257"
    assert formats == "0"
    assert hello.ja3_md5 == hashlib.md5(hello.ja3.encode()).hexdigest()


def test_ja3_digest_of_the_reference_string() -> None:
    """The example from the JA3 README (salesforce/ja3): string and its published MD5."""
    reference = "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
    assert hashlib.md5(reference.encode()).hexdigest() == "ada70206e40642a3e4461f35503241d5"
    hello = _hello_from_parts(
        version=769,
        ciphers=[47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
        extensions=[(0, _sni("a.example")), (10, _groups([23, 24, 25])), (11, b"\x01\x00")],
    )
    assert hello.ja3 == reference
    assert hello.ja3_md5 == "ada70206e40642a3e4461f35503241d5"


def test_bare_handshake_message_and_record_give_the_same_result() -> None:
    raw = record("firefox_tls13.hex")
    assert parse_client_hello(raw[5:]) == parse_client_hello(raw)


def test_hello_split_over_two_records() -> None:
    raw = record("firefox_tls13.hex")
    handshake = raw[5:]
    first, second = handshake[:100], handshake[100:]
    split = (
        b"\x16\x03\x01"
        + len(first).to_bytes(2, "big")
        + first
        + b"\x16\x03\x01"
        + len(second).to_bytes(2, "big")
        + second
    )
    assert parse_client_hello(split) == parse_client_hello(raw)


def python_client_hello(sni: str | None, alpn: list[str]) -> bytes:
    context = ssl.create_default_context()
    if alpn:
        context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    if sni is None:
        context.check_hostname = False
    tls = context.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize(
    "sni, alpn",
    [("telematics.example.cn", ["mqtt"]), ("api.example.de", ["h2", "http/1.1"]), (None, [])],
)
def test_agrees_with_mitmproxy_parser_on_real_hellos(sni: str | None, alpn: list[str]) -> None:
    raw = python_client_hello(sni, alpn)
    ours = parse_client_hello(raw)
    theirs = ClientHello(raw[9:])  # mitmproxy takes the hello body without headers
    assert ours.sni == theirs.sni == sni
    assert list(ours.alpn) == [p.decode() for p in theirs.alpn_protocols] == alpn
    assert list(ours.cipher_suites) == theirs.cipher_suites
    assert list(ours.extensions) == [ext for ext, _ in theirs.extensions]
    assert ours.ja4.startswith("t13" + ("d" if sni else "i"))
    assert ours.ja4[8:10] == ((alpn[0][0] + alpn[0][-1]) if alpn else "00")


def test_alpn_with_non_alphanumeric_ends_uses_hex_digits() -> None:
    hello = _hello_from_parts(
        version=0x0303, ciphers=[0x1301], extensions=[(0x10, _alpn_ext([b"\xab\x01"]))]
    )
    assert hello.ja4[:10] == "t12i0101a1"


def test_no_extensions_hashes_to_zeros() -> None:
    hello = _hello_from_parts(version=0x0303, ciphers=[0x002F], extensions=None)
    assert hello.ja4.endswith("_000000000000")
    assert hello.sni is None
    assert hello.alpn == ()


def test_grease_values_are_recognised() -> None:
    assert all(is_grease(0x0A0A + 0x1010 * i) for i in range(16))
    assert not is_grease(0x1301)
    assert not is_grease(0x0A0B)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x17\x03\x03\x00\x01\x00",
        b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET / HTTP/1.1\r\n\r\n",
    ],
)
def test_not_a_client_hello_is_a_clear_error(raw: bytes) -> None:
    with pytest.raises(TlsHelloError):
        parse_client_hello(raw)


def test_every_truncation_is_a_clear_error() -> None:
    raw = record("tls12_alpn_h2.hex")
    for end in range(len(raw)):
        with pytest.raises(TlsHelloError):
            parse_client_hello(raw[:end])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=0, max_value=516))
def test_mutated_hellos_never_raise_anything_else(noise: bytes, at: int) -> None:
    raw = bytearray(record("firefox_tls13.hex"))
    raw[at : at + len(noise)] = noise
    try:
        result = parse_client_hello(bytes(raw))
    except TlsHelloError:
        return
    assert isinstance(result, TlsHello)


# -- building small hellos by hand, for cases no capture shows --------------------------


def _sni(name: str) -> bytes:
    entry = b"\x00" + len(name).to_bytes(2, "big") + name.encode()
    return len(entry).to_bytes(2, "big") + entry


def _groups(groups: list[int]) -> bytes:
    body = b"".join(g.to_bytes(2, "big") for g in groups)
    return len(body).to_bytes(2, "big") + body


def _alpn_ext(protocols: list[bytes]) -> bytes:
    body = b"".join(len(p).to_bytes(1, "big") + p for p in protocols)
    return len(body).to_bytes(2, "big") + body


def _hello_from_parts(
    version: int, ciphers: list[int], extensions: list[tuple[int, bytes]] | None
) -> TlsHello:
    body = version.to_bytes(2, "big") + bytes(32) + b"\x00"
    suites = b"".join(c.to_bytes(2, "big") for c in ciphers)
    body += len(suites).to_bytes(2, "big") + suites + b"\x01\x00"
    if extensions is not None:
        exts = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in extensions)
        body += len(exts).to_bytes(2, "big") + exts
    return parse_client_hello(b"\x01" + len(body).to_bytes(3, "big") + body)
