"""Initial schema: runs, findings (hash-chained), notes.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Frozen copy of ``evidence/schema.py`` at this revision: later schema changes
are new revisions, never edits here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("capture", sa.Text(), nullable=True),
        sa.Column("capture_sha256", sa.String(length=64), nullable=True),
        sa.Column("ruleset_name", sa.String(length=200), nullable=True),
        sa.Column("ruleset_version", sa.String(length=100), nullable=True),
        sa.Column("geo_sources", sa.JSON(), nullable=True),
        sa.Column("tool_version", sa.String(length=100), nullable=True),
        sa.Column("flows_read", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("chain_length", sa.Integer(), nullable=False),
        sa.Column("chain_head", sa.String(length=64), nullable=True),
        sa.Column("closing_statement", sa.Text(), nullable=True),
        sa.Column("signature", sa.String(length=200), nullable=True),
        sa.Column("station_key", sa.String(length=100), nullable=True),
        sa.Column("raw_evidence_path", sa.Text(), nullable=True),
        sa.Column("raw_evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("raw_evidence_deleted_at", sa.Float(), nullable=True),
        sa.CheckConstraint("kind IN ('replay', 'proxy')", name=op.f("ck_runs_kind")),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'interrupted')",
            name=op.f("ck_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_table(
        "findings",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("preview", sa.String(length=300), nullable=False),
        sa.Column("value_hash", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("sni", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("asn", sa.BigInteger(), nullable=True),
        sa.Column("org", sa.String(length=300), nullable=True),
        sa.Column("geo_source", sa.String(length=100), nullable=True),
        sa.Column("geo_build", sa.String(length=100), nullable=True),
        sa.Column("geo_confidence", sa.String(length=8), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("violation", sa.Boolean(), nullable=False),
        sa.Column("rule_id", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("detector", sa.Text(), nullable=False),
        sa.Column("confidence", sa.String(length=8), nullable=False),
        sa.Column("observed_at", sa.Float(), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.Column("legal_refs", sa.JSON(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("record_hash", sa.String(length=64), nullable=True),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "confidence IN ('high', 'medium', 'low')", name=op.f("ck_findings_confidence")
        ),
        sa.CheckConstraint(
            "geo_confidence IN ('high', 'medium', 'low')",
            name=op.f("ck_findings_geo_confidence"),
        ),
        sa.CheckConstraint(
            "verdict IN ('cross_border', 'domestic', 'unknown')", name=op.f("ck_findings_verdict")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_findings_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("run_id", "dedup_key", name=op.f("uq_findings_run_id_dedup_key")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_findings_run_id_seq")),
    )
    for name, columns in [
        ("ix_findings_category", ["category"]),
        ("ix_findings_country", ["country"]),
        ("ix_findings_host", ["host"]),
        ("ix_findings_rule_id", ["rule_id"]),
        ("ix_findings_run_id", ["run_id"]),
        ("ix_findings_value_hash", ["value_hash"]),
        ("ix_findings_violation_id", ["violation", "id"]),
    ]:
        op.create_index(op.f(name), "findings", columns, unique=False)
    op.create_table(
        "notes",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("observed_at", sa.Float(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_notes_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
        sa.UniqueConstraint("run_id", "dedup_key", name=op.f("uq_notes_run_id_dedup_key")),
    )
    op.create_index(op.f("ix_notes_run_id"), "notes", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_table("notes")
    op.drop_table("findings")
    op.drop_table("runs")
