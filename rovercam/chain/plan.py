"""Stage plans: what each chain stage will do to a frame, decided from its metadata alone.

A plan (``plan_<stage>(frame, settings) -> Plan``) finds and checks the calibration files the
stage needs (on ``settings.calibration_path``; docs/calibration.md, "Where calibration files come
from"), writes the provenance text and the frame changes, and collects the parameters of the
pixel work (the LUT, the Bayer phase, the per-pixel gain map, the per-band scale, the colour
matrix, the remap grid). The pixel work itself is :mod:`rovercam.chain.pixels`; it runs on any
block of lines, so :func:`rovercam.chain.run_chain` can plan every stage first and then fuse them.
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from rovercam import camera as _camera
from rovercam import radiometry as _rad
from rovercam.config import CameraSettings, Settings
from rovercam.errors import CalibrationError, ConfigError, ProductError
from rovercam.provenance import sha256_file
from rovercam.radiometry.calfile import calibration_image, map_to_frame

if TYPE_CHECKING:  # pragma: no cover
    from rovercam.chain.frame import Frame, RadiometricType, Units

__all__ = ["Plan", "PLANNERS", "plan_decompand", "plan_debayer", "plan_flat", "plan_color", "plan_undistort"]

log = logging.getLogger("rovercam.chain")


def _searched(folders: tuple[Path, ...] | list[Path]) -> str:
    """Where a calibration file was looked for, and the setting that adds folders."""
    where = ", ".join(f"{p}" if p.is_dir() else f"{p} (no such folder)" for p in folders) or "no folder"
    return f"searched {where}; [calibration] search_path adds folders before rovercam's own"


def _find_calibration_file(rel: str, search_path: tuple[Path, ...], what: str, frame: Frame) -> Path:
    for folder in search_path:
        candidate = folder / rel
        if candidate.is_file():
            return candidate
    raise CalibrationError(rel, f"{what} for {frame.product_id} not found: {_searched(search_path)}")


def _camera_of(frame: Frame, settings: Settings) -> CameraSettings | None:
    """The frame's camera in the registry; None (recorded as missing) for a camera it lacks."""
    mission = frame.mission if frame.mission and frame.mission != "UNKNOWN" else None
    try:
        return settings.camera(frame.instrument, mission)
    except ConfigError as exc:
        if settings.calibration.strict:
            raise CalibrationError(frame.product_id, str(exc)) from None
        return None


def _missing(frame: Frame, settings: Settings, what: str, why: str) -> str:
    """Record a missing calibration piece: an error when ``[calibration] strict``, else a warning."""
    if settings.calibration.strict:
        raise CalibrationError(frame.product_id, f"{what}: {why} ([calibration] strict = true)")
    log.warning("%s: no %s (%s); calibration level lowered", frame.product_id, what, why)
    return what


def _camera_name(frame: Frame) -> str:
    return f"{frame.mission or '?'}/{frame.instrument}"


# --- plans: what each stage will do, decided from metadata; the pixel work is separate ---------

@dataclass(slots=True)
class Plan:
    """One stage's decision: provenance text, frame changes and the parameters of its pixel op."""

    text: str
    changes: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, str] = field(default_factory=dict)
    op: dict[str, Any] = field(default_factory=dict)


def plan_decompand(frame: Frame, settings: Settings) -> Plan:
    """Decompand: the inverse LUT the label names (via the camera's ``luts`` table), or why none."""
    if frame.units != "code" or not _rad.needs_decompanding(frame.companding):
        return Plan(f"decompand: not needed (state {frame.companding.state})")
    cam = _camera_of(frame, settings)
    label_lut = frame.companding.lut
    name = cam.luts.get(label_lut, f"{cam.lut_prefix}{label_lut}") if cam else label_lut
    folders = [folder / "luts" for folder in settings.calibration_path]
    try:
        lut = _rad.find_lut(name, folders)
    except CalibrationError as exc:
        problem = exc.problem if "ambiguous" in exc.problem else (
            f"no file {name}.txt (or <PREFIX>_{name}.txt): {_searched(folders)}")
        what = _missing(frame, settings, f"inverse LUT {name}", problem)
        return Plan(f"decompand: no inverse LUT {name}: values stay companded codes", {"missing": (what,)})
    calibration = {Path(lut.source).name if lut.source else lut.name: lut.sha256}
    return Plan(f"decompand: {lut.name}", {"units": "dn"}, calibration, {"lut": lut})


def _bad_mask(frame: Frame, cam: CameraSettings | None, settings: Settings, shape: tuple[int, int]
              ) -> tuple[NDArray[np.bool_] | None, dict[str, str]]:
    if not (settings.chain.repair_bad_pixels and cam and cam.bad_pixels):
        return None, {}
    path = _find_calibration_file(cam.bad_pixels, settings.calibration_path, "bad-pixel map", frame)
    if path.suffix.lower() == ".txt":
        mask = _rad.map_to_product(
            _rad.load_bad_pixels(path), shape, first_line=frame.subframe.first_line,
            first_sample=frame.subframe.first_sample, downsample=frame.downsample)
    else:  # an image: non-zero marks a bad pixel
        mask = map_to_frame(calibration_image(path, kind="mask"), shape, first_line=frame.subframe.first_line,
                            first_sample=frame.subframe.first_sample, downsample=frame.downsample,
                            detector=_detector(cam), kind="mask")
        if mask is None:
            _missing(frame, settings, "bad-pixel map", f"{path.name} does not cover this product's pixels")
            return None, {}
    return mask, {path.name: _file_digest(path)}


def _detector(cam: CameraSettings | None) -> tuple[int, int] | None:
    if cam is None or cam.detector_samples is None or cam.detector_lines is None:
        return None
    return cam.detector_samples, cam.detector_lines


def plan_debayer(frame: Frame, settings: Settings, *, dn_max: float | None = None) -> Plan:
    """Debayer: Bayer phase from the subframe origin, bad-pixel mask, clip range (``dn_max`` when the
    label gives no bit depth; the frame's maximum otherwise)."""
    if frame.cfa.state != "encoded" or frame.image.ndim != 2:
        return Plan(f"debayer: not needed (CFA state {frame.cfa.state})")
    if frame.downsample != (1, 1):
        # pixel averaging mixes the 2x2 cell: one panchromatic band is left, nothing to demosaic
        h, w = frame.downsample
        return Plan(f"debayer: not needed (binned {h}x{w}: the Bayer cell is averaged into one band)",
                    {"cfa": replace(frame.cfa, state="none")})
    pattern = _rad.cfa_phase(frame.cfa.pattern or "RGGB", frame.subframe.first_line, frame.subframe.first_sample)
    method = settings.chain.debayer
    if method == "vng" and frame.image.dtype != np.uint8:
        raise ProductError(frame.product_id, f"VNG demosaicking (OpenCV) takes 8-bit data; this frame holds "
                           f"{frame.image.dtype} DN: choose malvar, bilinear or edge_aware")
    if method == "edge_aware" and frame.image.dtype.kind != "u":
        raise ProductError(frame.product_id, f"edge-aware demosaicking (OpenCV) takes integer DN, got {frame.image.dtype}")
    cam = _camera_of(frame, settings)
    mask, files = _bad_mask(frame, cam, settings, frame.image.shape)
    # Malvar's negative taps can overshoot: clamp to what the detector can produce
    bits = frame.companding.original_bits
    hi = float(2**bits - 1) if bits else float(dn_max if dn_max is not None else np.max(frame.image))
    cfa = replace(frame.cfa, state="decoded", venue="GROUND", method=method.upper())
    repaired = f"bad pixels repaired ({int(mask.sum())}), " if mask is not None else ""
    changes = {"cfa": cfa, "bad_pixels_repaired": mask is not None}
    return Plan(f"debayer: {repaired}{method} {pattern}", changes, files,
                {"pattern": pattern, "method": method, "clip": (0.0, hi), "bad": mask})


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    return sha256_file(path)


def _file_digest(path: Path) -> str:
    """sha256 of a calibration file, computed once per (path, mtime, size)."""
    st = path.stat()
    return _sha256_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _gain_map(flat_key: tuple[str, int, int] | None, onboard: tuple[float, ...] | None,
              shape: tuple[int, int], subframe: tuple[int, int], downsample: tuple[int, int],
              detector: tuple[int, int] | None, min_flat: float) -> NDArray[np.float32] | None:
    """1 / (flat * s_ob) on the product's pixels, NaN where the flat is below ``min_flat``; cached.

    None when the flat does not cover the product (the caller records it as missing).
    """
    gain: NDArray[np.float32] | None = None
    first_line, first_sample = subframe
    if flat_key is not None:
        flat_img = map_to_frame(calibration_image(flat_key[0], kind="flat"), shape, first_line=first_line,
                                first_sample=first_sample, downsample=downsample, detector=detector,
                                kind="flat")  # the key carries mtime and size: edits reload
        if flat_img is None:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            good = flat_img >= np.float32(min_flat)
            gain = np.where(good, np.float32(1) / flat_img, np.float32(np.nan)).astype(np.float32)
    if onboard is not None:
        # x0, y0 taken in full-resolution detector pixels (origin/scale from the subframe); whether
        # labels mean detector or product pixels is unverified (docs/calibration.md); they agree
        # for full frames
        origin = (float(first_sample - 1), float(first_line - 1))
        scale = (float(downsample[1]), float(downsample[0]))
        s_ob = _rad.radial_flat(shape, onboard, origin=origin, scale=scale)  # type: ignore[arg-type]
        inv = np.float32(1) / s_ob
        gain = inv if gain is None else gain * (inv[..., None] if gain.ndim == 3 else inv)
    assert gain is not None
    gain.setflags(write=False)
    return gain


def _flat_file(frame: Frame, cam: CameraSettings, settings: Settings) -> tuple[Path | None, str]:
    """The camera's flat for this frame (template filled in) and, when there is none, why."""
    if not cam.flat:
        return None, f"none known for {_camera_name(frame)}"
    if cam.flat_filters:
        wanted = {f.upper() for f in cam.flat_filters}
        if frame.filter is None or frame.filter.upper() not in wanted:
            return None, f"the shipped flat serves filter {'/'.join(cam.flat_filters)}, not {frame.filter or 'unknown'}"
    fields: dict[str, Any] = {"downsample": max(frame.downsample)}
    if "{zoom" in cam.flat:
        if frame.zoom_position is None or not cam.flat_zoom_counts:
            return None, "the flat depends on the zoom motor count, which the label does not give"
        fields["zoom"] = min(cam.flat_zoom_counts, key=lambda c: abs(c - frame.zoom_position))
    rel = cam.flat.format(**fields)
    for folder in settings.calibration_path:
        if (folder / rel).is_file():
            return folder / rel, ""
    return None, f"{rel} not found on the calibration search path"


def _plan_flat_derived(frame: Frame) -> Plan:
    """A MIPL radiometric product: its label's scaling gives the physical values; nothing is re-applied."""
    factor, offset = frame.radiance_scaling  # type: ignore[misc]
    rtype = frame.label_radiometric_type or "spectral_radiance"
    bands = frame.image.shape[2] if frame.image.ndim == 3 else 1
    units = "iof_camera" if rtype == "radiance_factor" else "radiance_camera"
    text = (f"flat: MIPL radiometric product ({rtype}): value = stored x {factor:g} + {offset:g} "
            "(label scaling); bias, flat and responsivity not re-applied")
    op = {"bias": -offset / factor, "bad": None, "gain": None, "scale": np.full(bands, factor, np.float32)}
    return Plan(text, {"units": units, "radiometric_type": rtype}, {}, op)


def plan_flat(frame: Frame, settings: Settings) -> Plan:
    """Flat: bias, bad pixels, onboard and ground flats (one gain map), exposure, responsivity,
    zenith scaling and I/F as one per-band scale (docs/calibration.md, step 3)."""
    if frame.units == "code":  # no inverse LUT (recorded by decompand): values stay codes
        bands = frame.image.shape[2] if frame.image.ndim == 3 else 1
        op = {"bias": 0.0, "bad": None, "gain": None, "scale": np.ones(bands, np.float32)}
        return Plan("flat: companded codes: no bias, flat or exposure applied",
                    {"units": "relative_camera", "radiometric_type": "raw"}, {}, op)
    if frame.units != "dn":
        raise ProductError(frame.product_id, f"flat expects DN, got {frame.units} (run decompand first)")
    if frame.radiance_scaling is not None:
        return _plan_flat_derived(frame)
    cam = _camera_of(frame, settings)
    missing: list[str] = []
    if cam is None:
        missing.append(_missing(frame, settings, "camera calibration",
                                f"{_camera_name(frame)} is not in the camera registry"))
    chain_cfg = settings.chain
    bias = cam.bias_dn if cam else 0.0
    steps: list[str] = [f"bias {bias:g} DN"]
    files: dict[str, str] = {}
    absolute = cam is not None and cam.radiometry == "absolute"
    t = frame.exposure_s
    if t is None and chain_cfg.missing_exposure == "relative":
        t = 1.0
        rtype: RadiometricType = "relative_radiance" if absolute else "relative_dn"
        steps.append("exposure unknown: relative values (exposure taken as 1 s)")
        log.warning("%s: no exposure time; values are relative", frame.product_id)
    elif not t or t <= 0:
        raise ProductError(frame.product_id, f"exposure duration {frame.exposure_s!r} s is not positive")
    else:
        t = float(t) + (cam.exposure_overhead_s if cam else 0.0)
        rtype = "spectral_radiance" if absolute else "relative"
    h, w = frame.image.shape[:2]
    bad = None
    if not frame.bad_pixels_repaired:
        bad, bad_files = _bad_mask(frame, cam, settings, (h, w))
        if bad is not None:
            files.update(bad_files)
            steps.append(f"bad pixels repaired ({int(bad.sum())})")
    flat_key = None
    flat_fielded = frame.flat_fielded
    if frame.ground_flat_applied:
        steps.append("flat already applied (label)")
    elif cam is not None:
        path, why = _flat_file(frame, cam, settings)
        if path is None:
            missing.append(_missing(frame, settings, "flat field", why))
            steps.append(f"no flat ({why})")
        else:
            st = path.stat()
            flat_key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
            files[path.name] = _file_digest(path)
            steps.append(f"flat {path.name}")
    onboard = frame.onboard_flat if chain_cfg.undo_onboard_flat else None
    if onboard is not None:
        steps.append("onboard radial flat undone (" + ", ".join(f"{v:g}" for v in onboard) + ")")
    gain = None
    if flat_key is not None or onboard is not None:
        sub = (frame.subframe.first_line, frame.subframe.first_sample)
        gain = _gain_map(flat_key, onboard, (h, w), sub, frame.downsample, _detector(cam), chain_cfg.min_flat)
        if gain is None:
            why = f"{Path(flat_key[0]).name} does not cover this product's pixels"  # type: ignore[index]
            missing.append(_missing(frame, settings, "flat field", why))
            steps[-1] = f"no flat ({why})"
            files.pop(Path(flat_key[0]).name, None)  # type: ignore[index]
            flat_key = None
        elif flat_key is not None:
            flat_fielded = True
    bands = frame.image.shape[2] if frame.image.ndim == 3 else 1
    if absolute and cam is not None:
        f_number = None
        if cam.f_number_table and frame.focal_length_mm:
            f_number = _rad.f_number_at(frame.focal_length_mm, cam.f_number_table)
        k = _rad.responsivity_at(
            cam.responsivity, temperature_c=frame.temperature_c,  # type: ignore[arg-type]
            temperature_ref_c=cam.temperature_ref_c, temperature_coefficients=cam.responsivity_temperature_coeff,
            f_number=f_number, f_number_ref=cam.f_number_ref)
        k = k[:bands] if bands == 3 else k[1:2]
        if cam.temperature_ref_c is not None and frame.temperature_c is not None:
            steps.append(f"responsivity at {frame.temperature_c:g} C")
        if f_number is not None and cam.f_number_ref:
            steps.append(f"f/{f_number:g} at {frame.focal_length_mm:g} mm")
        scale_band = 1.0 / (t * k)
        steps.append(f"radiance t={t:g}s")
    else:
        if cam is not None:
            missing.append(_missing(frame, settings, "absolute responsivity", cam.radiometry_source))
        scale_band = np.full(bands, 1.0 / t)
        steps.append(f"relative: DN / {t:g} s (no absolute responsivity)")
    units: Units = "radiance_camera" if absolute else "relative_camera"
    if chain_cfg.zenith_scaling:
        if frame.solar_elevation_deg is None:
            raise ProductError(frame.product_id, "zenith scaling needs the solar elevation; the label has none")
        z = _rad.zenith_scaling(frame.solar_elevation_deg, tau=chain_cfg.zenith_tau, tau_ref=chain_cfg.zenith_tau_ref)
        scale_band = scale_band / z
        rtype = "scaled_spectral_radiance" if rtype == "spectral_radiance" else rtype
        steps.append(f"zenith scaled Z={z:.4g}")
    if chain_cfg.quantity == "iof" and absolute and cam is not None:
        if frame.start_time is None:
            raise ProductError(frame.product_id, "I/F needs the observation time (Sun distance); the label has none")
        d = _rad.mars_sun_distance_au(frame.start_time)
        if bands == 1 and frame.filter and frame.filter in cam.solar_irradiance_by_filter:
            f_sun = np.array([cam.solar_irradiance_by_filter[frame.filter]])
        else:
            f_sun = np.asarray(cam.solar_irradiance)[:bands] if bands == 3 else np.asarray(cam.solar_irradiance)[1:2]
        scale_band = scale_band * (math.pi * d * d / f_sun)
        units = "iof_camera"
        rtype = "radiance_factor" if rtype != "relative_radiance" else rtype
        steps.append(f"I/F d={d:.4f} AU")
    elif chain_cfg.quantity == "iof":
        steps.append("I/F not possible without an absolute responsivity: values stay relative")
    op = {"bias": float(bias), "bad": bad, "gain": gain, "scale": np.asarray(scale_band, np.float32)}
    changes = {"units": units, "radiometric_type": rtype, "flat_fielded": flat_fielded,
               "bad_pixels_repaired": frame.bad_pixels_repaired or bad is not None, "missing": tuple(missing)}
    return Plan("flat: " + ", ".join(steps), changes, files, op)


def plan_color(frame: Frame, settings: Settings) -> Plan:
    """Color: white-balance gains and the camera -> linear sRGB matrix, or why none."""
    if not frame.units.endswith("_camera"):
        raise ProductError(frame.product_id, f"color expects calibrated camera bands, got {frame.units}")
    if frame.image.ndim != 3 or frame.image.shape[2] != 3:
        return Plan("color: single band, no colour transform")
    out_units = frame.units.replace("_camera", "_srgb")
    cam = _camera_of(frame, settings)
    if cam is None or cam.xyz_from_camera is None:
        what = _missing(frame, settings, "colour matrix", f"none known for {_camera_name(frame)}")
        return Plan("color: camera RGB kept (no colour matrix for this camera)", {"missing": (what,)})
    choice = settings.chain.white_balance
    text = "color: camera RGB -> XYZ -> linear sRGB (D65)"
    gains = np.ones(3)
    if choice == "fixed":
        gains = _rad.normalised_gains(cam.white_balance)
    elif choice == "grey_world":
        gains = _rad.grey_world_gains(frame.image)
    if choice != "none":
        text = f"color: white balance {choice} (" + ", ".join(f"{g:.4g}" for g in gains) + "), " + text[7:]
    srgb_from_camera = _rad.SRGB_FROM_XYZ @ np.asarray(cam.xyz_from_camera, dtype=np.float64) @ np.diag(gains)
    return Plan(text, {"units": out_units}, {}, {"matrix": srgb_from_camera})


def plan_undistort(frame: Frame, settings: Settings) -> Plan:
    """Undistort: the CAHV linearization of the frame's model and the remap grid onto it."""
    h, w = frame.image.shape[:2]
    model = frame.camera_model
    if type(model).__name__ == "CAHV":
        return Plan("undistort: already CAHV")
    linear = _camera.linearize(model, w, h, fov=settings.chain.linearize_fov)
    maps = _camera.remap_grid(linear, (w, h), model)
    return Plan(f"undistort: {type(model).__name__} -> CAHV ({settings.chain.linearize_fov} fov)",
                {"camera_model": linear}, {}, {"maps": maps})


PLANNERS = {"decompand": plan_decompand, "debayer": plan_debayer, "flat": plan_flat,
             "color": plan_color, "undistort": plan_undistort}
