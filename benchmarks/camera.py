"""Camera-geometry benchmark: CAHVORE/CAHVOR throughput and remap-grid build time.

Data are generated here: a Mars 2020 Navcam-like CAHVORE (fisheye type 2, full frame
5120x3840; parameters of the real sol-670 Navcam-left label model), an MER-like CAHVOR,
and random pixels / points across the image at ranges 0.5 m to 1 km.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from rovercam.camera import CAHVOR, CAHVORE, clear_remap_cache, linearize, remap_grid
from rovercam_benchmarks import best_of

__all__ = ["run"]

log = logging.getLogger(__name__)

NAVCAM = CAHVORE(
    (0.950849, 0.349753, -1.89429), (0.824195, 0.0290508, 0.565575), (2041.2, 3032.24, 1457.62),
    (-71.0941, 9.0217, 3538.0), (0.824089, 0.0304646, 0.565654),
    (1.736e-06, 0.0501396, -0.0171254), (-8e-09, 1e-08, -2.9e-08), mtype=2, mparm=0.0,
)
NAVCAM_SIZE = (5120, 3840)
MER_NAVCAM = CAHVOR(
    (0.491222, -0.0717236, -1.24143), (0.921657, -0.230518, 0.312107), (757.076, 1071.6, 160.227),
    (91.7479, -27.7504, 1319.48), (0.920759, -0.206185, 0.331197), (0.00096, -0.002183, 0.018547),
)



def _throughput(model, size: tuple[int, int], n: int, repeats: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    pixels = rng.uniform((0, 0), (size[0] - 1, size[1] - 1), (n, 2))
    origins, dirs = model.unproject(pixels)
    points = origins + rng.uniform(0.5, 1000.0, (n, 1)) * dirs
    t_project = best_of(repeats, lambda: model.project(points))
    t_unproject = best_of(repeats, lambda: model.unproject(pixels))
    return n / t_project / 1e6, n / t_unproject / 1e6


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure the camera figures.

    Parameters
    ----------
    quick : bool, keyword-only
        Fewer points and one repetition (a smoke run); the 20 MP remap grid is still built once.

    Returns
    -------
    dict
        ``cahvore_project_mpts_s``, ``cahvore_unproject_mpts_s`` (Mpoints/s),
        ``cahvor_project_mpts_s``, ``cahvor_unproject_mpts_s``, ``linearize_s``,
        ``remap_grid_20mp_s`` (5120x3840, CAHV -> CAHVORE at infinity),
        ``remap_grid_20mp_range_s`` (the same at a 10 m range; not in quick mode),
        ``points``, ``cpu_count``.
    """
    n = 100_000 if quick else 1_000_000
    repeats = 1 if quick else 3
    out: dict[str, object] = {"points": n, "cpu_count": os.cpu_count() or 1}
    out["cahvore_project_mpts_s"], out["cahvore_unproject_mpts_s"] = _throughput(
        NAVCAM, NAVCAM_SIZE, n, repeats, seed=1
    )
    out["cahvor_project_mpts_s"], out["cahvor_unproject_mpts_s"] = _throughput(
        MER_NAVCAM, (1024, 1024), n, repeats, seed=2
    )
    out["linearize_s"] = best_of(repeats, lambda: linearize(NAVCAM, *NAVCAM_SIZE))
    linear = linearize(NAVCAM, *NAVCAM_SIZE)

    def build(range_m: float | None) -> None:
        clear_remap_cache()  # time the build, not the cache
        remap_grid(linear, NAVCAM_SIZE, NAVCAM, range_m=range_m)

    out["remap_grid_20mp_s"] = best_of(1 if quick else 2, lambda: build(None))
    if not quick:
        out["remap_grid_20mp_range_s"] = best_of(1, lambda: build(10.0))
    clear_remap_cache()
    log.info("camera benchmark: %s", out)
    return out
