"""Update instructions in a server's JSON answer; ordinary answers give none."""

from __future__ import annotations

from typing import Any

import pytest

from shekara.audit.decoders.ota import instruction


@pytest.mark.parametrize(
    "tree, host, package, version",
    [
        (
            {"firmware_url": "https://fota.example.cn/tbox/v3.2.bin", "version": "3.2"},
            "fota.example.cn",
            "v3.2.bin",
            "3.2",
        ),
        (
            {"data": {"packages": [{"url": "https://cdn.example.com/p", "md5": "ab" * 16}]}},
            "cdn.example.com",
            "p",
            None,
        ),
        (
            {"result": {"link": "http://dl.example.ru/hu/update.zip"}},
            "dl.example.ru",
            "update.zip",
            None,
        ),
        (
            {"downloadUrl": "https://ota.example.de/x/delta", "fw_version": 17},
            "ota.example.de",
            "delta",
            "17",
        ),
    ],
)
def test_instructions_found(tree: Any, host: str, package: str, version: str | None) -> None:
    got = instruction(tree)
    assert got is not None
    assert (got["command"], got["ota"], got["download_host"], got["package"]) == (
        "over-the-air update",
        True,
        host,
        package,
    )
    assert got.get("version") == version


@pytest.mark.parametrize(
    "tree",
    [
        {"ok": True},
        {"url": "https://example.com/terms"},  # a link, not an update
        {"avatar": "https://img.example.com/u/1.png"},
        {"homepage": "https://example.com/index.html", "version": "1.0"},
        [{"next": "https://api.example.com/page/2"}],
        "https://fota.example.cn/fw.bin",  # a bare string is no instruction
    ],
)
def test_no_instruction(tree: Any) -> None:
    assert instruction(tree) is None
