"""Deployments declared in ``config/deployments.toml`` and served by ``rovercam serve``.

``serve`` registers every deployment with the Prefect server named by ``PREFECT_API_URL`` (they
appear under Deployments in the UI, with their schedules and parameters) and then executes their
runs in this process until interrupted. For process workers on several machines instead, see
docs/operations.md (work pools).
"""
from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rovercam.config import ConfigError, defaults_dir

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


def serve(path: str | Path | None = None, *, config_file: str | None = None,
          only: list[str] | None = None) -> None:
    """Register the deployments and run them in this process until interrupted."""
    from prefect import serve as prefect_serve

    specs = [s for s in load_deployments(path) if not only or s.name in only]
    if not specs:
        raise ConfigError(f"no deployments to serve (asked for {only})")
    prefect_serve(*build(specs, config_file=config_file), print_starting_message=True)
