"""Orchestrator faults: a real Prefect server that can be killed and restarted, and sol runs killed
in the middle.

:class:`PrefectServer` runs ``prefect server start`` the way an operator starts it (its own
``PREFECT_HOME``, hence its own SQLite database), on a fixed port, so that after a SIGKILL it comes
back on the same address and database. :func:`flow_runs` reads flow runs through the server's REST
API, so this module needs no Prefect import (the library never imports Prefect; the ``prefect``
command comes from the same environment as the running Python).

:func:`kill_trial` is one trial of the reliability campaign (docs/operations.md, "Orchestrator
faults"): ``rovercam run`` processes a generated sol against the server; after a chosen delay
either the server or the run's own process is killed with SIGKILL; the server is restarted when it
was the victim; then the same command runs the sol again and the trial records whether it
completed, what it reused, whether the store and catalog agree, and the state the server shows
for the killed run.
"""
from __future__ import annotations

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
from typing import Any, Literal

__all__ = ["PrefectServer", "TrialOutcome", "flow_runs", "free_port", "kill_trial", "orphan_outputs",
           "prepare_sol"]

log = logging.getLogger(__name__)

#: the environment every process of a trial shares (quiet, no telemetry)
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


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
            if _healthy(f"{self.api}/health"):
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
