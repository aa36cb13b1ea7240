"""Catalog schema: every table of the catalog database, in one SQLAlchemy ``MetaData``.

The metadata is the single source of truth for the schema (``Base.metadata``); the alembic
migrations in ``rovercam/catalog/migrations/versions`` build the same schema step by step
(a test compares the two), and :class:`rovercam.catalog.Catalog` upgrades a database to the
newest migration when it opens it. A schema change is a change here plus a new migration. Types are portable across SQLite and PostgreSQL:
strings with explicit lengths, ``DateTime(timezone=True)`` (always written in UTC; SQLite gives
them back naive, :mod:`rovercam.catalog.db` reattaches UTC), and ``JSON`` (``JSONB`` on
PostgreSQL).

Tables
------
products
    One row per (product_id, sha256): a file as ingested, with its state
    ``'ingested' | 'quarantined' | 'processed'`` and the quarantine reason.
runs
    One row per processing run (a Prefect flow run or a CLI invocation).
outputs
    One row per published version of an output (``kind`` = ``'mosaic'``, ...), with the
    mission, the time span of its inputs, and the sha256 of every published file.
lineage
    (output, input product id, input sha256): which inputs made which output. Inputs need not
    be rows of ``products`` (an output may be built from products ingested elsewhere), so there
    is no foreign key to ``products``.
sol_leases
    One row per sol being processed right now: which run holds the sol, from which host and
    process, since when, and its last heartbeat (:mod:`rovercam.catalog.lease`). No row: the
    sol is free.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "ProductRow",
    "RunRow",
    "OutputRow",
    "LineageRow",
    "SolLeaseRow",
    "PRODUCT_STATES",
    "RUN_STATUSES",
]

PRODUCT_STATES = ("ingested", "quarantined", "processed")
# 'crashed': the run's process died while it held its sol (rovercam.catalog.lease); added by 0004.
RUN_STATUSES = ("running", "completed", "failed", "cancelled", "crashed")

# Constraint names follow one convention so alembic autogenerate and both dialects agree.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_Json = JSON().with_variant(JSONB(), "postgresql")
_UtcDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` holds the whole catalog schema."""

    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {dict[str, Any]: _Json, _dt.datetime: _UtcDateTime}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ProductRow(Base):
    """An ingested (or quarantined) product file."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("product_id", "sha256", name="uq_products_product_id_sha256"),
        CheckConstraint(_in("state", PRODUCT_STATES), name="state"),
        Index("ix_products_sol_state", "sol", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # duplicate lookup by content
    sol: Mapped[int | None] = mapped_column(Integer)
    instrument: Mapped[str | None] = mapped_column(String(64))
    product_type: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    sclk: Mapped[float | None] = mapped_column(Double)
    start_time: Mapped[_dt.datetime | None]
    recorded_at: Mapped[_dt.datetime]


class RunRow(Base):
    """A processing run."""

    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(_in("status", RUN_STATUSES), name="status"),)

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(128))
    sol: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[_dt.datetime]
    finished_at: Mapped[_dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    software_version: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutputRow(Base):
    """A published version of an output product."""

    __tablename__ = "outputs"
    __table_args__ = (
        UniqueConstraint("kind", "sol", "name", "version", name="uq_outputs_kind_sol_name_version"),
        Index("ix_outputs_sol_kind", "sol", "kind"),
        Index("ix_outputs_instrument_start_time", "instrument", "start_time"),
    )

    output_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    sol: Mapped[int] = mapped_column(Integer)
    instrument: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    storage_keys: Mapped[dict[str, Any]]
    stac_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[_dt.datetime]
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.run_id"))
    # Added by migration 0002.
    mission: Mapped[str | None] = mapped_column(String(32))
    start_time: Mapped[_dt.datetime | None]
    end_time: Mapped[_dt.datetime | None]
    checksums: Mapped[dict[str, Any] | None]  # file name -> sha256 of the published bytes
    # Added by migration 0003: 0 raw .. 3 absolute (docs/calibration.md), and the data's units.
    calibration_level: Mapped[int | None] = mapped_column(Integer)
    units: Mapped[str | None] = mapped_column(String(64))


class LineageRow(Base):
    """One input of one output."""

    __tablename__ = "lineage"

    output_id: Mapped[str] = mapped_column(
        ForeignKey("outputs.output_id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    product_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)


class SolLeaseRow(Base):
    """The lease of a sol being processed (added by migration 0004).

    ``token`` names one holding of the lease (a new uuid at every acquisition), ``beats`` counts
    its heartbeats: a takeover is a conditional update on both, so two processes that find the
    same stale lease cannot both take it.
    """

    __tablename__ = "sol_leases"

    sol: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[str] = mapped_column(String(64))  # the catalog run of the holder (may not exist yet)
    flow: Mapped[str] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[_dt.datetime]
    heartbeat_at: Mapped[_dt.datetime]
    beats: Mapped[int] = mapped_column(Integer, default=0)
