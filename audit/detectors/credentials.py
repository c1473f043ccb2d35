"""Credentials detector: passwords, tokens and keys sent as values, and decoders' secret markers.

A credential is recognised by its key (``password``, ``api_key``, ``access_token``,
an ``Authorization`` header with a ``Bearer``/``Basic`` scheme) and a value that
can be one (non-empty, plausible length, not a placeholder such as ``***``).
Binary decoders never keep a secret; they leave ``password_present: true`` or
``credentials: "platform login"`` instead, and those markers are hits too.

The canonical form is ``<kind>|<sha256 of the secret>``: the secret itself is
neither previewed nor kept as a canonical value, only its kind. Whether it
travelled without TLS is a property of the flow, judged by the rule layer.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from typing import Any

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category

SEPARATOR = "|"
_PASSWORD_MIN, _PASSWORD_MAX = 4, 256
_TOKEN_MIN, _TOKEN_MAX = 8, 16384
_PLACEHOLDERS = frozenset(
    {
        "null",
        "none",
        "nil",
        "undefined",
        "true",
        "false",
        "yes",
        "no",
        "n/a",
        "string",
        "redacted",
        "<redacted>",
        "[redacted]",
        "hidden",
        "<hidden>",
        "masked",
        "pass",
        "fail",
        "passed",
        "failed",
    }
)
_MASK_CHARS = frozenset("*•●x#X-_.")
#: Authorization schemes that carry the secret itself (not a signature or a challenge).
_SCHEMES = {"bearer": "bearer token", "basic": "basic credentials", "token": "access token"}
#: Marker values the binary decoders write, and the kind each stands for.
MARKERS = {
    "platform login": "platform login password",
    "payload encryption key": "payload encryption key",
}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def canonical(kind: str, secret: str) -> str:
    """``kind|sha256``: what is hashed again under the installation key and never shown."""
    return f"{kind}{SEPARATOR}{digest(secret)}"


@functools.lru_cache(maxsize=1024)
def kind_of(key: str) -> str | None:
    """What kind of secret a key names, or None when it names none."""
    norm = keys.normalise_key(key)
    if norm.endswith(("password", "passwd")) or norm in ("pwd", "pass", "passwort", "пароль"):
        return "password"
    if norm.endswith("privatekey"):
        return "private key"
    if norm.endswith("apikey"):
        return "API key"
    if norm.endswith("refreshtoken"):
        return "refresh token"
    if norm.endswith("sessiontoken"):
        return "session token"
    if norm.endswith(("token", "accesstoken", "authtoken")):
        return "access token"
    if norm.endswith(("secret", "secretkey", "accesskey")):
        return "secret key"
    if norm in ("authorization", "proxyauthorization"):
        return "authorization header"
    return None


def _placeholder(text: str) -> bool:
    return (
        len(set(text)) == 1
        or set(text) <= _MASK_CHARS
        or text.lower() in _PLACEHOLDERS
        or text.startswith("${")  # a template variable left unfilled
    )


def _path_like(text: str) -> bool:
    # "PWD" is also the shell's working directory in environment dumps.
    return text.startswith(("/", "~")) or (len(text) > 2 and text[1:3] == ":\\")


def secret_value(kind: str, key: str, text: str) -> Match | None:
    """A Match when ``text`` is a plausible secret of ``kind``."""
    text = text.strip()
    if not text or _placeholder(text):
        return None
    if kind == "authorization header":
        return _authorization(text)
    if kind == "password":
        if not _PASSWORD_MIN <= len(text) <= _PASSWORD_MAX:
            return None
        if keys.normalise_key(key) == "pwd" and _path_like(text):
            return None
        return Match(canonical(kind, text), "password value under a password key")
    if kind == "private key" and "PRIVATE KEY" in text and text.startswith("-----BEGIN"):
        return Match(canonical(kind, text), "PEM private key")
    if not _TOKEN_MIN <= len(text) <= _TOKEN_MAX or any(ch.isspace() for ch in text):
        return None
    return Match(canonical(kind, text), f"{kind} under a key that names one")


def _authorization(text: str) -> Match | None:
    scheme, _, credential = text.partition(" ")
    kind = _SCHEMES.get(scheme.lower())
    credential = credential.strip()
    if kind is None or not _TOKEN_MIN <= len(credential) <= _TOKEN_MAX:
        return None
    if any(ch.isspace() for ch in credential) or _placeholder(credential):
        return None
    if kind == "basic credentials":
        try:
            decoded = base64.b64decode(credential, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, colon, password = decoded.partition(":")
        if not colon or not password:
            return None
        return Match(canonical(kind, decoded), "Authorization: Basic user:password")
    return Match(canonical(kind, credential), f"Authorization: {scheme} credential")


def encoded(kind: str, key: str, tree: Any) -> Match | None:
    """A Match for a secret a decoder already unwrapped (a JWT, base64) under a secret key."""
    secret_kind = kind_of(key)
    if secret_kind is None:
        return None
    try:
        material = json.dumps(tree, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        material = repr(type(tree))
    return Match(canonical(secret_kind, material), f"{secret_kind} ({kind}-encoded)")


def marker(norm_key: str, value: Any, context: str) -> Match | None:
    """A Match for a decoder's note that a secret was sent (the secret is never kept).

    ``context`` (the source and, when known, the login name) makes the hash tell
    one device's login from another's, since there is no secret to hash.
    """
    if norm_key == "passwordpresent" and value is True:
        kind = "password"
    elif norm_key == "credentials" and isinstance(value, str) and value in MARKERS:
        kind = MARKERS[value]
    else:
        return None
    return Match(canonical(kind, context), f"{kind} sent (not recorded by the decoder)")


class CredentialsDetector(Detector):
    category = Category.CREDENTIALS

    def check(self, leaf: Leaf) -> Match | None:
        if not leaf.hints & (keys.SECRET | keys.AUTH_HEADER) or leaf.key is None:
            return None
        if isinstance(leaf.value, bool):
            return None
        kind = kind_of(leaf.key)
        if kind is None:
            return None
        return secret_value(kind, leaf.key, leaf.text)

    def check_token(self, token: str) -> Match | None:
        return None  # a secret in free text has no key that says it is one


DETECTOR = CredentialsDetector()
