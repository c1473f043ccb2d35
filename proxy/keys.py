"""The installation's secrets, created on first use and readable by the owner only.

The hashing key turns detected values into keyed hashes; whoever holds it
can test guesses against stored hashes. The station key (Ed25519) signs each
run's closing statement; whoever holds it can sign forged evidence. Both are
created with mode 0600 and refused when their permissions are looser.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

STATION_KEY_FILE = "station.ed25519"


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
    """The key in ``path``, created (``size`` random bytes, mode 0600) when missing."""
    _private_dir(path.parent)
    if not path.exists():
        _create_key(path, secrets.token_bytes(size))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"{path} is accessible by other users (mode {mode:o}); run: chmod 600 {path}"
        )
    data = path.read_bytes()
    if len(data) < 16:
        raise KeyFileError(f"{path} is too short to be a key ({len(data)} bytes)")
    return data


def _create_key(path: Path, key: bytes) -> None:
    # Written whole to a private temporary file, then linked into place: two
    # processes starting at once agree on one key, and neither reads a half-written one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        # Another process may have won the race; its key is then the one.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def hashing_key(home: Path | None = None) -> bytes:
    return load_or_create_key((home or shekara_home()) / "hmac.key")


def station_key(home: Path | None = None) -> Ed25519PrivateKey:
    """The station's Ed25519 signing key, ``$SHEKARA_HOME/station.ed25519``, made on first use."""
    path = (home or shekara_home()) / STATION_KEY_FILE
    seed = load_or_create_key(path, 32)
    if len(seed) != 32:
        raise KeyFileError(f"{path} is not an Ed25519 key (32 bytes expected, {len(seed)} found)")
    return Ed25519PrivateKey.from_private_bytes(seed)
