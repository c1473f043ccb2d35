"""The hashing key is created private and refused when others can read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shekara.proxy.keys import KeyFileError, hashing_key, load_or_create_key


def test_created_with_owner_only_permissions(tmp_path: Path) -> None:
    key = hashing_key(tmp_path / "home")
    path = tmp_path / "home" / "hmac.key"
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert hashing_key(tmp_path / "home") == key  # stable across runs


def test_world_readable_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_key(path)


def test_truncated_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_bytes(b"abc")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="too short"):
        load_or_create_key(path)
