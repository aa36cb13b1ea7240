"""Deployments declared in ``config/deployments.toml`` and served by ``rovercam serve``.

``serve`` registers every deployment with the Prefect server named by ``PREFECT_API_URL`` (they
appear under Deployments in the UI, with their schedules and parameters) and then executes their
runs in this process until interrupted (Ctrl-C or SIGTERM). Runs that earlier processes left
``Running`` when they died are marked Crashed (:mod:`rovercam_flows.liveness`) when serving
starts and then every ``[prefect] liveness_check_s`` seconds while it serves. Without a
configured server it refuses, unless asked for an ephemeral one. For process workers on several machines instead, see
docs/operations.md (work pools).
"""
from __future__ import annotations

import importlib
import logging
import signal
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rovercam.config import ConfigError, defaults_dir

log = logging.getLogger(__name__)

#: what to tell an operator who has no Prefect server configured
NO_SERVER = ("no Prefect server configured: start one with `prefect server start` and set "
             "PREFECT_API_URL=http://127.0.0.1:4200/api (docs/operations.md), or pass --ephemeral to "
             "serve into a temporary server whose deployments vanish when this process stops")

#: flow name -> "module:function"
FLOWS: dict[str, str] = {
    "ingest-sol": "rovercam_flows.ingest_sol:ingest_sol",
    "reprocess-sol": "rovercam_flows.reprocess_sol:reprocess_sol",
    "build-mosaics": "rovercam_flows.build_mosaics:build_mosaics",
    "process-edl": "rovercam_flows.process_edl:process_edl",
    "catalog-report": "rovercam_flows.catalog_report:catalog_report",
}


@dataclass(frozen=True)
class DeploymentSpec:
    """One ``[name]`` table of the deployments file."""

    name: str
    flow: str
    description: str = ""
    cron: str | None = None
    timezone: str = "UTC"
    parameters: dict[str, Any] = field(default_factory=dict)
    paused: bool = False
    tags: tuple[str, ...] = ()


def load_deployments(path: str | Path | None = None) -> list[DeploymentSpec]:
    """Read and check the deployments file (default ``config/deployments.toml``).

    Raises
    ------
    ConfigError
        Unreadable file, unknown flow or key (the message names the file and the deployment).
    """
    path = Path(path) if path else defaults_dir() / "deployments.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read deployments ({e})") from e
    specs = []
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        flow = table.get("flow")
        if flow not in FLOWS:
            raise ConfigError(f"{path}: [{name}] flow {flow!r} is not one of {', '.join(FLOWS)}")
        unknown = set(table) - {"flow", "description", "cron", "timezone", "parameters", "paused", "tags"}
        if unknown:
            raise ConfigError(f"{path}: [{name}] unknown key(s) {', '.join(sorted(unknown))}")
        specs.append(DeploymentSpec(name=name, flow=flow, description=table.get("description", ""),
                                    cron=table.get("cron"), timezone=table.get("timezone", "UTC"),
                                    parameters=dict(table.get("parameters", {})),
                                    paused=bool(table.get("paused", False)), tags=tuple(table.get("tags", ()))))
    return specs


def flow_object(name: str) -> Any:
    """The Prefect flow registered under ``name``."""
    module, attr = FLOWS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def build(specs: list[DeploymentSpec], *, config_file: str | None = None) -> list[Any]:
    """``RunnerDeployment`` objects for ``prefect.serve``."""
    from prefect.schedules import Cron

    out = []
    for spec in specs:
        params = dict(spec.parameters)
        if config_file:
            params.setdefault("config_file", config_file)
        schedules = [Cron(spec.cron, timezone=spec.timezone)] if spec.cron else None
        out.append(flow_object(spec.flow).to_deployment(
            name=spec.name, description=spec.description or None, parameters=params,
            tags=["rovercam", *spec.tags], paused=spec.paused, schedules=schedules,
            version=_code_version(), _sync=True))  # sync even when an event loop is running
    return out


def _code_version() -> str:
    from rovercam.cachekey import code_version

    return code_version()


def api_url() -> str | None:
    """The Prefect API this process talks to (``PREFECT_API_URL`` from the environment or the
    active Prefect profile), or None when none is configured."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def _crash_abandoned() -> None:
    """Show as Crashed the runs of processes that died while no one was watching (the previous
    ``serve`` killed with its runs, a ``rovercam run`` killed): :mod:`rovercam_flows.liveness`."""
    from prefect.client.orchestration import get_client

    from rovercam_flows.liveness import crash_abandoned_runs

    try:
        with get_client(sync_client=True) as client:
            for run_id, message in crash_abandoned_runs(client).items():
                log.warning("flow run %s marked Crashed: %s", run_id, message)
    except Exception as exc:  # a courtesy to the UI; serving goes on
        log.warning("could not check for abandoned runs: %s", exc)


def _watch_abandoned(stop: threading.Event, interval_s: float) -> None:
    """Check for abandoned runs every ``interval_s`` seconds until ``stop`` is set."""
    while not stop.wait(interval_s):
        _crash_abandoned()


def _raise_stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(path: str | Path | None = None, *, config_file: str | None = None,
          only: list[str] | None = None, ephemeral: bool = False) -> None:
    """Register the deployments and run them in this process until interrupted.

    Parameters
    ----------
    path : str or Path, optional
        Deployments file (default ``config/deployments.toml``).
    config_file : str, optional
        Configuration file passed to every deployment's runs.
    only : list of str, optional
        Serve only these deployment names.
    ephemeral : bool, keyword-only
        Allow serving without a configured server (``PREFECT_API_URL``): Prefect then starts a
        temporary server inside this process, and the deployments and their runs vanish with it.

    Raises
    ------
    ConfigError
        No server configured and not ``ephemeral``; no deployment to serve; a bad deployments file.

    Notes
    -----
    SIGTERM stops serving like Ctrl-C: the runner stops polling, pauses the schedules it served,
    and the call returns (within seconds; no traceback).
    """
    specs = [s for s in load_deployments(path) if not only or s.name in only]
    if not specs:
        raise ConfigError(f"no deployments to serve (asked for {only})")
    if api_url() is None:
        if not ephemeral:
            raise ConfigError(NO_SERVER)
        log.warning("serving into a temporary Prefect server: the deployments and their runs vanish when "
                    "this process stops (set PREFECT_API_URL to keep them)")
    from prefect import serve as prefect_serve
    from prefect.runner import Runner

    from rovercam.config import load

    interval_s = load(config_file).prefect.liveness_check_s
    deployments = build(specs, config_file=config_file)
    _crash_abandoned()
    stop_watch = threading.Event()
    watcher = threading.Thread(target=_watch_abandoned, args=(stop_watch, interval_s),
                               name="rovercam-liveness", daemon=True)
    watcher.start()
    # Prefect's runner answers SIGTERM with sys.exit() inside its event loop, which then waits for
    # its services and ends in a traceback; a KeyboardInterrupt instead takes the Ctrl-C path.
    original = Runner.handle_sigterm
    Runner.handle_sigterm = lambda self, *a, **k: _raise_stop(signal.SIGTERM, None)  # type: ignore[method-assign]
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        prefect_serve(*deployments, print_starting_message=True)
    except KeyboardInterrupt:
        log.info("serve stopped")
    finally:
        stop_watch.set()
        Runner.handle_sigterm = original  # type: ignore[method-assign]
        signal.signal(signal.SIGTERM, previous)
        watcher.join(5)
