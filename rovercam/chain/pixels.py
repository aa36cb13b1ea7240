"""Pixel operations of the frame chain, on whole frames or on blocks of lines.

Each stage's pixel work (``apply_<stage>(image, plan.op)``) takes the parameters its plan
collected (:mod:`rovercam.chain.plan`). For the fused chain, :class:`RowCache` calibrates input
lines once each while output strips of :data:`STRIP_LINES` lines move down the frame, and
:func:`footprints` says which input lines each output strip's remap reads.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam import camera as _camera
from rovercam import radiometry as _rad
from rovercam.errors import CalibrationError

if TYPE_CHECKING:  # pragma: no cover
    from rovercam.chain.plan import Plan

__all__ = ["STRIP_LINES", "HALO", "apply_debayer", "apply_flat", "multiply_gain", "apply_color", "remap",
           "calibrate_rows", "footprints", "RowCache"]

#: Output lines per strip in ``run_chain``.
STRIP_LINES = 128
#: Input lines beyond a strip's footprint: bad-pixel repair (2) + Malvar's 5x5 (2).
HALO = 4
#: cv2 border value: NaN in every channel (a bare float would fill channel 0 only).
_NAN4 = (float("nan"),) * 4


def apply_debayer(img: np.ndarray, op: dict[str, Any]) -> NDArray[np.float32]:
    """Repair bad photosites on the mosaic, then demosaic (H, W) -> (H, W, 3) float32 (Malvar, He &
    Cutler 2004 by default; ``op`` from :func:`~rovercam.chain.plan.plan_debayer`)."""
    if op["bad"] is not None:
        img = _rad.repair_bad_pixels(img, op["bad"], bayer=True)
        if op["method"] in ("edge_aware", "vng"):  # OpenCV wants the integer type back
            img = np.clip(np.rint(img), 0, op["clip"][1]).astype(np.uint16 if op["method"] == "edge_aware" else np.uint8)
    return _rad.debayer(img, op["pattern"], method=op["method"], clip=op["clip"])


def apply_flat(img: np.ndarray, op: dict[str, Any], gain_rows: slice = slice(None)) -> NDArray[np.float32]:
    """``(img - bias)``, bad pixels repaired, times the gain map (rows ``gain_rows``) and the per-band
    scale: a new float32 array (``op`` from :func:`~rovercam.chain.plan.plan_flat`)."""
    work = _rad.subtract_bias(img, op["bias"])  # a new float32 array: the rest is in place
    if op["bad"] is not None:
        work = _rad.repair_bad_pixels(work, op["bad"][gain_rows], bayer=False)
    gain = op["gain"]
    if gain is not None:
        g = gain[gain_rows]
        if g.ndim == 3 and work.ndim == 2:
            raise CalibrationError("flat", "a three-band flat cannot calibrate a one-band frame")
        multiply_gain(work, g)
    s = op["scale"]
    np.multiply(work, s if work.ndim == 3 else s[0], out=work)
    return work


def multiply_gain(img: NDArray[np.float32], gain: NDArray[np.float32]) -> None:
    """``img *= gain`` in place; a one-band gain on a three-band image is merged to three bands
    first (one SIMD multiply: numpy's broadcast over a last axis of 3 is ~4x slower)."""
    if img.ndim == 3 and gain.ndim == 2 and img.shape[2] == 3:
        cv2.multiply(img, cv2.merge([gain, gain, gain]), dst=img)
    else:
        np.multiply(img, gain[..., None] if img.ndim == 3 and gain.ndim == 2 else gain, out=img)


def apply_color(img: np.ndarray, op: dict[str, Any]) -> NDArray[np.float32]:
    """The 3x3 camera -> linear sRGB matrix on every pixel, float32."""
    # cv2.transform: one pass, SIMD; dst[c] = sum_j m[c, j] src[j] (NaN propagates per pixel)
    return cv2.transform(_rad.as_working(img), op["matrix"].astype(np.float32))


def remap(img: NDArray[np.float32], map_x: np.ndarray, map_y: np.ndarray,
          dst: np.ndarray | None = None) -> NDArray[np.float32]:
    """Bilinear resampling, NaN outside the source (into ``dst`` when given)."""
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, dst=dst, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=_NAN4)


# --- strips for the fused chain ---------------------------------------------------------------

def calibrate_rows(src: np.ndarray, ya: int, yb: int, plans: dict[str, Plan]) -> NDArray[np.float32]:
    """Decompand, debayer, flat and colour input lines ``ya:yb`` (float32, camera or sRGB bands)."""
    x = src[ya:yb]
    lut = plans["decompand"].op.get("lut")
    if lut is not None:
        table = lut.values.astype(np.float32)
        x = cv2.LUT(x, table) if x.dtype == np.uint8 else np.take(table, x)
    dop = plans["debayer"].op
    if dop:
        bad = dop["bad"]
        x = apply_debayer(x, {**dop, "bad": None if bad is None else bad[ya:yb]})
    else:
        x = _rad.as_working(x)
    fop, cop = plans["flat"].op, plans["color"].op
    gain = fop["gain"]
    if cop and fop["bad"] is None and (gain is None or gain.ndim == 2):
        # M diag(s) ((x - b) g) = g (M diag(s) x - M diag(s) b): one affine transform, one multiply
        m = cop["matrix"] @ np.diag(fop["scale"].astype(np.float64))
        affine = np.hstack([m, -(m @ np.full(3, fop["bias"]))[:, None]]).astype(np.float32)
        y = cv2.transform(x, affine)
        if gain is not None:
            multiply_gain(y, gain[ya:yb])
        return y
    y = apply_flat(x, fop, slice(ya, yb))
    return apply_color(y, cop) if cop else y


@functools.lru_cache(maxsize=8)
def footprints(linear: Any, model: Any, w: int, h: int) -> tuple[tuple[int, int, int, int], ...]:
    """Per output strip (y0, y1), the input lines (ya, yb) its remap reads; ya = -1: none."""
    map_y = _camera.remap_grid(linear, (w, h), model)[1]  # cached by the camera package
    out = []
    for y0 in range(0, h, STRIP_LINES):
        y1 = min(h, y0 + STRIP_LINES)
        strip = map_y[y0:y1]
        finite = strip[np.isfinite(strip)]
        if finite.size == 0:
            out.append((y0, y1, -1, -1))
            continue
        lo = min(max(float(finite.min()), 0.0), h - 1.0)
        hi = min(max(float(finite.max()), 0.0), h - 1.0)
        out.append((y0, y1, math.floor(lo), min(h, math.floor(hi) + 2)))
    return tuple(out)


class RowCache:
    """Calibrated input lines, computed once each while output strips move down the frame.

    Each strip's footprint (the input lines its remap reads) overlaps the previous one. Lines are
    kept in a buffer: lines above the new footprint are dropped, new ones computed (with the 5x5
    filters' halo, :data:`HALO`, then cropped) straight into the buffer's free end, and the
    buffer is compacted only when that end is reached, so every input line is calibrated once
    and copied about once.
    """

    def __init__(self, src: np.ndarray, plans: dict[str, Plan]) -> None:
        self.src, self.plans = src, plans
        self.buf: NDArray[np.float32] | None = None
        self.first = 0  # buffer index of input line ``self.top``
        self.top = 0
        self.count = 0  # lines held

    def _compute(self, c0: int, c1: int) -> NDArray[np.float32]:
        h = self.src.shape[0]
        ya = max(0, c0 - HALO)
        ya -= ya % 2  # keep the Bayer phase of the block equal to the frame's
        yb = min(h, c1 + HALO)
        return calibrate_rows(self.src, ya, yb, self.plans)[c0 - ya:c1 - ya]

    def get(self, ya: int, yb: int) -> NDArray[np.float32]:
        """Calibrated input lines ``ya:yb`` (a view; valid until the next call)."""
        end = self.top + self.count
        if self.buf is None or ya < self.top or ya >= end:
            block = self._compute(ya, yb)
            if self.buf is None or len(self.buf) < 3 * len(block):
                self.buf = np.empty((3 * len(block),) + block.shape[1:], dtype=np.float32)
            self.buf[: len(block)] = block
            self.first, self.top, self.count = 0, ya, len(block)
            return self.buf[: len(block)]
        self.first += ya - self.top
        self.count -= ya - self.top
        self.top = ya
        need = yb - end
        if need > 0:
            if self.first + self.count + need > len(self.buf):
                if self.count + need > len(self.buf):
                    grown = np.empty((2 * (self.count + need),) + self.buf.shape[1:], dtype=np.float32)
                    grown[: self.count] = self.buf[self.first:self.first + self.count]
                    self.buf = grown
                else:
                    self.buf[: self.count] = self.buf[self.first:self.first + self.count].copy()
                self.first = 0
            at = self.first + self.count
            self.buf[at:at + need] = self._compute(end, yb)
            self.count += need
        return self.buf[self.first:self.first + (yb - ya)]


