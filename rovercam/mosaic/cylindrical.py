"""Cylindrical mosaics through the frames' camera models (JPL CYLINDRICAL; docs/mosaics.md).

Per output pixel: its ray (azimuth, elevation) in the mosaic frame (SITE_FRAME) meets the surface
(infinity: the ray's direction alone), is projected into every frame that sees it through that
frame's own camera model, and sampled bilinearly. Where frames overlap they are blended with
feathering weights that fall to zero at each frame's edge, so there are no hard seams (VICAR takes
the first frame that sees a point instead).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np

from rovercam.camera.coordinates import azimuth_elevation, direction_from_azimuth_elevation, transform_between
from rovercam.errors import CameraModelError, MosaicError
from rovercam.mosaic.model import CylindricalProjection
from rovercam.mosaic.resample import Level, level_coordinates, level_for_scale, map_scale, reduce_level, resample
from rovercam.products.model import CoordinateSystem

__all__ = ["FrameGeometry", "frame_geometry", "plan_cylindrical", "render_cylindrical"]

log = logging.getLogger(__name__)

_BORDER_SAMPLES = 32  # samples per image side when tracing a frame's outline


@dataclass(frozen=True, slots=True)
class FrameGeometry:
    """What planning a mosaic needs of a frame: its model in the mosaic frame and its size."""

    product_id: str
    model: Any  # camera model in the mosaic frame (e.g. SITE_FRAME)
    width: int
    height: int


def frame_geometry(
    product_id: str, model: Any, camera_frame: str, frames: dict[str, CoordinateSystem],
    width: int, height: int, *, target: str = "SITE_FRAME",
) -> FrameGeometry:
    """The frame's camera model expressed in ``target`` (label frames chained to it).

    Raises
    ------
    MosaicError
        The label's frames do not connect ``camera_frame`` to ``target``.
    """
    try:
        t_target_camera = transform_between(frames, camera_frame, target)
    except CameraModelError as exc:
        raise MosaicError(f"{product_id}: {exc}") from None
    return FrameGeometry(product_id, model.transformed(t_target_camera.r, t_target_camera.t), width, height)


def outline_az_el(g: FrameGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth/elevation (deg) of rays along the frame's border and through its centre."""
    n = _BORDER_SAMPLES
    xs = np.linspace(0, g.width - 1, n)
    ys = np.linspace(0, g.height - 1, n)
    pts = np.concatenate([
        np.stack([xs, np.zeros(n)], 1), np.stack([xs, np.full(n, g.height - 1.0)], 1),
        np.stack([np.zeros(n), ys], 1), np.stack([np.full(n, g.width - 1.0), ys], 1),
        [[(g.width - 1) / 2, (g.height - 1) / 2]],
    ])
    _, dirs = g.model.unproject(pts)
    ok = np.all(np.isfinite(dirs), axis=1)
    if not ok.any():
        raise MosaicError(f"{g.product_id}: camera model gives no valid rays")
    return azimuth_elevation(dirs[ok])


def _az_interval(az: np.ndarray, centre: float) -> tuple[float, float]:
    rel = (az - centre + 180.0) % 360.0 - 180.0
    return centre + rel.min(), centre + rel.max()


def plan_cylindrical(geoms: Sequence[FrameGeometry], *, scale_deg: float = 0.0) -> CylindricalProjection:
    """Choose the output grid covering every frame.

    The scale defaults to the finest input IFOV at the frame centre (1/hs radians per pixel of
    the frame's linear model); the azimuth span is the union of the frames' spans on the circle
    (a full 360 when they close the circle, cut at the largest gap otherwise).
    """
    if not geoms:
        raise MosaicError("no frames to mosaic")
    intervals = []
    el_lo, el_hi = 90.0, -90.0
    ifov = []
    for g in geoms:
        az, el = outline_az_el(g)
        intervals.append(_az_interval(az, float(az[-1])))
        el_lo, el_hi = min(el_lo, float(el.min())), max(el_hi, float(el.max()))
        hs = g.model.internal()[0]
        ifov.append(math.degrees(1.0 / hs))
    scale = scale_deg or min(ifov)
    start, span = _circular_union(intervals)
    if span >= 360.0:
        width = int(round(360.0 / scale))
        scale = 360.0 / width
    else:
        width = int(math.ceil(span / scale)) + 1
    height = int(math.ceil((el_hi - el_lo) / scale)) + 1
    return CylindricalProjection(az_start_deg=float(start), el_top_deg=float(el_hi), scale_deg=scale, width=width, height=height)


def _circular_union(intervals: list[tuple[float, float]]) -> tuple[float, float]:
    """(start_deg, span_deg) of the union of azimuth intervals; span 360 when closed."""
    ivs = sorted(((lo % 360.0), (lo % 360.0) + (hi - lo)) for lo, hi in intervals)
    merged = [list(ivs[0])]
    for lo, hi in ivs[1:]:
        if lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    # wrap: the last interval may reach past 360 into the first
    if len(merged) > 1 and merged[-1][1] - 360.0 >= merged[0][0]:
        merged[0][0] = merged[-1][0] - 360.0
        merged[0][1] = max(merged[0][1], merged[-1][1] - 360.0)
        merged.pop()
    if len(merged) == 1 and merged[0][1] - merged[0][0] >= 360.0:
        return 0.0, 360.0
    gaps = [((merged[(i + 1) % len(merged)][0] - merged[i][1]) % 360.0, i) for i in range(len(merged))]
    _, i = max(gaps)
    start = merged[(i + 1) % len(merged)][0] % 360.0
    covered = sum(hi - lo for lo, hi in merged)
    last_end = merged[i][1]
    span = (last_end - start) % 360.0 or covered
    return start, span


def _column_ranges(proj: CylindricalProjection, lo: float, hi: float) -> list[tuple[int, int]]:
    """Output column ranges [c0, c1) whose azimuth lies in [lo, hi] (degrees, may wrap)."""
    span = proj.width * proj.scale_deg
    full = span >= 360.0 - 1e-9
    rel = (lo - proj.az_start_deg) % 360.0
    if not full and rel > (span + 360.0) / 2:
        rel -= 360.0  # starts just before the grid's first column
    c0 = rel / proj.scale_deg
    n = (hi - lo) / proj.scale_deg
    a, b = int(math.floor(c0)) - 1, int(math.ceil(c0 + n)) + 2
    if not full:
        return [(max(a, 0), min(b, proj.width))] if b > 0 and a < proj.width else []
    if b <= proj.width:
        return [(max(a, 0), b)] if a >= 0 else [(0, b), (proj.width + a, proj.width)]
    return [(a, proj.width), (0, min(b - proj.width, proj.width))]


def _feather_weights(valid: np.ndarray, feather: float) -> np.ndarray:
    """Weights rising from 0 at the frame edge to 1 at ``feather`` of the half-size inside."""
    if feather <= 0:
        return valid.astype(np.float32)
    padded = np.pad(valid.astype(np.uint8), 1)  # the image border counts as an edge
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    ramp = feather * min(valid.shape) / 2.0
    return np.clip(dist / ramp, 0.0, 1.0).astype(np.float32)


def render_cylindrical(
    frames: Iterable[tuple[FrameGeometry, np.ndarray]],
    proj: CylindricalProjection,
    *,
    feather: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Blend frames onto the cylindrical grid.

    Parameters
    ----------
    frames : iterable of (FrameGeometry, (H, W, B) float32 image)
        Consumed one at a time, so frames can be loaded lazily. NaN pixels are no-data.
    proj : CylindricalProjection
    feather : float
        Width of the blending ramp as a fraction of the frame's half-size (0 = hard cut).

    Returns
    -------
    (height, width, B) ndarray of float32
        Weighted mean of the frames; NaN where no frame sees the pixel.
    """
    acc = None
    wsum = np.zeros((proj.height, proj.width), np.float32)
    for g, image in frames:
        img = np.asarray(image, dtype=np.float32)
        if img.ndim == 2:
            img = img[..., None]
        if acc is None:
            acc = np.zeros((proj.height, proj.width, img.shape[2]), np.float32)
        valid = np.all(np.isfinite(img), axis=2)
        weight = _feather_weights(valid, feather)
        # premultiplied: resample(w * img) / resample(w) stays exact where taps straddle an edge;
        # both ride in one level of the pyramid (rovercam.mosaic.resample), whose kernel falls
        # back to bilinear next to no-data and the frame's edges
        weighted = (np.where(valid[..., None], img, 0.0) * weight[..., None]).astype(np.float32)
        levels = [Level(np.concatenate([weighted, weight[..., None]], axis=2), None,
                        np.where(valid, np.uint8(255), np.uint8(0)))]
        az, el = outline_az_el(g)
        lo, hi = _az_interval(az, float(az[-1]))
        r0 = max(int(math.floor((proj.el_top_deg - el.max()) / proj.scale_deg)) - 1, 0)
        r1 = min(int(math.ceil((proj.el_top_deg - el.min()) / proj.scale_deg)) + 2, proj.height)
        for c0, c1 in _column_ranges(proj, lo, hi):
            if c1 <= c0 or r1 <= r0:
                continue
            cols = proj.az_start_deg + np.arange(c0, c1) * proj.scale_deg
            rows = proj.el_top_deg - np.arange(r0, r1) * proj.scale_deg
            azg, elg = np.meshgrid(cols, rows)
            dirs = direction_from_azimuth_elevation(azg.ravel(), elg.ravel())
            px = g.model.project_directions(dirs)
            bad = ~np.all(np.isfinite(px), axis=1)
            px[bad] = -1e6  # outside the image: remap's constant border (weight 0)
            mx = px[:, 0].reshape(azg.shape).astype(np.float32)
            my = px[:, 1].reshape(azg.shape).astype(np.float32)
            level = level_for_scale(map_scale(mx, my, g.width, g.height))
            while len(levels) <= level:
                levels.append(reduce_level(levels[-1]))
            both, _ = resample(levels[level], *level_coordinates(mx, my, level), border="constant")
            acc[r0:r1, c0:c1] += both[..., :-1]
            wsum[r0:r1, c0:c1] += both[..., -1]
        if progress:
            progress(g.product_id)
    if acc is None:
        raise MosaicError("no frames to mosaic")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = acc / wsum[..., None]
    out[wsum <= 1e-6] = np.nan
    return out
