"""``rovercam stereo LEFT RIGHT --out DIR``: one stereo pair to 3-D files, without orchestration.

Both products are read and calibrated through the frame chain (as ``rovercam process``), their
camera models chained to SITE_FRAME, and the pair's stereo products
(:func:`rovercam.pipeline.stereo.pair_products`) and mesh written to DIR as a published
``"stereo"`` output holds them: ``xyz.tif``, ``range.tif``, ``normals.tif``, ``range_sigma.tif``,
``mesh.glb``, ``mesh.ply`` and ``preview.png`` (docs/stereo.md#pipeline).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from rovercam.cli.console import print_json, say

__all__ = ["cmd_stereo", "add_stereo_parser"]


def add_stereo_parser(sub: argparse._SubParsersAction) -> None:
    """The ``stereo`` verb."""
    st = sub.add_parser("stereo", help="one stereo pair to XYZ, range, normals and a mesh (files in --out)")
    st.add_argument("left", help="the left eye's product (label or image file)")
    st.add_argument("right", help="the right eye's product")
    st.add_argument("--out", required=True, help="folder for the files (created if needed)")
    st.add_argument("--json", action="store_true", help="print what was written as JSON")
    st.set_defaults(func=cmd_stereo)


def cmd_stereo(args: argparse.Namespace) -> int:
    import numpy as np

    from rovercam import chain
    from rovercam.config import load
    from rovercam.pipeline.stereo import pair_mesh, pair_products
    from rovercam.products import Limits, read_product
    from rovercam.provenance import sha256_file
    from rovercam.publish.stereo import write_stereo_files

    settings = load(args.config)
    limits = Limits(**settings.limits.model_dump())
    left, right = (chain.process_product(read_product(p, limits=limits), settings, sha256=sha256_file(p))
                   for p in (args.left, args.right))
    products = pair_products(left, right, settings)
    mesh = pair_mesh(products, settings)
    files = write_stereo_files(products, Path(args.out), mesh=mesh)
    valid = products.valid
    ranges = np.asarray(products.range)[valid]
    h, w = products.shape
    summary = {"left": left.product_id, "right": right.product_id, "frame": products.frame, "width": w, "height": h,
               "valid_percent": round(100.0 * float(valid.mean()), 2),
               "median_range_m": round(float(np.median(ranges)), 3) if ranges.size else None,
               "mesh_faces": 0 if mesh is None else int(len(mesh.faces)),
               "files": {k: str(v.resolve()) for k, v in files.items()}}
    if args.json:
        print_json(summary)
        return 0
    median = "-" if summary["median_range_m"] is None else f"{summary['median_range_m']:g} m"
    say(f"{escape(left.product_id)} + {escape(right.product_id)}: {w}x{h}, {summary['valid_percent']:g} % of pixels "
        f"with XYZ, median range {median}, mesh {summary['mesh_faces']} faces ({products.frame}) -> "
        f"{escape(str(Path(args.out).resolve()))}")
    return 0
