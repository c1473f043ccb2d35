"""The hashing key is created private and refused when others can read it."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from shekara.proxy.keys import (
    STATION_KEY_FILE,
    KeyFileError,
    hashing_key,
    load_or_create_key,
    station_key,
)


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


def test_station_key_is_created_private_and_stable(tmp_path: Path) -> None:
    key = station_key(tmp_path / "home")
    path = tmp_path / "home" / STATION_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    again = station_key(tmp_path / "home")
    assert again.private_bytes_raw() == key.private_bytes_raw()
    assert [p.name for p in path.parent.iterdir()] == [STATION_KEY_FILE]  # no temporaries left


def test_station_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    station_key(tmp_path)
    os.chmod(tmp_path / STATION_KEY_FILE, 0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        station_key(tmp_path)


def test_station_key_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / STATION_KEY_FILE
    path.write_bytes(b"k" * 48)
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="32 bytes"):
        station_key(tmp_path)


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        keys.append(load_or_create_key(tmp_path / "k"))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
