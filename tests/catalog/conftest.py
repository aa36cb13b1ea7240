"""A real PostgreSQL server for catalog tests, started the way a user would start one.

The session fixture ``postgres_server`` looks for the Debian server binaries
(``/usr/lib/postgresql/<major>/bin``, then ``initdb``/``pg_ctl`` on PATH), creates a cluster in
a temporary folder with ``initdb``, starts it with ``pg_ctl`` on a free localhost port, and
yields its port; ``postgres_url`` gives each test the ``postgresql+psycopg://`` URL of a fresh
database on it. PostgreSQL refuses to run as
root, so as root the cluster is made and run by the ``postgres`` system user (``runuser``).

When no server can be had the dependent tests are skipped with the reason. In CI (``CI=true``)
as root, a missing server is first installed with ``apt-get install -y postgresql``.
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
from pathlib import Path

import pytest
from _apt import apt_install


def _pg_bindir() -> Path | None:
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
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[int]:
    """Port of a private PostgreSQL server on 127.0.0.1, user ``rovercam`` (skips when none can start)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'rovercam[postgres]')")
    bindir = _pg_bindir()
    note = ""
    if bindir is None:
        note = apt_install("postgresql", timeout_s=600)
        bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(f"no PostgreSQL server binaries (apt-get install postgresql); {note}")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        if not shutil.which("runuser"):
            pytest.skip("running as root and runuser is missing; cannot start PostgreSQL as non-root")

    base = Path(tempfile.mkdtemp(prefix="rovercam-pg-"))
    data, sockdir = base / "data", base / "sock"
    sockdir.mkdir()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (base, sockdir):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    init = _run([str(bindir / "initdb"), "-D", str(data), "-U", "rovercam", "--auth=trust",
                 "--encoding=UTF8", "--locale=C"])
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[-400:]}")
    opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"),
                  "-w", "-t", "60", "start"])
    if start.returncode != 0:
        log = (base / "log").read_text(errors="replace")[-400:] if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"pg_ctl start failed: {start.stderr.strip()[-300:]} {log}")
    try:
        _create_database(port, "rovercam_probe", wait_s=30)
        yield port
    finally:
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def _create_database(port: int, name: str, *, wait_s: float = 0) -> None:
    import psycopg

    deadline = time.monotonic() + wait_s
    while True:
        try:
            with psycopg.connect(f"host=127.0.0.1 port={port} user=rovercam dbname=postgres",
                                 autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def postgres_url(postgres_server: int) -> str:
    """``postgresql+psycopg://`` URL of a new, empty database on the session's server."""
    name = f"rovercam_{uuid.uuid4().hex[:12]}"
    _create_database(postgres_server, name)
    return f"postgresql+psycopg://rovercam@127.0.0.1:{postgres_server}/{name}"
