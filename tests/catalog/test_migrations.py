"""Catalog schema migrations: the migrated schema is the ORM schema; old catalogs are adopted.

Truth: ``rovercam.catalog.schema.Base.metadata`` (alembic's autogenerate comparison finds no
difference after ``upgrade``), and the pre-migration layout (revision 0001 = what
``Base.metadata.create_all`` made before alembic existed).
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from rovercam.catalog import Catalog
from rovercam.catalog.migrate import alembic_config, current_revision, head_revision
from rovercam.catalog.schema import Base
from rovercam.errors import CatalogError

UTC = dt.timezone.utc


def _schema_diff(engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        return compare_metadata(ctx, Base.metadata)


def test_migrated_sqlite_schema_equals_the_orm_metadata(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as cat:
        assert current_revision(cat.engine) == head_revision()
        assert _schema_diff(cat.engine) == []


def test_migrated_postgres_schema_equals_the_orm_metadata(postgres_url: str) -> None:
    with Catalog(postgres_url) as cat:
        assert cat.engine.dialect.name == "postgresql"
        assert current_revision(cat.engine) == head_revision()
        assert _schema_diff(cat.engine) == []


def _old_catalog(path: Path) -> None:
    """A catalog as ``create_all`` made it before migrations: revision 0001, no alembic_version."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), "0001")
        conn.execute(text(
            "INSERT INTO outputs (output_id, name, kind, sol, version, storage_keys, created_at) "
            "VALUES ('M2020-sol00100-X-v1', 'X', 'mosaic', 100, 1, '{}', '2021-05-30 10:00:00')"))
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()


def test_catalog_made_before_migrations_is_adopted_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_catalog(path)
    assert "start_time" not in {c["name"] for c in inspect(create_engine(f"sqlite:///{path}")).get_columns("outputs")}
    with Catalog(path) as cat:
        assert current_revision(cat.engine) == head_revision()
        assert _schema_diff(cat.engine) == []
        [row] = cat.outputs()  # old rows kept; new columns empty
        assert (row.output_id, row.mission, row.start_time, row.checksums) == ("M2020-sol00100-X-v1", None, None, {})
        assert cat.upgrade() == head_revision()  # already at head: nothing to do


def test_partial_schema_without_alembic_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE products (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(CatalogError, match="refusing to adopt"):
        Catalog(path)


def _open(path: str) -> str | None:
    with Catalog(path) as cat:
        cat.record_product("P", "a" * 64)
        return current_revision(cat.engine)


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        revisions = pool.map(_open, [path] * 6)
    assert set(revisions) == {head_revision()}
    with Catalog(path) as cat:
        assert [p.product_id for p in cat.products()] == ["P"]  # same (id, sha): one row
        assert _schema_diff(cat.engine) == []
