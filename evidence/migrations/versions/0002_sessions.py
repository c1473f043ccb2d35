"""Test sessions: vehicles, a run's vehicle, firmware and scenario, and markers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Frozen copy of the schema additions at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "vehicles",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("vin_hash", sa.String(length=128), nullable=False),
        sa.Column("vin_preview", sa.String(length=64), nullable=False),
        sa.Column("make", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
        sa.UniqueConstraint("vin_hash", name=op.f("uq_vehicles_vin_hash")),
    )
    op.create_index(op.f("ix_vehicles_make_model"), "vehicles", ["make", "model"], unique=False)
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("vehicle_id", Id, nullable=True))
        batch.add_column(sa.Column("firmware", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("scenario", sa.Text(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_runs_vehicle_id_vehicles"),
            "vehicles",
            ["vehicle_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_runs_vehicle_id"), ["vehicle_id"], unique=False)
    op.create_table(
        "markers",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_markers_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_markers")),
    )
    op.create_index(op.f("ix_markers_run_id_at"), "markers", ["run_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_markers_run_id_at"), table_name="markers")
    op.drop_table("markers")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index(op.f("ix_runs_vehicle_id"))
        batch.drop_constraint(op.f("fk_runs_vehicle_id_vehicles"), type_="foreignkey")
        batch.drop_column("scenario")
        batch.drop_column("firmware")
        batch.drop_column("vehicle_id")
    op.drop_index(op.f("ix_vehicles_make_model"), table_name="vehicles")
    op.drop_table("vehicles")
