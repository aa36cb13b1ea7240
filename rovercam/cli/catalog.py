"""The ``catalog`` verbs: ``products``, ``outputs``, ``runs``, ``leases``, ``lineage``, ``verify``
and ``export-stac``.

All of them read: they open an existing catalog (:func:`rovercam.cli.checks.open_catalog`) and
fail with one line when there is none. Every listing takes ``--json`` (one JSON document on
stdout). ``verify`` checks the catalog against storage (:func:`rovercam.publish.verify_catalog`)
and exits with status 1 when they disagree.
"""
from __future__ import annotations

import argparse

from rich.markup import escape

from rovercam.cli.checks import count, open_catalog, storage_overrides
from rovercam.cli.console import print_json, print_records, record_json, say

__all__ = ["cmd_catalog", "PRODUCT_STATES"]

#: The states ``catalog products --state`` accepts: the ones ingest records.
PRODUCT_STATES = ("ingested", "quarantined")

_PRODUCT_COLUMNS = ("product_id", "sol", "instrument", "state", "start_time", "reason")
_OUTPUT_COLUMNS = ("output_id", "kind", "sol", "instrument", "version", "calibration_level", "units",
                   "start_time", "stac_key")
_RUN_COLUMNS = ("run_id", "flow", "sol", "status", "started_at", "finished_at", "software_version")
_LEASE_COLUMNS = ("sol", "run_id", "flow", "host", "pid", "acquired_at", "heartbeat_at", "beats", "stale")


def _cell(record, column: str) -> str:
    value = getattr(record, column, "")
    return "" if value is None else str(value)


def cmd_catalog(args: argparse.Namespace) -> int:
    from rovercam.catalog.query import search_outputs, search_products
    from rovercam.config import load

    settings = load(args.config, overrides=storage_overrides(args.out))
    with open_catalog(settings) as cat:
        if args.what == "lineage":
            return _lineage(cat, args)
        if args.what == "verify":
            return _verify(cat, settings, args)
        if args.what == "leases":
            return _leases(cat, settings, args)
        if args.what == "runs":
            rows = cat.runs(sol=args.sol, limit=args.limit)
            columns = _RUN_COLUMNS
        elif args.what == "products":
            rows = search_products(cat, sol=args.sol, sols=args.sols, camera=args.camera, state=args.state,
                                   since=args.since, until=args.until)
            columns = _PRODUCT_COLUMNS
        else:
            rows = search_outputs(cat, sol=args.sol, sols=args.sols, camera=args.camera, kind=args.kind,
                                  mission=args.mission, since=args.since, until=args.until,
                                  latest_only=args.latest)
            columns = _OUTPUT_COLUMNS
        if args.what == "export-stac":
            from rovercam.catalog.export import export_stac
            from rovercam.storage import Store

            result = export_stac(cat, Store.from_settings(settings), args.dest, outputs=rows)
            say(f"wrote {result['items']} items in {result['collections']} collections: "
                f"{escape(str(result['catalog']))}")
            return 0
        if args.json:
            print_json([record_json(r) for r in rows])
            return 0
        print_records(f"{args.what} ({len(rows)}; {settings.catalog_url})", columns,
                      [[_cell(r, c) for c in columns] for r in rows],
                      whole={"product_id", "output_id", "run_id", "stac_key"})
    return 0


def _lineage(cat, args: argparse.Namespace) -> int:
    from rovercam.catalog.query import lineage_report

    lin = lineage_report(cat, args.output_id)
    if args.json:
        print_json({"output": record_json(lin.output), "run": record_json(lin.run) if lin.run else None,
                    "inputs": [{**record_json(i.link), "product": record_json(i.product) if i.product else None}
                               for i in lin.inputs]})
        return 0
    o = lin.output
    say(f"[bold]{escape(o.output_id)}[/] ({o.kind}, sol {o.sol}, {o.instrument}, v{o.version})")
    if lin.run:
        say(f"run {lin.run.run_id} ({lin.run.flow}, {lin.run.status}), software "
            f"{lin.run.software_version or '?'}, config {lin.run.config_hash[:12] or '?'}")
    rows = []
    for i in lin.inputs:
        p = i.product
        rows.append((i.link.product_id, i.link.product_sha256[:16], p.state if p else "(not in this catalog)",
                     (p.path or "") if p else ""))
    print_records(f"inputs ({len(rows)})", ("product_id", "sha256", "state", "path"), rows,
                  whole={"product_id", "sha256", "path"})
    return 0


def _leases(cat, settings, args: argparse.Namespace) -> int:
    """The sols held by a run now; ``stale`` gives why a lease would be taken over, if it would."""
    from rovercam.catalog import sol_leases, stale_reason

    ttl_s = settings.prefect.sol_lock_ttl_s
    rows = [(lease, stale_reason(lease, ttl_s=ttl_s) or "") for lease in sol_leases(cat)]
    if args.json:
        print_json([{**record_json(lease), "stale": stale or None} for lease, stale in rows])
        return 0
    print_records(f"leases ({len(rows)}; {settings.catalog_url}; stale after {ttl_s:g} s without a heartbeat)",
                  _LEASE_COLUMNS,
                  [[*(_cell(lease, c) for c in _LEASE_COLUMNS[:-1]), stale] for lease, stale in rows],
                  whole={"run_id"})
    return 0


def _verify(cat, settings, args: argparse.Namespace) -> int:
    from rovercam.publish import verify_catalog
    from rovercam.storage import Store

    result = verify_catalog(Store.from_settings(settings), cat, products=not args.outputs_only)
    if args.json:
        print_json(result.to_dict())
    elif result.ok:
        say(f"catalog and storage agree: {result.outputs} outputs, {result.files} files"
            + (f", {result.products} products" if result.products else ""))
    else:
        print_records(f"catalog verify: {len(result.problems)} problem(s) ({escape(settings.catalog_url)}; "
                      f"{result.outputs} outputs, {result.files} files)", ("where", "problem"),
                      [(p.where, p.problem) for p in result.problems], whole={"where"})
    return 0 if result.ok else 1


def add_catalog_parser(sub, *, sol_type, sol_range, utc_time) -> None:
    """Add the ``catalog`` verb and its sub-verbs to the ``rovercam`` subparsers."""
    c = sub.add_parser("catalog", help="list, search, lineage, verify, STAC export (read-only)")
    c.add_argument("--out", help="storage root (default from configuration)")
    csub = c.add_subparsers(dest="what", required=True)
    storage = {"help": "storage root (default from configuration)", "default": argparse.SUPPRESS}

    def filters(sp: argparse.ArgumentParser, *, outputs: bool) -> None:
        sp.add_argument("--sol", type=sol_type, help="one sol")
        sp.add_argument("--sols", type=sol_range, metavar="A-B", help="inclusive sol range")
        sp.add_argument("--camera", help="instrument id or family (NAVCAM_LEFT, NAVCAM)")
        sp.add_argument("--since", type=utc_time, metavar="TIME", help="ISO 8601, UTC unless given")
        sp.add_argument("--until", type=utc_time, metavar="TIME")
        if outputs:
            sp.add_argument("--kind", help="output kind (mosaic)")
            sp.add_argument("--mission", help="mission id (M2020)")
            sp.add_argument("--latest", action="store_true", help="newest version of each output only")
        else:
            sp.add_argument("--state", choices=PRODUCT_STATES,
                            help="ingested (in the catalog, processed by runs) or quarantined (refused, "
                                 "with the reason)")
        sp.add_argument("--out", **storage)

    cp = csub.add_parser("products", help="ingested products (search by sol, camera, state, time)")
    filters(cp, outputs=False)
    cp.add_argument("--json", action="store_true", help="print JSON (every field, ids whole)")
    co = csub.add_parser("outputs", help="published outputs (search by sol, camera, kind, time)")
    filters(co, outputs=True)
    co.add_argument("--json", action="store_true", help="print JSON (every field, ids whole)")
    cr = csub.add_parser("runs", help="processing runs, newest first")
    cr.add_argument("--sol", type=sol_type, help="one sol")
    cr.add_argument("--limit", type=count, default=50, help="at most this many runs (default 50)")
    cr.add_argument("--json", action="store_true", help="print JSON (every field, with the run summaries)")
    cr.add_argument("--out", **storage)
    cs = csub.add_parser("leases", help="sols held by a run now (the per-sol lease), with why a lease is stale")
    cs.add_argument("--json", action="store_true", help="print JSON")
    cs.add_argument("--out", **storage)
    cl = csub.add_parser("lineage", help="the inputs and run behind one output")
    cl.add_argument("output_id")
    cl.add_argument("--json", action="store_true", help="print JSON")
    cl.add_argument("--out", **storage)
    cv = csub.add_parser("verify", help="check the catalog against storage: every row's files with their "
                         "checksums, every published version's row (exit status 1 on a problem)")
    cv.add_argument("--json", action="store_true", help="print JSON: counts and every problem")
    cv.add_argument("--outputs-only", action="store_true",
                    help="skip the product rows (staged products are not read again)")
    cv.add_argument("--out", **storage)
    ce = csub.add_parser("export-stac", help="write a static STAC catalog of the outputs")
    ce.add_argument("dest", help="output folder")
    filters(ce, outputs=True)
    c.set_defaults(func=cmd_catalog)
