"""Initial catalog schema: products, runs, outputs, lineage.

This is exactly what ``Base.metadata.create_all`` made before migrations existed, so catalogs
created that way are adopted by stamping them at this revision (rovercam.catalog.migrate).

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product_id", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sol", sa.Integer(), nullable=True),
        sa.Column("instrument", sa.String(length=64), nullable=True),
        sa.Column("product_type", sa.String(length=64), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sclk", sa.Double(), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('ingested', 'quarantined', 'processed')", name=op.f("ck_products_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("product_id", "sha256", name="uq_products_product_id_sha256"),
    )
    op.create_index("ix_products_sha256", "products", ["sha256"])
    op.create_index("ix_products_sol_state", "products", ["sol", "state"])
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=128), nullable=False),
        sa.Column("sol", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("summary", _Json, nullable=False),
        sa.CheckConstraint("status IN ('running', 'completed', 'failed', 'cancelled')", name=op.f("ck_runs_status")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_table(
        "outputs",
        sa.Column("output_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sol", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("storage_keys", _Json, nullable=False),
        sa.Column("stac_key", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name=op.f("fk_outputs_run_id_runs")),
        sa.PrimaryKeyConstraint("output_id", name=op.f("pk_outputs")),
        sa.UniqueConstraint("kind", "sol", "name", "version", name="uq_outputs_kind_sol_name_version"),
    )
    op.create_index("ix_outputs_sol_kind", "outputs", ["sol", "kind"])
    op.create_table(
        "lineage",
        sa.Column("output_id", sa.String(length=255), nullable=False),
        sa.Column("product_id", sa.String(length=255), nullable=False),
        sa.Column("product_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["output_id"], ["outputs.output_id"], name=op.f("fk_lineage_output_id_outputs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("output_id", "product_id", "product_sha256", name=op.f("pk_lineage")),
    )


def downgrade() -> None:
    op.drop_table("lineage")
    op.drop_table("outputs")
    op.drop_table("runs")
    op.drop_index("ix_products_sol_state", table_name="products")
    op.drop_index("ix_products_sha256", table_name="products")
    op.drop_table("products")
