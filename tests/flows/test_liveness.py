"""Which runs count as abandoned (rovercam_flows.liveness), with a stand-in for the Prefect client;
and what a Prefect server that stops answering looks like on the command line and the console.

The same checks against a real server, with real kills: tests/e2e/test_orchestrator_faults.py.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.timezone.utc)


@dataclass
class FakeClient:
    """What crash_abandoned_runs asks of the Prefect client: runs by filter, heartbeats, state changes."""

    runs: list
    beats: dict = field(default_factory=dict)  # run id -> last heartbeat time
    children: dict = field(default_factory=dict)  # parent run id -> its subflow runs
    tasks: dict = field(default_factory=dict)  # flow run id -> its unfinished task runs
    states: dict = field(default_factory=dict)  # run id -> (type, message)

    def read_flow_runs(self, *, flow_filter=None, flow_run_filter=None, limit=None):
        parents = flow_run_filter.parent_flow_run_id
        if parents is not None:
            return [c for p in parents.any_ for c in self.children.get(p, []) if c.id not in self.states]
        return [r for r in self.runs if r.id not in self.states]

    def read_events(self, filter=None, limit=100):
        run_id = uuid.UUID(filter.resource.id[0].removeprefix("prefect.flow-run."))
        beat = self.beats.get(run_id)
        return SimpleNamespace(events=[SimpleNamespace(occurred=beat)] if beat else [])

    def set_flow_run_state(self, run_id, state, force=False):
        assert force
        self.states[run_id] = (state.type.value, state.message)

    def read_task_runs(self, *, flow_run_filter=None, task_run_filter=None, limit=None):
        return [t for r in flow_run_filter.id.any_ for t in self.tasks.get(r, []) if t.id not in self.states]

    def set_task_run_state(self, task_run_id, state, force=False):
        self.states[task_run_id] = (state.type.value, state.message)


def _run(labels=None, *, started=NOW - dt.timedelta(minutes=10), parent=None):
    return SimpleNamespace(id=uuid.uuid4(), labels=labels or {}, start_time=started, expected_start_time=started,
                           created=started, parent_task_run_id=parent)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_process_alive_tells_a_live_process_from_a_gone_one_and_a_reused_pid():
    from rovercam_flows.liveness import owner_labels, process_alive

    me = owner_labels()
    assert process_alive(os.getpid(), me["rovercam.pid_start"])
    assert not process_alive(_dead_pid())
    if me["rovercam.pid_start"]:  # Linux: another start time is another process with this pid
        assert not process_alive(os.getpid(), str(int(me["rovercam.pid_start"]) + 1))


def test_a_run_of_this_machine_whose_process_is_gone_is_crashed_with_its_subflows_and_tasks():
    from rovercam_flows.liveness import crash_abandoned_runs, owner_labels

    host = socket.gethostname()
    dead = _run({"rovercam.host": host, "rovercam.pid": str(_dead_pid()), "rovercam.heartbeat_s": "30"})
    alive = _run(owner_labels())
    sub, task = _run(parent=uuid.uuid4()), SimpleNamespace(id=uuid.uuid4())
    client = FakeClient(runs=[dead, alive, sub], children={dead.id: [sub]}, tasks={sub.id: [task]})
    crashed = crash_abandoned_runs(client, now=NOW)
    assert list(crashed) == [str(dead.id)] and "is gone" in crashed[str(dead.id)]
    assert {k: v[0] for k, v in client.states.items()} == {dead.id: "CRASHED", sub.id: "CRASHED",
                                                           task.id: "CRASHED"}
    assert alive.id not in client.states  # the live one (this process) is left running


@pytest.mark.parametrize("labels, last_beat_min_ago, crashed", [
    ({"rovercam.host": "elsewhere", "rovercam.pid": "1", "rovercam.heartbeat_s": "30"}, 1, False),
    ({"rovercam.host": "elsewhere", "rovercam.pid": "1", "rovercam.heartbeat_s": "30"}, 2, True),  # > 3 x 30 s
    ({"rovercam.host": "elsewhere", "rovercam.pid": "1", "rovercam.heartbeat_s": "60"}, 2, False),
    ({"rovercam.host": "elsewhere", "rovercam.pid": "1", "rovercam.heartbeat_s": ""}, None, False),  # cannot judge
    ({}, 5, True),  # no owner labels, but heartbeats that stopped
    ({}, None, False),
])
def test_a_run_of_another_machine_is_judged_by_its_heartbeats(labels, last_beat_min_ago, crashed):
    from rovercam_flows.liveness import crash_abandoned_runs

    run = _run(labels)
    beats = {run.id: NOW - dt.timedelta(minutes=last_beat_min_ago)} if last_beat_min_ago else {}
    client = FakeClient(runs=[run], beats=beats)
    found = crash_abandoned_runs(client, now=NOW)
    assert bool(found) == crashed
    if crashed:
        assert "no heartbeat since" in found[str(run.id)]


def test_the_calling_run_is_never_crashed():
    from rovercam_flows.liveness import crash_abandoned_runs

    run = _run({"rovercam.host": socket.gethostname(), "rovercam.pid": str(_dead_pid())})
    assert crash_abandoned_runs(FakeClient(runs=[run]), exclude=[run.id], now=NOW) == {}


def test_a_server_that_stops_answering_ends_the_verb_with_one_line():
    import httpx

    from rovercam.cli.orchestration import _orchestrator_errors
    from rovercam.errors import OrchestratorError, RovercamError

    with pytest.raises(OrchestratorError, match="stopped answering .*ConnectError.*Run the same command again"):
        with _orchestrator_errors():
            raise httpx.ConnectError("All connection attempts failed")
    assert issubclass(OrchestratorError, RovercamError)  # the CLI's one-line, exit-status-2 path


def test_a_lost_server_reaches_the_console_without_a_traceback():
    import httpx

    from rovercam_flows.console import ExpectedErrorFormatter

    fmt = ExpectedErrorFormatter(logging.Formatter("%(levelname)s %(message)s"))
    try:
        raise httpx.ConnectError("All connection attempts failed")
    except httpx.ConnectError:
        record = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "Encountered exception", (),
                                   sys.exc_info())
    assert "Traceback" not in fmt.format(record)


def test_serve_checks_for_abandoned_runs_again_and_again_until_stopped(monkeypatch):
    import threading
    import time

    import rovercam_flows.deployments as deployments

    calls: list[float] = []
    monkeypatch.setattr(deployments, "_crash_abandoned", lambda: calls.append(time.monotonic()))
    stop = threading.Event()
    watcher = threading.Thread(target=deployments._watch_abandoned, args=(stop, 0.05), daemon=True)
    watcher.start()
    time.sleep(0.4)
    stop.set()
    watcher.join(2)
    assert not watcher.is_alive()
    n = len(calls)
    assert n >= 3, calls
    assert all(b - a >= 0.045 for a, b in zip(calls, calls[1:]))  # waits its interval between checks
    time.sleep(0.15)
    assert len(calls) == n  # nothing after the stop
