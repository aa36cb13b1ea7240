"""The verbs that run flows: ``demo``, ``run``, ``reprocess`` and ``serve``.

Prefect and the flows are imported inside each verb, after its parameters are checked
(:mod:`rovercam.cli.checks`), so a mistake never starts a Prefect server.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Iterator

from rich.markup import escape

from rovercam.cli.checks import check_input, check_reprocess, storage_overrides
from rovercam.cli.console import (
    console,
    print_json,
    print_records,
    progress,
    progress_callback,
    say,
)
from rovercam.errors import OrchestratorError

__all__ = ["cmd_demo", "cmd_run", "cmd_reprocess", "cmd_serve", "print_sol_report"]


def _prefect_env() -> None:
    """Defaults that make a local Prefect run quiet and patient on a small machine."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "rovercam")


def _heartbeats() -> None:
    """Flow-run heartbeats every 30 s (Prefect's minimum) for runs a server keeps: they let a run
    on another machine tell a dead run from a live one (:mod:`rovercam_flows.liveness`;
    docs/reliability.md, "Orchestrator faults")."""
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")


@contextlib.contextmanager
def _orchestrator_errors() -> Iterator[None]:
    """A Prefect server that stops answering mid-run (killed, restarting) ends the verb with one
    line saying so and what to do, instead of an HTTP client traceback."""
    import httpx

    try:
        yield
    except httpx.TransportError as exc:
        from prefect.settings import PREFECT_API_URL

        where = PREFECT_API_URL.value() or "the temporary server"
        raise OrchestratorError(
            f"the Prefect server ({where}) stopped answering ({type(exc).__name__}: {exc}); the run "
            "stopped. Run the same command again once the server is back: finished work is reused") from exc


class _NoRoutineTaskLines(logging.Filter):
    """Console filter: drop per-task INFO lines (they stay in the Prefect UI); keep the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "prefect.task_runs" and record.levelno < logging.WARNING)


def _quiet_prefect_task_logs(verbose: bool) -> None:
    """Keep the flow's stage lines and problems on the console; per-task lines only with -v."""
    if verbose:
        return
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    for handler in logging.getLogger().handlers + logging.getLogger("prefect").handlers:
        if type(handler).__name__ == "PrefectConsoleHandler":
            handler.addFilter(_NoRoutineTaskLines())


def _print_published(published: list[dict]) -> None:
    """Each published output's id, then its files, each on its own line."""
    for pub in published:
        say(f"  [bold]{escape(pub['name'])}[/] v{pub['version']}")
        for k in ("cog_path", "png_path", "stac_path", "cog_key"):
            if pub.get(k) and not (k == "cog_key" and pub.get("cog_path")):
                say(f"    {escape(str(pub[k]))}")


def cmd_demo(args: argparse.Namespace) -> int:
    _prefect_env()
    from rovercam_flows.demo import generate_demo_sol, process_demo_sol

    root = Path(args.out).resolve()
    say(f"[bold]rovercam demo[/]: synthetic sol {args.sol} ({args.profile}) -> {escape(str(root))}")
    t0 = time.perf_counter()
    with progress() as prog:
        demo = generate_demo_sol(root, sol=args.sol, profile=args.profile, seed=args.seed,
                                 config_file=args.config, progress=progress_callback(prog, "generate sol"))
    say(f"generated {escape(str(demo.sol_dir))} in {demo.generate_s:.1f} s; running the ingest-sol flow")
    _quiet_prefect_task_logs(args.verbose)
    result = process_demo_sol(demo)
    wall = time.perf_counter() - t0
    console.rule("summary")
    print_sol_report(result.report)
    published = result.report["published"]
    print_records("Published mosaics (display-scale PSNR against the generator's truth)",
                  ("mosaic", "version", "size", "coverage", "PSNR"),
                  [(p["name"], str(p["version"]), f"{p['width']}x{p['height']}", f"{result.coverage[p['name']]:.1%}",
                    f"{result.psnr_db[p['name']]:.2f} dB") for p in published], whole={"mosaic"})
    console.print("files:")
    _print_published(published)
    say(f"catalog: {escape(result.settings.catalog_url)}")
    say(f"inputs and truth: {escape(str(result.sol_dir))}")
    console.print(f"time: generate {result.generate_s:.1f} s, flow {result.flow_s:.1f} s, total {wall:.1f} s")
    ok = bool(published) and not result.report["failed"]
    return 0 if ok else 1


def print_sol_report(report: dict) -> None:
    """The counts of a sol run, then every quarantined and failed product on its own line."""
    say(
        f"sol {report['sol']}: {report['products_found']} products found, {len(report['ingested'])} ingested, "
        f"{len(report['quarantined'])} quarantined, {len(report.get('duplicates', []))} duplicates skipped, "
        f"{len(report['failed'])} failed in the chain, "
        f"{len(report['published'])} mosaics published"
        + _stereo_counts(report)
    )
    for q in report["quarantined"]:
        say(f"  [yellow]quarantined[/] {escape(q['reason'])}")
    for f in report["failed"]:
        say(f"  [red]failed[/] {escape(f['product_id'])} at {f['stage']}: {escape(f['reason'])}")
    for p in report.get("stereo", []):
        say(f"  stereo {escape(p['name'])} v{p['version']}{' (reused)' if p.get('reused') else ''}: "
            f"{100 * p.get('valid_fraction', 0.0):.1f} % of pixels with XYZ, {p.get('mesh_faces', 0)} mesh faces")
    for t in report.get("terrain", []):
        if "skipped" in t:
            say(f"  terrain {escape(t['name'])}: none published: {escape(t['skipped'])}")
            continue
        say(f"  terrain {escape(t['name'])} v{t['version']}{' (reused)' if t.get('reused') else ''}: "
            f"{len(t.get('pairs', []))} pair(s), {t.get('cells', 0)} DEM cells, {t.get('mesh_faces', 0)} mesh faces")
    for u in report.get("unpaired", []):
        say(f"  [yellow]unpaired[/] {escape(u['product_id'])} ({escape(u['instrument'])}): {escape(u['reason'])}")


def _stereo_counts(report: dict) -> str:
    """``, N stereo pairs, M terrains`` when the stereo stage made any (empty otherwise)."""
    pairs = len(report.get("stereo", []))
    terrains = sum("skipped" not in t for t in report.get("terrain", []))
    if not (pairs or terrains or report.get("unpaired")):
        return ""
    return f", {pairs} stereo pair(s), {terrains} terrain(s), {len(report.get('unpaired', []))} unpaired frame(s)"


def cmd_run(args: argparse.Namespace) -> int:
    from rovercam.config import load

    settings = load(args.config, overrides=storage_overrides(args.out))
    source = check_input(args.input, args.sol, settings.storage_root)
    _prefect_env()
    _heartbeats()
    from rovercam_flows.ingest_sol import ingest_sol

    with _orchestrator_errors():
        reports = ingest_sol(source=source, sol=args.sol, latest=args.latest, config_file=args.config,
                             overrides=storage_overrides(args.out))
    for report in reports:
        print_sol_report(report)
        _print_published(report["published"])
    return 0 if reports and not any(r["failed"] for r in reports) else 1


def cmd_reprocess(args: argparse.Namespace) -> int:
    from rovercam.config import load

    settings = load(args.config, overrides=storage_overrides(args.out))
    check_reprocess(settings, args.sol, args.cameras, args.stages)
    if args.dry_run:
        return _reprocess_plan(args, settings)
    _prefect_env()
    _heartbeats()
    from rovercam_flows.reprocess_sol import reprocess_sol

    with _orchestrator_errors():
        report = reprocess_sol(sol=args.sol, cameras=args.cameras or None, stages=args.stages or None,
                               force=args.force, config_file=args.config, overrides=storage_overrides(args.out))
    print_sol_report(report)
    say("reused from earlier runs: " + (", ".join(f"{k} {v}" for k, v in report["reused"].items()) or "none"))
    _print_published(report["published"])
    return 0 if not report["failed"] else 1


def _reprocess_plan(args: argparse.Namespace, settings) -> int:
    """``reprocess --dry-run``: the plan as a table, without Prefect and without writing anything."""
    from rovercam.pipeline import plan_reprocess, summarize

    plan = plan_reprocess(args.sol, settings, cameras=args.cameras or None, stages=args.stages or None,
                          force=args.force)
    if args.json:
        print_json([{"stage": d.stage, "unit": d.unit, "action": d.action, "key": d.key,
                     "stored": d.stored, "reason": d.reason} for d in plan])
        return 0
    print_records(f"reprocess sol {args.sol}: plan (dry run; {settings.storage_root})",
                  ("stage", "unit", "decision", "reason"),
                  [(d.stage, d.unit, d.action, d.stored if d.reuse else d.reason) for d in plan],
                  whole={"unit"})
    for stage in ("sol", "ingest", "calibrate", "mosaic", "publish"):
        say(f"{stage}: {escape(summarize(d for d in plan if d.stage == stage))}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _prefect_env()
    _heartbeats()
    from rovercam_flows.deployments import serve

    serve(args.deployments, config_file=args.config, only=args.only or None, ephemeral=args.ephemeral)
    return 0

