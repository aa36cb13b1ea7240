"""Schema migrations of the catalog database (alembic), applied when a catalog is opened.

The migration scripts live in ``rovercam/catalog/migrations/versions`` and ship inside the
package. :func:`upgrade` brings a database to the newest revision under a lock, so several
processes opening the same catalog at once migrate it once:

- SQLite: the whole check-and-upgrade runs in one ``BEGIN IMMEDIATE`` transaction (SQLite DDL
  is transactional; other writers wait on the busy timeout);
- PostgreSQL: one transaction holding ``pg_advisory_xact_lock``.

Catalogs made before migrations existed (tables from ``Base.metadata.create_all``, no
``alembic_version``) are adopted: stamped at revision ``0001``, which is that schema, then
upgraded.
"""
from __future__ import annotations

import logging
import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from rovercam.catalog.schema import Base
from rovercam.errors import CatalogError

__all__ = ["alembic_config", "head_revision", "current_revision", "upgrade", "MIGRATIONS_DIR"]

log = logging.getLogger(__name__)

#: Folder of the alembic environment (env.py, versions/).
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: The revision whose schema ``create_all`` produced before migrations existed, and its tables.
_ADOPTED_REVISION = "0001"
_ADOPTED_TABLES = frozenset({"products", "runs", "outputs", "lineage"})
#: pg_advisory_xact_lock key (a stable 31-bit number derived from the package name).
_PG_LOCK_KEY = zlib.crc32(b"rovercam.catalog.migrate") & 0x7FFFFFFF


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """An alembic ``Config`` for the packaged migrations.

    Parameters
    ----------
    url : str, optional
        ``sqlalchemy.url`` for alembic's own command line use.
    connection : Connection, optional
        An open connection that ``env.py`` runs the migrations on (inside its transaction).
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration revision (``"0002"``, ...)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the packaged migrations have no head"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision a database is at; None before any migration ran."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str | None:
    """Bring the database to the newest revision; returns the revision it was at before.

    Raises
    ------
    CatalogError
        The database holds some but not all catalog tables and no ``alembic_version``.
    """
    head = head_revision()
    before = current_revision(engine)
    if before == head:
        return before  # the common case: no lock taken
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the database write lock, held to commit
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        before = MigrationContext.configure(conn).get_current_revision()  # again, under the lock
        cfg = alembic_config(connection=conn)
        if before is None:
            present = set(inspect(conn).get_table_names()) & set(Base.metadata.tables)
            if present and present != _ADOPTED_TABLES:
                raise CatalogError(
                    f"{engine.url.render_as_string(hide_password=True)}: has catalog tables "
                    f"{sorted(present)} but not all of them and no alembic_version; refusing to adopt"
                )
            if present:
                log.info("adopting a catalog made before migrations: stamping %s", _ADOPTED_REVISION)
                command.stamp(cfg, _ADOPTED_REVISION)
        if before != head:
            command.upgrade(cfg, "head")
            log.info("catalog migrated from %s to %s", before, head)
        conn.commit()
    return before
