"""Flow metadata: a flows table (method, redacted URL, status, sizes, times) per run and flow.

Revision ID: 0009
Revises: 0004
Create Date: 2026-11-28

Frozen copy of the schema additions at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PROTOCOLS = "protocol IN ('http', 'https', 'ws', 'wss', 'mqtt', 'tcp', 'udp', 'dns')"


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("application", sa.String(length=32), nullable=True),
        sa.Column("method", sa.String(length=32), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("request_body_bytes", sa.BigInteger(), nullable=True),
        sa.Column("request_bytes", sa.BigInteger(), nullable=True),
        sa.Column("response_body_bytes", sa.BigInteger(), nullable=True),
        sa.Column("response_bytes", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("server", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint(PROTOCOLS, name=op.f("ck_flows_protocol")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_flows_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
        sa.UniqueConstraint("run_id", "flow_id", name=op.f("uq_flows_run_id_flow_id")),
    )


def downgrade() -> None:
    op.drop_table("flows")
