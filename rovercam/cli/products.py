"""The verbs about products and cameras, without orchestration: ``synth``, ``process``,
``ingest``, ``inspect`` and ``cameras``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from rovercam.cli.checks import storage_overrides
from rovercam.cli.console import (
    console,
    fail,
    print_json,
    print_records,
    progress,
    progress_callback,
    record_json,
    say,
)
from rovercam.errors import RovercamError

__all__ = ["cmd_synth", "cmd_process", "cmd_cameras", "cmd_ingest", "cmd_inspect"]


def cmd_synth(args: argparse.Namespace) -> int:
    from rovercam.config import load
    from rovercam.synth import generate_sol

    settings = load(args.config)
    with progress() as prog:
        manifest = generate_sol(Path(args.out), sol=args.sol, profile=args.profile, seed=args.seed,
                                settings=settings, progress=progress_callback(prog, "generate"))
    say(f"wrote synthetic sol {args.sol} ({args.profile}) to {escape(str(Path(args.out).resolve()))}")
    console.print(f"{len(manifest.frames)} products ({len(manifest.expected_bad)} more deliberately broken)")
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    import numpy as np

    from rovercam import chain
    from rovercam.config import load
    from rovercam.products import Limits, read_product
    from rovercam.provenance import sha256_file
    from rovercam.storage.raster import write_cog

    settings = load(args.config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    limits = Limits(**settings.limits.model_dump())
    failures: list[dict] = []
    done: list[dict] = []
    with progress(enabled=not args.json) as prog:
        task_id = prog.add_task("process", total=len(args.products))
        for p in args.products:
            try:
                product = read_product(p, limits=limits)
                frame = chain.process_product(product, settings, sha256=sha256_file(p))
            except RovercamError as exc:
                if not args.json:
                    fail(f"error {exc}")
                failures.append({"path": str(p), "error": str(exc)})
            else:
                level = frame.level
                tags = {"PRODUCT_ID": frame.product_id, **level.tags(), "BANDS": chain.band_space(frame),
                        "PROVENANCE": json.dumps(frame.provenance.to_dict()),
                        "CAMERA_MODEL": json.dumps(frame.camera_model.to_pds3())}
                path = out / f"{frame.product_id}.tif"
                write_cog(path, frame.image.astype(np.float32), tags=tags, units=level.units)
                done.append({"product_id": frame.product_id, "camera": f"{frame.mission}/{frame.instrument}",
                             "level": f"{level.level} {level.name}", "units": level.units,
                             "missing": ", ".join(level.missing) or "-", "path": str(path.resolve())})
            prog.advance(task_id)
    if args.json:
        print_json({"processed": done, "failed": failures})
    else:
        cols = ("product_id", "camera", "level", "units", "missing", "path")
        print_records(f"calibrated frames ({len(done)})", cols, [[d[c] for c in cols] for d in done],
                      whole={"product_id", "path"})
        say(f"{len(done)} processed, {len(failures)} failed -> {escape(str(out.resolve()))}")
    return 0 if not failures else 1


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
        print_json(status)
        return 0
    rows = []
    for st in status:
        flats = st["flat"]
        flat = "none" if not flats else (f"{len(flats)} file(s)" if all(flats.values())
                                         else f"missing {sum(v is None for v in flats.values())}")
        bad = "none" if not st["bad_pixels"] else ("yes" if all(st["bad_pixels"].values()) else "missing")
        rows.append((st["camera"], st["detector"], str(st["bits"] or "?"), st["cfa"], str(len(st["luts"])), flat,
                     bad, st["partner"] or "-", st["radiometry"] + (" (synthetic)" if st["synthetic"] else ""),
                     f"{st['level']} {LEVEL_NAMES[st['level']]}"))
    print_records(f"camera registry ({len(status)} cameras; calibration from {', '.join(map(str, folders))})",
                  ("camera", "detector", "bits", "CFA", "LUTs", "flat", "bad pixels", "partner", "radiometry",
                   "best level"), rows, whole={"camera"})
    console.print("radiometric status and sources: rovercam cameras --markdown, docs/cameras.md")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from rovercam.config import load
    from rovercam.ingest import ingest_paths

    settings = load(args.config, overrides=storage_overrides(args.out))
    with progress(enabled=not args.json) as prog:
        results = ingest_paths(args.paths, settings=settings, progress=progress_callback(prog, "ingest"),
                               sol_hint=args.sol)
    if args.json:
        print_json([record_json(r) for r in results])
        return 0
    counts = {s: sum(r.state == s for r in results) for s in ("ingested", "quarantined", "duplicate")}
    say(f"{counts['ingested']} ingested, {counts['quarantined']} quarantined, "
        f"{counts['duplicate']} duplicates -> {escape(settings.catalog_url)}")
    for r in results:
        if r.state != "ingested":
            say(f"  [yellow]{r.state}[/] {escape(r.reason or r.path)}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from rovercam.config import load
    from rovercam.products import read_product, summarize

    product = read_product(args.product, pixels=not args.label_only)
    summary = summarize(product)
    summary["calibration"] = _expected_calibration(product, load(args.config))
    if args.json:
        print_json(summary)
        return 0
    table = Table(show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for k, v in summary.items():
        if k != "label_angles":
            table.add_row(str(k), escape(str(v)))
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
