"""Server-to-device commands become remote_control hits; the same tree upstream does not."""

from __future__ import annotations

import pytest

from shekara.audit.detectors import detect
from shekara.audit.model import Category, Document


@pytest.mark.parametrize(
    "source, tree, expected",
    [
        (
            "gt06.down.command",
            {"command": "relay (cut fuel/power)", "text": "RELAY,1#"},
            ("gt06.down.command:$.command", "relay (cut fuel/power)"),
        ),
        (
            "jt808.down.0x8105",
            {
                "command": "terminal_control",
                "ota": True,
                "upgrade_url": "http://ota.example.cn/fw.bin",
            },
            ("jt808.down.0x8105:$.command", "terminal_control"),
        ),
    ],
)
def test_commands_found(source: str, tree: dict, expected: tuple[str, str]) -> None:  # type: ignore[type-arg]
    hits = [h for h in detect(Document(source, tree)) if h.category is Category.REMOTE_CONTROL]
    assert [(h.field.locator, h.canonical) for h in hits] == [expected]
    if tree.get("ota"):
        assert "over-the-air" in hits[0].evidence


@pytest.mark.parametrize(
    "source, tree",
    [
        ("gt06.command_reply", {"command": "relay (cut fuel/power)"}),  # the device's answer
        ("request.body", {"command": "unlock"}),  # an app's JSON: not a decoded command
        ("jt808.down.0x8100", {"result": 0, "auth_code": "x"}),  # no command
        ("jt808.down.0x8105", {"command": ""}),
        ("jt808.down.0x8105", ["command"]),
        ("mqtt.publish[fleet.down.link/cmd]", {"command": "x"}),  # ".down." in a topic only
    ],
)
def test_no_command(source: str, tree: object) -> None:
    assert not [h for h in detect(Document(source, tree)) if h.category is Category.REMOTE_CONTROL]
