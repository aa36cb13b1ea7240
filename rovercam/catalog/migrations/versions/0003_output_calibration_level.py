"""Outputs state their calibration level and units (docs/calibration.md).

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outputs") as batch:
        batch.add_column(sa.Column("calibration_level", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("units", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outputs") as batch:
        batch.drop_column("units")
        batch.drop_column("calibration_level")
