"""Chain links as 32 raw bytes instead of 64 hex digits.

Revision ID: 0008
Revises: 0002
Create Date: 2026-11-28

Existing links are converted in place, so chains written before still verify.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINKS = ("prev_hash", "record_hash")


def _links() -> list[tuple[int, object, object]]:
    rows = op.get_bind().execute(sa.text("SELECT id, prev_hash, record_hash FROM findings"))
    return [(row[0], row[1], row[2]) for row in rows]


def _as_bytes(value: object) -> object:
    if isinstance(value, bytes | memoryview):
        value = bytes(value).decode("ascii")
    return bytes.fromhex(value) if isinstance(value, str) else value


def _as_hex(value: object) -> object:
    return bytes(value).hex() if isinstance(value, bytes | memoryview) else value


def _write(links: list[tuple[int, object, object]], convert: Callable[[object], object]) -> None:
    """Row by row: portable, and SQLite has no portable hex/unhex functions before 3.41."""
    findings = sa.table("findings", sa.column("id"), *(sa.column(n) for n in _LINKS))
    conn = op.get_bind()
    for row_id, prev, record in links:
        conn.execute(
            findings.update()
            .where(findings.c.id == row_id)
            .values(prev_hash=convert(prev), record_hash=convert(record))
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in _LINKS:
            op.alter_column(
                "findings",
                name,
                type_=sa.LargeBinary(32),
                postgresql_using=f"decode({name}, 'hex')",
            )
        return
    links = _links()
    with op.batch_alter_table("findings") as batch:
        for name in _LINKS:
            batch.alter_column(name, type_=sa.LargeBinary(32), existing_type=sa.String(64))
    _write(links, _as_bytes)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in _LINKS:
            op.alter_column(
                "findings",
                name,
                type_=sa.String(64),
                postgresql_using=f"encode({name}, 'hex')",
            )
        return
    links = _links()
    with op.batch_alter_table("findings") as batch:
        for name in _LINKS:
            batch.alter_column(name, type_=sa.String(64), existing_type=sa.LargeBinary(32))
    _write(links, _as_hex)
