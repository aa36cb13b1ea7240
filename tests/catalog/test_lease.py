"""Per-sol leases (rovercam.catalog.lease): one holder at a time across processes, on SQLite and
PostgreSQL; stale leases (dead process, silent heartbeat) are taken over and their run marked
crashed; a live holder is waited for, then refused with who holds the sol.

Truth: a counter file read, slept on and rewritten inside the lease by several processes at once
(any overlap loses increments), the catalog's own rows, and processes that really died.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from rovercam.catalog import Catalog, acquire_sol, hold_sol, reap_stale_leases, sol_holder, sol_leases
from rovercam.catalog.lease import stale_reason
from rovercam.catalog.schema import SolLeaseRow
from rovercam.errors import SolBusyError

SOL = 100
# spawn, not fork: a forked child inherits whatever threads the test session runs (a Prefect
# server client, its log workers) and may fail at exit; a spawned one starts clean
_ctx = multiprocessing.get_context("spawn")


def _count(url: str, counter: str, rounds: int) -> None:
    """Add 1 to the counter file ``rounds`` times, each time inside the sol's lease."""
    cat = Catalog(url)
    for i in range(rounds):
        with hold_sol(cat, SOL, run_id=f"{os.getpid()}-{i}", flow="count", timeout_s=120, ttl_s=30, poll_s=0.01):
            n = int(Path(counter).read_text())
            time.sleep(0.01)  # a window in which an overlapping holder would read the same n
            Path(counter).write_text(str(n + 1))
    cat.close()


def _die_holding(url: str, run_id: str) -> None:
    """Start a run, take the sol's lease, and die without releasing it (as a SIGKILL would)."""
    cat = Catalog(url)
    cat.start_run("ingest-sol", sol=SOL, run_id=run_id)
    acquire_sol(cat, SOL, run_id=run_id, flow="ingest-sol", timeout_s=0, ttl_s=60)
    os._exit(0)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_concurrent_holders_never_overlap(url: str, tmp_path: Path) -> None:
    Catalog(url).close()  # migrated once, before the processes race
    counter = tmp_path / "counter"
    counter.write_text("0")
    procs = [_ctx.Process(target=_count, args=(url, str(counter), 8)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert int(counter.read_text()) == 32  # no increment lost: never two holders at once
    with Catalog(url) as cat:
        assert sol_leases(cat) == []  # every lease released


def test_lease_of_a_dead_process_is_taken_over_and_its_run_marked_crashed(url: str) -> None:
    Catalog(url).close()
    p = _ctx.Process(target=_die_holding, args=(url, "dead-run"))
    p.start()
    p.join(60)
    with Catalog(url) as cat:
        held = sol_holder(cat, SOL)
        assert held is not None and held.run_id == "dead-run" and held.pid == p.pid
        assert "is gone" in stale_reason(held, ttl_s=60)
        with hold_sol(cat, SOL, run_id="next-run", flow="reprocess-sol", timeout_s=5, ttl_s=60) as lease:
            assert sol_holder(cat, SOL).run_id == "next-run" and not lease.lost
        assert sol_holder(cat, SOL) is None
        dead = cat.run("dead-run")
        assert dead.status == "crashed" and dead.finished_at is not None
        assert "sol 100" in dead.summary["reason"] and "next-run" in dead.summary["reason"]


def test_live_holder_is_waited_for_then_refused_with_its_name(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        first = acquire_sol(cat, SOL, run_id="first", flow="ingest-sol", timeout_s=0, ttl_s=60)
        t0 = time.monotonic()
        with pytest.raises(SolBusyError, match=r"sol 100: held by run first \(ingest-sol, pid \d+@"):
            acquire_sol(cat, SOL, run_id="second", flow="reprocess-sol", timeout_s=0.5, ttl_s=60, poll_s=0.05)
        assert time.monotonic() - t0 >= 0.5  # it waited for the timeout
        first.release()
        acquire_sol(cat, SOL, run_id="second", flow="reprocess-sol", timeout_s=0, ttl_s=60).release()


def test_lease_of_another_host_goes_stale_by_its_heartbeat(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.start_run("ingest-sol", sol=SOL, run_id="remote")
        acquire_sol(cat, SOL, run_id="remote", flow="ingest-sol", timeout_s=0, ttl_s=60)
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=3600)
        with cat.engine.begin() as conn:  # as if held by a process on another machine, silent for an hour
            conn.execute(update(SolLeaseRow).values(host="elsewhere.example", pid=1, heartbeat_at=old))
        held = sol_holder(cat, SOL)
        assert stale_reason(held, ttl_s=60).startswith("no heartbeat for 3600 s")
        assert stale_reason(held, ttl_s=7200) is None  # a remote pid is never judged by this host
        lease = acquire_sol(cat, SOL, run_id="local", flow="reprocess-sol", timeout_s=1, ttl_s=60)
        assert cat.run("remote").status == "crashed"
        lease.release()


def test_heartbeat_keeps_a_long_run_alive_and_a_silent_one_is_taken_over(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        with hold_sol(cat, SOL, run_id="long", flow="ingest-sol", timeout_s=0, ttl_s=0.4):
            time.sleep(0.5)
            beats = sol_holder(cat, SOL).beats
            assert beats >= 2  # renewed every ttl/4
            with pytest.raises(SolBusyError):  # alive: not stale although older than the ttl
                acquire_sol(cat, SOL, run_id="other", flow="x", timeout_s=0.6, ttl_s=0.4, poll_s=0.05)
        silent = acquire_sol(cat, SOL, run_id="silent", flow="x", timeout_s=0, ttl_s=0.4)  # never renewed
        t0 = time.monotonic()
        taker = acquire_sol(cat, SOL, run_id="taker", flow="x", timeout_s=10, ttl_s=0.4, poll_s=0.05)
        assert 0.3 < time.monotonic() - t0 < 5
        silent.release()  # too late: the row is the taker's now, and stays so
        assert silent.lost and sol_holder(cat, SOL).run_id == "taker"
        taker.release()


def test_an_interrupted_holder_marks_its_unfinished_run_crashed(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.start_run("ingest-sol", sol=SOL, run_id="cut")
        with pytest.raises(KeyboardInterrupt):
            with hold_sol(cat, SOL, run_id="cut", flow="ingest-sol", timeout_s=0, ttl_s=60):
                raise KeyboardInterrupt
        assert cat.run("cut").status == "crashed" and "KeyboardInterrupt" in cat.run("cut").summary["reason"]
        assert sol_holder(cat, SOL) is None
        cat.start_run("ingest-sol", sol=SOL, run_id="done")
        with pytest.raises(ValueError):
            with hold_sol(cat, SOL, run_id="done", flow="ingest-sol", timeout_s=0, ttl_s=60):
                cat.finish_run("done", status="failed")  # the flow recorded its outcome
                raise ValueError("boom")
        assert cat.run("done").status == "failed"  # kept: only a still-running run becomes crashed
        assert not cat.mark_run_crashed("done", reason="x") and not cat.mark_run_crashed("nope", reason="x")


def test_reaping_removes_only_stale_leases_and_marks_their_runs_crashed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    Catalog(url).close()
    p = _ctx.Process(target=_die_holding, args=(url, "dead-run"))
    p.start()
    p.join(60)
    with Catalog(url) as cat:
        live = acquire_sol(cat, SOL + 1, run_id="live", flow="x", timeout_s=0, ttl_s=60)
        [reaped] = reap_stale_leases(cat, ttl_s=60)
        assert (reaped.sol, reaped.run_id) == (SOL, "dead-run")
        assert cat.run("dead-run").status == "crashed"
        assert [lease.run_id for lease in sol_leases(cat)] == ["live"]
        assert reap_stale_leases(cat, ttl_s=60) == []
        live.release()


def test_catalog_leases_lists_holders_and_says_which_are_stale(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"  # the catalog `--out tmp_path` opens
    dead = _ctx.Process(target=_die_holding, args=(url, "dead-run"))
    dead.start()
    dead.join(60)
    with Catalog(url) as cat:
        acquire_sol(cat, SOL + 1, run_id="live-run", flow="reprocess-sol", timeout_s=0, ttl_s=60)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    proc = subprocess.run([sys.executable, "-m", "rovercam.cli", "catalog", "leases", "--json", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {r["sol"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {SOL, SOL + 1}
    assert rows[SOL]["run_id"] == "dead-run" and "is gone" in rows[SOL]["stale"]
    assert rows[SOL + 1]["run_id"] == "live-run" and rows[SOL + 1]["stale"] is None
    assert rows[SOL + 1]["pid"] == os.getpid()
    table = subprocess.run([sys.executable, "-m", "rovercam.cli", "catalog", "leases", "--out", str(tmp_path)],
                           capture_output=True, text=True, env={**env, "COLUMNS": "200"}, timeout=120)
    assert table.returncode == 0 and "live-run" in table.stdout and "dead-run" in table.stdout
