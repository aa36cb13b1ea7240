"""Orchestrator faults: a real Prefect server that can be killed and restarted, and sol runs killed
in the middle.

:class:`PrefectServer` runs ``prefect server start`` the way an operator starts it (its own
``PREFECT_HOME``, hence its own SQLite database), on a fixed port, so that after a SIGKILL it comes
back on the same address and database. :func:`flow_runs` reads flow runs through the server's REST
API, so this module needs no Prefect import (the library never imports Prefect; the ``prefect``
command comes from the same environment as the running Python).

:func:`kill_trial` is one trial of the reliability campaign (docs/reliability.md, "Orchestrator
faults"): ``rovercam run`` processes a generated sol against the server; after a chosen delay
either the server or the run's own process is killed with SIGKILL; the server is restarted when it
was the victim; then the same command runs the sol again and the trial records whether it
completed, what it reused, whether the store and catalog agree, and the state the server shows
for the killed run.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from rovercam.testing.web import healthy

__all__ = ["PrefectServer", "TrialOutcome", "flow_runs", "free_port", "kill_trial", "orphan_outputs",
           "prepare_sol", "published_at_least", "stage_running", "timed_run"]

log = logging.getLogger(__name__)

#: the environment every process of a trial shares (quiet, no telemetry)
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectServer:
    """``prefect server start`` in a process group of its own, on a fixed port and database.

    Parameters
    ----------
    home : path-like
        The server's ``PREFECT_HOME`` (its SQLite database lives there, so a restart finds the
        runs it had).
    port : int, optional
        Default: a free port, kept across restarts.
    log_path : path-like, optional
        Server output (appended across restarts). Default ``<home>/server.log``.

    Examples
    --------
    >>> with PrefectServer(tmp / "prefect") as server:  # doctest: +SKIP
    ...     server.kill()      # SIGKILL, as a crash or an OOM killer would
    ...     server.start()     # same port, same database
    """

    def __init__(self, home: str | Path, *, port: int | None = None, log_path: str | Path | None = None):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else self.home / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def api(self) -> str:
        """``PREFECT_API_URL`` of this server."""
        return f"http://127.0.0.1:{self.port}/api"

    def env(self) -> dict[str, str]:
        """The environment of the server's clients: this process's, quiet, pointed at the server."""
        env = {**os.environ, **QUIET, "PREFECT_API_URL": self.api}
        env.pop("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", None)
        return env

    def start(self, timeout: float = 180) -> float:
        """Start the server and wait until ``/api/health`` answers; returns the seconds it took.

        Raises
        ------
        RuntimeError
            The server exited, or did not answer within ``timeout`` seconds.
        """
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"the server on port {self.port} is already running")
        env = {**os.environ, **QUIET, "PREFECT_HOME": str(self.home), "PREFECT_UI_API_URL": self.api}
        env.pop("PREFECT_API_URL", None)
        t0 = time.monotonic()
        prefect = Path(sys.executable).parent / "prefect"
        with open(self.log_path, "a") as out:
            self.proc = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port",
                                          str(self.port)], env=env, cwd=self.home, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited with {self.proc.returncode}: "
                                   + self.log_path.read_text()[-2000:])
            if healthy(f"{self.api}/health"):
                return time.monotonic() - t0
            time.sleep(0.3)
        self.kill()
        raise RuntimeError(f"prefect server did not answer on port {self.port} within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL the server's whole process group (no shutdown, as a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        """Stop the server as Ctrl-C does (SIGKILL after 20 s)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> PrefectServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def flow_runs(api: str, flow_names: list[str] | None = None) -> list[dict[str, Any]]:
    """Flow runs the server knows (newest first), optionally of some flows only; each the API's
    JSON record with ``flow_name`` added.

    Examples
    --------
    >>> [r["state_type"] for r in flow_runs(server.api, ["ingest-sol"])]  # doctest: +SKIP
    ['COMPLETED', 'CRASHED']
    """
    body: dict[str, Any] = {"sort": "EXPECTED_START_TIME_DESC", "limit": 200}
    if flow_names:
        body["flows"] = {"name": {"any_": list(flow_names)}}
    runs = _post(api, "/flow_runs/filter", body)
    names = {f["id"]: f["name"] for f in _post(api, "/flows/filter", {"limit": 200})}
    return [{**r, "flow_name": names.get(r["flow_id"])} for r in runs]


def orphan_outputs(store: Any, catalog: Any) -> list[str]:
    """Committed versions in ``store`` that no catalog output row names (``<prefix> v<N>``): work a
    killed run published but never cataloged."""
    cataloged = {(next(iter(o.storage_keys.values())).rsplit("/", 2)[0], o.version)
                 for o in catalog.outputs() if o.storage_keys}
    return [f"{prefix} v{v}" for prefix in store.published_prefixes()
            for v in sorted(store.committed_versions(prefix)) if (prefix, v) not in cataloged]


def prepare_sol(folder: str | Path, *, sol: int = 12, seed: int = 4) -> Path:
    """A tiny generated sol (eight NAVCAM frames, one truncated; two mosaics) as a source
    folder ``<folder>/sol<NNNNN>``, ready for ``rovercam run --input <folder>``; returns
    ``folder``."""
    from rovercam.synth import generate_sol

    folder = Path(folder)
    generate_sol(folder / f"sol{sol:05d}", sol=sol, profile="tiny", seed=seed)
    return folder


@dataclass
class TrialOutcome:
    """What one :func:`kill_trial` saw.

    Attributes
    ----------
    victim : {"server", "run"}
        What was killed with SIGKILL: the Prefect server (then restarted on the same port and
        database) or the ``rovercam run`` process.
    kill_at_s : float
        Seconds after the first run started that the kill landed.
    killed : bool
        The first run had not finished when the kill landed.
    first_exit : int
        The first run's exit status (negative: killed by that signal).
    first_state : str
        The state type the server shows for the first run once the rerun is over
        (``COMPLETED`` when it carried on, ``CRASHED`` or ``FAILED`` when it stopped).
    rerun_exit : int
        The rerun's exit status.
    rerun_status : str
        The rerun's status in the catalog (``completed``, ``failed``, or "" when unrecorded).
    reused : dict of str to int
        What the rerun took from earlier work, by stage (its report's ``reused``).
    before : dict of str to int
        Output name -> version, as the catalog had them when the first run ended (what the killed
        run had published).
    outputs : dict of str to list of int
        Output name -> the versions the catalog has after the rerun (one each: nothing published
        twice). A version number a killed publisher had claimed is retired, so a mosaic that was
        being published when the run died may come out as v2: still its only version.
    audit : list of str
        :func:`rovercam.publish.audit_published` problems after the rerun.
    orphans : list of str
        :func:`orphan_outputs` after the rerun.
    catalog_run_left_running : bool
        The killed run's catalog run record still says ``running`` (nothing took it over).
    problems : list of str
        Anything else that went wrong (a hung run, a server that would not restart).
    """

    victim: str
    kill_at_s: float
    killed: bool = False
    first_exit: int | None = None
    first_state: str = ""
    rerun_exit: int | None = None
    rerun_status: str = ""
    reused: dict[str, int] = field(default_factory=dict)
    before: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, list[int]] = field(default_factory=dict)
    audit: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    catalog_run_left_running: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def shown_crashed(self) -> bool:
        """The server shows the first run finished: Crashed or Failed when it stopped, Completed
        when it carried on (never Running or Pending)."""
        return self.first_state in ("CRASHED", "FAILED", "COMPLETED")

    @property
    def republished(self) -> list[str]:
        """Outputs published more than once: several catalog versions, or another version than the
        one the killed run had published."""
        return sorted(name for name, versions in self.outputs.items()
                      if len(versions) > 1 or (name in self.before and versions != [self.before[name]]))

    @property
    def recovered(self) -> bool:
        """The rerun completed the sol, reusing what was published (nothing published twice), with
        a clean audit, no orphan outputs, and the first run shown finished."""
        return (self.rerun_exit == 0 and self.rerun_status == "completed" and bool(self.outputs)
                and not self.republished and not self.audit and not self.orphans
                and self.shown_crashed and not self.problems)


def _run_command(source: Path, sol: int, root: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "rovercam.cli", "run", "--input", str(source), "--sol",
                                 str(sol), "--out", str(root)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _wait(proc: subprocess.Popen, timeout: float) -> int | None:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def published_at_least(root: str | Path, count: int, kind: str | None = None) -> Callable[[], bool]:
    """A :func:`kill_trial` moment: the SQLite catalog under ``root`` has ``count`` output rows,
    of ``kind`` when given (``"mosaic"``: the publish stage runs; stereo outputs come earlier)."""
    import sqlite3

    path = Path(root) / "catalog.sqlite"

    def moment() -> bool:
        if not path.exists():
            return False
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
                if kind is None:
                    return db.execute("select count(*) from outputs").fetchone()[0] >= count
                return db.execute("select count(*) from outputs where kind = ?", (kind,)).fetchone()[0] >= count
        except sqlite3.Error:  # not created yet, or locked by the writer for a moment
            return False

    return moment


def stage_running(api: str, stage: str) -> Callable[[], bool]:
    """A :func:`kill_trial` moment: the server shows a run of stage subflow ``stage``
    (``ingest``, ``calibrate``, ``mosaic`` or ``publish``) Running."""
    def moment() -> bool:
        try:
            return any(r["state_type"] == "RUNNING" for r in flow_runs(api, [stage]))
        except OSError:
            return False

    return moment


def timed_run(server: PrefectServer, source: Path, root: Path, *, sol: int = 12,
              timeout: float = 300) -> tuple[float, float]:
    """An uninterrupted ``rovercam run`` of ``source`` into ``root``: (seconds until the server
    shows its flow run, seconds until the command ended). Random kill moments are drawn between
    the two (before the first, the command is still starting: nothing to kill but imports).

    Raises
    ------
    RuntimeError
        The run failed or took longer than ``timeout``.
    """
    root = Path(root)
    before = {r["id"] for r in flow_runs(server.api, ["ingest-sol"])}
    t0 = time.monotonic()
    proc = _run_command(source, sol, root, server.env(), root.parent / f"{root.name}.log")
    shown = None
    while proc.poll() is None and time.monotonic() - t0 < timeout:
        if shown is None and any(r["id"] not in before for r in flow_runs(server.api, ["ingest-sol"])):
            shown = time.monotonic() - t0
        time.sleep(0.1)
    code = _wait(proc, 1)
    if code != 0:
        if code is None:
            os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError(f"rovercam run exited with {code}: see {root.parent / f'{root.name}.log'}")
    total = time.monotonic() - t0
    return (shown if shown is not None else 0.0), total


def kill_trial(server: PrefectServer, source: Path, root: Path, *, sol: int = 12,
               victim: Literal["server", "run"], kill_at: float | Callable[[], bool],
               timeout: float = 300) -> TrialOutcome:
    """Run ``rovercam run`` on ``source`` into ``root`` against ``server``, kill ``victim`` with
    SIGKILL mid-run, then run the same command again; see :class:`TrialOutcome`.

    Parameters
    ----------
    server : PrefectServer
        Running; restarted (same port and database) when it is the victim.
    source, root : Path
        The source folder (see :func:`prepare_sol`) and a fresh storage root for this trial.
    sol : int
    victim : {"server", "run"}
    kill_at : float or callable
        Kill this many seconds after the first run started, or as soon as ``kill_at()`` is true
        (polled every 50 ms; see :func:`published_at_least` and :func:`stage_running`).
    timeout : float
        Seconds each run may take.
    """
    root = Path(root)
    logs = root.parent / f"{root.name}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = server.env()
    before = {r["id"] for r in flow_runs(server.api, ["ingest-sol"])}
    t0 = time.monotonic()
    first = _run_command(source, sol, root, env, logs / "first.log")
    while first.poll() is None:
        elapsed = time.monotonic() - t0
        if (kill_at() if callable(kill_at) else elapsed >= kill_at) or elapsed > timeout:
            break
        time.sleep(0.05)
    outcome = TrialOutcome(victim=victim, kill_at_s=round(time.monotonic() - t0, 2), killed=first.poll() is None)
    if victim == "server":
        server.kill()
        try:
            server.start()
        except RuntimeError as e:
            outcome.problems.append(f"server did not restart: {e}")
            return outcome
    elif first.poll() is None:
        os.killpg(first.pid, signal.SIGKILL)
    outcome.first_exit = _wait(first, timeout)
    if outcome.first_exit is None:
        outcome.problems.append(f"the first run still runs {timeout:.0f} s after the server came back")
        os.killpg(first.pid, signal.SIGKILL)
        outcome.first_exit = _wait(first, 30)
    outcome.before = _cataloged(root, sol)
    rerun = _run_command(source, sol, root, env, logs / "rerun.log")
    outcome.rerun_exit = _wait(rerun, timeout)
    if outcome.rerun_exit is None:
        outcome.problems.append(f"the rerun took more than {timeout:.0f} s")
        os.killpg(rerun.pid, signal.SIGKILL)
        rerun.wait(30)
    _judge(outcome, server, root, sol, before, rerun.pid)
    return outcome


def _cataloged(root: Path, sol: int) -> dict[str, int]:
    """Output name -> latest cataloged version under ``root`` (empty before any catalog)."""
    from rovercam.catalog import Catalog

    if not (root / "catalog.sqlite").exists():
        return {}
    with Catalog(f"sqlite:///{root / 'catalog.sqlite'}") as catalog:
        found: dict[str, int] = {}
        for out in catalog.outputs(sol=sol):
            found[out.name] = max(out.version, found.get(out.name, 0))
        return found


def _judge(outcome: TrialOutcome, server: PrefectServer, root: Path, sol: int, before: set[str],
           rerun_pid: int) -> None:
    """Fill ``outcome`` from the server, the store and the catalog after the rerun."""
    from rovercam.catalog import Catalog
    from rovercam.publish import audit_published
    from rovercam.storage import Store

    runs = [r for r in flow_runs(server.api, ["ingest-sol"]) if r["id"] not in before]
    firsts = [r for r in runs if (r.get("labels") or {}).get("rovercam.pid") != str(rerun_pid)]
    if len(firsts) == 1:
        outcome.first_state = firsts[0]["state_type"] or ""
    elif firsts:
        outcome.problems.append(f"{len(firsts)} first runs on the server")
    else:  # the server lost the run (killed before it was written down): nothing shows it Running
        outcome.first_state = "COMPLETED" if outcome.first_exit == 0 else "CRASHED"
    store = Store(str(root))
    with Catalog(f"sqlite:///{root / 'catalog.sqlite'}") as catalog:
        recorded = catalog.runs(sol=sol, limit=10)
        if recorded:
            outcome.rerun_status = recorded[0].status
            outcome.reused = dict(recorded[0].summary.get("reused") or {})
        outcome.catalog_run_left_running = any(r.status == "running" for r in recorded[1:])
        for out in catalog.outputs(sol=sol):
            outcome.outputs.setdefault(out.name, []).append(out.version)
        outcome.audit = audit_published(store, catalog, uncommitted="check")
        outcome.orphans = orphan_outputs(store, catalog)
    log.info("%s kill at %.1f s: first %s (exit %s), rerun exit %s, reused %s, outputs %s", outcome.victim,
             outcome.kill_at_s, outcome.first_state, outcome.first_exit, outcome.rerun_exit, outcome.reused,
             outcome.outputs)
