"""The mosaic benchmark's oversampled variant: frames that carry detail finer than the grid.

Part of ``rovercam bench mosaic`` (:mod:`rovercam_benchmarks.mosaic` calls :func:`figures`). The
main truth problem's world is band-limited to ~6 frame pixels, so nothing in it is finer than the
output grid and any resampler does well. Here the same world and the same 40 pointings are seen
by frames of half the size (824x600 over the same 25 degrees, so the world's detail reaches ~3
frame pixels, the frames' own limit) and blended onto a 4000x2000 grid: each output pixel spans
~3 frame pixels, so the render has to reduce the frames ~3x, where point sampling aliases.

Truth here is what a camera with the output grid's pixels would record: the world's radiance
averaged over each output pixel's footprint (4 x 4 rays per pixel, uniform in azimuth and
elevation), not the radiance along the pixel's central ray (that would itself alias).

Figures (PSNR on the display scale over covered pixels, as in the main benchmark):

- ``psnr_oversampled_db``: true gains divided out, the default render;
- ``psnr_oversampled_unknown_gains_db`` with ``seam_step_oversampled_p99_pct``: gains estimated
  as in the main problem (the frames carry the +-15 % gain errors);
- ``seam_step_oversampled_true_gains_p99_pct``: the seam step of the first render (no gain
  error left: what the resampling alone leaves across seams at this detail, the floor of the
  figure above);
- ``seam_step_oversampled_control_p99_pct``: the same statistic on the same render across
  pseudo-seams, the index map's seams moved 16 pixels along both axes (:func:`control_index`),
  where no frame changes: what the statistic reads from the per-pixel resampling error alone. It
  is about as large as the seam figure above: at this detail the mean of 4 pixels differs from
  the footprint-averaged truth by about 0.5 % (twice that in the darkest quarter), with or
  without a seam between them (docs/mosaics.md#resampling);
- ``psnr_oversampled_reference_db``: a bicubic-resampled single-frame reference on the same grid
  (every pixel from the frame the render chose there, ``cv2.INTER_CUBIC`` on the frame itself,
  true gains divided out, no blending);
- ``psnr_oversampled_bilinear_db``: the render with bilinear sampling of the frames themselves
  (``kernel="linear"``, ``antialias=False``; rovercam's resampling before antialiasing).

``quick`` halves the frames and the grid (and the main benchmark's world is rendered at half the
resolution there).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["figures", "area_truth", "area_truth_at", "control_index", "single_frame_reference"]


def area_truth(truth: Callable[[np.ndarray, np.ndarray], np.ndarray], proj, *, rays: int = 4) -> np.ndarray:
    """Mean of ``truth(az, el)`` over ``rays`` x ``rays`` points spread uniformly over each
    pixel of an equirectangular grid (azimuth and elevation, degrees); (H, W, 3) float32."""
    az, el = proj.az_el_grid()
    return area_truth_at(truth, az, el, 360.0 / proj.width, rays=rays)


def area_truth_at(truth: Callable[[np.ndarray, np.ndarray], np.ndarray], az: np.ndarray, el: np.ndarray,
                  step: float, *, rays: int = 4) -> np.ndarray:
    """:func:`area_truth` at some pixels only: ``az``, ``el`` (any shape S, degrees) are pixel
    centres of a grid of ``step`` degrees; returns S + (3,) float32."""
    acc = None
    for a in range(rays):
        for b in range(rays):
            du, dv = ((a + 0.5) / rays - 0.5) * step, ((b + 0.5) / rays - 0.5) * step
            t = truth(az + du, np.clip(el - dv, -90.0, 90.0))
            acc = t.astype(np.float64) if acc is None else acc + t
    assert acc is not None
    return (acc / rays**2).astype(np.float32)


def control_index(index: np.ndarray, shift: int = 16) -> np.ndarray:
    """The index map moved ``shift`` pixels along both axes, kept only over covered pixels: its
    seams lie mostly inside frames (pseudo-seams for a control of the seam statistic)."""
    moved = np.roll(index, (shift, shift), axis=(0, 1))
    return np.where(index >= 0, moved, index)


def single_frame_reference(geoms, load: Callable[[int], np.ndarray], proj, index: np.ndarray) -> np.ndarray:
    """Every covered pixel sampled with ``cv2.INTER_CUBIC`` from the one frame ``index`` names
    (no pyramid, no blending); NaN elsewhere."""
    import cv2

    from rovercam.mosaic.warp import frame_window, sample_maps

    out: np.ndarray | None = None
    for i, g in enumerate(geoms):
        win = frame_window(g, proj)
        if win is None:
            continue
        mx, my = sample_maps(g, proj, win)
        img = np.ascontiguousarray(load(i), dtype=np.float32)
        warped = cv2.remap(img, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        if out is None:
            out = np.full((proj.height, proj.width, img.shape[2]), np.nan, np.float32)
        cols = np.arange(win.x0, win.x1) % proj.width
        block = out[win.y0:win.y1][:, cols]
        sel = index[win.y0:win.y1][:, cols] == i
        block[sel] = warped[sel]
        out[win.y0:win.y1, cols] = block
    assert out is not None
    return out


def figures(world, *, scale: int, tmp: Path, psnr: Callable[..., float],
            seam_steps: Callable[..., np.ndarray]) -> dict[str, Any]:
    """The figures of the module docstring (``psnr(image, truth, mask)`` on the display scale,
    ``seam_steps(image, index, truth)`` from the main benchmark)."""
    from rovercam.mosaic.gains import estimate_gains
    from rovercam.mosaic.projections import EquirectangularProjection
    from rovercam.mosaic.render import FrameStack, RenderOptions, render_mosaic
    from rovercam.testing import make_problem

    fw, fh, width = 824 // scale, 600 // scale, 4000 // scale
    problem = make_problem(world, width=fw, height=fh, seed=3)
    paths = problem.write_frames(tmp / "oversampled", with_gain=True)
    geoms = problem.geometries()
    proj = EquirectangularProjection.full_sphere(width)
    truth = area_truth(problem.truth, proj)
    opts = RenderOptions(blend="multiband", workers=2)
    true_gains = 1.0 / np.asarray(problem.gains)

    def load(i: int) -> np.ndarray:
        return np.load(paths[i], mmap_mode="r")

    def score(img: np.ndarray) -> float:
        return round(psnr(img, truth, np.all(np.isfinite(img), axis=2)), 3)

    res: dict[str, Any] = {"oversampled_frame_size": f"{fw}x{fh}", "oversampled_grid": f"{width}x{width // 2}"}
    img, index = render_mosaic(FrameStack(geoms, load, factors=true_gains), proj, options=opts)
    res["psnr_oversampled_db"] = score(img)
    steps = seam_steps(img, index, truth)
    res["seam_step_oversampled_true_gains_p99_pct"] = round(float(np.percentile(steps, 99)) * 100, 4)
    res["seam_step_oversampled_control_p99_pct"] = round(float(np.percentile(
        seam_steps(img, control_index(index), truth), 99)) * 100, 4)
    ref = single_frame_reference(geoms, lambda i: np.asarray(load(i)) * np.float32(true_gains[i]), proj, index)
    ref[index < 0] = np.nan
    res["psnr_oversampled_reference_db"] = score(ref)
    del ref
    old = RenderOptions(blend="multiband", workers=2, kernel="linear", antialias=False)
    img, _ = render_mosaic(FrameStack(geoms, load, factors=true_gains), proj, options=old)
    res["psnr_oversampled_bilinear_db"] = score(img)
    sol = estimate_gains(geoms, load)
    img, index = render_mosaic(FrameStack(geoms, load, factors=sol.factors), proj, options=opts)
    res["psnr_oversampled_unknown_gains_db"] = score(img)
    steps = seam_steps(img, index, truth)
    res["seam_step_oversampled_p99_pct"] = round(float(np.percentile(steps, 99)) * 100, 4)
    for p in paths:
        p.unlink()
    return res
