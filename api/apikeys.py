"""API keys of the officials' API: made, listed, revoked and checked against the store.

A key is ``shk_<key id>_<secret>``. The key id is public and finds the row; of
the secret only ``sha256(salt || secret)`` is kept. The secret is 256 random
bits, so a slow password hash would add nothing but latency to every request:
no dictionary can guess it, and the salt keeps equal hashes from ever meeting.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from shekara.evidence import schema

SCOPES = schema.API_SCOPES
_KEY = re.compile(r"shk_([0-9a-f]{16})_([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key's public facts: never its secret nor its hash."""

    id: int
    key_id: str
    name: str
    scope: str
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("ascii")).hexdigest()


def _record(row: object) -> ApiKey:
    m = row._mapping  # type: ignore[attr-defined]
    return ApiKey(
        id=int(m["id"]),
        key_id=m["key_id"],
        name=m["name"],
        scope=m["scope"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )


_PUBLIC = (
    schema.api_keys.c.id,
    schema.api_keys.c.key_id,
    schema.api_keys.c.name,
    schema.api_keys.c.scope,
    schema.api_keys.c.created_at,
    schema.api_keys.c.revoked_at,
)


def create_key(engine: Engine, name: str, scope: str) -> tuple[ApiKey, str]:
    """Store a new key; return its record and the key itself, which is shown only once."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("a key needs a name of 1 to 200 characters")
    key_id, secret, salt = secrets.token_hex(8), secrets.token_hex(32), secrets.token_hex(16)
    values = {
        "key_id": key_id,
        "name": name,
        "scope": scope,
        "salt": salt,
        "key_hash": _hash(salt, secret),
        "created_at": time.time(),
        "revoked_at": None,
    }
    with engine.begin() as conn:
        inserted = conn.execute(schema.api_keys.insert().values(**values)).inserted_primary_key
    if inserted is None:
        raise RuntimeError("the database returned no id for the new key")
    (row_id,) = inserted
    record = ApiKey(
        id=int(row_id),
        key_id=key_id,
        name=name,
        scope=scope,
        created_at=values["created_at"],  # type: ignore[arg-type]
        revoked_at=None,
    )
    return record, f"shk_{key_id}_{secret}"


def list_keys(engine: Engine) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(*_PUBLIC).order_by(schema.api_keys.c.id)).all()
    return [_record(r) for r in rows]


def revoke_key(engine: Engine, key_id: str) -> ApiKey | None:
    """Revoke the key with this public id (or whole key); None if there is no such active key."""
    match = _KEY.fullmatch(key_id)
    if match:
        key_id = match.group(1)
    c = schema.api_keys.c
    with engine.begin() as conn:
        done = conn.execute(
            update(schema.api_keys)
            .where(c.key_id == key_id, c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
        if done.rowcount != 1:
            return None
        row = conn.execute(select(*_PUBLIC).where(c.key_id == key_id)).one()
    return _record(row)


def verify_key(engine: Engine, presented: str) -> ApiKey | None:
    """The active key ``presented`` is, or None (malformed, unknown, wrong secret, revoked)."""
    match = _KEY.fullmatch(presented.strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    c = schema.api_keys.c
    with engine.connect() as conn:
        row = conn.execute(select(*_PUBLIC, c.salt, c.key_hash).where(c.key_id == key_id)).first()
    if row is None:
        return None
    # Constant-time: the comparison must not tell how much of a guess was right.
    if not hmac.compare_digest(_hash(row.salt, secret), row.key_hash):
        return None
    record = _record(row)
    return record if record.active else None
