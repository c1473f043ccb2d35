"""Over-the-air update instructions in a server's answer: a command, whoever asked.

A head unit that polls ``/ota/check`` and is told where to download new
firmware is being changed remotely by that server; the answer is read as a
server-to-device command (source ``http.down.response``) so the issuing
server's country is reported with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

#: Keys that name a download location of an update package.
URL_KEYS = frozenset(
    {
        "firmware_url", "firmwareurl", "fw_url", "fwurl", "download_url", "downloadurl",
        "package_url", "packageurl", "upgrade_url", "upgradeurl", "update_url", "updateurl",
        "ota_url", "otaurl", "image_url", "imageurl", "patch_url", "patchurl", "delta_url",
    }
)  # fmt: skip
#: Package file endings that are firmware or system images.
PACKAGE_ENDINGS = (".bin", ".img", ".zip", ".pkg", ".ota", ".upd", ".swu", ".tar.gz", ".tgz")
#: Sibling keys that make a plain ``url`` an update location.
UPDATE_SIBLINGS = frozenset({"version", "firmware", "fw_version", "md5", "sha256", "checksum"})
MAX_DEPTH = 20


def _norm(key: str) -> str:
    return key.lower().replace("-", "_")


def _urls(tree: Any, depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    if depth > MAX_DEPTH:
        return
    if isinstance(tree, dict):
        keys = {_norm(str(k)) for k in tree}
        for key, value in tree.items():
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                k = _norm(str(key))
                path = urlsplit(value).path.lower()
                if (
                    k in URL_KEYS
                    or (k == "url" and keys & UPDATE_SIBLINGS)
                    or path.endswith(PACKAGE_ENDINGS)
                ):
                    yield value, tree
            elif isinstance(value, dict | list):
                yield from _urls(value, depth + 1)
    elif isinstance(tree, list):
        for item in tree:
            yield from _urls(item, depth + 1)


def instruction(tree: Any) -> dict[str, Any] | None:
    """The update command a response tree gives, or None when it gives none."""
    for url, parent in _urls(tree):
        parts = urlsplit(url)
        command: dict[str, Any] = {
            "command": "over-the-air update",
            "ota": True,
            "download_host": parts.hostname or "",
            "package": parts.path.rsplit("/", 1)[-1][:200],
        }
        for key in ("version", "fw_version", "firmware"):
            if isinstance(parent.get(key), str | int | float):
                command["version"] = str(parent[key])[:100]
                break
        return command
    return None
