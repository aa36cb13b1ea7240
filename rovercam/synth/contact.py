"""A contact sheet of a generated sol: every good product as a labelled thumbnail, one PNG.

Products are read back with :func:`rovercam.products.read_product` (the pipeline's reader),
decompanded with the sol's own inverse LUTs, demosaicked (bilinear) when Bayer-encoded, and
stretched for display (bias removed, 0.5-99.8 percentile of the frame, sRGB curve); the
stretch is per frame, so the sheet shows content, not radiometry.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.products import read_product
from rovercam.radiometry import SRGB_FROM_XYZ, cfa_phase, debayer, decompand, load_lut, srgb_encode
from rovercam.synth.truth import load_truth

__all__ = ["contact_sheet"]

log = logging.getLogger(__name__)


def _display(path: Path, lut_dir: Path, bias: float, sensor: dict) -> NDArray[np.uint8]:
    p = read_product(path)
    img = p.image
    if p.companding.state == "companded":
        prefix = "M20_MCZ_" if p.instrument.startswith("MCZ") else \
            "M20_EDL_" if p.instrument.startswith("EDL") else "M20_"
        lut = load_lut(lut_dir / f"{prefix}{p.companding.lut}.txt")
        img = decompand(img, lut)
    work = img.astype(np.float32) - np.float32(bias)
    if p.cfa.state == "encoded" and work.ndim == 2:
        pattern = cfa_phase(p.cfa.pattern or "RGGB", p.subframe.first_line,
                            p.subframe.first_sample)
        work = debayer(work, pattern, method="bilinear")
    narrowband = p.filter is not None and not p.filter.endswith("0")
    if work.ndim == 2 or narrowband:
        grey = work if work.ndim == 2 else work.mean(axis=-1)
        work = np.repeat(grey[..., None], 3, axis=-1)
    elif "responsivity" in sensor:
        # camera RGB -> linear sRGB through the sensor's calibration (white-balanced look)
        cam = work / np.asarray(sensor["responsivity"], np.float32)
        m = SRGB_FROM_XYZ @ np.asarray(sensor["xyz_from_camera"], np.float64)
        work = cam @ m.T.astype(np.float32)
    lo, hi = np.percentile(work[::4, ::4], (0.5, 99.8))
    scaled = np.clip((work - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return (srgb_encode(scaled) * 255 + 0.5).astype(np.uint8)


def contact_sheet(sol_dir: str | Path, out_png: str | Path, *, thumb_width: int = 240,
                  columns: int = 12, max_products: int | None = None) -> Path:
    """Write a PNG contact sheet of the good products of a generated sol.

    Parameters
    ----------
    sol_dir : path-like
        A folder written by :func:`rovercam.synth.generate_sol`.
    out_png : path-like
        The PNG to write (its folder must exist).
    thumb_width : int, keyword-only
        Thumbnail width in pixels; heights follow each product's aspect ratio, rows take the
        tallest.
    columns : int, keyword-only
    max_products : int, optional, keyword-only
        Show at most this many, spread evenly over the sol.

    Returns
    -------
    Path
    """
    sol = Path(sol_dir)
    truth = load_truth(sol)
    frames = list(truth.manifest.frames)
    if max_products is not None and len(frames) > max_products:
        pick = np.linspace(0, len(frames) - 1, max_products).round().astype(int)
        frames = [frames[i] for i in pick]
    lut_dir = sol / "calibration" / "luts"
    thumbs = []
    for f in frames:
        sensor = truth.manifest.sensors.get(f.instrument_id, {})
        rgb = _display(sol / f.path, lut_dir, float(sensor.get("bias_dn", 0.0)), sensor)
        h = max(1, int(round(rgb.shape[0] * thumb_width / rgb.shape[1])))
        thumb = cv2.resize(rgb, (thumb_width, h), interpolation=cv2.INTER_AREA)
        label = f.instrument_id.replace("_LEFT", " L").replace("_RIGHT", " R")
        if f.filter:
            label += f" {f.filter}"
        if f.extra.get("altitude_m") is not None:
            label += f" {f.extra['altitude_m']:.0f} m"
        cv2.putText(thumb, label, (4, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3,
                    cv2.LINE_AA)
        cv2.putText(thumb, label, (4, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                    cv2.LINE_AA)
        thumbs.append(thumb)
    rows = []
    for i in range(0, len(thumbs), columns):
        row = thumbs[i:i + columns]
        height = max(t.shape[0] for t in row)
        padded = [np.pad(t, ((0, height - t.shape[0] + 4), (0, 4), (0, 0)),
                         constant_values=24) for t in row]
        while len(padded) < columns:
            padded.append(np.full((height + 4, thumb_width + 4, 3), 24, np.uint8))
        rows.append(np.hstack(padded))
    sheet = np.vstack(rows)
    out = Path(out_png)
    cv2.imwrite(str(out), sheet[..., ::-1])
    log.info("contact sheet of %d products: %s", len(thumbs), out)
    return out
