"""The ``rovercam`` command: one verb per job (README.md lists them).

Prefect is imported only by the verbs that orchestrate (``demo``, ``run``), inside the verb, so
the library stays Prefect-free.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rovercam import __version__
from rovercam.errors import RovercamError

console = Console(stderr=False)
err = Console(stderr=True, soft_wrap=True)  # errors never wrap: paths stay copyable


def _prefect_env() -> None:
    """Defaults that make a local Prefect run quiet and patient on a small machine."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "rovercam")


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )


def _generate_progress(prog: Progress, label: str):
    task_id = prog.add_task(label, total=None)

    def cb(done: int, total: int, message: str) -> None:
        prog.update(task_id, completed=done, total=total, description=f"{label}: {message}"[:70])

    return cb


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


def cmd_demo(args: argparse.Namespace) -> int:
    _prefect_env()
    from rovercam_flows.demo import generate_demo_sol, process_demo_sol

    root = Path(args.out).resolve()
    console.print(f"[bold]rovercam demo[/]: synthetic sol {args.sol} ({args.profile}) -> {root}")
    t0 = time.perf_counter()
    with _progress() as prog:
        demo = generate_demo_sol(root, sol=args.sol, profile=args.profile, seed=args.seed,
                                 config_file=args.config, progress=_generate_progress(prog, "generate sol"))
    console.print(f"generated {demo.sol_dir} in {demo.generate_s:.1f} s; running the ingest-sol flow")
    _quiet_prefect_task_logs(args.verbose)
    result = process_demo_sol(demo)
    wall = time.perf_counter() - t0
    console.rule("summary")
    _print_sol_report(result.report)
    table = Table(title="Published mosaics (display-scale PSNR against the generator's truth)")
    for col in ("mosaic", "version", "size", "coverage", "PSNR"):
        table.add_column(col)
    for pub in result.report["published"]:
        name = pub["name"]
        table.add_row(name, str(pub["version"]), f"{pub['width']}x{pub['height']}",
                      f"{result.coverage[name]:.1%}", f"{result.psnr_db[name]:.2f} dB")
    console.print(table)
    console.print("files:")
    for pub in result.report["published"]:
        for k in ("cog_path", "png_path", "stac_path"):
            if pub.get(k):
                console.print(f"  {pub[k]}")
    console.print(f"catalog: {result.settings.catalog_url}")
    console.print(f"inputs and truth: {result.sol_dir}")
    console.print(f"time: generate {result.generate_s:.1f} s, flow {result.flow_s:.1f} s, total {wall:.1f} s")
    ok = bool(result.report["published"]) and not result.report["failed"]
    return 0 if ok else 1


def _print_sol_report(report: dict) -> None:
    console.print(
        f"sol {report['sol']}: {report['products_found']} products found, {len(report['ingested'])} ingested, "
        f"{len(report['quarantined'])} quarantined, {len(report.get('duplicates', []))} duplicates skipped, "
        f"{len(report['failed'])} failed in the chain, "
        f"{len(report['published'])} mosaics published"
    )
    for q in report["quarantined"]:
        console.print(f"  [yellow]quarantined[/] {escape(q['reason'])}", soft_wrap=True)
    for f in report["failed"]:
        console.print(f"  [red]failed[/] {f['product_id']} at {f['stage']}: {escape(f['reason'])}", soft_wrap=True)


def cmd_run(args: argparse.Namespace) -> int:
    _prefect_env()
    from rovercam_flows.ingest_sol import ingest_sol

    overrides = {"storage": {"root": str(Path(args.out).resolve())}} if args.out else None
    source = args.input if "://" in args.input else str(Path(args.input).resolve())
    reports = ingest_sol(source=source, sol=args.sol, latest=args.latest, config_file=args.config,
                         overrides=overrides)
    for report in reports:
        _print_sol_report(report)
        for pub in report["published"]:
            console.print(f"  {pub['name']}: {pub.get('cog_path') or pub.get('cog_key')}")
    return 0 if reports and not any(r["failed"] for r in reports) else 1


def cmd_reprocess(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _reprocess_plan(args)
    _prefect_env()
    from rovercam_flows.reprocess_sol import reprocess_sol

    overrides = {"storage": {"root": str(Path(args.out).resolve())}} if args.out else None
    report = reprocess_sol(sol=args.sol, cameras=args.cameras or None, stages=args.stages or None,
                           force=args.force, config_file=args.config, overrides=overrides)
    _print_sol_report(report)
    console.print("reused from earlier runs: " + (", ".join(f"{k} {v}" for k, v in report["reused"].items()) or "none"))
    for pub in report["published"]:
        console.print(f"  {pub['name']} v{pub['version']}: {pub.get('cog_path') or pub.get('cog_key')}")
    return 0 if not report["failed"] else 1


def _reprocess_plan(args: argparse.Namespace) -> int:
    """``reprocess --dry-run``: the plan as a table, without Prefect and without writing anything."""
    from rovercam.config import load
    from rovercam.pipeline import plan_reprocess, summarize

    overrides = {"storage": {"root": str(Path(args.out).resolve())}} if args.out else None
    settings = load(args.config, overrides=overrides)
    try:
        plan = plan_reprocess(args.sol, settings, cameras=args.cameras or None, stages=args.stages or None,
                              force=args.force)
    except ValueError as exc:  # an unknown stage name
        err.print(f"[red]rovercam: {escape(str(exc))}[/]")
        return 2
    table = Table(title=f"reprocess sol {args.sol}: plan (dry run; {settings.storage_root})")
    for col in ("stage", "unit", "decision", "reason"):
        table.add_column(col, overflow="fold")
    for d in plan:
        table.add_row(d.stage, d.unit, d.action, escape(d.stored if d.reuse else d.reason))
    console.print(table)
    for stage in ("sol", "ingest", "calibrate", "mosaic", "publish"):
        console.print(f"{stage}: {escape(summarize(d for d in plan if d.stage == stage))}", soft_wrap=True)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rovercam_flows.deployments import serve

    serve(args.deployments, config_file=args.config, only=args.only or None)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from rovercam.config import load
    from rovercam.synth import generate_sol

    settings = load(args.config)
    with _progress() as prog:
        manifest = generate_sol(Path(args.out), sol=args.sol, profile=args.profile, seed=args.seed,
                                settings=settings, progress=_generate_progress(prog, "generate"))
    console.print(f"wrote synthetic sol {args.sol} ({args.profile}) to {Path(args.out).resolve()}")
    console.print(f"{len(manifest.frames)} products ({len(manifest.expected_bad)} more deliberately broken)")
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    import numpy as np

    from rovercam import chain
    from rovercam.config import load
    from rovercam.errors import ProductError
    from rovercam.products import Limits, read_product
    from rovercam.provenance import sha256_file
    from rovercam.storage.raster import write_cog

    settings = load(args.config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    limits = Limits(**settings.limits.model_dump())
    failures = 0
    done = Table(title="calibrated frames")
    for col in ("product", "camera", "level", "units", "missing"):
        done.add_column(col)
    with _progress() as prog:
        task_id = prog.add_task("process", total=len(args.products))
        for p in args.products:
            try:
                product = read_product(p, limits=limits)
                frame = chain.process_product(product, settings, sha256=sha256_file(p))
            except (ProductError, RovercamError) as exc:
                err.print(f"[red]error[/] {escape(str(exc))}")
                failures += 1
            else:
                level = frame.level
                tags = {"PRODUCT_ID": frame.product_id, **level.tags(), "BANDS": chain.band_space(frame),
                        "PROVENANCE": json.dumps(frame.provenance.to_dict()),
                        "CAMERA_MODEL": json.dumps(frame.camera_model.to_pds3())}
                write_cog(out / f"{frame.product_id}.tif", frame.image.astype(np.float32), tags=tags,
                          units=level.units)
                done.add_row(frame.product_id, f"{frame.mission}/{frame.instrument}", f"{level.level} {level.name}",
                             level.units, ", ".join(level.missing) or "-")
            prog.advance(task_id)
    if done.row_count:
        console.print(done)
    console.print(f"{len(args.products) - failures} processed, {failures} failed -> {out.resolve()}")
    return 0 if failures == 0 else 1


def cmd_cameras(args: argparse.Namespace) -> int:
    from rovercam.config import load
    from rovercam.provenance import LEVEL_NAMES
    from rovercam.registry import camera_status, iter_cameras, registry_markdown

    settings = load(args.config)
    folders = list(settings.calibration_path)
    cameras = {m: c for m, c in settings.cameras.items() if not args.mission or m == args.mission.upper()}
    if args.mission and not cameras:
        raise RovercamError(f"no cameras for mission {args.mission!r} (missions: {', '.join(sorted(settings.cameras))})")
    if args.markdown:
        sys.stdout.write(registry_markdown(cameras, folders))
        return 0
    status = [camera_status(cam, folders) for cam in iter_cameras(cameras)]
    if args.json:
        sys.stdout.write(json.dumps(status) + "\n")
        return 0
    table = Table(title=f"camera registry ({len(status)} cameras; calibration from {', '.join(map(str, folders))})")
    for col in ("camera", "detector", "bits", "CFA", "LUTs", "flat", "bad pixels", "partner", "radiometry",
                "best level"):
        table.add_column(col)
    for st in status:
        flats = st["flat"]
        flat = "none" if not flats else (f"{len(flats)} file(s)" if all(flats.values())
                                         else f"[red]missing {sum(v is None for v in flats.values())}[/]")
        bad = "none" if not st["bad_pixels"] else ("yes" if all(st["bad_pixels"].values()) else "[red]missing[/]")
        table.add_row(st["camera"], st["detector"], str(st["bits"] or "?"), st["cfa"], str(len(st["luts"])), flat,
                      bad, st["partner"] or "-", st["radiometry"] + (" (synthetic)" if st["synthetic"] else ""),
                      f"{st['level']} {LEVEL_NAMES[st['level']]}")
    console.print(table)
    console.print("radiometric status and sources: rovercam cameras --markdown, docs/cameras.md")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from rovercam.config import load
    from rovercam.ingest import ingest_paths

    overrides = {"storage": {"root": str(Path(args.out).resolve())}} if args.out else None
    settings = load(args.config, overrides=overrides)
    with _progress() as prog:
        cb = _generate_progress(prog, "ingest")
        results = ingest_paths(args.paths, settings=settings, progress=cb, sol_hint=args.sol)
    counts = {s: sum(r.state == s for r in results) for s in ("ingested", "quarantined", "duplicate")}
    console.print(f"{counts['ingested']} ingested, {counts['quarantined']} quarantined, "
                  f"{counts['duplicate']} duplicates -> {settings.catalog_url}")
    for r in results:
        if r.state != "ingested":
            console.print(f"  [yellow]{r.state}[/] {escape(r.reason or r.path)}", soft_wrap=True)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from rovercam.config import load
    from rovercam.products import read_product, summarize

    product = read_product(args.product, pixels=not args.label_only)
    summary = summarize(product)
    summary["calibration"] = _expected_calibration(product, load(args.config))
    if args.json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        table = Table(show_header=False)
        for k, v in summary.items():
            if k != "label_angles":
                table.add_row(str(k), str(v))
        console.print(table)
        if summary["label_angles"]:
            console.print(_label_angles_table(summary["label_angles"]))
    return 0


def _expected_calibration(product, settings) -> dict:
    """What the frame chain will make of a product: its camera in the registry and the level."""
    from rovercam.chain import expected_level
    from rovercam.errors import ConfigError

    try:
        camera = settings.camera(product.instrument, product.mission).key
    except ConfigError:
        camera = None
    level = expected_level(product, settings)
    return {"camera": camera, **level.to_dict()}


def _label_angles_table(entries: list[dict]) -> Table:
    """The label's az/el groups beside the computed pointing, one row per group and quantity."""

    def pair(d: dict | None, fmt: str = "{:.4f}") -> str:
        if not d or d.get("azimuth_deg") is None or d.get("elevation_deg") is None:
            return "-"
        return f"{fmt.format(d['azimuth_deg'])} / {fmt.format(d['elevation_deg'])}"

    table = Table(title="label az/el (deg) vs computed; converted = azimuth clockwise [0, 360), "
                        "elevation up (docs/conventions.md)")
    for col in ("group", "what", "frame", "label az / el", "convention", "converted az / el",
                "computed az / el", "diff az / el / angle"):
        table.add_column(col)
    for e in entries:
        conv = e["convention"]
        diff = e["difference_deg"]
        table.add_row(
            e["group"], e["quantity"], str(e["frame"]), pair(e["label"], "{:g}"),
            f"{conv['azimuth']} / {conv['elevation']}\n[dim]{escape(conv['source'])}[/]",
            pair(e["converted"]), pair(e["computed"]),
            "-" if diff is None else
            f"{diff['azimuth_deg']:+.2e} / {diff['elevation_deg']:+.2e} / {diff['separation_deg']:.2e}",
        )
    return table


def _sol_range(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        return (int(lo), int(hi)) if sep else (int(lo), int(lo))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sol range must be N or A-B, got {text!r}") from None


def _utc_time(text: str):
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"time must be ISO 8601 (2021-05-30T10:00Z), got {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _record_json(record) -> dict:
    import dataclasses

    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dataclasses.asdict(record).items()}


def cmd_catalog(args: argparse.Namespace) -> int:
    from rovercam.catalog import Catalog
    from rovercam.catalog.query import lineage_report, search_outputs, search_products
    from rovercam.config import load

    overrides = {"storage": {"root": str(Path(args.out).resolve())}} if args.out else None
    settings = load(args.config, overrides=overrides)
    with Catalog(settings.catalog_url) as cat:
        if args.what == "lineage":
            lin = lineage_report(cat, args.output_id)
            if args.json:
                doc = {"output": _record_json(lin.output), "run": _record_json(lin.run) if lin.run else None,
                       "inputs": [{**_record_json(i.link), "product": _record_json(i.product) if i.product else None}
                                  for i in lin.inputs]}
                sys.stdout.write(json.dumps(doc, default=str) + "\n")
                return 0
            o = lin.output
            console.print(f"[bold]{o.output_id}[/] ({o.kind}, sol {o.sol}, {o.instrument}, v{o.version})")
            if lin.run:
                console.print(f"run {lin.run.run_id} ({lin.run.flow}, {lin.run.status}), software "
                              f"{lin.run.software_version or '?'}, config {lin.run.config_hash[:12] or '?'}")
            table = Table(title="inputs")
            for col in ("product_id", "sha256", "state", "path"):
                table.add_column(col)
            for i in lin.inputs:
                p = i.product
                table.add_row(i.link.product_id, i.link.product_sha256[:16],
                              p.state if p else "(not in this catalog)", (p.path or "") if p else "")
            console.print(table)
            return 0
        sols = args.sols
        if args.what == "products":
            rows = search_products(cat, sol=args.sol, sols=sols, camera=args.camera, state=args.state,
                                   since=args.since, until=args.until)
            cols = ("product_id", "sol", "instrument", "state", "start_time", "reason")
        else:
            rows = search_outputs(cat, sol=args.sol, sols=sols, camera=args.camera, kind=args.kind,
                                  mission=args.mission, since=args.since, until=args.until,
                                  latest_only=args.latest)
            cols = ("output_id", "kind", "sol", "instrument", "version", "calibration_level", "units",
                    "start_time", "stac_key")
        if args.what == "export-stac":
            from rovercam.catalog.export import export_stac
            from rovercam.storage import Store

            store = Store.from_settings(settings)
            result = export_stac(cat, store, args.dest, outputs=rows)
            console.print(f"wrote {result['items']} items in {result['collections']} collections: "
                          f"{result['catalog']}")
            return 0
        if args.json:
            sys.stdout.write(json.dumps([_record_json(r) for r in rows], default=str) + "\n")
            return 0
        table = Table(title=f"{args.what} ({len(rows)}; {settings.catalog_url})")
        for col in cols:
            table.add_column(col)
        for r in rows:
            table.add_row(*(str(getattr(r, c, "") or "") for c in cols))
        console.print(table)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from rovercam_benchmarks import get

    run = get(args.name)
    figures = run(quick=args.quick)
    if args.json:
        sys.stdout.write(json.dumps(figures, default=str) + "\n")
        return 0
    table = Table(title=f"rovercam bench {args.name}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, v in figures.items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    console.print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rovercam", description="Mars rover camera imagery pipeline.")
    p.add_argument("--version", action="version", version=f"rovercam {__version__}")
    p.add_argument("--config", help="user configuration file (TOML); see README 'Configuration'")
    p.add_argument("-v", "--verbose", action="store_true", help="library debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="generate a sample sol and run it end to end")
    d.add_argument("--out", default="./rovercam-output", help="storage root (default ./rovercam-output)")
    d.add_argument("--sol", type=int, default=100)
    d.add_argument("--profile", default="demo", choices=["demo", "tiny"])
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("synth", help="generate a synthetic sol with its ground truth")
    s.add_argument("--out", required=True)
    s.add_argument("--sol", type=int, default=100)
    s.add_argument("--profile", default="demo",
                   choices=["demo", "tiny", "heritage-navcam", "navcam-pan", "mastcamz-pan", "edl", "full"])
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_synth)

    r = sub.add_parser("run", help="fetch a sol's new products from a source and process them (ingest-sol flow)")
    r.add_argument("--sol", type=int, help="the sol (default: the source's latest --latest sols)")
    r.add_argument("--latest", type=int, default=1, help="how many of the newest sols when --sol is absent")
    r.add_argument("--input", required=True,
                   help="source: a folder, an s3:// prefix, an http(s) PDS-like volume or raw-image feed")
    r.add_argument("--out", help="storage root (default from configuration)")
    r.set_defaults(func=cmd_run)

    rp = sub.add_parser("reprocess", help="reprocess a cataloged sol (reprocess-sol flow; --dry-run: the plan only)")
    rp.add_argument("--sol", type=int, required=True)
    rp.add_argument("--cameras", nargs="*", help="instrument ids or prefixes (default: all)")
    rp.add_argument("--stages", nargs="*",
                    help="stages to rerun, with everything after them: ingest calibrate mosaic publish")
    rp.add_argument("--force", action="store_true", help="recompute every stage")
    rp.add_argument("--out", help="storage root (default from configuration)")
    rp.add_argument("--dry-run", action="store_true",
                    help="print what would be reused or recomputed, and why; run nothing, write nothing")
    rp.set_defaults(func=cmd_reprocess)

    sv = sub.add_parser("serve", help="serve the deployments (scheduled ingest, reprocessing) to Prefect")
    sv.add_argument("--deployments", help="deployments file (default: config/deployments.toml)")
    sv.add_argument("--only", nargs="*", help="serve only these deployment names")
    sv.set_defaults(func=cmd_serve)

    pr = sub.add_parser("process", help="the frame chain on products, no orchestration")
    pr.add_argument("products", nargs="+")
    pr.add_argument("--out", required=True)
    pr.set_defaults(func=cmd_process)

    cm = sub.add_parser("cameras", help="the camera registry and each camera's calibration status")
    cm.add_argument("--mission", help="one mission (M2020, MSL, MER, NSYT)")
    cm.add_argument("--json", action="store_true")
    cm.add_argument("--markdown", action="store_true", help="the table of docs/cameras.md, with sources")
    cm.set_defaults(func=cmd_cameras)

    g = sub.add_parser("ingest", help="ingest products (files or folders) into the catalog")
    g.add_argument("paths", nargs="+")
    g.add_argument("--sol", type=int, help="sol to file unreadable products under")
    g.add_argument("--out", help="storage root (default from configuration)")
    g.set_defaults(func=cmd_ingest)

    i = sub.add_parser("inspect", help="one product's parsed summary")
    i.add_argument("product")
    i.add_argument("--json", action="store_true")
    i.add_argument("--label-only", action="store_true", help="read the label alone (no pixels)")
    i.set_defaults(func=cmd_inspect)

    c = sub.add_parser("catalog", help="list, search, lineage, STAC export")
    c.add_argument("--out", help="storage root (default from configuration)")
    csub = c.add_subparsers(dest="what", required=True)

    def _filters(sp: argparse.ArgumentParser, *, outputs: bool) -> None:
        sp.add_argument("--sol", type=int, help="one sol")
        sp.add_argument("--sols", type=_sol_range, metavar="A-B", help="inclusive sol range")
        sp.add_argument("--camera", help="instrument id or family (NAVCAM_LEFT, NAVCAM)")
        sp.add_argument("--since", type=_utc_time, metavar="TIME", help="ISO 8601, UTC unless given")
        sp.add_argument("--until", type=_utc_time, metavar="TIME")
        if outputs:
            sp.add_argument("--kind", help="output kind (mosaic)")
            sp.add_argument("--mission", help="mission id (M2020)")
            sp.add_argument("--latest", action="store_true", help="newest version of each output only")
        else:
            sp.add_argument("--state", choices=["ingested", "quarantined", "processed"])
        sp.add_argument("--out", help="storage root (default from configuration)", default=argparse.SUPPRESS)

    cp = csub.add_parser("products", help="ingested products (search by sol, camera, state, time)")
    _filters(cp, outputs=False)
    cp.add_argument("--json", action="store_true")
    co = csub.add_parser("outputs", help="published outputs (search by sol, camera, kind, time)")
    _filters(co, outputs=True)
    co.add_argument("--json", action="store_true")
    cl = csub.add_parser("lineage", help="the inputs and run behind one output")
    cl.add_argument("output_id")
    cl.add_argument("--json", action="store_true")
    cl.add_argument("--out", help="storage root (default from configuration)", default=argparse.SUPPRESS)
    ce = csub.add_parser("export-stac", help="write a static STAC catalog of the outputs")
    ce.add_argument("dest", help="output folder")
    _filters(ce, outputs=True)
    c.set_defaults(func=cmd_catalog)

    b = sub.add_parser("bench", help="run a benchmark and print its figures")
    b.add_argument("name")
    b.add_argument("--json", action="store_true")
    b.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    b.set_defaults(func=cmd_bench)
    from rovercam.viewer.command import register as register_viewer  # `view`, `export-site`

    register_viewer(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except RovercamError as exc:
        err.print(f"[red]rovercam: {escape(str(exc))}[/]")
        return 2
    except FileNotFoundError as exc:
        err.print(f"[red]rovercam: {escape(str(exc))}[/]")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
