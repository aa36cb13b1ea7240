"""Runs whose process is gone: found and shown as Crashed, so the Prefect UI never shows a dead
run as Running forever.

A flow-run process killed with SIGKILL (or lost with its machine, or left without a server to
report to) cannot tell the server it stopped: its run, its stage subflows and their running task
runs stay ``Running``. Two things fix that here (docs/operations.md, "Orchestrator faults"):

- every top-level rovercam run labels itself with its owner, ``rovercam.host``, ``rovercam.pid``
  and ``rovercam.pid_start`` (the process start time, so a reused pid is not taken for the dead
  process), and the heartbeat interval it runs with (``rovercam.heartbeat_s``);
- when a rovercam run starts, and when ``rovercam serve`` starts, :func:`crash_abandoned_runs`
  looks at every rovercam run the server shows ``Running`` or ``Pending``. A run is abandoned
  when its owner is on this machine and that process no longer exists, or, for an owner
  elsewhere, when its last ``prefect.flow-run.heartbeat`` event (or its start) is older than
  :data:`STALE_HEARTBEATS` heartbeat intervals. An abandoned run, its subflow runs and their
  unfinished task runs are set ``Crashed`` with a message saying why.

A run whose liveness cannot be judged (an owner on another machine that sends no heartbeats) is
left alone: crashing a live run would be worse than a stale ``Running``.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any, Iterable

from prefect import get_run_logger

__all__ = ["ROVERCAM_FLOWS", "STALE_HEARTBEATS", "begin_run", "crash_abandoned_runs", "label_owner",
           "owner_labels", "process_alive"]

#: the flows rovercam runs, top-level and stage subflows (their runs are reconciled)
ROVERCAM_FLOWS = ("ingest-sol", "reprocess-sol", "build-mosaics", "process-edl", "catalog-report",
                  "ingest", "calibrate", "mosaic", "publish")

#: heartbeat intervals without a heartbeat after which a run on another machine counts as gone
STALE_HEARTBEATS = 3

_PAGE = 200  # the most the API returns at once

_HOST, _PID, _START, _BEAT = "rovercam.host", "rovercam.pid", "rovercam.pid_start", "rovercam.heartbeat_s"


def _process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks after boot (Linux ``/proc``), or "" where
    unknown. With the pid it names one process: pids are reused, start times are not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return ""
    # the command name (field 2) is in parentheses and may hold spaces; start time is field 22
    return stat.rsplit(b")", 1)[1].split()[19].decode()


def process_alive(pid: int, start: str = "") -> bool:
    """Whether process ``pid`` of this machine exists and, when ``start`` is given and the
    system tells start times, is the process that started then."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    now = _process_start(pid)
    return not (start and now and now != start)


def owner_labels() -> dict[str, str]:
    """This process as the owner of a run: host, pid, process start and heartbeat interval (s,
    "" when heartbeats are off)."""
    from prefect.settings import get_current_settings

    beat = get_current_settings().flows.heartbeat_frequency
    pid = os.getpid()
    return {_HOST: socket.gethostname(), _PID: str(pid), _START: _process_start(pid),
            _BEAT: str(max(beat, 30)) if beat else ""}  # Prefect sends at most one every 30 s


def label_owner(client: Any, flow_run_id: Any) -> None:
    """Label the flow run ``flow_run_id`` with :func:`owner_labels`."""
    client.update_flow_run_labels(flow_run_id, owner_labels())


def _last_heartbeat(client: Any, run: Any) -> dt.datetime | None:
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter

    since = run.start_time or run.expected_start_time or run.created
    page = client.read_events(filter=EventFilter(
        occurred=EventOccurredFilter(since=since),
        event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
        resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"])), limit=1)
    return page.events[0].occurred if page.events else None


def abandoned(client: Any, run: Any, now: dt.datetime) -> str | None:
    """Why top-level run ``run`` counts as abandoned, or None when it is (or may be) alive."""
    labels = run.labels or {}
    host, pid = labels.get(_HOST), labels.get(_PID)
    if host == socket.gethostname() and pid:
        if process_alive(int(pid), labels.get(_START, "")):
            return None
        return f"its process ({host}, pid {pid}) is gone"
    beat = labels.get(_BEAT)
    last = _last_heartbeat(client, run)
    if not beat and last is None:
        return None  # no way to tell: leave it
    interval = int(beat) if beat else 30
    seen = last or run.start_time or run.created
    if seen is not None and (now - seen).total_seconds() > STALE_HEARTBEATS * interval:
        return f"no heartbeat since {seen:%Y-%m-%d %H:%M:%S} UTC (every {interval} s expected)"
    return None


def _unfinished_filter(ids: Iterable[Any] | None = None, *, parents: Iterable[Any] | None = None) -> Any:
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId,
                                                FlowRunFilterState, FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType

    state = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))
    return FlowRunFilter(state=state, id=FlowRunFilterId(any_=list(ids)) if ids is not None else None,
                         parent_flow_run_id=(FlowRunFilterParentFlowRunId(any_=list(parents))
                                             if parents is not None else None))


def _crash_tasks(client: Any, flow_run_ids: list[Any], message: str) -> int:
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterState,
                                                TaskRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    unfinished = TaskRunFilter(state=TaskRunFilterState(
        type=TaskRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])))
    crashed: set[Any] = set()
    while True:  # each crashed task leaves the filter, so the first page is always the next one
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids)),
                                      task_run_filter=unfinished, limit=_PAGE)
        fresh = [t for t in tasks if t.id not in crashed]
        for t in fresh:
            client.set_task_run_state(t.id, Crashed(message=message), force=True)
        crashed.update(t.id for t in fresh)
        if len(tasks) < _PAGE or not fresh:
            return len(crashed)


def crash_abandoned_runs(client: Any, *, exclude: Iterable[Any] = (), now: dt.datetime | None = None
                         ) -> dict[str, str]:
    """Set every abandoned rovercam run (see the module docstring) ``Crashed``, with its subflow
    runs and their unfinished task runs.

    Parameters
    ----------
    client : prefect.client.orchestration.SyncPrefectClient
    exclude : iterable of UUID
        Runs never to touch (the calling run).
    now : datetime, optional
        The time to judge heartbeats by (UTC; default now).

    Returns
    -------
    dict of str to str
        Crashed top-level run id -> the reason given in its state message.
    """
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.states import Crashed

    now = now or dt.datetime.now(dt.timezone.utc)
    skip = {str(x) for x in exclude}
    flows = FlowFilter(name=FlowFilterName(any_=list(ROVERCAM_FLOWS)))
    runs = client.read_flow_runs(flow_filter=flows, flow_run_filter=_unfinished_filter(), limit=_PAGE)
    crashed: dict[str, str] = {}
    for run in runs:
        if run.parent_task_run_id is not None or str(run.id) in skip:
            continue
        why = abandoned(client, run, now)
        if why is None:
            continue
        message = f"rovercam: {why}; the run was abandoned (rerun the sol: finished work is reused)"
        client.set_flow_run_state(run.id, Crashed(message=message), force=True)
        crashed[str(run.id)] = message
        family, parents = [run.id], [run.id]
        while parents:  # stage subflows (and theirs) of the abandoned run
            children = client.read_flow_runs(flow_run_filter=_unfinished_filter(parents=parents), limit=_PAGE)
            for child in children:
                client.set_flow_run_state(child.id, Crashed(message=message), force=True)
            parents = [c.id for c in children]
            family += parents
        _crash_tasks(client, family, message)
    return crashed


def begin_run() -> None:
    """At the start of a top-level rovercam flow: label the run with its owner, then crash the
    abandoned runs of earlier processes. An API problem here is logged and the run goes on."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    this = flow_run.id
    if this is None:  # the flow's function called outside a flow run
        return
    logger = get_run_logger()
    try:
        with get_client(sync_client=True) as client:
            label_owner(client, this)
            for run_id, message in crash_abandoned_runs(client, exclude=[this]).items():
                logger.warning("flow run %s marked Crashed: %s", run_id, message)
    except Exception as exc:  # reconciling is a courtesy to the UI; never a reason to fail the run
        logger.warning("could not check for abandoned runs: %s", exc)
