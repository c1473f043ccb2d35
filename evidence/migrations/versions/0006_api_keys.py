"""Officials' API: salted API keys, session owners, indexes for filtered listings.

Revision ID: 0006
Revises: 0008
Create Date: 2026-11-28

Frozen copy of the schema additions at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

INDEXES = {
    "ix_findings_observed_at_id": ["observed_at", "id"],
    "ix_findings_country_violation_id": ["country", "violation", "id"],
    "ix_findings_category_violation_id": ["category", "violation", "id"],
    "ix_findings_host_violation_id": ["host", "violation", "id"],
    "ix_findings_country_category_violation_id": ["country", "category", "violation", "id"],
}


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "scope IN ('official', 'engineer', 'admin')", name=op.f("ck_api_keys_scope")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
    )
    op.create_table(
        "session_owners",
        sa.Column("run_id", Id, nullable=False),
        sa.Column("api_key_id", Id, nullable=False),
        sa.Column("claimed_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_session_owners_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_session_owners_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_session_owners")),
    )
    op.create_index(
        op.f("ix_session_owners_api_key_id"), "session_owners", ["api_key_id"], unique=False
    )
    for name, columns in INDEXES.items():
        op.create_index(op.f(name), "findings", columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(op.f(name), table_name="findings")
    op.drop_index(op.f("ix_session_owners_api_key_id"), table_name="session_owners")
    op.drop_table("session_owners")
    op.drop_table("api_keys")
