"""Credentials: secrets under secret keys, Authorization headers, decoders' markers; never shown."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from shekara.audit.decoders.tree import Embedded, KeyValues
from shekara.audit.detectors import detect
from shekara.audit.model import Category, Document
from shekara.audit.redact import preview

from .util import hits

PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl"


def _kinds(tree: Any, source: str = "request.body") -> list[tuple[str, str]]:
    return sorted(
        (h.field.locator, h.canonical.partition("|")[0])
        for h in hits(tree, Category.CREDENTIALS, source)
    )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    "source, tree, expected",
    [
        ("request.body", {"password": "hunter22"}, [("request.body:$.password", "password")]),
        ("request.body", {"pwd": 482913}, [("request.body:$.pwd", "password")]),
        (
            "request.body",
            {"login": {"passwd": "s3cr3t!"}},
            [("request.body:$.login.passwd", "password")],
        ),
        (
            "request.body",
            {"userPassword": "Qwerty12"},
            [("request.body:$.userPassword", "password")],
        ),
        ("request.body", {"pass": "1234"}, [("request.body:$.pass", "password")]),
        (
            "request.body",
            {"client_secret": "9f8e7d6c5b4a3210"},
            [("request.body:$.client_secret", "secret key")],
        ),
        (
            "request.body",
            {"api_key": "AIzaSyA-1234567890abcdef"},
            [("request.body:$.api_key", "API key")],
        ),
        ("request.body", {"access_token": JWT}, [("request.body:$.access_token", "access token")]),
        ("request.body", {"token": "a1b2c3d4e5f6a7b8"}, [("request.body:$.token", "access token")]),
        (
            "request.form",
            KeyValues(refresh_token="0a1b2c3d4e5f60718293"),
            [("request.form:refresh_token", "refresh token")],
        ),
        (
            "request.body",
            {"session_token": "s.4f9a8b7c6d5e"},
            [("request.body:$.session_token", "session token")],
        ),
        (
            "request.body",
            {"private_key": PEM},
            [("request.body:$.private_key", "private key")],
        ),
        (
            "request.header",
            KeyValues({"authorization": "Bearer " + JWT}),
            [("request.header:authorization", "bearer token")],
        ),
        (
            "request.header",
            KeyValues({"authorization": "Basic " + base64.b64encode(b"tbox:s3cret").decode()}),
            [("request.header:authorization", "basic credentials")],
        ),
        (
            "request.header",
            KeyValues({"x-api-key": "k_live_12345678"}),
            [("request.header:x-api-key", "API key")],
        ),
        (
            "request.header",
            KeyValues({"x-auth-token": "abcdef0123456789"}),
            [("request.header:x-auth-token", "access token")],
        ),
        # decoders' markers: the secret itself was never kept
        (
            "mqtt.connect",
            KeyValues(client_id="c", username="dev", password_present=True),
            [("mqtt.connect:password_present", "password")],
        ),
        (
            "gbt32960.up.platform_login",
            {"username": "plat", "password_present": True, "credentials": "platform login"},
            [("gbt32960.up.platform_login:$.credentials", "platform login password")],
        ),
        (
            "gbt32960.up.payload_key_sync",
            {"payload_key_present": True, "credentials": "payload encryption key"},
            [("gbt32960.up.payload_key_sync:$.credentials", "payload encryption key")],
        ),
        # a token a decoder unwrapped is still a token sent
        (
            "request.body",
            {"token": Embedded("json", {"sub": "1234"})},
            [("request.body:$.token", "access token")],
        ),
    ],
)
def test_credentials(source: str, tree: Any, expected: list[tuple[str, str]]) -> None:
    assert _kinds(tree, source) == expected


@pytest.mark.parametrize(
    "source, tree",
    [
        ("request.body", {"token": ""}),
        ("request.body", {"password": ""}),
        ("request.body", {"password": "********"}),
        ("request.body", {"password": "•••••"}),
        ("request.body", {"password": "abc"}),  # too short to be one
        ("request.body", {"password": None}),
        ("request.body", {"password": True}),
        ("request.body", {"password_required": True}),
        ("request.body", {"pass": "pass"}),  # a test result
        ("request.body", {"pwd": "/home/driver"}),  # a working directory
        ("request.body", {"secret": "false"}),
        ("request.body", {"token": "null"}),
        ("request.body", {"token": "abc123"}),  # too short for a token
        ("request.body", {"token": "has spaces in it"}),
        ("request.body", {"api_key": "${API_KEY}"}),  # an unfilled template
        ("request.body", {"push_token": "a1b2c3d4e5f6a7b8c9d0"}),  # a device registration
        ("request.body", {"fcm_token": "a1b2c3d4e5f6a7b8c9d0"}),
        ("request.body", {"csrf_token": "a1b2c3d4e5f6a7b8c9d0"}),
        ("request.body", {"next_page_token": "a1b2c3d4e5f6a7b8c9d0"}),
        ("request.body", {"id": "a1b2c3d4e5f6a7b8c9d0"}),
        ("request.body", {"grant_type": "password"}),
        ("request.header", KeyValues({"authorization": "Bearer"})),
        ("request.header", KeyValues({"authorization": "Bearer short"})),
        ("request.header", KeyValues({"authorization": "Digest username=x, response=abc"})),
        ("request.header", KeyValues({"authorization": "Basic !!!notbase64!!!"})),
        (
            "request.header",
            KeyValues({"authorization": "Basic " + base64.b64encode(b"nocolonhere").decode()}),
        ),
        ("mqtt.connect", KeyValues(client_id="c", password_present=False)),
        ("request.body", {"password_present": "yes"}),
        ("request.body", {"credentials": "some other text"}),
        ("request.body", {"private_key": "short"}),
    ],
)
def test_not_credentials(source: str, tree: Any) -> None:
    assert hits(tree, Category.CREDENTIALS, source) == []


@pytest.mark.parametrize(
    "source, tree, secret",
    [
        ("request.body", {"password": "hunter22"}, "hunter22"),
        ("request.header", KeyValues({"authorization": "Bearer " + JWT}), JWT),
        ("request.body", {"api_key": "AIzaSyA-1234567890abcdef"}, "AIzaSyA-1234567890abcdef"),
    ],
)
def test_the_secret_is_neither_canonical_nor_previewed(source: str, tree: Any, secret: str) -> None:
    (hit,) = hits(tree, Category.CREDENTIALS, source)
    assert secret not in hit.canonical
    assert hit.canonical.endswith(_sha(secret))
    shown = preview(Category.CREDENTIALS, hit.canonical)
    assert shown.startswith("*** (")
    # not a single character of the secret beyond the fixed kind text
    kind = hit.canonical.partition("|")[0]
    assert shown == f"*** ({kind})"


def test_markers_of_two_logins_hash_apart() -> None:
    a = detect(Document("mqtt.connect", KeyValues(username="dev1", password_present=True)))
    b = detect(Document("mqtt.connect", KeyValues(username="dev2", password_present=True)))
    assert a[0].canonical != b[0].canonical


def test_basic_hash_covers_user_and_password() -> None:
    header = "Basic " + base64.b64encode(b"tbox:s3cret").decode()
    (hit,) = hits(KeyValues(authorization=header), Category.CREDENTIALS, "request.header")
    assert hit.canonical == "basic credentials|" + _sha("tbox:s3cret")
