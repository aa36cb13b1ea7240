"""``rovercam demo``: generate a synthetic sol, run ``process-sol`` on it, check it against truth.

Everything is written under the storage root: the generated sol in ``synthetic/sol<NNNNN>/``,
the catalog in ``catalog.sqlite``, published products in ``sol<NNNNN>/mosaics/...``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rovercam.config import Settings, load
from rovercam.metrics import display_psnr
from rovercam.mosaic.model import CylindricalProjection


@dataclass
class DemoResult:
    """What the demo produced, where, and how good it is."""

    settings: Settings
    sol_dir: Path
    report: dict[str, Any]
    generate_s: float
    flow_s: float
    psnr_db: dict[str, float] = field(default_factory=dict)
    coverage: dict[str, float] = field(default_factory=dict)


def mosaic_psnr(cog_path: str | Path, truth, *, white_radiance: float) -> tuple[float, float]:
    """(PSNR dB on the display scale, covered fraction) of a published cylindrical COG vs truth."""
    import rasterio

    with rasterio.open(cog_path) as ds:
        image = np.moveaxis(ds.read(), 0, -1).astype(np.float32)
        tags = ds.tags()
    proj = CylindricalProjection.from_tags(tags, image.shape[1], image.shape[0])
    az, el = proj.az_el_grid()
    ref = truth.radiance_grid(az, el)
    covered = np.all(np.isfinite(image), axis=2)
    return display_psnr(image, ref, white_radiance=white_radiance, mask=covered), float(covered.mean())


def run_demo(
    storage_root: str | Path,
    *,
    sol: int = 100,
    profile: str = "demo",
    seed: int = 0,
    config_file: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> DemoResult:
    """Generate the sample sol under ``storage_root`` and run the process-sol flow on it."""
    from rovercam.synth import generate_sol, load_truth

    from flows.process_sol import process_sol

    root = Path(storage_root).expanduser().resolve()
    sol_dir = root / "synthetic" / f"sol{sol:05d}"
    base = load(config_file, overrides={"storage": {"root": str(root)}})
    overrides = {
        "storage": {"root": str(root)},
        "calibration": {"search_path": [str(sol_dir / "calibration"), *base.calibration.search_path]},
    }
    settings = base.with_overrides(overrides)
    t0 = time.perf_counter()
    generate_sol(sol_dir, sol=sol, profile=profile, seed=seed, settings=settings, progress=progress)
    t1 = time.perf_counter()
    report = process_sol(sol=sol, input_dir=str(sol_dir / "raw"), config_file=config_file, overrides=overrides)
    t2 = time.perf_counter()
    result = DemoResult(settings=settings, sol_dir=sol_dir, report=report, generate_s=t1 - t0, flow_s=t2 - t1)
    truth = load_truth(sol_dir)
    for pub in report["published"]:
        white = settings.camera(pub["instrument"].split("+")[0]).display_white_radiance
        p, cov = mosaic_psnr(pub["cog_path"], truth, white_radiance=white)
        result.psnr_db[pub["name"]] = p
        result.coverage[pub["name"]] = cov
    return result
