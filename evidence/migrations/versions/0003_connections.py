"""Connections: bytes per connection, read or of undetermined content (TLS passthrough).

Revision ID: 0003
Revises: 0005
Create Date: 2026-11-28

Frozen copy of the schema additions at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("content", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.Column("client_mac", sa.String(length=17), nullable=True),
        sa.Column("client_name", sa.String(length=255), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("sni", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("geo_confidence", sa.String(length=8), nullable=True),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False),
        sa.Column("bytes_down", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("alpn", sa.String(length=255), nullable=True),
        sa.Column("ja3", sa.Text(), nullable=True),
        sa.Column("ja3_md5", sa.String(length=32), nullable=True),
        sa.Column("ja4", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "content IN ('read', 'undetermined')", name=op.f("ck_connections_content")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_connections_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("run_id", "flow_id", name=op.f("uq_connections_run_id_flow_id")),
    )
    op.create_index(
        op.f("ix_connections_run_id_host"), "connections", ["run_id", "host"], unique=False
    )
    op.create_index(op.f("ix_connections_ja4"), "connections", ["ja4"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_connections_ja4"), table_name="connections")
    op.drop_index(op.f("ix_connections_run_id_host"), table_name="connections")
    op.drop_table("connections")
