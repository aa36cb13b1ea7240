"""Orchestrator faults against a real `prefect server start` (issue 18; docs/reliability.md,
"Orchestrator faults"): the server killed with SIGKILL mid-run and restarted on the same port and
database, and the `rovercam run` process killed with SIGKILL while it publishes. Either way the
same command run again completes the sol, reuses what was finished (no version published twice),
leaves store and catalog in agreement, and the server shows the killed run finished (Crashed or
Failed), never Running.

The benchmark (`rovercam bench reliability`, benchmarks/reliability/orchestrator.py) repeats these
trials at random kill moments.
"""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SOL = 12
GOOD_FRAMES = 8  # the tiny sol's NAVCAM frames that are not truncated (one is: quarantined)


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory):
    from rovercam.testing import PrefectServer, prepare_sol

    base = tmp_path_factory.mktemp("orchestrator")
    source = prepare_sol(base / "drop", sol=SOL)
    with PrefectServer(base / "prefect") as server:
        yield server, source, base


def _unfinished(api: str) -> list[str]:
    from rovercam.testing.orchestrator import flow_runs

    return [f"{r['flow_name']} {r['name']} {r['state_type']}" for r in flow_runs(api)
            if r["state_type"] in ("RUNNING", "PENDING")]


def _mosaics(outputs: dict) -> list[str]:
    """The mosaics among a trial's published outputs (stereo pairs and terrains are the others)."""
    return [name for name in outputs if not name.endswith(("_STEREO", "_TERRAIN"))]


def test_run_killed_while_publishing_is_shown_crashed_and_the_rerun_reuses_its_work(orchestrator):
    from rovercam.testing import kill_trial
    from rovercam.testing.orchestrator import flow_runs, published_at_least

    server, source, base = orchestrator
    root = base / "run-kill" / "store"
    o = kill_trial(server, source, root, sol=SOL, victim="run", kill_at=published_at_least(root, 1, "mosaic"))
    assert o.killed and o.first_exit == -9, o  # SIGKILL landed mid-publish
    assert o.rerun_exit == 0 and o.rerun_status == "completed", o
    # the calibrated frames and built mosaics were reused; what was published kept its version
    assert o.reused["calibrate"] == GOOD_FRAMES and o.reused["mosaic"] == 2, o.reused
    assert o.reused["stereo"] >= 4, o.reused  # the 4 Navcam pairs (and a terrain when it had points in range)
    assert o.before and len(_mosaics(o.outputs)) == 2 and o.republished == [], (o.before, o.outputs)
    assert o.audit == [] and o.orphans == [], (o.audit, o.orphans)
    # the server shows the dead run Crashed, saying why; nothing of it is left Running
    assert o.first_state == "CRASHED", o
    killed = [r for r in flow_runs(server.api, ["ingest-sol"]) if r["state_type"] == "CRASHED"]
    assert len(killed) == 1 and "process" in killed[0]["state"]["message"], killed
    assert _unfinished(server.api) == []
    assert o.recovered


def test_server_killed_mid_run_and_restarted_then_the_rerun_completes_the_sol(orchestrator):
    from rovercam.testing import kill_trial
    from rovercam.testing.orchestrator import stage_running

    server, source, base = orchestrator
    root = base / "server-kill" / "store"
    o = kill_trial(server, source, root, sol=SOL, victim="server", kill_at=stage_running(server.api, "calibrate"))
    assert o.killed and o.problems == [], o
    # the run carried on (0) or stopped with one line saying the server stopped answering (2)
    assert o.first_exit in (0, 2), o
    log = (root.parent / "store-logs" / "first.log").read_text()
    if o.first_exit == 2:
        assert "the Prefect server" in log and "stopped answering" in log, log[-2000:]
    assert "Traceback" not in log, log[-4000:]
    assert o.rerun_exit == 0 and o.rerun_status == "completed", o
    assert len(_mosaics(o.outputs)) == 2 and o.republished == [], (o.before, o.outputs)
    assert o.audit == [] and o.orphans == [], (o.audit, o.orphans)
    assert o.first_state in ("CRASHED", "FAILED", "COMPLETED"), o
    assert _unfinished(server.api) == []
    assert o.recovered


def test_serve_shows_a_run_killed_while_nobody_watched_as_crashed(orchestrator):
    """No rerun comes: `rovercam serve` starting up finds the dead run and sets it Crashed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from rovercam.testing.orchestrator import flow_runs

    server, source, base = orchestrator
    env = server.env()
    before = {r["id"] for r in flow_runs(server.api, ["ingest-sol"])}
    logs = base / "serve-logs"
    logs.mkdir()
    run = subprocess.Popen([sys.executable, "-m", "rovercam.cli", "run", "--input", str(source), "--sol", str(SOL),
                            "--out", str(base / "serve-store")], env=env, stdout=open(logs / "run.log", "w"),
                           stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while not [r for r in flow_runs(server.api, ["ingest"]) if r["state_type"] == "RUNNING"]:
        assert run.poll() is None and time.monotonic() < deadline, (logs / "run.log").read_text()[-3000:]
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGKILL)  # killed mid-ingest
    run.wait(30)
    killed = [r for r in flow_runs(server.api, ["ingest-sol"]) if r["id"] not in before]
    assert [r["state_type"] for r in killed] == ["RUNNING"]  # nothing told the server

    serve = subprocess.Popen([sys.executable, "-m", "rovercam.cli", "serve"], env=env,
                             stdout=open(logs / "serve.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "deployments are being served" not in (logs / "serve.log").read_text():
            assert serve.poll() is None and time.monotonic() < deadline, (logs / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        state = {r["id"]: r for r in flow_runs(server.api)}
        assert state[killed[0]["id"]]["state_type"] == "CRASHED"
        assert "is gone" in state[killed[0]["id"]]["state"]["message"]
        assert _unfinished(server.api) == []  # its ingest subflow and task runs too
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
