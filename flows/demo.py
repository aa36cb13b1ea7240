"""``rovercam demo``: generate a synthetic sol, run ``ingest-sol`` on it, check it against truth.

Everything is written under the storage root: the generated sol in ``synthetic/sol<NNNNN>/``
(the demo's source), the fetched products in ``incoming/sol<NNNNN>/``, the catalog in
``catalog.sqlite``, published products in ``sol<NNNNN>/mosaics/...``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rovercam import layout
from rovercam.config import Settings, load
from rovercam.metrics import display_psnr
from rovercam.mosaic.model import CylindricalProjection


@dataclass
class DemoSol:
    """A generated demo sol and the settings that process it."""

    sol: int
    sol_dir: Path
    settings: Settings
    overrides: dict[str, Any]
    config_file: str | None
    generate_s: float = 0.0


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
    """(PSNR dB on the display scale, covered fraction) of a published cylindrical COG vs truth:
    the world radiance for a 3-band mosaic, the sol's one-band (panchromatic) radiance for a
    1-band one (:meth:`rovercam.synth.Truth.gray_radiance_grid`)."""
    import rasterio

    with rasterio.open(cog_path) as ds:
        image = np.moveaxis(ds.read(), 0, -1).astype(np.float32)
        tags = ds.tags()
    proj = CylindricalProjection.from_tags(tags, image.shape[1], image.shape[0])
    az, el = proj.az_el_grid()
    ref = truth.radiance_grid(az, el) if image.shape[2] == 3 else truth.gray_radiance_grid(az, el)[..., None]
    covered = np.all(np.isfinite(image), axis=2)
    return display_psnr(image, ref, white_radiance=white_radiance, mask=covered), float(covered.mean())


def at_infinity(sol_dir: str | Path) -> bool:
    """Whether a generated sol's world lies at infinity (the ``demo``, ``tiny`` and
    ``heritage-navcam`` profiles: no terrain, so no parallax for stereo), from its truth manifest;
    False when it has none."""
    import json

    from rovercam.synth import PROFILES

    manifest = Path(sol_dir) / "truth" / "manifest.json"
    if not manifest.is_file():
        return False
    return json.loads(manifest.read_text()).get("profile") in PROFILES


def generated_sol_settings(root: str | Path, sol_dir: str | Path, *, config_file: str | None = None,
                           **prefect: Any) -> tuple[Settings, dict[str, Any]]:
    """Settings (and the overrides that make them) to process a generated sol into ``root``: the
    generator's own LUT and flats come first on the calibration search path; ``prefect`` keywords
    override ``[prefect]``. A sol whose world is at infinity (:func:`at_infinity`) runs without
    the stereo stage (``[stereo_stage] enabled = false``): its pairs have no parallax to measure."""
    base = load(config_file, overrides={"storage": {"root": str(root)}})
    overrides: dict[str, Any] = {
        "storage": {"root": str(root)},
        "calibration": {"search_path": [str(Path(sol_dir) / "calibration"), *base.calibration.search_path]},
    }
    if at_infinity(sol_dir):
        overrides["stereo_stage"] = {"enabled": False}
    if prefect:
        overrides["prefect"] = prefect
    return base.with_overrides(overrides), overrides


def generate_demo_sol(
    storage_root: str | Path,
    *,
    sol: int = 100,
    profile: str = "demo",
    seed: int = 0,
    config_file: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> DemoSol:
    """Generate the sample sol under ``storage_root/synthetic`` with settings to process it."""
    from rovercam.synth import generate_sol

    root = Path(storage_root).expanduser().resolve()
    sol_dir = layout.generated_sol_dir(root, sol)
    t0 = time.perf_counter()
    generate_sol(sol_dir, sol=sol, profile=profile, seed=seed, progress=progress)
    generate_s = time.perf_counter() - t0
    # after generation: the sol's own camera tables are then on its calibration search path
    settings, overrides = generated_sol_settings(root, sol_dir, config_file=config_file)
    return DemoSol(sol, sol_dir, settings, overrides, config_file, generate_s)


def process_demo_sol(demo: DemoSol) -> DemoResult:
    """Run the ingest-sol flow on a generated sol and score each mosaic against the truth."""
    from rovercam.synth import load_truth

    from rovercam_flows.ingest_sol import ingest_sol

    t0 = time.perf_counter()
    [report] = ingest_sol(source=str(demo.sol_dir / "raw"), sol=demo.sol, config_file=demo.config_file,
                          overrides=demo.overrides)
    result = DemoResult(demo.settings, demo.sol_dir, report, demo.generate_s, time.perf_counter() - t0)
    truth = load_truth(demo.sol_dir)
    for pub in report["published"]:
        # the generated sol's own (synthetic) camera tables give the display white
        white = demo.settings.camera(pub["instrument"].split("+")[0], "M2020").display_white_radiance
        result.psnr_db[pub["name"]], result.coverage[pub["name"]] = mosaic_psnr(
            pub["cog_path"], truth, white_radiance=white
        )
    return result


def run_demo(storage_root: str | Path, **kwargs: Any) -> DemoResult:
    """Generate and process the demo sol (keywords of :func:`generate_demo_sol`)."""
    return process_demo_sol(generate_demo_sol(storage_root, **kwargs))
