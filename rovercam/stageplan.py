"""Stage plans and pixel operations of the frame chain (private to :mod:`rovercam.chain`).

Each stage is split in two so that :func:`rovercam.chain.run_chain` can fuse them:

- a *plan* (``_plan_<stage>(frame, settings) -> _Plan``) decides from the frame's metadata what
  the stage does: it finds and checks calibration files, writes the provenance text and the
  frame changes, and collects the parameters of the pixel work (the LUT, the Bayer phase, the
  per-pixel gain map, the per-band scale, the colour matrix, the remap grid);
- an *operation* (``_apply_<stage>``) does that pixel work on any block of lines.

The stage functions in :mod:`rovercam.chain` run plan + operation on the whole frame;
``run_chain`` plans all stages, then runs the operations strip by strip (:class:`_RowCache`).
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam import camera as _camera
from rovercam import radiometry as _rad
from rovercam.config import CameraSettings, Settings
from rovercam.errors import CalibrationError, ProductError
from rovercam.provenance import sha256_file

if TYPE_CHECKING:  # pragma: no cover
    from rovercam.chain import Frame, RadiometricType, Units

log = logging.getLogger("rovercam.chain")

#: Output lines per strip in ``run_chain``.
_STRIP_LINES = 128
#: Input lines beyond a strip's footprint: bad-pixel repair (2) + Malvar's 5x5 (2).
_HALO = 4
#: cv2 border value: NaN in every channel (a bare float would fill channel 0 only).
_NAN4 = (float("nan"),) * 4


def _find_calibration_file(rel: str, search_path: tuple[Path, ...], what: str, frame: Frame) -> Path:
    for folder in search_path:
        candidate = folder / rel
        if candidate.is_file():
            return candidate
    where = ", ".join(str(p) for p in search_path) or "(empty search path)"
    raise CalibrationError(rel, f"{what} for {frame.product_id} not found in calibration search path: {where}")


# --- plans: what each stage will do, decided from metadata; the pixel work is separate ---------

@dataclass(slots=True)
class _Plan:
    """One stage's decision: provenance text, frame changes and the parameters of its pixel op."""

    text: str
    changes: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, str] = field(default_factory=dict)
    op: dict[str, Any] = field(default_factory=dict)


def _plan_decompand(frame: Frame, settings: Settings) -> _Plan:
    if frame.units != "code" or not _rad.needs_decompanding(frame.companding):
        return _Plan(f"decompand: not needed (state {frame.companding.state})")
    cam = settings.camera(frame.instrument)
    label_lut = frame.companding.lut
    name = cam.luts.get(label_lut, f"{cam.lut_prefix}{label_lut}")
    lut = _rad.find_lut(name, [folder / "luts" for folder in settings.calibration_path])
    calibration = {Path(lut.source).name if lut.source else lut.name: lut.sha256}
    return _Plan(f"decompand: {lut.name}", {"units": "dn"}, calibration, {"lut": lut})


def _bad_mask(frame: Frame, cam: CameraSettings, settings: Settings, shape: tuple[int, int]
              ) -> tuple[NDArray[np.bool_] | None, dict[str, str]]:
    if not (settings.chain.repair_bad_pixels and cam.bad_pixels):
        return None, {}
    path = _find_calibration_file(cam.bad_pixels, settings.calibration_path, "bad-pixel map", frame)
    mask = _rad.map_to_product(
        _rad.load_bad_pixels(path), shape, first_line=frame.subframe.first_line,
        first_sample=frame.subframe.first_sample, downsample=frame.downsample)
    return mask, {path.name: _file_digest(path)}


def _plan_debayer(frame: Frame, settings: Settings, *, dn_max: float | None = None) -> _Plan:
    if frame.cfa.state != "encoded" or frame.image.ndim != 2:
        return _Plan(f"debayer: not needed (CFA state {frame.cfa.state})")
    if frame.downsample != (1, 1):
        # pixel averaging mixes the 2x2 cell: one panchromatic band is left, nothing to demosaic
        h, w = frame.downsample
        return _Plan(f"debayer: not needed (binned {h}x{w}: the Bayer cell is averaged into one band)",
                     {"cfa": replace(frame.cfa, state="none")})
    pattern = _rad.cfa_phase(frame.cfa.pattern or "RGGB", frame.subframe.first_line, frame.subframe.first_sample)
    method = settings.chain.debayer
    if method == "vng" and frame.image.dtype != np.uint8:
        raise ProductError(frame.product_id, f"VNG demosaicking (OpenCV) takes 8-bit data; this frame holds "
                           f"{frame.image.dtype} DN: choose malvar, bilinear or edge_aware")
    if method == "edge_aware" and frame.image.dtype.kind != "u":
        raise ProductError(frame.product_id, f"edge-aware demosaicking (OpenCV) takes integer DN, got {frame.image.dtype}")
    cam = settings.camera(frame.instrument)
    mask, files = _bad_mask(frame, cam, settings, frame.image.shape)
    # Malvar's negative taps can overshoot: clamp to what the detector can produce
    bits = frame.companding.original_bits
    hi = float(2**bits - 1) if bits else float(dn_max if dn_max is not None else np.max(frame.image))
    cfa = replace(frame.cfa, state="decoded", venue="GROUND", method=method.upper())
    repaired = f"bad pixels repaired ({int(mask.sum())}), " if mask is not None else ""
    changes = {"cfa": cfa, "bad_pixels_repaired": mask is not None}
    return _Plan(f"debayer: {repaired}{method} {pattern}", changes, files,
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
              shape: tuple[int, int], origin: tuple[float, float], scale: tuple[float, float],
              min_flat: float) -> NDArray[np.float32]:
    """1 / (flat * s_ob): the per-pixel gain, NaN where the flat is below ``min_flat``; cached."""
    gain: NDArray[np.float32] | None = None
    if flat_key is not None:
        flat_img = _rad.load_flat(flat_key[0])  # the key carries mtime and size: edits reload
        with np.errstate(invalid="ignore", divide="ignore"):
            good = flat_img >= np.float32(min_flat)
            gain = np.where(good, np.float32(1) / flat_img, np.float32(np.nan)).astype(np.float32)
    if onboard is not None:
        # x0, y0 taken in full-resolution detector pixels (origin/scale from the subframe); whether
        # labels mean detector or product pixels is unverified (DOMAIN.md §8.1 [U]); they agree
        # for full frames
        s_ob = _rad.radial_flat(shape, onboard, origin=origin, scale=scale)  # type: ignore[arg-type]
        inv = np.float32(1) / s_ob
        gain = inv if gain is None else gain * (inv[..., None] if gain.ndim == 3 else inv)
    assert gain is not None
    gain.setflags(write=False)
    return gain


@functools.lru_cache(maxsize=16)
def _flat_shape(flat_key: tuple[str, int, int]) -> tuple[int, int]:
    return _rad.load_flat(flat_key[0]).shape[:2]


def _plan_flat(frame: Frame, settings: Settings) -> _Plan:
    if frame.units != "dn":
        raise ProductError(frame.product_id, f"flat expects DN, got {frame.units} (run decompand first)")
    cam = settings.camera(frame.instrument)
    chain_cfg = settings.chain
    steps: list[str] = [f"bias {cam.bias_dn:g} DN"]
    files: dict[str, str] = {}
    rtype: RadiometricType = "spectral_radiance"
    t = frame.exposure_s
    if t is None and chain_cfg.missing_exposure == "relative":
        t, rtype = 1.0, "relative_radiance"
        steps.append("exposure unknown: relative radiance (exposure taken as 1 s)")
        log.warning("%s: no exposure time; radiance is relative", frame.product_id)
    elif not t or t <= 0:
        raise ProductError(frame.product_id, f"exposure duration {frame.exposure_s!r} s is not positive")
    else:
        t = float(t) + cam.exposure_overhead_s
    h, w = frame.image.shape[:2]
    bad = None
    if not frame.bad_pixels_repaired:
        bad, bad_files = _bad_mask(frame, cam, settings, (h, w))
        if bad is not None:
            files.update(bad_files)
            steps.append(f"bad pixels repaired ({int(bad.sum())})")
    flat_key = None
    if cam.flat and frame.ground_flat_applied:
        steps.append("flat already applied (label)")
    elif cam.flat:
        path = _find_calibration_file(cam.flat, settings.calibration_path, "flat field", frame)
        st = path.stat()
        flat_key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        fshape = _flat_shape(flat_key)
        if fshape != (h, w):
            raise CalibrationError(str(path), f"flat is {fshape[1]}x{fshape[0]}, {frame.product_id} is {w}x{h}")
        files[path.name] = _file_digest(path)
        steps.append(f"flat {path.name}")
    onboard = frame.onboard_flat if chain_cfg.undo_onboard_flat else None
    if onboard is not None:
        steps.append("onboard radial flat undone (" + ", ".join(f"{v:g}" for v in onboard) + ")")
    gain = None
    if flat_key is not None or onboard is not None:
        origin = (float(frame.subframe.first_sample - 1), float(frame.subframe.first_line - 1))
        scale = (float(frame.downsample[1]), float(frame.downsample[0]))
        gain = _gain_map(flat_key, onboard, (h, w), origin, scale, chain_cfg.min_flat)
    bands = frame.image.shape[2] if frame.image.ndim == 3 else 1
    f_number = None
    if cam.f_number_table and frame.focal_length_mm:
        f_number = _rad.f_number_at(frame.focal_length_mm, cam.f_number_table)
    k = _rad.responsivity_at(
        cam.responsivity, temperature_c=frame.temperature_c, temperature_ref_c=cam.temperature_ref_c,
        temperature_coefficients=cam.responsivity_temperature_coeff, f_number=f_number,
        f_number_ref=cam.f_number_ref)
    k = k[:bands] if bands == 3 else k[1:2]
    if cam.temperature_ref_c is not None and frame.temperature_c is not None:
        steps.append(f"responsivity at {frame.temperature_c:g} C")
    if f_number is not None and cam.f_number_ref:
        steps.append(f"f/{f_number:g} at {frame.focal_length_mm:g} mm")
    scale_band = 1.0 / (t * k)
    steps.append(f"radiance t={t:g}s")
    if chain_cfg.zenith_scaling:
        if frame.solar_elevation_deg is None:
            raise ProductError(frame.product_id, "zenith scaling needs the solar elevation; the label has none")
        z = _rad.zenith_scaling(frame.solar_elevation_deg, tau=chain_cfg.zenith_tau, tau_ref=chain_cfg.zenith_tau_ref)
        scale_band = scale_band / z
        rtype = "scaled_spectral_radiance" if rtype == "spectral_radiance" else rtype
        steps.append(f"zenith scaled Z={z:.4g}")
    units: Units = "radiance_camera"
    if chain_cfg.quantity == "iof":
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
    op = {"bias": float(cam.bias_dn), "bad": bad, "gain": gain, "scale": scale_band.astype(np.float32)}
    changes = {"units": units, "radiometric_type": rtype, "bad_pixels_repaired": frame.bad_pixels_repaired or bad is not None}
    return _Plan("flat: " + ", ".join(steps), changes, files, op)


def _plan_color(frame: Frame, settings: Settings) -> _Plan:
    if frame.units not in ("radiance_camera", "iof_camera"):
        raise ProductError(frame.product_id, f"color expects camera radiance or I/F, got {frame.units}")
    out_units = "radiance_srgb" if frame.units == "radiance_camera" else "iof_srgb"
    if frame.image.ndim != 3 or frame.image.shape[2] != 3:
        return _Plan("color: single band, no colour transform", {"units": out_units})
    cam = settings.camera(frame.instrument)
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
    return _Plan(text, {"units": out_units}, {}, {"matrix": srgb_from_camera})


def _plan_undistort(frame: Frame, settings: Settings) -> _Plan:
    h, w = frame.image.shape[:2]
    model = frame.camera_model
    if type(model).__name__ == "CAHV":
        return _Plan("undistort: already CAHV")
    linear = _camera.linearize(model, w, h, fov=settings.chain.linearize_fov)
    maps = _camera.remap_grid(linear, (w, h), model)
    return _Plan(f"undistort: {type(model).__name__} -> CAHV ({settings.chain.linearize_fov} fov)",
                 {"camera_model": linear}, {}, {"maps": maps})


_PLANNERS = {"decompand": _plan_decompand, "debayer": _plan_debayer, "flat": _plan_flat,
             "color": _plan_color, "undistort": _plan_undistort}


# --- pixel operations ----------------------------------------------------------------------------

def _apply_debayer(img: np.ndarray, op: dict[str, Any]) -> NDArray[np.float32]:
    if op["bad"] is not None:
        img = _rad.repair_bad_pixels(img, op["bad"], bayer=True)
        if op["method"] in ("edge_aware", "vng"):  # OpenCV wants the integer type back
            img = np.clip(np.rint(img), 0, op["clip"][1]).astype(np.uint16 if op["method"] == "edge_aware" else np.uint8)
    return _rad.debayer(img, op["pattern"], method=op["method"], clip=op["clip"])


def _apply_flat(img: np.ndarray, op: dict[str, Any], gain_rows: slice = slice(None)) -> NDArray[np.float32]:
    work = _rad.subtract_bias(img, op["bias"])  # a new float32 array: the rest is in place
    if op["bad"] is not None:
        work = _rad.repair_bad_pixels(work, op["bad"][gain_rows], bayer=False)
    gain = op["gain"]
    if gain is not None:
        g = gain[gain_rows]
        if g.ndim == 3 and work.ndim == 2:
            raise CalibrationError("flat", "a three-band flat cannot calibrate a one-band frame")
        np.multiply(work, g[..., None] if work.ndim == 3 and g.ndim == 2 else g, out=work)
    s = op["scale"]
    np.multiply(work, s if work.ndim == 3 else s[0], out=work)
    return work


def _apply_color(img: np.ndarray, op: dict[str, Any]) -> NDArray[np.float32]:
    # cv2.transform: one pass, SIMD; dst[c] = sum_j m[c, j] src[j] (NaN propagates per pixel)
    return cv2.transform(_rad.as_working(img), op["matrix"].astype(np.float32))


def _remap(img: NDArray[np.float32], map_x: np.ndarray, map_y: np.ndarray,
           dst: np.ndarray | None = None) -> NDArray[np.float32]:
    """Bilinear resampling, NaN outside the source (into ``dst`` when given)."""
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, dst=dst, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=_NAN4)



# --- strips for the fused chain ---------------------------------------------------------------

def _calibrate_rows(src: np.ndarray, ya: int, yb: int, plans: dict[str, _Plan]) -> NDArray[np.float32]:
    """Decompand, debayer, flat and colour input lines ``ya:yb`` (float32, camera or sRGB bands)."""
    x = src[ya:yb]
    lut = plans["decompand"].op.get("lut")
    if lut is not None:
        table = lut.values.astype(np.float32)
        x = cv2.LUT(x, table) if x.dtype == np.uint8 else np.take(table, x)
    dop = plans["debayer"].op
    if dop:
        bad = dop["bad"]
        x = _apply_debayer(x, {**dop, "bad": None if bad is None else bad[ya:yb]})
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
            np.multiply(y, gain[ya:yb, :, None], out=y)
        return y
    y = _apply_flat(x, fop, slice(ya, yb))
    return _apply_color(y, cop) if cop else y


@functools.lru_cache(maxsize=8)
def _footprints(linear: Any, model: Any, w: int, h: int) -> tuple[tuple[int, int, int, int], ...]:
    """Per output strip (y0, y1), the input lines (ya, yb) its remap reads; ya = -1: none."""
    map_y = _camera.remap_grid(linear, (w, h), model)[1]  # cached by the camera package
    out = []
    for y0 in range(0, h, _STRIP_LINES):
        y1 = min(h, y0 + _STRIP_LINES)
        strip = map_y[y0:y1]
        finite = strip[np.isfinite(strip)]
        if finite.size == 0:
            out.append((y0, y1, -1, -1))
            continue
        lo = min(max(float(finite.min()), 0.0), h - 1.0)
        hi = min(max(float(finite.max()), 0.0), h - 1.0)
        out.append((y0, y1, math.floor(lo), min(h, math.floor(hi) + 2)))
    return tuple(out)


class _RowCache:
    """Calibrated input lines, computed once each while output strips move down the frame.

    Each strip's footprint (the input lines its remap reads) overlaps the previous one. Lines are
    kept in a buffer: lines above the new footprint are dropped, new ones computed (with the 5x5
    filters' halo, :data:`_HALO`, then cropped) straight into the buffer's free end, and the
    buffer is compacted only when that end is reached, so every input line is calibrated once
    and copied about once.
    """

    def __init__(self, src: np.ndarray, plans: dict[str, _Plan]) -> None:
        self.src, self.plans = src, plans
        self.buf: NDArray[np.float32] | None = None
        self.first = 0  # buffer index of input line ``self.top``
        self.top = 0
        self.count = 0  # lines held

    def _compute(self, c0: int, c1: int) -> NDArray[np.float32]:
        h = self.src.shape[0]
        ya = max(0, c0 - _HALO)
        ya -= ya % 2  # keep the Bayer phase of the block equal to the frame's
        yb = min(h, c1 + _HALO)
        return _calibrate_rows(self.src, ya, yb, self.plans)[c0 - ya:c1 - ya]

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


