"""JSON Web Tokens: the claims of a compact JWS, and the strings that only look like one."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders.jwt import jwt_claims


def _seg(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


HEADER = _seg({"alg": "RS256", "typ": "JWT"})
CLAIMS = {"sub": "driver-7", "vin": "LGHC4V1D9HE204406", "phone": "+77012345678"}


@pytest.mark.parametrize(
    "token, expected",
    [
        (f"{HEADER}.{_seg(CLAIMS)}.c2lnbmF0dXJl", CLAIMS),
        (f"{HEADER}.{_seg(CLAIMS)}.", CLAIMS),  # alg "none": empty signature
        (f"Bearer {HEADER}.{_seg(CLAIMS)}.sig", CLAIMS),
        (f"bearer  {HEADER}.{_seg(CLAIMS)}.sig", CLAIMS),
        (f"{_seg(b'{ "alg": "HS256" }')}.{_seg({'a': 'б'})}.x", {"a": "б"}),
    ],
)
def test_claims(token: str, expected: dict[str, Any]) -> None:
    assert jwt_claims(token) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"{_seg({'typ': 'JWT'})}.{_seg(CLAIMS)}.sig",  # no alg
        f"{HEADER}.{_seg([1, 2])}.sig",  # claims not an object
        f"{HEADER}.{_seg(b'not json at all')}.sig",
        f"{HEADER}.{_seg(CLAIMS)}",  # two segments
        f"{HEADER}.{_seg(CLAIMS)}.sig.more.parts",  # JWE has five
        f"{HEADER}.{_seg(CLAIMS)[:-1]}*.sig",  # not base64url
        f"{HEADER}.{_seg(CLAIMS)}.si+g/",  # standard-alphabet signature
        f"{HEADER}.{_seg(CLAIMS)}x.sig",  # impossible length (4n+1)
        f"{HEADER}.{_seg(b'\xff\xfe\x00')}.sig",  # not UTF-8 JSON
        "e.e.e",
        "example.domain.kz",
        "eyJ.eyJ.x",
        "",
    ],
)
def test_not_tokens(text: str) -> None:
    assert jwt_claims(text) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), st.text(alphabet="eyJhbGciOiIxIn0_-.", max_size=60))
def test_fuzz_never_raises(text: str, tokenish: str) -> None:
    for candidate in (text, tokenish, f"Bearer {tokenish}"):
        result = jwt_claims(candidate)
        assert result is None or isinstance(result, dict)
