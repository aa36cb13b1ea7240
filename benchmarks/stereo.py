"""``rovercam bench stereo``: 3-D from stereo pairs against the generator's truth, and speed.

Figures (``run``):

- accuracy on a generated ``stereo`` sol (:func:`rovercam.synth.generate_sol`), every pair read,
  calibrated and matched as the pipeline does (``rovercam.pipeline.stereo.pair_products``), scored
  against the per-pixel XYZ truth (:func:`score_pair`): ``<pair>_range_median_rel_err_pct``,
  ``<pair>_range_p90_rel_err_pct`` (within 10 m; 4 m for the Hazcams), ``<pair>_coverage_pct``
  (of the pixels both eyes see), ``<pair>_normal_median_deg`` (on surfaces wider than 10
  matching windows). The headline keys without a pair name are the worst over the Navcam and
  Hazcam pairs;
- without ``quick``, the same on two more terrains (generator seeds 1 and 2): ``seed<N>_*`` keys,
  and ``all_seeds_*``, the worst of each headline figure over the three terrains (the scored
  seed 0 is one terrain; a matcher tuned to it may fail on the next);
- ``terrain_vs_plane_db``: a Front Hazcam pair's orthomosaic on the DEM gridded from its stereo
  XYZ against the same on the level plane, both against the truth orthoimage
  (:mod:`rovercam_benchmarks.terrain_mosaic`);
- ``pairs_per_s``, ``mpx_per_s`` and ``opencv_ratio`` (the bare OpenCV baseline's time over
  ours, same run, same pair): a full-size 5120 x 3840 Navcam pair (``stereo-full``); the
  ``stereo`` sol's 1280 x 960 pair with ``quick``. On that pair both paths are scored as above
  (within 10 m): ``speed_pair_*`` and ``opencv_*`` ``range_median_rel_err_pct``,
  ``range_p90_rel_err_pct`` and ``coverage_pct``.

The baseline is what a user
would write with OpenCV alone, given the same rectified geometry: remap both eyes with
rovercam's rectification grids, match with ``cv2.StereoSGBM`` over the same search range, and
turn disparity into points with ``cv2.reprojectImageTo3D`` (the rectified CAHV written as a
pinhole Q matrix). No sub-pixel refinement, no no-data handling, no correlation or texture
check, OpenCV's unmatched left border kept.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rovercam.camera import clear_remap_cache, rectify_pair, remap_grid, to_opencv
from rovercam.config import StereoSettings
from rovercam.stereo import disparity_search_range, stereo_products

__all__ = ["opencv_baseline", "opencv_as_products", "time_pair", "peak_rss_mb", "score_pair", "run"]

_MODES = {"sgbm": cv2.STEREO_SGBM_MODE_SGBM, "3way": cv2.STEREO_SGBM_MODE_SGBM_3WAY,
          "hh4": cv2.STEREO_SGBM_MODE_HH4}


def opencv_baseline(left, right, left_model, right_model, *, settings: StereoSettings | None = None):
    """Disparity and XYZ of a pair by the bare OpenCV path (rectify remap, SGBM, reproject).

    Parameters
    ----------
    left, right : (H, W) or (H, W, B) float32 arrays
        Calibrated frames (NaN = no data, set to 0 as a bare user would).
    left_model, right_model : CameraModel
        The frames' models, one frame.
    settings : StereoSettings
        Only the search range (min/max range), block size, mode, uniqueness, left-right and
        speckle options are used, so both paths match over the same interval.

    Returns
    -------
    disparity : (H, W) float32 array
        Pixels, NaN where SGBM found none.
    xyz : (H, W, 3) float32 array
        Metres in the models' frame, NaN where the disparity is.
    rectified : (CAHV, CAHV)
    """
    s = settings or StereoSettings()
    h, w = left.shape[:2]
    rl, rr = rectify_pair(left_model, right_model, (w, h))
    eyes = []
    for img, model, rect in ((left, left_model, rl), (right, right_model, rr)):
        mx, my = remap_grid(rect, (w, h), model)
        img = np.asarray(img, np.float32)
        lum = img if img.ndim == 2 else img.mean(axis=2)
        eyes.append(cv2.remap(np.nan_to_num(lum), np.nan_to_num(mx, nan=-1e5),
                              np.nan_to_num(my, nan=-1e5), cv2.INTER_LINEAR))
    lo = min(float(e.min()) for e in eyes)
    hi = max(float(e.max()) for e in eyes)
    l8, r8 = (np.clip((e - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8) for e in eyes)
    min_d, num = disparity_search_range(rl, rr, (w, h), min_range_m=s.min_range_m,
                                        max_range_m=s.max_range_m)
    bs = s.block_size
    sgbm = cv2.StereoSGBM_create(min_d, num, bs, P1=8 * bs * bs, P2=32 * bs * bs,
                                 disp12MaxDiff=s.lr_max_diff, uniquenessRatio=s.uniqueness_ratio,
                                 speckleWindowSize=s.speckle_window, speckleRange=s.speckle_range,
                                 preFilterCap=63, mode=_MODES[s.sgbm_mode])
    raw = sgbm.compute(l8, r8)
    disparity = raw.astype(np.float32) / 16.0
    disparity[raw < min_d * 16] = np.nan
    cam = to_opencv(rl)
    f, cx, cy = cam.k[0, 0], cam.k[0, 2], cam.k[1, 2]
    baseline = float(np.linalg.norm(rr.c - rl.c))
    q = np.array([[1, 0, 0, -cx], [0, 1, 0, -cy], [0, 0, 0, f], [0, 0, 1.0 / baseline, 0]])
    points = cv2.reprojectImageTo3D(disparity, q)  # left rectified camera frame
    with np.errstate(invalid="ignore"):  # NaN disparities give NaN points
        xyz = (points.reshape(-1, 3) @ cam.r_cam_model + cam.c).reshape(h, w, 3).astype(np.float32)
    return disparity, xyz, (rl, rr)


def peak_rss_mb(fn: Callable[[], Any], interval_s: float = 0.02) -> tuple[Any, float, float]:
    """Run ``fn``; return its result, wall seconds and the peak rise of resident memory (MB).

    Resident memory is sampled from /proc/self/statm every ``interval_s`` (OpenCV's buffers
    are not seen by tracemalloc); 0 where /proc is unavailable.
    """
    def rss() -> float:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * 4096 / 1e6
        except OSError:
            return 0.0

    base = rss()
    peak = [base]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(interval_s)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    try:
        result = fn()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        watcher.join()
    return result, elapsed, max(0.0, max(peak[0], rss()) - base)


def time_pair(left, right, left_model, right_model, *, settings: StereoSettings | None = None,
              frame: str = "ROVER_NAV_FRAME", repeats: int = 1,
              results: dict[str, Any] | None = None) -> dict[str, float]:
    """Wall time, CPU time and peak memory of rovercam's stereo_products and the OpenCV baseline.

    Each run starts with an empty remap-grid cache (both paths build their rectification
    grids); the two paths alternate, and the shortest of ``repeats`` runs of each counts (the
    least disturbed by other load, like ``best_of``).

    Returns
    -------
    dict
        ``rovercam_s``, ``opencv_s`` (wall), ``rovercam_cpu_s``, ``opencv_cpu_s`` (process CPU
        time, all threads), ``opencv_ratio`` (baseline wall time / rovercam wall time: 1.0 is
        as fast, the issue's target is >= 0.7), ``opencv_cpu_ratio``, ``rovercam_peak_mb``,
        ``opencv_peak_mb`` (peak rise of resident memory), ``mpx_per_s`` (left megapixels per
        rovercam second), ``pairs_per_s``. ``results``, when given, receives the last run's
        output of each path (``"rovercam"``: StereoProducts, ``"opencv"``: the
        :func:`opencv_baseline` tuple), to score them without matching again.
    """
    s = settings or StereoSettings()
    paths = {
        "opencv": lambda: opencv_baseline(left, right, left_model, right_model, settings=s),
        "rovercam": lambda: stereo_products(left, right, left_model, right_model, frame=frame,
                                            settings=s),
    }
    best = {name: (float("inf"), float("inf"), 0.0) for name in paths}
    for _ in range(max(1, repeats)):
        for name, fn in paths.items():
            clear_remap_cache()
            cpu = time.process_time()
            out, wall, mem = peak_rss_mb(fn)
            cpu = time.process_time() - cpu
            if results is not None:
                results[name] = out
            old = best[name]
            best[name] = (min(old[0], wall), min(old[1], cpu), max(old[2], mem))
    clear_remap_cache()
    mpx = left.shape[0] * left.shape[1] / 1e6
    (t_rc, c_rc, m_rc), (t_cv, c_cv, m_cv) = best["rovercam"], best["opencv"]
    return {"rovercam_s": t_rc, "opencv_s": t_cv, "rovercam_cpu_s": c_rc, "opencv_cpu_s": c_cv,
            "opencv_ratio": t_cv / t_rc, "opencv_cpu_ratio": c_cv / c_rc,
            "rovercam_peak_mb": m_rc, "opencv_peak_mb": m_cv, "mpx_per_s": mpx / t_rc,
            "pairs_per_s": 1.0 / t_rc}


#: Range limits of the accuracy figures, metres (issue 20: Navcam within 10 m, Hazcam within 4 m).
RANGE_LIMIT_M = {"navcam": 10.0, "front_hazcam": 4.0, "rear_hazcam": 4.0, "mastcamz": 10.0}
_EDGE = 0.02  # truth pixels whose 3x3 neighbourhood spans more than 2 % in range are depth edges
_PLANAR_COS = math.cos(math.radians(3.0))  # "a surface": truth normals within ~3 deg over the box


def _truth_on_grid(rect: Any, size: tuple[int, int], raw_model: Any, truth_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Truth XYZ seen by each rectified pixel (the raw pixel it was resampled from), and a mask of
    pixels away from depth edges (where interpolating the truth is meaningful)."""
    mx, my = remap_grid(rect, size, raw_model)
    mx = np.nan_to_num(mx, nan=-1e5).astype(np.float32)
    my = np.nan_to_num(my, nan=-1e5).astype(np.float32)
    xyz = cv2.remap(truth_xyz.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderValue=(np.nan,) * 3)
    rng = np.linalg.norm(truth_xyz - raw_model.c, axis=2).astype(np.float32)
    filled = np.nan_to_num(rng, nan=0.0)
    hi = cv2.dilate(np.where(np.isfinite(rng), filled, 0.0).astype(np.float32), np.ones((3, 3), np.uint8))
    lo = cv2.erode(np.where(np.isfinite(rng), filled, np.float32(1e9)).astype(np.float32), np.ones((3, 3), np.uint8))
    smooth = ((hi - lo) <= _EDGE * lo).astype(np.uint8)
    ok = cv2.remap(smooth, mx, my, cv2.INTER_NEAREST, borderValue=0).astype(bool)
    return xyz, ok & np.isfinite(xyz).all(axis=2)


def _truth_normals(terrain: Any, xyz: np.ndarray, toward: np.ndarray, step_m: float = 0.01) -> np.ndarray:
    """Unit normals of the true terrain at points ``xyz`` (SITE_FRAME), oriented toward ``toward``."""
    x, y = xyz[..., 0].ravel().astype(np.float64), xyz[..., 1].ravel().astype(np.float64)
    good = np.isfinite(x) & np.isfinite(y)
    n = np.full((x.size, 3), np.nan)
    xs, ys = x[good], y[good]
    hx = (terrain.height(xs + step_m, ys) - terrain.height(xs - step_m, ys)) / (2 * step_m)
    hy = (terrain.height(xs, ys + step_m) - terrain.height(xs, ys - step_m)) / (2 * step_m)
    v = -np.column_stack([hx, hy, np.ones_like(hx)])  # up (-z) for level ground; z = -h
    n[good] = v / np.linalg.norm(v, axis=1, keepdims=True)
    n = n.reshape(*xyz.shape[:2], 3)
    flip = np.einsum("...k,...k->...", n, toward - xyz) < 0
    n[flip] *= -1
    return n


def score_pair(products: Any, raw_left: Any, raw_right: Any, truth_left: np.ndarray, truth_right: np.ndarray,
               *, range_limit_m: float, terrain: Any = None, window_px: int = 5) -> dict[str, float]:
    """Score one pair's products against the generator's per-pixel XYZ truth.

    Parameters
    ----------
    products : StereoProducts
        In SITE_FRAME.
    raw_left, raw_right : CameraModel
        The raw products' label models in SITE_FRAME (the truth's pixel grids).
    truth_left, truth_right : (H, W, 3) float arrays
        The truth XYZ of each raw product (SITE_FRAME metres, NaN on sky).
    range_limit_m : float
        Range error statistics over truth ranges up to this.
    terrain : Terrain, optional
        The generator's terrain, for the normal figure.
    window_px : int
        The matching window; "wide surfaces" are planar over 10 windows.

    Returns
    -------
    dict
        ``range_median_rel_err_pct``, ``range_p90_rel_err_pct``, ``coverage_pct``, ``scored_px``,
        ``normal_median_deg`` (NaN without ``terrain``).
    """
    h, w = products.shape
    c = np.asarray(products.left_model.c, np.float64)
    truth, smooth = _truth_on_grid(products.left_model, (w, h), raw_left, truth_left)
    t_range = np.linalg.norm(truth - c, axis=2)
    # both eyes see it: it projects into the right raw frame, where the truth is the same point
    pts = truth.reshape(-1, 3).astype(np.float64)
    fin = np.isfinite(pts).all(axis=1)
    seen = np.zeros(pts.shape[0], bool)
    uv = np.full((pts.shape[0], 2), -1.0)
    uv[fin] = raw_right.project(pts[fin])
    rh, rw = truth_right.shape[:2]
    u, v = np.rint(uv[:, 0]).astype(int), np.rint(uv[:, 1]).astype(int)
    inside = fin & (u >= 0) & (u < rw) & (v >= 0) & (v < rh)
    other = truth_right[v[inside], u[inside]]
    seen[inside] = np.linalg.norm(other - pts[inside], axis=1) <= _EDGE * np.linalg.norm(pts[inside] - c, axis=1)
    seen = seen.reshape(h, w)
    near = seen & (t_range <= range_limit_m)
    valid = products.valid
    scored = near & smooth & valid
    rel = np.abs(products.range[scored] - t_range[scored]) / t_range[scored]
    out = {"range_median_rel_err_pct": 100.0 * float(np.median(rel)) if rel.size else float("nan"),
           "range_p90_rel_err_pct": 100.0 * float(np.percentile(rel, 90)) if rel.size else float("nan"),
           "coverage_pct": 100.0 * float((near & valid).sum() / max(int(near.sum()), 1)),
           "scored_px": int(scored.sum()), "both_see_px": int(near.sum())}
    out["normal_median_deg"] = float("nan")
    if terrain is not None:
        tn = _truth_normals(terrain, truth, c)
        box = 10 * window_px
        mean = np.dstack([cv2.blur(np.nan_to_num(tn[..., k]).astype(np.float32), (box, box)) for k in range(3)])
        planar = np.linalg.norm(mean, axis=2) >= _PLANAR_COS
        sel = scored & planar & np.isfinite(products.normals).all(axis=2)
        if sel.any():
            cosang = np.clip(np.einsum("ik,ik->i", products.normals[sel].astype(np.float64), tn[sel]), -1, 1)
            out["normal_median_deg"] = float(np.degrees(np.median(np.arccos(cosang))))
        out["normal_scored_px"] = int(sel.sum())
    return out


def opencv_as_products(baseline: tuple[Any, Any, Any]) -> Any:
    """The :func:`opencv_baseline` output in the shape :func:`score_pair` reads: its rectified
    left model, XYZ, range from the left camera centre, valid where XYZ is finite, no normals."""
    from types import SimpleNamespace

    _, xyz, (rl, _) = baseline
    valid = np.isfinite(xyz).all(axis=2)
    rng = np.linalg.norm(xyz - np.asarray(rl.c, np.float32), axis=2)
    return SimpleNamespace(shape=valid.shape, left_model=rl, xyz=xyz, range=rng, valid=valid,
                           normals=np.full(xyz.shape, np.nan, np.float32))


def _read_pair(sol_dir: Path, left_id: str, right_id: str, settings: Any) -> tuple[Any, Any, Any, Any]:
    """Calibrated frames and raw SITE_FRAME label models of a pair of a generated sol."""
    from rovercam import chain
    from rovercam.pipeline.stereo import site_models
    from rovercam.products import Limits, read_product
    from rovercam.provenance import sha256_file

    limits = Limits(**settings.limits.model_dump())
    paths = [next((sol_dir / "raw").glob(f"{pid}.*")) for pid in (left_id, right_id)]
    products = [read_product(p, limits=limits) for p in paths]
    frames = [chain.process_product(prod, settings, sha256=sha256_file(p)) for prod, p in zip(products, paths)]
    raw_left, raw_right = site_models(products[0].meta, products[1].meta)
    return frames[0], frames[1], raw_left, raw_right


def _accuracy(sol_dir: Path, settings: Any) -> dict[str, object]:
    from rovercam.pipeline.stereo import pair_products
    from rovercam.synth import load_truth
    from rovercam.synth.ortho import load_terrain

    truth = load_truth(sol_dir)
    terrain = load_terrain(sol_dir)
    out: dict[str, object] = {}
    for pair in truth.stereo_pairs:
        left, right, raw_l, raw_r = _read_pair(sol_dir, pair.left_id, pair.right_id, settings)
        t0 = time.perf_counter()
        products = pair_products(left, right, settings)
        out[f"{pair.name}_stereo_s"] = round(time.perf_counter() - t0, 3)
        fig = score_pair(products, raw_l, raw_r, truth.frame_xyz(pair.left_id), truth.frame_xyz(pair.right_id),
                         range_limit_m=RANGE_LIMIT_M.get(pair.name, 10.0), terrain=terrain,
                         window_px=settings.stereo.block_size)
        out.update({f"{pair.name}_{k}": (round(v, 4) if isinstance(v, float) else v) for k, v in fig.items()})
    heads = [n for n in ("navcam", "front_hazcam", "rear_hazcam") if f"{n}_coverage_pct" in out]
    for key, worst in (("range_median_rel_err_pct", max), ("range_p90_rel_err_pct", max),
                       ("coverage_pct", min), ("normal_median_deg", max)):
        out[key] = worst(float(out[f"{n}_{key}"]) for n in heads)  # type: ignore[arg-type]
    return out


#: Headline figures and whether larger is worse (all_seeds_* keys).
_HEADLINES = (("range_median_rel_err_pct", True), ("range_p90_rel_err_pct", True), ("coverage_pct", False),
              ("normal_median_deg", True))


def _other_terrains(tmp: Path, settings: Any, seed0: dict[str, object]) -> dict[str, object]:
    """:func:`_accuracy` on the ``stereo`` sols of seeds 1 and 2, keys ``seed<N>_...``, and the
    worst headline figures over them and ``seed0``'s (``all_seeds_...``)."""
    from rovercam.synth import generate_sol

    out: dict[str, object] = {}
    worst = {key: [float(seed0[key])] for key, _ in _HEADLINES}  # type: ignore[arg-type]
    for seed in (1, 2):
        sol_dir = tmp / f"stereo-seed{seed}"
        generate_sol(sol_dir, sol=100, profile="stereo", seed=seed)
        figures = _accuracy(sol_dir, settings)
        out.update({f"seed{seed}_{k}": v for k, v in figures.items()})
        for key, _ in _HEADLINES:
            worst[key].append(float(figures[key]))  # type: ignore[arg-type]
    for key, larger_is_worse in _HEADLINES:
        out[f"all_seeds_{key}"] = (max if larger_is_worse else min)(worst[key])
    return out


def _terrain_mosaic(quick: bool, settings: Any) -> dict[str, object]:
    from rovercam.terrain import dem_from_points
    from rovercam_benchmarks import terrain_mosaic as tm

    scale, grid = (0.125, 0.02) if quick else (0.25, 0.01)
    scene = tm.hazcam_scene(scale=scale)
    (gl, gr), (il, ir) = scene.geoms, scene.images
    products = stereo_products(il, ir, gl.model, gr.model, frame="SITE_FRAME", settings=settings.stereo)
    proj = tm.ortho_grid(scene, scale_m=grid)
    north0 = proj.north_top_m - (proj.height - 1) * proj.scale_m
    east1 = proj.east_left_m + (proj.width - 1) * proj.scale_m
    bounds = (north0 - 0.02, proj.north_top_m + 0.02, proj.east_left_m - 0.02, east1 + 0.02)
    dem = dem_from_points(products.xyz, cell_m=0.02, bounds=bounds)
    fig = tm.terrain_vs_plane(scene, dem, scale_m=grid)
    return {"terrain_vs_plane_db": round(fig["terrain_vs_plane_db"], 3),
            "ortho_terrain_psnr_db": round(fig["psnr_terrain_db"], 3),
            "ortho_plane_psnr_db": round(fig["psnr_plane_db"], 3),
            "ortho_compared_pct": round(fig["compared_pct"], 2)}


def run(*, quick: bool = False) -> dict[str, object]:
    """The stereo figures (module docstring). ``quick``: no full-size pair, a smaller Hazcam ortho."""
    import tempfile

    from rovercam.config import load
    from rovercam.synth import generate_sol

    settings = load(None)
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="rovercam-bench-stereo-") as tmp:
        sol_dir = Path(tmp) / "stereo"
        t0 = time.perf_counter()
        generate_sol(sol_dir, sol=100, profile="stereo", seed=0)
        figures["generate_s"] = round(time.perf_counter() - t0, 2)
        figures.update(_accuracy(sol_dir, settings))
        if not quick:
            figures.update(_other_terrains(Path(tmp), settings, figures))
        figures.update(_terrain_mosaic(quick, settings))
        if quick:
            speed_dir, pair_name = sol_dir, "navcam"
        else:
            speed_dir, pair_name = Path(tmp) / "stereo-full", "navcam"
            t0 = time.perf_counter()
            generate_sol(speed_dir, sol=100, profile="stereo-full", seed=0)
            figures["generate_full_s"] = round(time.perf_counter() - t0, 2)
        from rovercam.synth import load_truth

        pair = next(p for p in load_truth(speed_dir).stereo_pairs if p.name == pair_name)
        left, right, raw_l, raw_r = _read_pair(speed_dir, pair.left_id, pair.right_id, settings)
        from rovercam.pipeline.stereo import site_models, stereo_settings

        lm, rm = site_models(left, right)
        h, w = left.image.shape[:2]
        figures["speed_pair"] = f"{pair_name} {w}x{h}"
        outputs: dict[str, Any] = {}
        timing = time_pair(np.asarray(left.image, np.float32), np.asarray(right.image, np.float32), lm, rm,
                           settings=stereo_settings(left, settings), frame="SITE_FRAME", repeats=1 if not quick else 2,
                           results=outputs)
        figures.update({k: round(v, 3) for k, v in timing.items()})
        # accuracy of both paths on the timed pair, same truth: the speed is "at better accuracy"?
        truth = load_truth(speed_dir)
        limit = RANGE_LIMIT_M.get(pair_name, 10.0)
        for name, products in (("speed_pair", outputs["rovercam"]), ("opencv", opencv_as_products(outputs["opencv"]))):
            fig = score_pair(products, raw_l, raw_r, truth.frame_xyz(pair.left_id), truth.frame_xyz(pair.right_id),
                             range_limit_m=limit)
            figures.update({f"{name}_{k}": round(fig[k], 4) for k in
                            ("range_median_rel_err_pct", "range_p90_rel_err_pct", "coverage_pct")})
    return figures
