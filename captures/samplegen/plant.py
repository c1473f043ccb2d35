"""Payload trees with planted markers, turned into bytes and the exact locators expected.

A payload is written once with ``Plant`` markers where personal data goes;
``materialise`` yields both the plain tree to send and the list of
``(category, locator path, value)`` it planted, so the manifest can never
drift from the bytes in the capture.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


@dataclass(frozen=True)
class Plant:
    """A personal value of ``category``; for pairs (lat/lon) it marks the latitude only."""

    category: str
    value: Any


@dataclass(frozen=True)
class Embed:
    """A subtree sent as a string: ``json`` (JSON text) or ``base64`` (of the inner string)."""

    kind: str
    inner: Any


@dataclass(frozen=True)
class Planted:
    category: str
    path: str
    value: Any


def key_step(key: str) -> str:
    """One path step for a dict key, following the shared locator convention."""
    if _BARE_KEY.match(key):
        return f".{key}"
    return "['" + key.replace("'", "\\'") + "']"


def materialise(tree: Any, path: str = "$") -> tuple[Any, list[Planted]]:
    """The plain tree for ``tree`` and every Plant inside it with its locator path."""
    planted: list[Planted] = []
    plain = _walk(tree, path, planted)
    return plain, planted


def _walk(node: Any, path: str, out: list[Planted]) -> Any:
    if isinstance(node, Plant):
        inner = _walk(node.value, path, out)
        out.append(Planted(node.category, path, _scalar(inner)))
        return inner
    if isinstance(node, Embed):
        return _embed(node, path, out)
    if isinstance(node, dict):
        return {k: _walk(v, path + key_step(k), out) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_walk(v, f"{path}[{i}]", out) for i, v in enumerate(node)]
    return node


def _embed(node: Embed, path: str, out: list[Planted]) -> str:
    if node.kind == "json":
        inner = _walk(node.inner, path + "<json>", out)
        return json.dumps(inner, separators=(",", ":"), ensure_ascii=False)
    if node.kind == "base64":
        inner = _walk(node.inner, path + "<base64>", out)
        raw = inner.encode() if isinstance(inner, str) else bytes(inner)
        return base64.b64encode(raw).decode("ascii")
    raise ValueError(f"unknown embedding {node.kind!r}")


def _scalar(value: Any) -> Any:
    # Lists (tracks, coordinates, contact lists) are recorded as-is; the manifest keeps them
    # as JSON.
    return value


def materialise_pairs(
    pairs: list[tuple[str, Any]], *, lower_keys: bool = False
) -> tuple[list[tuple[str, str]], list[Planted]]:
    """Flat key/value sources (query, form, headers): bare keys, repeats as ``key[1]``.

    Header names are case-insensitive, so their locators use the lower-cased name.
    """
    seen: dict[str, int] = {}
    plain: list[tuple[str, str]] = []
    planted: list[Planted] = []
    for key, value in pairs:
        base = key.lower() if lower_keys else key
        count = seen.get(base, 0)
        seen[base] = count + 1
        name = base if count == 0 else f"{base}[{count}]"
        if isinstance(value, Plant):
            planted.append(Planted(value.category, name, str(value.value)))
            value = value.value
        plain.append((key, str(value)))
    return plain, planted


# Category ids as the core spells them (shekara.audit.model.Category values).
LOCATION = "location"
VIN = "vin"
IMEI = "imei"
IMSI = "imsi"
ICCID = "iccid"
PHONE = "phone"
EMAIL = "email"
IIN = "iin"
PERSON_NAME = "person_name"
LICENSE_PLATE = "license_plate"
MAC_ADDRESS = "mac_address"
ACCOUNT_ID = "account_id"
CREDENTIALS = "credentials"
CELL_LOCATION = "cell_location"
CONTACTS = "contacts"
BIOMETRIC = "biometric"
CABIN_MEDIA = "cabin_media"
REMOTE_CONTROL = "remote_control"
