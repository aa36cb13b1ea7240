"""A real PostgreSQL server for catalog tests, started the way a user would start one.

The session fixture ``postgres_server`` starts one with :func:`rovercam.testing.postgres.postgres_server`
(Debian server binaries, ``initdb`` and ``pg_ctl`` in a temporary folder, a free localhost port,
run by the ``postgres`` user when the tests run as root) and yields its port; ``postgres_url``
gives each test the ``postgresql+psycopg://`` URL of a fresh database on it.

When no server can be had the dependent tests are skipped with the reason. In CI (``CI=true``)
as root, a missing server is first installed with ``apt-get install -y postgresql``.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from _apt import apt_install

from rovercam.testing.postgres import PostgresUnavailable, create_database, postgres_bindir
from rovercam.testing.postgres import postgres_server as _start


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[int]:
    """Port of a private PostgreSQL server on 127.0.0.1, user ``rovercam`` (skips when none can start)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'rovercam[postgres]')")
    note = ""
    if postgres_bindir() is None:
        note = apt_install("postgresql", timeout_s=600)
    try:
        server = _start()
        port = server.__enter__()
    except PostgresUnavailable as e:
        pytest.skip(f"{e}; {note}" if note else str(e))
    try:
        yield port
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server: int) -> str:
    """``postgresql+psycopg://`` URL of a new, empty database on the session's server."""
    return create_database(postgres_server)
