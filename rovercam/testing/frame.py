"""Frame-chain truth measures: radiance and colour fidelity on a generated sol, demosaicking.

:func:`frame_accuracy` runs the chain on a generated sol (:mod:`rovercam.synth`) and compares its
radiance and colour with the generator's truth; :func:`demosaic_figures` compares rovercam's
Malvar-He-Cutler demosaicking with an independent implementation (colour-demosaicing) and with
bilinear on a scene such as :func:`natural_scene`, a radiance field with natural-image statistics
(luminance with a 1/f amplitude spectrum, Field 1987; smoother chroma).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from rovercam.config import Settings

__all__ = ["frame_accuracy", "demosaic_figures", "natural_scene", "truth_image",
           "synthetic_camera_settings"]


def synthetic_camera_settings(cal: str | Path) -> Settings:
    """Settings whose calibration search path is ``cal``, holding the generator's camera tables.

    The synthetic Navcam and Mastcam-Z tables (:func:`rovercam.synth.calibration.write_camera_table`)
    are written into ``cal`` when missing; the environment is not read.
    """
    from rovercam import config
    from rovercam.synth.calibration import camera_table_path, write_camera_table
    from rovercam.synth.cameras import sensor_spec

    cal = Path(cal)
    for iid in ("NAVCAM_LEFT", "MCZ_LEFT"):
        if not (cal / camera_table_path(iid)).is_file():
            write_camera_table(cal, sensor_spec(iid))
    return config.load(environ={}, overrides={"calibration": {"search_path": [str(cal)]}})


def truth_image(truth: Any, frame: Any, which: Literal["camera", "world"]) -> np.ndarray:
    """Truth radiance (H, W, 3) float32 of a frame, averaged like the generator renders it.

    Parameters
    ----------
    truth : rovercam.synth.truth.Truth
        The generated sol's truth (:func:`rovercam.synth.load_truth`).
    frame : rovercam.chain.Frame
        A frame of that sol (its camera model and frames place the rays).
    which : {"camera", "world"}
        Camera-band radiance or world RGB, W m^-2 sr^-1 nm^-1, over the manifest's sub-rays.
    """
    from rovercam.camera.coordinates import transform_between

    h, w = frame.image.shape[:2]
    r_site = transform_between(frame.coordinate_systems, frame.camera_frame, "SITE_FRAME")
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    acc = np.zeros((h * w, 3), np.float64)
    offsets = truth.manifest.supersampling
    for dx, dy in offsets:
        _, d = frame.camera_model.unproject(np.column_stack([gx.ravel() + dx, gy.ravel() + dy]))
        d_site = r_site.rotate(d)
        acc += truth.camera_radiance(d_site, frame.instrument) if which == "camera" else truth.radiance(d_site)
    return (acc / len(offsets)).reshape(h, w, 3).astype(np.float32)


def frame_accuracy(sol_dir: str | Path, *, max_frames: int | None = None) -> dict[str, float]:
    """Radiance and colour fidelity of the chain on a generated sol, against the generator's truth.

    Camera-band radiance after ``flat`` against the truth (same sub-ray supersampling): median
    |relative error| over unsaturated pixels 2 px inside the border; and CIEDE2000 of the linear
    sRGB result against the truth world RGB (L*a*b*, D65, white = the camera's display white).

    Returns
    -------
    dict
        ``radiance_median_rel_err`` (fraction), ``delta_e_mean``, ``delta_e_p95``, ``frames``,
        ``pixels``.
    """
    import cv2

    from rovercam import chain
    from rovercam import radiometry as rad
    from rovercam.products import read_product
    from rovercam.synth import load_truth

    sol = Path(sol_dir)
    truth = load_truth(sol)
    settings = synthetic_camera_settings(sol / truth.manifest.calibration.get("search_path", "calibration"))
    rel_all, de_all = [], []
    frames = truth.manifest.frames[:max_frames] if max_frames else truth.manifest.frames
    for ft in frames:
        frame = chain.frame_from_product(read_product(sol / ft.path), settings=settings)
        frame = chain.decompand(frame, settings)
        dn = frame.image
        frame = chain.flat(chain.debayer(frame, settings), settings)
        cam_rad = frame.image
        srgb = chain.color(frame, settings).image
        # unsaturated: no photosite at the top DN within Malvar's 5x5 reach
        top = 2 ** (frame.companding.original_bits or 12) - 1
        sat = cv2.dilate((dn >= top).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        ok = ~sat
        ok[:2], ok[-2:], ok[:, :2], ok[:, -2:] = False, False, False, False
        t_cam = truth_image(truth, frame, "camera")
        t_rgb = truth_image(truth, frame, "world")
        ok &= np.isfinite(cam_rad).all(axis=-1) & (t_cam > 0).all(axis=-1)
        rel_all.append((np.abs(cam_rad[ok] - t_cam[ok]) / t_cam[ok]).ravel())
        white = settings.camera(frame.instrument, frame.mission).display_white_radiance
        de = rad.delta_e_2000(rad.lab_from_linear_srgb(srgb[ok], white=white),
                              rad.lab_from_linear_srgb(t_rgb[ok], white=white))
        de_all.append(de)
    rel = np.concatenate(rel_all)
    de = np.concatenate(de_all)
    return {"radiance_median_rel_err": float(np.median(rel)), "delta_e_mean": float(np.mean(de)),
            "delta_e_p95": float(np.percentile(de, 95)), "frames": len(frames), "pixels": int(de.size)}


def _reference_malvar() -> Callable[..., np.ndarray] | None:
    saved = np.get_printoptions()  # importing colour changes numpy's print options
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from colour_demosaicing import demosaicing_CFA_Bayer_Malvar2004
    except ImportError:
        return None
    finally:
        np.set_printoptions(**saved)
    return demosaicing_CFA_Bayer_Malvar2004


def _psnr(est: np.ndarray, ref: np.ndarray, border: int, peak: float) -> float:
    sl = (slice(border, -border or None),) * 2
    err = est.astype(np.float64)[sl] - ref.astype(np.float64)[sl]
    return float(10 * np.log10(peak**2 / np.mean(err**2)))


def natural_scene(h: int, w: int, *, seed: int = 11) -> np.ndarray:
    """A (H, W, 3) float32 radiance scene with natural-image statistics, Mars-coloured.

    Luminance is log-normal with a 1/f amplitude spectrum (random phases); the R/G and B/G ratios
    vary with a 1/f^2 spectrum (smooth chroma, as in real scenes).
    """
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0

    def field(power: float) -> np.ndarray:
        spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**power
        spec[0, 0] = 0.0
        x = np.fft.irfft2(spec, s=(h, w))
        return (x - x.mean()) / x.std()

    lum = 0.04 * np.exp(0.35 * field(1.0))
    red, blue = 1.25 + 0.08 * field(2.0), 0.7 + 0.06 * field(2.0)
    return np.stack([lum * red, lum, lum * blue], axis=-1).astype(np.float32)


def demosaic_figures(truth_rgb: np.ndarray) -> dict[str, float | None]:
    """Malvar (ours) vs colour-demosaicing's Malvar 2004 and vs bilinear, on the mosaic of ``truth_rgb``.

    PSNR differences in dB (ours minus the other) against ``truth_rgb`` (H, W, 3), RGGB mosaic,
    pixels 2 px inside the border (the reference pads differently at the edge); the reference
    figures are None when colour-demosaicing is not installed (Malvar, He and Cutler 2004).
    """
    from rovercam import radiometry as rad

    mosaic = rad.mosaic(truth_rgb, "RGGB")
    peak = float(truth_rgb.max())
    ours = rad.debayer(mosaic, "RGGB", method="malvar")
    bil = rad.debayer(mosaic, "RGGB", method="bilinear")
    out: dict[str, float | None] = {
        "malvar_minus_bilinear_db": _psnr(ours, truth_rgb, 2, peak) - _psnr(bil, truth_rgb, 2, peak),
        "malvar_psnr_vs_reference_db": None, "malvar_psnr_vs_reference_full_frame_db": None,
    }
    reference = _reference_malvar()
    if reference is not None:
        ref = reference(mosaic.astype(np.float64), "RGGB")
        out["malvar_psnr_vs_reference_db"] = _psnr(ours, truth_rgb, 2, peak) - _psnr(ref, truth_rgb, 2, peak)
        out["malvar_psnr_vs_reference_full_frame_db"] = (
            _psnr(ours, truth_rgb, 0, peak) - _psnr(ref, truth_rgb, 0, peak))
    return out
