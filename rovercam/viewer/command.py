"""The ``view`` and ``export-site`` verbs of the ``rovercam`` command.

The command line (:mod:`rovercam.cli`) calls :func:`register` on its subparsers; everything the verbs need is
imported when they run, so the command starts fast.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["register", "cmd_view", "cmd_export_site"]

log = logging.getLogger(__name__)


def _settings(args: argparse.Namespace) -> Any:
    from rovercam.config import load

    overrides = {"storage": {"root": str(Path(args.out).resolve())}} if getattr(args, "out", None) else None
    return load(getattr(args, "config", None), overrides=overrides)


def cmd_view(args: argparse.Namespace) -> int:
    """Serve the catalog browser and viewer until interrupted."""
    from rich.console import Console

    from rovercam.viewer.library import Library
    from rovercam.viewer.server import serve

    console = Console()
    settings = _settings(args)
    library = Library.from_settings(settings)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning[/]: serving on {args.host}: the catalog is visible to that network")

    def ready(url: str) -> None:
        console.print(f"rovercam viewer: {url}  ({len(library.ids())} outputs; {settings.catalog_url}); Ctrl-C stops")
        if args.open:
            import webbrowser

            webbrowser.open(url)

    serve(library, host=args.host, port=args.port, on_ready=ready)
    return 0


def cmd_export_site(args: argparse.Namespace) -> int:
    """Write the static site."""
    from rich.console import Console
    from rich.progress import Progress

    from rovercam.viewer.library import Library
    from rovercam.viewer.site import export_site

    console = Console()
    library = Library.from_settings(_settings(args))
    with Progress(console=console) as prog:
        task = prog.add_task("export-site", total=None)

        def cb(done: int, total: int, message: str) -> None:
            prog.update(task, completed=done, total=total, description=f"export-site: {message}"[:70])

        result = export_site(library, args.dir, latest_only=not args.all_versions,
                             include_data=args.include_data, progress=cb)
    console.print(f"wrote {result.outputs} outputs, {result.tiles} tiles, {result.files} files, "
                  f"{result.stac_items} STAC items -> {result.root}")
    console.print("serve it with any static web server, e.g. python -m http.server -d "
                  f"{result.root} --bind 127.0.0.1")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``view`` and ``export-site`` verbs to the ``rovercam`` subparsers."""
    v = subparsers.add_parser("view", help="browse the catalog and view panoramas in a web browser")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    v.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    v.add_argument("--config", default=argparse.SUPPRESS, help="user configuration file (TOML)")
    v.add_argument("--out", help="storage root (default from configuration)")
    v.add_argument("--open", action=argparse.BooleanOptionalAction, default=False,
                   help="open the page in the default web browser")
    v.set_defaults(func=cmd_view)

    e = subparsers.add_parser("export-site", help="write the browser and viewer as a static site")
    e.add_argument("dir", help="output folder (created)")
    e.add_argument("--config", default=argparse.SUPPRESS, help="user configuration file (TOML)")
    e.add_argument("--out", help="storage root (default from configuration)")
    e.add_argument("--all-versions", action="store_true", help="every version, not only the latest")
    e.add_argument("--include-data", action="store_true", help="also copy the float32 COGs")
    e.set_defaults(func=cmd_export_site)
