"""Frame-chain benchmark: speed and memory against a bare OpenCV baseline, fidelity against truth.

Figures (``rovercam bench frame [--json]``):

- ``mastcamz_mpx_s``, ``ecam_mpx_s``: :func:`rovercam.chain.run_chain` (all five stages, Malvar,
  fused strip path) on a 1648x1200 Mastcam-Z frame (LUT0, RGGB, CAHVOR) and a 5120x3840 ECAM
  Navcam frame (LUT2, RGGB, the real sol-670 CAHVORE), input megapixels per second, best of
  N runs after one warm-up (the warm-up builds what a sol reuses per camera: the remap grid, the
  flat's gain map, the LUT).
- ``baseline_ratio_*``: chain throughput / baseline throughput, both measured in this run on the
  same frame. Baseline = bare OpenCV: ``cv2.LUT`` (uint16 table) + bilinear
  ``cv2.cvtColor(COLOR_Bayer*2RGB)`` + one float32 multiply by the per-band scale + ``cv2.remap``
  with the same (cached) grid.
- ``peak_bytes_per_px``: the larger of the two frames' peak resident-memory growth of one chain
  run, per input pixel, measured in a fresh subprocess: run once (warm caches), free, reset the
  kernel's high-water mark (``/proc/self/clear_refs`` = 5), note VmRSS, run again, read VmHWM;
  ``MALLOC_MMAP_THRESHOLD_=65536`` so freed buffers go back to the kernel. The input codes and
  per-camera caches are in the baseline; the float32 RGB output (12 B/px) is in the peak.
- ``radiance_median_rel_err``, ``delta_e_mean``: on a generated sol (``tiny`` profile when quick,
  else ``demo``): camera-band radiance after ``flat`` vs the generator's truth (same 2x2
  supersampling), median |rel. error| over unsaturated pixels 2 px inside the border; and mean
  CIEDE2000 of the linear-sRGB result vs truth world RGB (L*a*b*, D65, white = the camera's
  display white radiance).
- ``malvar_psnr_vs_reference_db``: PSNR(ours) - PSNR(colour-demosaicing's Malvar 2004) against the
  truth RGB, same mosaic, pixels 2 px inside the border (Malvar-He-Cutler 2004; the 5x5 output is trimmed
  by 2 px; the reference pads differently at the edge); ``..._full_frame_db`` over every pixel;
  None when the package is not installed. ``malvar_minus_bilinear_db``: ours, Malvar minus
  bilinear. The mosaic is a 960x1280 scene with natural-image statistics (luminance with a 1/f
  amplitude spectrum, Field 1987; smoother chroma), because demosaicking is judged on texture.
  The same three figures on a truth frame of the generated sol carry the suffix ``_sol_frame``:
  that world is smooth at the pixel scale, so every method is near-perfect there and the
  Malvar-bilinear gap is small.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from rovercam import chain, config
from rovercam import radiometry as rad
from rovercam.camera import CAHVOR, CAHVORE, linearize, remap_grid
from rovercam.products.model import CFA, Companding, CoordinateSystem, ProductMeta, Subframe
from rovercam.synth.cameras import sensor_spec
from rovercam.synth.sensor import expose, vignetting_flat
from rovercam.synth.pointing import NAVCAM_LEFT_SOL670
from rovercam.testing import (
    demosaic_figures,
    frame_accuracy,
    natural_scene,
    synthetic_camera_settings,
    truth_image,
)
from rovercam_benchmarks import best_of

__all__ = ["run"]

log = logging.getLogger(__name__)

_CV_BAYER = {"RGGB": cv2.COLOR_BayerBG2RGB}  # OpenCV names the cell at (1, 1)



def _mastcamz_model() -> CAHVOR:
    """A Mastcam-Z-like CAHVOR at 26 mm: hs = 26 mm / 7.4 um, centred, mild radial distortion."""
    a = np.array([0.9, 0.3, 0.3])
    a /= np.linalg.norm(a)
    h_dir = np.cross([0.0, 0.0, 1.0], a)
    h_dir /= np.linalg.norm(h_dir)
    v_dir = np.cross(a, h_dir)
    hs = 26.0 / 7.4e-3
    return CAHVOR((0.8, 0.5, -1.9), a, hs * h_dir + 823.5 * a, hs * v_dir + 599.5 * a, a,
                  (0.0, -0.02, 0.01))


def _scene(h: int, w: int) -> np.ndarray:
    """World-RGB radiance (H, W, 3) float32: textured, Mars-coloured, W m^-2 sr^-1 nm^-1."""
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    lum = 0.04 + 0.012 * np.sin(40 * x + 3 * y) * np.cos(31 * y) + 0.008 * np.sin(173 * x * y + 5 * x)
    return np.stack([lum * 1.25, lum, lum * 0.7], axis=-1).astype(np.float32)


def _make_case(kind: str, cal: Path, settings: config.Settings) -> chain.Frame:
    """A companded Bayer frame with its calibration files written under ``cal``."""
    if kind == "ecam":
        iid, lut_id, model = "NAVCAM_LEFT", "LUT2", CAHVORE(**NAVCAM_LEFT_SOL670)  # type: ignore[arg-type]
        lut = rad.design_sqrt_lut("M20_LUT2", in_bits=12)
        w, h, dn_max, bits = 5120, 3840, 4095, 12
    else:
        iid, lut_id, model = "MCZ_LEFT", "LUT0", _mastcamz_model()
        lut = rad.design_sqrt_lut("M20_MCZ_LUT0", in_bits=11, floor_dn=2, pedestal_dn=0,
                                  top_dn=2025, max_dn=2033)
        w, h, dn_max, bits = 1648, 1200, 2033, 11
    cam = settings.camera(iid, "M2020")  # the synthetic table :func:`_settings` put on the path
    (cal / "luts").mkdir(parents=True, exist_ok=True)
    (cal / "flats").mkdir(parents=True, exist_ok=True)
    rad.write_lut(cal / "luts" / f"{cam.luts.get(lut_id, cam.lut_prefix + lut_id)}.txt", lut)
    spec = sensor_spec(iid)
    flat_img = vignetting_flat(spec, h, w)
    if cam.flat:
        rad.write_flat(cal / cam.flat, flat_img)
    rate = _scene(h, w) @ spec.camera_from_world.T.astype(np.float32)
    rate *= np.asarray(spec.responsivity, np.float32)
    rate *= flat_img[..., None]
    codes, _ = expose(rate, 0.5 * (dn_max - cam.bias_dn) / float(rate.max()), spec, lut,
                      np.random.default_rng(7))
    meta = ProductMeta(
        product_id=f"BENCH_{kind.upper()}", instrument=iid, mission="M2020",
        camera_model=model, camera_frame="ROVER_NAV_FRAME",
        coordinate_systems={"ROVER_NAV_FRAME": CoordinateSystem("ROVER_NAV_FRAME", (1, 0, 0, 0), (0, 0, 0), "SITE_FRAME")},
        exposure_s=0.5 * (dn_max - cam.bias_dn) / float(rate.max()),
        companding=Companding("SOFTWARE", lut_id, "companded", bits),
        cfa=CFA("RGGB", "encoded"), subframe=Subframe(1, 1, h, w), downsample=(1, 1),
        temperature_c=-10.0, focal_length_mm=26.0 if kind == "mastcamz" else None,
    )
    return chain.Frame(meta, image=codes, units="code")


def _baseline(frame: chain.Frame, lut: rad.InverseLUT, scale: np.ndarray) -> Callable[[], np.ndarray]:
    table = lut.values.astype(np.uint16)
    linear = linearize(frame.camera_model, frame.image.shape[1], frame.image.shape[0])
    map_x, map_y = remap_grid(linear, frame.image.shape[::-1], frame.camera_model)
    s = scale.astype(np.float32)

    def run_once() -> np.ndarray:
        dn = cv2.LUT(frame.image, table)
        rgb = cv2.cvtColor(dn, _CV_BAYER["RGGB"]).astype(np.float32)
        rgb *= s
        return cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR)

    return run_once


def _speed(kind: str, repeats: int) -> tuple[float, float]:
    """(chain Mpx/s, baseline Mpx/s) on one generated frame."""
    with tempfile.TemporaryDirectory(prefix="rovercam-bench-") as tmp:
        cal = Path(tmp)
        settings = synthetic_camera_settings(cal)
        frame = _make_case(kind, cal, settings)
        chain.run_chain(frame, settings)  # warm-up: remap grid, gain map, LUT
        cam = settings.camera(frame.instrument, frame.mission)
        lut = rad.find_lut(cam.luts.get(frame.companding.lut, cam.lut_prefix + frame.companding.lut),
                           [cal / "luts"])
        base = _baseline(frame, lut, 1.0 / (frame.exposure_s * np.asarray(cam.responsivity)))
        base()
        mpx = frame.image.size / 1e6
        t_chain = best_of(repeats, lambda: chain.run_chain(frame, settings))
        t_base = best_of(repeats, base)
    return mpx / t_chain, mpx / t_base


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_probe(kind: str) -> float:
    """Peak RSS growth of one chain run per input pixel (run in a fresh subprocess)."""
    with tempfile.TemporaryDirectory(prefix="rovercam-bench-") as tmp:
        cal = Path(tmp)
        settings = synthetic_camera_settings(cal)
        frame = _make_case(kind, cal, settings)
        out = chain.run_chain(frame, settings)
        del out
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _rss_kb("VmRSS")
        result = chain.run_chain(frame, settings)
        peak = _rss_kb("VmHWM")  # with the result still alive
        del result
        return (peak - before) * 1024.0 / frame.image.size


def _peak_bytes_per_px(kind: str) -> float | None:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    code = f"from rovercam_benchmarks.frame import _memory_probe; print(_memory_probe({kind!r}))"
    try:
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=600, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        log.warning("memory probe for %s failed: %s", kind, exc)
        return None
    return float(res.stdout.strip().splitlines()[-1])


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure the frame-chain figures (module docstring). ``quick``: one timing run, tiny sol."""
    from rovercam.synth import generate_sol, load_truth

    repeats = 1 if quick else 3
    out: dict[str, object] = {}
    for kind in ("mastcamz", "ecam"):
        chain_mpx, base_mpx = _speed(kind, repeats)
        out[f"{kind}_mpx_s"] = chain_mpx
        out[f"baseline_{kind}_mpx_s"] = base_mpx
        out[f"baseline_ratio_{kind}"] = chain_mpx / base_mpx
    peaks = {kind: _peak_bytes_per_px(kind) for kind in ("mastcamz", "ecam")}
    out["peak_bytes_per_px_mastcamz"], out["peak_bytes_per_px_ecam"] = peaks["mastcamz"], peaks["ecam"]
    known = [v for v in peaks.values() if v is not None]
    out["peak_bytes_per_px"] = max(known) if known else None
    with tempfile.TemporaryDirectory(prefix="rovercam-bench-sol-") as tmp:
        profile = "tiny" if quick else "demo"
        generate_sol(Path(tmp), profile=profile, seed=3)
        acc = frame_accuracy(tmp, max_frames=2 if quick else 4)
        out.update({k: acc[k] for k in ("radiance_median_rel_err", "delta_e_mean", "delta_e_p95")})
        truth = load_truth(tmp)
        settings = synthetic_camera_settings(Path(tmp) / "calibration")
        from rovercam.products import read_product

        first = truth.manifest.frames[0]
        frame = chain.frame_from_product(read_product(Path(tmp) / first.path), settings=settings)
        sol_figures = demosaic_figures(truth_image(truth, frame, "camera"))
        out.update({f"{k}_sol_frame": v for k, v in sol_figures.items()})
    out.update(demosaic_figures(natural_scene(960, 1280)))
    out["accuracy_profile"] = profile
    out["cpu_count"] = os.cpu_count() or 1
    log.info("frame benchmark: %s", json.dumps(out, default=str))
    return out
