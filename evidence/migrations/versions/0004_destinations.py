"""Geolocation evidence: a destinations table, and disputed / cdn_edge verdicts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Frozen copy of the schema additions at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

OLD_VERDICTS = "verdict IN ('cross_border', 'domestic', 'unknown')"
NEW_VERDICTS = "verdict IN ('cross_border', 'domestic', 'unknown', 'disputed', 'cdn_edge')"


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.drop_constraint(op.f("ck_findings_verdict"), type_="check")
        batch.create_check_constraint(op.f("ck_findings_verdict"), sa.text(NEW_VERDICTS))
    op.create_table(
        "destinations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("dest_key", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("sni", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("asn", sa.BigInteger(), nullable=True),
        sa.Column("org", sa.String(length=300), nullable=True),
        sa.Column("cdn", sa.String(length=100), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.String(length=8), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "confidence IN ('high', 'medium', 'low')", name=op.f("ck_destinations_confidence")
        ),
        sa.CheckConstraint(NEW_VERDICTS, name=op.f("ck_destinations_verdict")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_destinations_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destinations")),
        sa.UniqueConstraint("run_id", "dest_key", name=op.f("uq_destinations_run_id_dest_key")),
    )
    op.create_index(op.f("ix_destinations_country"), "destinations", ["country"], unique=False)
    op.create_index(op.f("ix_destinations_host"), "destinations", ["host"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_destinations_host"), table_name="destinations")
    op.drop_index(op.f("ix_destinations_country"), table_name="destinations")
    op.drop_table("destinations")
    # Findings with the newer verdicts cannot be kept under the older constraint, and
    # deleting them would break their runs' hash chains: refuse instead.
    newer = op.get_bind().execute(
        sa.text("SELECT count(*) FROM findings WHERE verdict IN ('disputed', 'cdn_edge')")
    )
    if newer.scalar_one():
        raise RuntimeError("findings with disputed or cdn_edge verdicts exist: cannot downgrade")
    with op.batch_alter_table("findings") as batch:
        batch.drop_constraint(op.f("ck_findings_verdict"), type_="check")
        batch.create_check_constraint(op.f("ck_findings_verdict"), sa.text(OLD_VERDICTS))
