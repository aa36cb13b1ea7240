"""A private PostgreSQL server for tests and benchmarks, started the way a user would start one.

:func:`postgres_server` looks for the Debian server binaries (``/usr/lib/postgresql/<major>/bin``,
then ``initdb``/``pg_ctl`` on PATH), creates a cluster in a temporary folder with ``initdb``,
starts it with ``pg_ctl`` on a free localhost port (trust authentication, user ``rovercam``,
``fsync=off``) and stops and deletes it on exit. PostgreSQL refuses to run as root, so as root the
cluster is made and run by the ``postgres`` system user (``runuser``). :func:`create_database`
makes a fresh database on it and returns its ``postgresql+psycopg://`` URL.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresUnavailable", "postgres_bindir", "postgres_server", "create_database"]


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def postgres_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (newest Debian major first), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    return cmd if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=120)


@contextmanager
def postgres_server() -> Iterator[int]:
    """Run a private PostgreSQL server on 127.0.0.1 for the ``with`` block; yields its port.

    Raises
    ------
    PostgresUnavailable
        psycopg or the server binaries are missing, there is no ``postgres`` user to run it as
        (as root), or ``initdb``/``pg_ctl`` failed.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError as e:
        raise PostgresUnavailable("psycopg is not installed (pip install 'rovercam[postgres]')") from e
    bindir = postgres_bindir()
    if bindir is None:
        raise PostgresUnavailable("no PostgreSQL server binaries (apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError as e:
            raise PostgresUnavailable("running as root and there is no 'postgres' user to run the server as") from e
        if not shutil.which("runuser"):
            raise PostgresUnavailable("running as root and runuser is missing; cannot start PostgreSQL as non-root")
    base = Path(tempfile.mkdtemp(prefix="rovercam-pg-"))
    data, sockdir = base / "data", base / "sock"
    sockdir.mkdir()
    if os.geteuid() == 0:
        for p in (base, sockdir):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    init = _run([str(bindir / "initdb"), "-D", str(data), "-U", "rovercam", "--auth=trust", "--encoding=UTF8",
                 "--locale=C"])
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-400:]}")
    opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "-t", "60",
                  "start"])
    if start.returncode != 0:
        log = (base / "log").read_text(errors="replace")[-400:] if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailable(f"pg_ctl start failed: {start.stderr.strip()[-300:]} {log}")
    try:
        create_database(port, "rovercam_probe", wait_s=30)
        yield port
    finally:
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def create_database(port: int, name: str | None = None, *, wait_s: float = 0) -> str:
    """Create database ``name`` (default: a fresh ``rovercam_<hex>``) on the server at ``port``;
    returns its ``postgresql+psycopg://`` URL. Retries for ``wait_s`` seconds while the server starts."""
    import psycopg

    name = name or f"rovercam_{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with psycopg.connect(f"host=127.0.0.1 port={port} user=rovercam dbname=postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return f"postgresql+psycopg://rovercam@127.0.0.1:{port}/{name}"
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
