"""Alembic environment of the catalog database.

Run by :func:`rovercam.catalog.migrate.upgrade` (and so by every ``Catalog`` open) with the
connection in ``config.attributes["connection"]``, already inside the transaction that holds
the migration lock; ``alembic -c`` with a URL in ``sqlalchemy.url`` works too.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from rovercam.catalog.schema import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # noqa: ANN001 - an SQLAlchemy Connection
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER needs table copies
        compare_type=True,
    )


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
elif context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
