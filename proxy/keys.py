"""The installation's secrets, created on first use and readable by the owner only.

The hashing key turns detected values into keyed hashes; whoever holds it
can test guesses against stored hashes, so it is created with mode 0600 and
refused when its permissions are looser.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


class KeyFileError(Exception):
    """A key file that is unreadable or readable by others."""


def shekara_home() -> Path:
    env = os.environ.get("SHEKARA_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shekara"


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def load_or_create_key(path: Path, size: int = 32) -> bytes:
    _private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"{path} is accessible by other users (mode {mode:o}); run: chmod 600 {path}"
            ) from None
        data = path.read_bytes()
        if len(data) < 16:
            raise KeyFileError(f"{path} is too short to be a key ({len(data)} bytes)") from None
        return data
    with os.fdopen(fd, "wb") as fh:
        key = secrets.token_bytes(size)
        fh.write(key)
    return key


def hashing_key(home: Path | None = None) -> bytes:
    return load_or_create_key((home or shekara_home()) / "hmac.key")
