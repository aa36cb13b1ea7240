"""Outputs gain mission, input time span and file checksums (search by time; audits).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("outputs") as batch:
        batch.add_column(sa.Column("mission", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("start_time", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("end_time", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("checksums", _Json, nullable=True))
        batch.create_index("ix_outputs_instrument_start_time", ["instrument", "start_time"])


def downgrade() -> None:
    with op.batch_alter_table("outputs") as batch:
        batch.drop_index("ix_outputs_instrument_start_time")
        batch.drop_column("checksums")
        batch.drop_column("end_time")
        batch.drop_column("start_time")
        batch.drop_column("mission")
