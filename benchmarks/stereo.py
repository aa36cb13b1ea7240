"""Stereo benchmark pieces: the bare OpenCV baseline and a timing helper.

The lead wires ``rovercam bench stereo`` (issue 20) from these. The baseline is what a user
would write with OpenCV alone, given the same rectified geometry: remap both eyes with
rovercam's rectification grids, match with ``cv2.StereoSGBM`` over the same search range, and
turn disparity into points with ``cv2.reprojectImageTo3D`` (the rectified CAHV written as a
pinhole Q matrix). No sub-pixel refinement, no no-data handling, no correlation or texture
check, OpenCV's unmatched left border kept.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from rovercam.camera import clear_remap_cache, rectify_pair, remap_grid, to_opencv
from rovercam.config import StereoSettings
from rovercam.stereo import disparity_search_range, stereo_products

__all__ = ["opencv_baseline", "time_pair", "peak_rss_mb"]

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
              frame: str = "ROVER_NAV_FRAME", repeats: int = 1) -> dict[str, float]:
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
        rovercam second), ``pairs_per_s``.
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
            _, wall, mem = peak_rss_mb(fn)
            cpu = time.process_time() - cpu
            old = best[name]
            best[name] = (min(old[0], wall), min(old[1], cpu), max(old[2], mem))
    clear_remap_cache()
    mpx = left.shape[0] * left.shape[1] / 1e6
    (t_rc, c_rc, m_rc), (t_cv, c_cv, m_cv) = best["rovercam"], best["opencv"]
    return {"rovercam_s": t_rc, "opencv_s": t_cv, "rovercam_cpu_s": c_rc, "opencv_cpu_s": c_cv,
            "opencv_ratio": t_cv / t_rc, "opencv_cpu_ratio": c_cv / c_rc,
            "rovercam_peak_mb": m_rc, "opencv_peak_mb": m_cv, "mpx_per_s": mpx / t_rc,
            "pairs_per_s": 1.0 / t_rc}
