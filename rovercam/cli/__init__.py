"""The ``rovercam`` command: one verb per job (README.md lists them).

The verbs live by group: :mod:`~rovercam.cli.orchestration` (``demo``, ``run``, ``reprocess``,
``serve``), :mod:`~rovercam.cli.products` (``synth``, ``process``, ``ingest``, ``inspect``,
``cameras``), :mod:`~rovercam.cli.stereo` (``stereo``), :mod:`~rovercam.cli.catalog`
(``catalog ...``) and ``bench`` here; ``view`` and
``export-site`` come from :mod:`rovercam.viewer.command`. What they print goes through
:mod:`~rovercam.cli.console`; parameters are checked by :mod:`~rovercam.cli.checks` before any
flow starts.

Prefect, the flows and the benchmarks are imported only inside the verbs that need them, so the
library stays Prefect-free and the command starts fast.

Expected errors (:class:`rovercam.errors.RovercamError`, a missing file) end the command with one
line on stderr and exit status 2; ``--debug`` prints their traceback too.
"""
from __future__ import annotations

import argparse
import logging
import traceback
from typing import Sequence

from rich.markup import escape

from rovercam import __version__
from rovercam.cli.catalog import add_catalog_parser
from rovercam.cli.checks import latest_count, sol_number, sol_range
from rovercam.cli.console import console, err, fail, print_json
from rovercam.cli.orchestration import cmd_demo, cmd_reprocess, cmd_run, cmd_serve
from rovercam.cli.products import (
    cmd_cameras,
    cmd_ingest,
    cmd_inspect,
    cmd_process,
    cmd_synth,
)
from rovercam.cli.stereo import add_stereo_parser
from rovercam.errors import RovercamError

__all__ = ["main", "build_parser"]


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rovercam_benchmarks import get

    run = get(args.name)
    figures = run(quick=args.quick)
    if args.json:
        print_json(figures)
        return 0
    table = Table(title=f"rovercam bench {args.name}")
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right")
    for k, v in figures.items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    console.print(table)
    return 0


def _utc_time(text: str):
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"time must be ISO 8601 (2021-05-30T10:00Z), got {text[:40]!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit status 2, as argparse's)."""

    def error(self, message: str):  # type: ignore[override]
        err.print(f"[red]{escape(self.prog)}: {escape(message)}[/] (see {escape(self.prog)} --help)")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The ``rovercam`` argument parser, every verb included."""
    from rovercam.pipeline import CHAIN_STAGES, STAGES

    p = _Parser(prog="rovercam", description="Mars rover camera imagery pipeline.")
    p.add_argument("--version", action="version", version=f"rovercam {__version__}")
    p.add_argument("--config", help="user configuration file (TOML); see README 'Configuration'")
    p.add_argument("-v", "--verbose", action="store_true", help="library debug logging")
    p.add_argument("--debug", action="store_true", help="print the traceback of an error, not only its line")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="generate a sample sol and run it end to end")
    d.add_argument("--out", default="./rovercam-output", help="storage root (default ./rovercam-output)")
    d.add_argument("--sol", type=sol_number, default=100)
    d.add_argument("--profile", default="demo", choices=["demo", "tiny"])
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("synth", help="generate a synthetic sol with its ground truth")
    s.add_argument("--out", required=True)
    s.add_argument("--sol", type=sol_number, default=100)
    s.add_argument("--profile", default="demo",
                   choices=["demo", "tiny", "heritage-navcam", "navcam-pan", "mastcamz-pan", "edl", "full", "stereo", "stereo-full"])
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_synth)

    r = sub.add_parser("run", help="fetch a sol's new products from a source and process them (ingest-sol flow)")
    r.add_argument("--sol", type=sol_number, help="the sol (default: the source's latest --latest sols)")
    r.add_argument("--latest", type=latest_count, default=1,
                   help="how many of the newest sols when --sol is absent (1 to 100)")
    r.add_argument("--input", required=True,
                   help="source: a folder, an s3:// prefix, an http(s) PDS-like volume or raw-image feed")
    r.add_argument("--out", help="storage root (default from configuration)")
    r.set_defaults(func=cmd_run)

    rp = sub.add_parser("reprocess", help="reprocess a cataloged sol (reprocess-sol flow; --dry-run: the plan only)")
    rp.add_argument("--sol", type=sol_number, required=True, help="a sol with ingested products in the catalog")
    rp.add_argument("--cameras", nargs="*", metavar="CAMERA",
                    help="instrument ids or prefixes the sol has (default: all)")
    rp.add_argument("--stages", nargs="*", metavar="STAGE",
                    help=f"stages to rerun, with everything after them: {' '.join(STAGES)} "
                         f"(frame-chain stages {' '.join(CHAIN_STAGES)} mean calibrate)")
    rp.add_argument("--force", action="store_true", help="recompute every stage")
    rp.add_argument("--out", help="storage root (default from configuration)")
    rp.add_argument("--dry-run", action="store_true",
                    help="print what would be reused or recomputed, and why; run nothing, write nothing")
    rp.add_argument("--json", action="store_true", help="with --dry-run: the plan as JSON")
    rp.set_defaults(func=cmd_reprocess)

    sv = sub.add_parser("serve", help="serve the deployments (scheduled ingest, reprocessing) to a Prefect server")
    sv.add_argument("--deployments", help="deployments file (default: config/deployments.toml)")
    sv.add_argument("--only", nargs="*", help="serve only these deployment names")
    sv.add_argument("--ephemeral", action="store_true",
                    help="without PREFECT_API_URL: serve into a temporary server of this process "
                         "(its deployments and runs vanish when it stops)")
    sv.set_defaults(func=cmd_serve)

    pr = sub.add_parser("process", help="the frame chain on products, no orchestration")
    pr.add_argument("products", nargs="+")
    pr.add_argument("--out", required=True)
    pr.add_argument("--json", action="store_true", help="print the processed frames and failures as JSON")
    pr.set_defaults(func=cmd_process)

    cm = sub.add_parser("cameras", help="the camera registry and each camera's calibration status")
    cm.add_argument("--mission", help="one mission (M2020, MSL, MER, NSYT)")
    cm.add_argument("--json", action="store_true")
    cm.add_argument("--markdown", action="store_true", help="the table of docs/cameras.md, with sources")
    cm.set_defaults(func=cmd_cameras)

    g = sub.add_parser("ingest", help="ingest products (files or folders) into the catalog")
    g.add_argument("paths", nargs="+")
    g.add_argument("--sol", type=sol_number, help="sol to file unreadable products under")
    g.add_argument("--out", help="storage root (default from configuration)")
    g.add_argument("--json", action="store_true", help="print every product's outcome as JSON")
    g.set_defaults(func=cmd_ingest)

    i = sub.add_parser("inspect", help="one product's parsed summary")
    i.add_argument("product")
    i.add_argument("--json", action="store_true")
    i.add_argument("--label-only", action="store_true", help="read the label alone (no pixels)")
    i.set_defaults(func=cmd_inspect)

    add_stereo_parser(sub)

    add_catalog_parser(sub, sol_type=sol_number, sol_range=sol_range, utc_time=_utc_time)

    b = sub.add_parser("bench", help="run a benchmark and print its figures")
    b.add_argument("name")
    b.add_argument("--json", action="store_true")
    b.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    b.set_defaults(func=cmd_bench)
    from rovercam.viewer.command import (
        register as register_viewer,  # `view`, `export-site`
    )

    register_viewer(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rovercam`` command; returns the exit status (2: an expected error)."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (RovercamError, FileNotFoundError, NotADirectoryError) as exc:
        if args.debug:
            traceback.print_exc()
        fail(str(exc))
        return 2
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        fail("interrupted")
        return 130
