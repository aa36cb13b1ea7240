"""The synthetic sensor: world radiance to 12-bit Bayer DN to 8-bit companded codes.

Per pixel (the forward model the frame chain inverts, docs/calibration.md#radiance):

1. world RGB radiance ``L_world`` (W m^-2 sr^-1 nm^-1, linear sRGB primaries) through the
   camera's spectral crosstalk: ``L_cam = camera_from_world @ L_world`` with
   ``camera_from_world = inv(SRGB_FROM_XYZ @ xyz_from_camera)``, so that the pipeline's colour
   path (camera -> XYZ by ``xyz_from_camera``, XYZ -> linear sRGB by the D65 matrix) recovers
   the world RGB exactly. A panchromatic (monochrome) camera instead sees one band,
   ``L_gray = panchromatic @ L_world`` (weights summing to 1);
2. ``DN = L_cam * responsivity * exposure_s * flat(x, y) + bias``;
3. Bayer sampling (the detector keeps one band per pixel), shot noise (``gain_e_per_dn``
   electrons per DN, Gaussian approximation of Poisson) and read noise, rounding, clipping to
   0..dn_max (12 bits for ECAM);
4. 12 -> 8 bit companding through the inverse LUT the generator writes (none for cameras whose
   ``lut_mode`` is ``"NONE"``).

:class:`SensorSpec` holds the parameters. The generator's own cameras build theirs from
:data:`rovercam.synth.cameras.CAMERAS` (:func:`rovercam.synth.cameras.sensor_spec`) and write
them beside the sol as camera tables (:mod:`rovercam.synth.calibration`), so the pipeline
calibrates a generated sol with exactly the values that made it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2

import numpy as np
from numpy.typing import NDArray

from rovercam.radiometry import SRGB_FROM_XYZ, compand, debayer, mosaic
from rovercam.radiometry.lut import InverseLUT

__all__ = ["SensorSpec", "vignetting_flat", "auto_exposure", "expose", "Defects",
           "detector_defects", "expose_frame", "jpeg_round_trip", "write_bad_pixel_map"]

#: Auto-exposure target: this percentile of the brightest band's signal lands at ...
_AE_PERCENTILE = 99.5
#: ... this fraction of the range above bias.
_AE_FILL = 0.72
#: Exposure times are commanded in steps of this many seconds (real labels: 11.111 ms).
_EXPOSURE_QUANTUM_S = 1e-5


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """Radiometric parameters of one synthetic camera.

    Parameters
    ----------
    instrument_id, code : str
        ``"NAVCAM_LEFT"``, ``"NL"``.
    detector_samples, detector_lines : int
        Full-resolution detector size (5120 x 3840 for ECAM).
    cfa_pattern : {"RGGB", "GRBG", "GBRG", "BGGR"} or None
        Bayer pattern at the detector origin; None for a monochrome detector.
    lut_prefix : str
        Prefix of the inverse-LUT file name (``"M20_"`` -> ``M20_LUT2.txt``).
    bias_dn : float
        Constant bias (DN).
    responsivity : (3,) float
        DN s^-1 per W m^-2 sr^-1 nm^-1, camera R, G, B (three equal numbers for one band).
    xyz_from_camera : (3, 3) float or None
        Camera RGB -> CIE XYZ (D65), as the pipeline calibrates; None for a panchromatic camera.
    flat : str
        Flat-field file name relative to the calibration folder.
    read_noise_dn, gain_e_per_dn : float
        Read noise (DN rms) and conversion gain (electrons per DN).
    dn_max : int
        Largest DN (12 bits).
    vignetting : (float, float)
        ``flat = 1 - a r^2 - b r^4`` with r = 1 at the detector corner.
    temperature_c : float
        INSTRUMENT_TEMPERATURE written to the labels.
    lut_mode : str
        SAMPLE_BIT_MODE_ID of the companding LUT (``"LUT2"``), ``"NONE"`` for uncompanded DN.
    panchromatic : (3,) float or None
        Weights of world R, G, B in the one band of a monochrome camera (sum 1); None for a
        colour camera.
    """

    instrument_id: str
    code: str
    detector_samples: int
    detector_lines: int
    cfa_pattern: str | None
    lut_prefix: str
    bias_dn: float
    responsivity: tuple[float, float, float]
    xyz_from_camera: tuple[tuple[float, float, float], ...] | None
    flat: str
    read_noise_dn: float
    gain_e_per_dn: float
    dn_max: int = 4095
    vignetting: tuple[float, float] = (0.30, 0.08)
    temperature_c: float = -21.5
    extra: dict[str, Any] = field(default_factory=dict)
    lut_mode: str = "LUT2"
    panchromatic: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if (self.xyz_from_camera is None) == (self.panchromatic is None):
            raise ValueError(f"{self.instrument_id}: give exactly one of xyz_from_camera (colour) "
                             "and panchromatic (monochrome)")
        if self.panchromatic is not None and abs(sum(self.panchromatic) - 1.0) > 1e-9:
            raise ValueError(f"{self.instrument_id}: panchromatic weights must sum to 1, got "
                             f"{self.panchromatic}")

    @classmethod
    def from_camera_settings(cls, cs: Any, **overrides: Any) -> "SensorSpec":
        """Build from a :class:`rovercam.config.CameraSettings` (any object with its fields).

        For callers that simulate a configured camera (the frame benchmark); the generator's
        own cameras never read settings (:func:`rovercam.synth.cameras.sensor_spec`).
        """
        values = dict(
            instrument_id=cs.instrument_id,
            code=cs.code,
            detector_samples=int(cs.detector_samples),
            detector_lines=int(cs.detector_lines),
            cfa_pattern=cs.cfa_pattern or "RGGB",
            lut_prefix=cs.lut_prefix,
            bias_dn=float(cs.bias_dn),
            responsivity=tuple(float(x) for x in cs.responsivity),
            xyz_from_camera=tuple(tuple(float(x) for x in row) for row in cs.xyz_from_camera),
            flat=cs.flat or f"flats/{cs.instrument_id}_flat.tif",
            read_noise_dn=float(cs.read_noise_dn),
            gain_e_per_dn=float(cs.gain_e_per_dn),
        )
        values.update(overrides)
        return cls(**values)

    @property
    def camera_from_world(self) -> NDArray[np.float64]:
        """(3, 3) camera bands from world RGB: ``inv(SRGB_FROM_XYZ @ xyz_from_camera)``.

        A panchromatic camera's three rows are all its weights (every "band" is the one gray
        band), so ``camera_from_world @ L_world`` repeats the gray radiance three times.
        """
        if self.panchromatic is not None:
            return np.tile(np.asarray(self.panchromatic, dtype=np.float64), (3, 1))
        return np.linalg.inv(SRGB_FROM_XYZ @ np.asarray(self.xyz_from_camera, dtype=np.float64))

    @property
    def lut_name(self) -> str | None:
        """File stem of the inverse LUT (``M20_LUT2``); None when the DN are not companded."""
        return None if self.lut_mode == "NONE" else f"{self.lut_prefix}{self.lut_mode}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (the truth manifest records them)."""
        out: dict[str, Any] = {
            "instrument_id": self.instrument_id, "code": self.code,
            "cfa_pattern": self.cfa_pattern, "bias_dn": self.bias_dn,
            "responsivity": list(self.responsivity),
            "xyz_from_camera": (None if self.xyz_from_camera is None
                                else [list(r) for r in self.xyz_from_camera]),
            "camera_from_world": self.camera_from_world.tolist(),
            "read_noise_dn": self.read_noise_dn, "gain_e_per_dn": self.gain_e_per_dn,
            "dn_max": self.dn_max, "vignetting": list(self.vignetting),
            "temperature_c": self.temperature_c, "flat": self.flat,
        }
        if self.panchromatic is not None:
            out["panchromatic"] = list(self.panchromatic)
        return out


def vignetting_flat(spec: SensorSpec, lines: int, samples: int) -> NDArray[np.float32]:
    """The flat field applied by the sensor, at product size: 1.0 at the centre.

    ``flat = 1 - a r^2 - b r^4`` with r the distance from the image centre ((samples-1)/2,
    (lines-1)/2) over the centre-to-corner distance.

    Returns
    -------
    (lines, samples) ndarray of float32
    """
    a, b = spec.vignetting
    x = np.arange(samples, dtype=np.float64) - (samples - 1) / 2.0
    y = np.arange(lines, dtype=np.float64) - (lines - 1) / 2.0
    r2 = (x[None, :] ** 2 + y[:, None] ** 2) / ((samples - 1) ** 2 / 4.0 + (lines - 1) ** 2 / 4.0)
    return (1.0 - a * r2 - b * r2 * r2).astype(np.float32)


def auto_exposure(signal_rate: NDArray[np.float32], spec: SensorSpec, *,
                  limits_s: tuple[float, float] = (1e-4, 2.0)) -> float:
    """Exposure time (s) that puts a high percentile of the signal at a fixed fill of the range.

    Parameters
    ----------
    signal_rate : (H, W, 3) or (H, W) ndarray of float32
        Noiseless signal per second of exposure, DN s^-1 (flat included, bias excluded); 2-D
        for a monochrome sensor.
    spec : SensorSpec
    limits_s : (float, float)
        Shortest and longest commandable exposure.

    Returns
    -------
    float
        Seconds, rounded to the commanding quantum (10 us).
    """
    brightest = signal_rate.max(axis=-1) if signal_rate.ndim == 3 else signal_rate
    peak = float(np.percentile(brightest[::4, ::4], _AE_PERCENTILE))
    target = _AE_FILL * (spec.dn_max - spec.bias_dn)
    t = target / peak if peak > 0 else limits_s[1]
    t = float(np.clip(t, *limits_s))
    return round(round(t / _EXPOSURE_QUANTUM_S) * _EXPOSURE_QUANTUM_S, 8)


def expose(
    signal_rate: NDArray[np.float32], exposure_s: float, spec: SensorSpec, lut: InverseLUT,
    rng: np.random.Generator,
) -> tuple[NDArray[np.uint8], NDArray[np.uint16]]:
    """Integrate, sample through the Bayer CFA, add noise, quantise and compand.

    Parameters
    ----------
    signal_rate : (H, W, 3) ndarray of float32
        Noiseless camera-band signal, DN s^-1 (responsivity and flat applied, no bias).
    exposure_s : float
        Integration time, seconds.
    spec : SensorSpec
    lut : InverseLUT
        Inverse companding table (12-bit).
    rng : numpy.random.Generator

    Returns
    -------
    codes : (H, W) ndarray of uint8
        Companded Bayer-encoded codes, as the product stores them.
    dn : (H, W) ndarray of uint16
        The 12-bit DN before companding (truth for tests).
    """
    bayer = mosaic(signal_rate, spec.cfa_pattern)  # (H, W) float32, one band per pixel
    signal = bayer * np.float32(exposure_s)
    electrons_var = np.maximum(signal, 0.0) / np.float32(spec.gain_e_per_dn)  # shot noise, DN^2
    sigma = np.sqrt(electrons_var + np.float32(spec.read_noise_dn) ** 2)
    noise = sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    noisy = signal + np.float32(spec.bias_dn) + noise
    dn = np.clip(np.rint(noisy), 0, spec.dn_max).astype(np.uint16)
    return compand(dn, lut), dn


@dataclass(frozen=True, slots=True)
class Defects:
    """Bad pixels of a detector grid: 0-based (x, y) of hot and dead pixels and hot gains.

    Hot pixels add ``hot_gain`` times the nominal dark current; dead pixels read bias only.
    """

    samples: int
    lines: int
    hot_xy: NDArray[np.int64]
    hot_gain: NDArray[np.float64]
    dead_xy: NDArray[np.int64]


def detector_defects(instrument_id: str, samples: int, lines: int, *, hot_fraction: float,
                     dead_fraction: float, seed: int) -> Defects:
    """Deterministic hot/dead pixels of one camera's detector grid (same per seed and camera)."""
    key = [seed, 4242, samples, lines] + [ord(ch) for ch in instrument_id]
    rng = np.random.default_rng(np.random.SeedSequence(key))
    n_hot = int(round(hot_fraction * samples * lines)) + 3
    n_dead = int(round(dead_fraction * samples * lines)) + 2
    xy = np.column_stack([rng.integers(2, samples - 2, n_hot + n_dead),
                          rng.integers(2, lines - 2, n_hot + n_dead)])
    return Defects(samples, lines, xy[:n_hot], rng.uniform(50.0, 400.0, n_hot), xy[n_hot:])


def write_bad_pixel_map(path: Path, defects: Defects, instrument_id: str) -> Path:
    """Write a bad-pixel list: a ``#`` header, then ``sample line kind`` (0-based) per pixel.

    ``kind`` is ``HOT`` or ``DEAD``; the header names the camera and the detector grid size.
    """
    rows = [f"# rovercam bad-pixel map: {instrument_id} detector {defects.samples}x{defects.lines}",
            "# sample line kind   (0-based detector pixels, x = sample, y = line)"]
    rows += [f"{x} {y} HOT" for x, y in defects.hot_xy]
    rows += [f"{x} {y} DEAD" for x, y in defects.dead_xy]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def _defect_masks(defects: Defects | None, shape: tuple[int, int],
                  origin: tuple[int, int]) -> tuple[NDArray, NDArray, NDArray]:
    """Hot gain map (H, W) and dead mask of a product window at 0-based detector ``origin``."""
    lines, samples = shape
    hot = np.zeros(shape, np.float32)
    dead = np.zeros(shape, bool)
    if defects is None:
        return hot, dead, np.zeros((0, 2), np.int64)
    x0, y0 = origin
    for xy, gains, is_hot in ((defects.hot_xy, defects.hot_gain, True),
                              (defects.dead_xy, None, False)):
        x, y = xy[:, 0] - x0, xy[:, 1] - y0
        ok = (x >= 0) & (x < samples) & (y >= 0) & (y < lines)
        if is_hot:
            hot[y[ok], x[ok]] = gains[ok]
        else:
            dead[y[ok], x[ok]] = True
    return hot, dead, np.zeros((0, 2), np.int64)


def expose_frame(
    signal_rate: NDArray[np.float32], exposure_s: float, spec: SensorSpec, rng: np.random.Generator,
    *, lut: InverseLUT | None, cfa_state: Literal["encoded", "decoded", "none"],
    dark_dn_per_s: float = 0.0, defects: Defects | None = None,
    origin: tuple[int, int] = (0, 0), dark_columns: tuple[int, int] = (0, 0),
) -> tuple[NDArray, NDArray[np.uint16]]:
    """The full sensor model on one frame window.

    Parameters
    ----------
    signal_rate : (H, W, 3) or (H, W) ndarray of float32
        Noiseless camera-band signal, DN s^-1 (responsivity and flat applied, no bias). With
        ``dark_columns`` it covers the active columns only.
    exposure_s : float
    spec : SensorSpec
    rng : numpy.random.Generator
    lut : InverseLUT or None
        Companding table; None stores the DN themselves (uint16, or uint8 for 8-bit sensors).
    cfa_state : {"encoded", "decoded", "none"}
        ``encoded``: one Bayer band per pixel; ``decoded``: Bayer-sampled, noised, quantised,
        then demosaicked onboard (Malvar) into 3 bands; ``none``: a monochrome sensor (the mean of
        the bands).
    dark_dn_per_s : float
        Dark current; hot pixels multiply it by their gain.
    defects : Defects, optional
        Detector bad pixels; ``origin`` is the window's 0-based detector (x, y).
    dark_columns : (int, int)
        Masked columns added left and right of the active area (Mastcam-Z: 23, 17): bias, dark
        current and noise, no light.

    Returns
    -------
    stored : ndarray
        Codes (uint8) or DN as the product stores them, (H, W[+dark]) or (H, W, 3).
    dn : (H, W[+dark]) ndarray of uint16
        The quantised mosaic DN before companding/demosaicking (truth for tests).
    """
    left, right = dark_columns
    if signal_rate.ndim == 3 and cfa_state != "none":
        bayer = mosaic(signal_rate, spec.cfa_pattern)
    elif signal_rate.ndim == 3:
        bayer = signal_rate.mean(axis=-1)
    else:
        bayer = signal_rate
    bayer = np.asarray(bayer, np.float32)
    if left or right:
        bayer = np.pad(bayer, ((0, 0), (left, right)))
    hot, dead, _ = _defect_masks(defects, bayer.shape, origin)
    signal = bayer * np.float32(exposure_s)
    signal = signal + np.float32(dark_dn_per_s * exposure_s) * (1.0 + hot)
    signal[dead] = 0.0
    electrons_var = np.maximum(signal, 0.0) / np.float32(spec.gain_e_per_dn)
    sigma = np.sqrt(electrons_var + np.float32(spec.read_noise_dn) ** 2)
    noisy = signal + np.float32(spec.bias_dn) + sigma * rng.standard_normal(signal.shape,
                                                                           dtype=np.float32)
    dn = np.clip(np.rint(noisy), 0, spec.dn_max).astype(np.uint16)
    values: NDArray = dn
    if cfa_state == "decoded":
        values = np.clip(np.rint(debayer(dn, spec.cfa_pattern, method="malvar")), 0,
                         spec.dn_max).astype(np.uint16)  # type: ignore[arg-type]
    if lut is not None:
        return compand(values, lut), dn
    return (values.astype(np.uint8) if spec.dn_max <= 255 else values), dn


def jpeg_round_trip(codes: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    """Lossy onboard compression: encode as baseline JPEG at ``quality`` and decode again."""
    if codes.dtype != np.uint8:
        raise ValueError(f"JPEG holds 8-bit codes, got {codes.dtype}")
    image = codes[..., ::-1] if codes.ndim == 3 else codes  # OpenCV orders colour as BGR
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(decoded[..., ::-1] if codes.ndim == 3 else decoded)
