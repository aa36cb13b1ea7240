"""Generate a synthetic sol: raw Navcam products, calibration files and ground truth.

One rover position, a mast pan of both Navcam eyes, rendered from the world of
:mod:`rovercam.synth.world` through the true camera models and the sensor model of
:mod:`rovercam.synth.sensor`, written as Mars 2020 ECM-like raw products (8-bit companded,
Bayer RGGB encoded, one band, PDS3 attached label with a CAHVORE model) or, for the heritage
profile, MSL Navcam EDR-like ones (12-bit DN in 16-bit words, monochrome, CAHVOR).

Profiles:

- ``"demo"``: a 360-degree pan of 8 frames per eye on the *demo detector*, the full-frame
  5120x3840 model scaled by 1/4 (1280x960). Real ECAM scale-factor-4 frames are debayered
  onboard; the demo keeps them Bayer-encoded so the ground chain (decompand, debayer, flat,
  colour) is exercised, and its labels describe the scaled grid as the detector itself (no
  pixel averaging, a full-frame subframe of 1280x960), since a Bayer mosaic cannot be binned. Plus one deliberately truncated product.
- ``"tiny"``: 4 frames per eye (a partial pan) at 1/16 (320x240), plus one truncated product:
  fast enough for unit tests.
- ``"heritage-navcam"``: an MSL Navcam (B string) 360-degree pan at elevation -10 degrees, 10
  frames per eye on the full 1024x1024 detector (CAHVOR, 0.82 mrad/px, ~45 degree field, so
  neighbours overlap by ~20 % at the centre row and more towards the corners), INSTRUMENT_ID
  NAV_LEFT_B/NAV_RIGHT_B, product ids ``NLB_<sclk>EDR_F<site><drive>NCAM00530M1``, DN not
  companded (SAMPLE_BIT_METHOD NONE), no CFA. The one band sees world RGB through fixed
  panchromatic weights (:data:`rovercam.synth.cameras.MSL_NAVCAM_PANCHROMATIC`); the truth's
  :meth:`~rovercam.synth.Truth.gray_radiance_grid` applies the same weights. Plus one truncated
  product.

Every camera's sensor values are the generator's own (:data:`rovercam.synth.cameras.CAMERAS`),
never read from the pipeline's settings; ``calibration/cameras/<camera>.toml`` records them
(:mod:`rovercam.synth.calibration`).

With the Navcam's ~97-degree horizontal field, 8 frames over 360 degrees overlap their
neighbours by ~55 % (5 frames would give ~25 %); the truth manifest records the overlap.
Labels carry ROVER_COORDINATE_SYSTEM (rover -> SITE_FRAME). SITE_COORDINATE_SYSTEM (this site in
the previous one) is not written yet: the reader keys frames by name, so a SITE_FRAME whose
reference is SITE_FRAME would read as a cycle.
"""
from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.camera.coordinates import azimuth_elevation
from rovercam.errors import ParameterError
from rovercam.products import CFA, Companding, CoordinateSystem, Product, ProductMeta, Subframe
from rovercam.products import format_m2020_id, write_pds3
from rovercam.radiometry import design_sqrt_lut, write_flat, write_lut
from rovercam.synth.calibration import camera_table_path, write_camera_table
from rovercam.synth.cameras import msl_navcam_left_model, sensor_spec
from rovercam.synth.heritage import format_msl_id, msl_sclk
from rovercam.synth.pointing import (
    NavcamPair,
    RoverPose,
    boresight,
    mast_pan,
    mast_rotation,
    navcam_pair,
    perturbed,
)
from rovercam.synth.sensor import (
    SensorSpec,
    auto_exposure,
    expose,
    expose_frame,
    vignetting_flat,
)
from rovercam.synth.shots import TERRAIN_PROFILES
from rovercam.synth.progress import Steps
from rovercam.synth.truth import ExpectedBad, FrameTruth, SolManifest
from rovercam.synth.world import Panorama, default_world, render_panorama, sample_panorama

__all__ = ["generate_sol", "Profile", "PROFILES", "Rig", "RIGS", "default_sensors", "MAX_GENERATED_SOL"]

#: The largest sol the generator writes: product ids carry the sol in four digits.
MAX_GENERATED_SOL = 9999

log = logging.getLogger(__name__)

ProfileName = Literal["demo", "tiny", "heritage-navcam", "navcam-pan", "mastcamz-pan", "edl",
                      "full", "stereo", "stereo-full"]
Progress = Callable[[int, int, str], None]

#: Sub-pixel offsets (x, y) averaged per frame pixel (2x2 supersampling).
SUPERSAMPLING = ((-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25))
#: Mars 2020 SCLK at local mean midnight starting sol 0 (fitted to the sol-670 raw-site sidecar:
#: SCLK 726421425 at LMST 13:03:40), seconds; one sol is 88775.244 s.
_SCLK_SOL0 = 666893698.0
_SOL_S = 88775.244
#: SCLK zero in UTC (approximate: leap seconds are ignored, this is synthetic data).
_SCLK_EPOCH = _dt.datetime(2000, 1, 1, 11, 58, 55, 816000)
_PAN_LMST_H = 14.5
_FRAME_INTERVAL_S = 14.0
_SEQUENCE_ID = "NCAM00530"


@dataclass(frozen=True, slots=True)
class Rig:
    """The stereo pair of a pan profile and how its products are written.

    ``mission`` picks the product naming and clock (Mars 2020 ids and SCLK, or MSL
    engineering-camera ids and SCLK, :mod:`rovercam.synth.heritage`); ``template`` the
    full-resolution left-eye model (None: the Mars 2020 sol-670 Navcam).
    """

    name: str
    left: str
    right: str
    mission: Literal["M2020", "MSL"]
    product_type: str

    def template(self) -> Any:
        """Full-resolution left-eye camera model, or None for the default Navcam template."""
        return msl_navcam_left_model() if self.mission == "MSL" else None


RIGS: dict[str, Rig] = {
    "m2020-navcam": Rig("m2020-navcam", "NAVCAM_LEFT", "NAVCAM_RIGHT", "M2020", "ECM"),
    "msl-navcam": Rig("msl-navcam", "NAV_LEFT_B", "NAV_RIGHT_B", "MSL", "EDR"),
}


@dataclass(frozen=True, slots=True)
class Profile:
    """A generation profile: the camera pair, detector scale and the mast pan."""

    name: str
    scale: float  # product pixels per full-resolution pixel
    frames_per_eye: int
    pan_elevation_deg: float
    pan_step_deg: float | None  # None: 360 / frames_per_eye
    start_azimuth_deg: float
    camera_specific: str  # M2020 product-id positions 46-49: tile index + downsample code
    rig: str = "m2020-navcam"


PROFILES: dict[str, Profile] = {
    "demo": Profile("demo", 1 / 4, 8, -14.0, None, 0.0, "01_2"),
    "tiny": Profile("tiny", 1 / 16, 4, -14.0, 60.0, 0.0, "01_2"),
    "heritage-navcam": Profile("heritage-navcam", 1.0, 10, -10.0, None, 0.0, "", "msl-navcam"),
}


def default_sensors(rig: str = "m2020-navcam") -> dict[str, SensorSpec]:
    """Sensor specs of both eyes of a rig (the generator's own values, never settings)."""
    r = RIGS[rig]
    return {iid: sensor_spec(iid) for iid in (r.left, r.right)}


def _sclk(sol: int, seconds_after_start: float, mission: str = "M2020") -> float:
    if mission == "MSL":
        return msl_sclk(sol, _PAN_LMST_H, seconds_after_start)
    lmst_s = _PAN_LMST_H * 3600.0 * (_SOL_S / 86400.0)
    return round(_SCLK_SOL0 + sol * _SOL_S + lmst_s + seconds_after_start, 3)


def sclk_to_utc(sclk: float) -> _dt.datetime:
    """UTC of a spacecraft clock reading (s) on the generator's clock (epoch and rate fixed)."""
    return _SCLK_EPOCH + _dt.timedelta(seconds=sclk)


def _supersampled_directions(pair: NavcamPair) -> NDArray[np.float32]:
    """Left-eye ray directions (2H*2W, 3) at the template pointing, rover frame."""
    xs = np.arange(2 * pair.samples) / 2.0 - 0.25
    ys = np.arange(2 * pair.lines) / 2.0 - 0.25
    gx, gy = np.meshgrid(xs, ys)
    _, dirs = pair.left.unproject(np.column_stack([gx.ravel(), gy.ravel()]), exact_origins=False)
    if not np.isfinite(dirs).all():
        raise RuntimeError("the Navcam template does not invert over the whole detector")
    return dirs.astype(np.float32)


def _signal_rate(radiance: NDArray[np.float32], spec: SensorSpec,
                 flat: NDArray[np.float32]) -> NDArray[np.float32]:
    """Noiseless signal, DN s^-1: (H, W, 3) camera bands, or (H, W) for a panchromatic camera."""
    if spec.panchromatic is not None:
        gray = radiance @ np.asarray(spec.panchromatic, np.float32)
        return gray * np.float32(spec.responsivity[0]) * flat
    cam = radiance @ spec.camera_from_world.T.astype(np.float32)
    return cam * np.asarray(spec.responsivity, np.float32) * flat[..., None]


def _expose(rate: NDArray[np.float32], exposure: float, spec: SensorSpec, lut: Any,
            rng: np.random.Generator) -> tuple[NDArray, NDArray[np.uint16]]:
    """Stored pixels (companded Bayer codes, or monochrome DN) and the DN before companding."""
    if spec.cfa_pattern is None:
        return expose_frame(rate, exposure, spec, rng, lut=lut, cfa_state="none")
    return expose(rate, exposure, spec, lut, rng)


def _product_id(rig: Rig, iid: str, sol: int, sclk: float, rover: RoverPose,
                prof: Profile) -> str:
    if rig.mission == "MSL":
        return format_msl_id(instrument=iid, sclk=sclk, site=rover.site, drive=rover.drive,
                             sequence=_SEQUENCE_ID, product_type=rig.product_type)
    return format_m2020_id(instrument=iid, sol=sol, sclk=sclk, site=rover.site,
                           drive=rover.drive, sequence=_SEQUENCE_ID, filter="M",
                           camera_specific=prof.camera_specific, compression="LU")


def _render(panorama: Panorama, dirs_template: NDArray[np.float32],
            r_site_template: NDArray[np.float64], lines: int, samples: int) -> NDArray[np.float32]:
    """World radiance (H, W, 3) averaged over the 2x2 sub-pixel rays of every pixel."""
    d = dirs_template @ r_site_template.T.astype(np.float32)
    az = np.degrees(np.arctan2(d[:, 1], d[:, 0])).reshape(2 * lines, 2 * samples)
    el = -np.degrees(np.arcsin(np.clip(d[:, 2], -1.0, 1.0))).reshape(2 * lines, 2 * samples)
    rad = sample_panorama(panorama, az, el)
    return cv2.resize(rad, (samples, lines), interpolation=cv2.INTER_AREA)  # exact 2x2 means


def generate_sol(out_dir: Path, *, sol: int = 100, profile: ProfileName = "demo", seed: int = 0,
                 settings: Any = None, progress: Progress | None = None,
                 pointing_error_deg: float = 0.0, xyz_truth: bool | None = None) -> SolManifest:
    """Generate a synthetic sol with its ground truth.

    Parameters
    ----------
    out_dir : path-like
        Created if needed. Receives ``raw/<PRODUCT_ID>.IMG``, ``calibration/luts/M20_LUT2.txt``
        (not for uncompanded heritage DN), ``calibration/flats/<CAMERA>_flat.tif``,
        ``calibration/cameras/<camera>.toml`` and ``truth/`` (manifest.json, panorama.npy).
        Nothing is written outside it.
    sol : int, keyword-only
        Sol number (0-9999).
    profile : {"demo", "tiny", "heritage-navcam", "navcam-pan", "mastcamz-pan", "edl", "full", \
"stereo", "stereo-full"}
        Keyword-only. ``demo``/``tiny``/``heritage-navcam``: see the module docstring (world at
        infinity). The others render the
        terrain world with every camera (:mod:`rovercam.synth.shots`,
        :mod:`rovercam.synth.mission`); ``stereo`` is Navcam, Front/Rear Hazcam and Mastcam-Z
        stereo pairs over the near field, ``stereo-full`` one full-size (5120x3840) Navcam pair.
    seed : int, keyword-only
        Everything is deterministic per seed.
    settings : rovercam.config.Settings, optional
        Accepted for the callers that pass it; camera values never come from it (the generator
        owns its cameras, :data:`rovercam.synth.cameras.CAMERAS`, and writes their tables to
        ``calibration/cameras/``).
    progress : callable, optional
        ``progress(done, total, message)`` after each step.
    pointing_error_deg : float, keyword-only
        Sigma (deg, per axis) of the pointing-knowledge error applied to the label models; 0
        writes the true models.
    xyz_truth : bool, optional, keyword-only
        Terrain profiles: write each frame's per-pixel 3-D truth (``truth/frames/<id>_xyz.npy``,
        :meth:`rovercam.synth.Truth.frame_xyz`). Default: only for ``stereo`` and
        ``stereo-full``. Ignored by the profiles whose world is at infinity.

    Returns
    -------
    SolManifest
        Also written to ``truth/manifest.json``.
    """
    if profile not in PROFILES and profile not in TERRAIN_PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES) + list(TERRAIN_PROFILES)}, "
                         f"got {profile!r}")
    if not 0 <= sol <= MAX_GENERATED_SOL:
        raise ParameterError(f"sol must be in 0..{MAX_GENERATED_SOL} (generated product ids carry a four-digit "
                             f"sol), got {sol!r}")
    if pointing_error_deg < 0:
        raise ValueError(f"pointing_error_deg must be >= 0, got {pointing_error_deg!r}")
    if profile in TERRAIN_PROFILES:
        from rovercam.synth.mission import generate_terrain_sol

        return generate_terrain_sol(out_dir, sol=sol, profile=profile, seed=seed,
                                    settings=settings, progress=progress,
                                    pointing_error_deg=pointing_error_deg, utc=sclk_to_utc,
                                    xyz_truth=xyz_truth)
    prof = PROFILES[profile]
    rig = RIGS[prof.rig]
    sensors = default_sensors(prof.rig)
    out = Path(out_dir)
    raw_dir, cal_dir, truth_dir = out / "raw", out / "calibration", out / "truth"
    for d in (raw_dir, cal_dir / "flats", cal_dir / "cameras", truth_dir):
        d.mkdir(parents=True, exist_ok=True)

    left_spec = sensors[rig.left]
    samples = int(round(left_spec.detector_samples * prof.scale))
    lines = int(round(left_spec.detector_lines * prof.scale))
    pair = navcam_pair(prof.scale, samples, lines, template=rig.template())
    pixel_deg = float(np.degrees(1.0 / pair.left.internal().hs))
    world = default_world(seed, pixel_deg)
    pan = mast_pan(prof.frames_per_eye, elevation_deg=prof.pan_elevation_deg,
                   start_azimuth_deg=prof.start_azimuth_deg, step_deg=prof.pan_step_deg)
    eyes = ((rig.left, "left"), (rig.right, "right"))
    step = Steps(3 + len(pan) * len(eyes) + 1, progress, label=f"synth {profile} sol {sol}")

    panorama = render_panorama(world)
    # Frames are rendered from exactly what the truth stores (float16 on disk).
    stored = panorama.data.astype(np.float16)
    panorama = Panorama(data=stored.astype(np.float32), step_deg=panorama.step_deg,
                        elevation_max_deg=panorama.elevation_max_deg)
    np.save(truth_dir / "panorama.npy", stored)
    step("world panorama")

    lut, lut_path = None, None
    if left_spec.lut_name is not None:
        (cal_dir / "luts").mkdir(exist_ok=True)
        lut = design_sqrt_lut(left_spec.lut_name, in_bits=12)
        lut_path = write_lut(cal_dir / "luts" / f"{left_spec.lut_name}.txt", lut)
    flats: dict[str, NDArray[np.float32]] = {}
    for iid, _ in eyes:
        flats[iid] = vignetting_flat(sensors[iid], lines, samples)
        write_flat(cal_dir / sensors[iid].flat, flats[iid])
        write_camera_table(cal_dir, sensors[iid])
    dirs_template = _supersampled_directions(pair)
    step("calibration files and camera rays")

    rover = RoverPose()
    r_site_rover = rover.r_site_rover
    frames_def = {
        "ROVER_NAV_FRAME": CoordinateSystem(
            name="ROVER_NAV_FRAME", quaternion=rover.quaternion,
            offset=tuple(float(v) for v in rover.position_m), reference="SITE_FRAME",
            index=(rover.site, rover.drive)),
    }
    frame_truths: list[FrameTruth] = []
    first_left: tuple[Product, NDArray] | None = None
    for k, target in enumerate(pan):
        r_head, t_head = mast_rotation(pair.pointing, target, bar_centre=pair.bar_centre)
        sclk = _sclk(sol, k * _FRAME_INTERVAL_S, rig.mission)
        for iid, eye in eyes:
            spec = sensors[iid]
            template = pair.left if eye == "left" else pair.right
            true_model = template.transformed(r_head, t_head)
            r_rover_template = r_head if eye == "left" else r_head @ pair.r_right_left
            radiance = _render(panorama, dirs_template, r_site_rover @ r_rover_template,
                               lines, samples)
            rate = _signal_rate(radiance, spec, flats[iid])
            exposure = auto_exposure(rate, spec)
            eye_index = 0 if eye == "left" else 1
            rng = np.random.default_rng(np.random.SeedSequence([seed, 1009, k, eye_index]))
            codes, dn = _expose(rate, exposure, spec, lut, rng)
            label_model = perturbed(true_model, pointing_error_deg, rng)
            pid = _product_id(rig, iid, sol, sclk, rover, prof)
            product = _product(pid, rig, iid, sol, sclk, rover, label_model, frames_def,
                               exposure, spec, codes)
            path = raw_dir / f"{pid}.IMG"
            write_pds3(path, product, embed_vicar=True)
            centre = boresight(true_model, samples, lines)
            az_r, el_r = azimuth_elevation(centre[None, :])
            az_s, el_s = azimuth_elevation((r_site_rover @ centre)[None, :])
            frame_truths.append(FrameTruth(
                product_id=pid, path=str(path.relative_to(out)), instrument_id=iid, eye=eye,
                pan_index=k, sclk=sclk, exposure_s=exposure, samples=samples, lines=lines,
                rover_azimuth_deg=float(az_r[0]), rover_elevation_deg=float(el_r[0]),
                site_azimuth_deg=float(az_s[0] % 360.0), site_elevation_deg=float(el_s[0]),
                saturated_fraction=float(np.mean(dn >= spec.dn_max)),
                true_camera_model=_jsonable(true_model.to_pds3()),
                label_camera_model=_jsonable(label_model.to_pds3()),
                pointing_error_deg=pointing_error_deg))
            if first_left is None:
                first_left = (product, codes)
            step(f"{pid} exposure {exposure * 1000:.2f} ms")

    bad = _write_truncated(raw_dir, out, first_left, sol, rover, prof, rig)
    step(f"{bad.product_id} (truncated on purpose)")

    manifest = SolManifest(
        profile=profile, seed=seed, sol=sol, world=world, frames=tuple(frame_truths),
        expected_bad=(bad,),
        rover={"heading_deg": rover.heading_deg, "pitch_deg": rover.pitch_deg,
               "roll_deg": rover.roll_deg, "position_m": list(rover.position_m),
               "quaternion": list(rover.quaternion), "site": rover.site, "drive": rover.drive,
               "frame": "ROVER_NAV_FRAME", "reference": "SITE_FRAME"},
        sensors={iid: s.to_dict() for iid, s in sensors.items()},
        calibration={**({"lut": str(lut_path.relative_to(out))} if lut_path else {}),
                     "flats": {iid: str((cal_dir / sensors[iid].flat).relative_to(out))
                               for iid, _ in eyes},
                     "cameras": {iid: f"calibration/{camera_table_path(iid)}"
                                 for iid, _ in eyes},
                     "search_path": "calibration"},
        panorama={"file": "panorama.npy", "step_deg": panorama.step_deg,
                  "elevation_max_deg": panorama.elevation_max_deg,
                  "shape": list(stored.shape), "frame": "SITE_FRAME",
                  "units": "W m^-2 sr^-1 nm^-1", "bands": "world RGB = linear sRGB primaries",
                  "sampling": "bilinear, wrap in azimuth; column j = azimuth j*step, "
                              "row i = elevation elevation_max - i*step",
                  **({"gray_weights": list(left_spec.panchromatic)}
                     if left_spec.panchromatic is not None else {})},
        supersampling=SUPERSAMPLING,
        extra={"pan_overlap": _overlap(prof, pixel_deg, samples)},
    )
    (truth_dir / "manifest.json").write_text(manifest.to_json())
    step("truth manifest")
    return manifest


def _overlap(prof: Profile, pixel_deg: float, samples: int) -> float:
    """Fraction of a frame's horizontal field shared with its pan neighbour (at the centre row)."""
    step = prof.pan_step_deg if prof.pan_step_deg is not None else 360.0 / prof.frames_per_eye
    hfov = samples * pixel_deg
    return round(max(0.0, 1.0 - step / hfov), 3)


def _jsonable(keywords: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in keywords.items()}


def _product(pid: str, rig: Rig, iid: str, sol: int, sclk: float, rover: RoverPose, model: Any,
             frames: dict[str, CoordinateSystem], exposure: float, spec: SensorSpec,
             codes: NDArray) -> Product:
    # The demo detector *is* the product grid (see the module docstring): a Bayer mosaic
    # cannot be pixel-averaged, so the labels declare no downsampling and a subframe equal to
    # the whole (scaled) detector.
    lines, samples = codes.shape
    if spec.lut_name is None:  # heritage EDR: DN as read out, SAMPLE_BIT_METHOD NONE
        companding = Companding()
    else:
        companding = Companding(method="SOFTWARE", lut=spec.lut_mode, state="companded",
                                original_bits=12)
    if spec.cfa_pattern is None:
        cfa = CFA()
    else:  # Raw (not JPEG) MIPL labels say CFA_VENUE NONE, BAYER_METHOD RAW_BAYER.
        cfa = CFA(pattern=spec.cfa_pattern, state="encoded",  # type: ignore[arg-type]
                  venue="NONE", method="RAW_BAYER")
    return Product(ProductMeta(
        product_id=pid, mission=rig.mission, instrument=iid, sol=sol, sclk=sclk,
        site=rover.site, drive=rover.drive, sequence_id=_SEQUENCE_ID,
        product_type=rig.product_type, start_time=sclk_to_utc(sclk), camera_model=model,
        camera_frame="ROVER_NAV_FRAME", coordinate_systems=dict(frames), exposure_s=exposure,
        temperature_c=spec.temperature_c, companding=companding, cfa=cfa,
        subframe=Subframe(first_line=1, first_sample=1, lines=lines, samples=samples),
        downsample=(1, 1),
    ), image=codes)


def _write_truncated(raw_dir: Path, out: Path, first: tuple[Product, NDArray] | None,
                     sol: int, rover: RoverPose, prof: Profile, rig: Rig) -> ExpectedBad:
    """A repeat of the first left frame whose file ends 37 % into the image (a downlink gap)."""
    if first is None:
        raise ValueError("no frame was generated to break")
    product, codes = first
    sclk = _sclk(sol, (prof.frames_per_eye + 1) * _FRAME_INTERVAL_S, rig.mission)
    pid = _product_id(rig, product.instrument, sol, sclk, rover, prof)
    broken = replace(product, meta=replace(product.meta, product_id=pid, sclk=sclk, start_time=sclk_to_utc(sclk)),
                     image=codes)
    path = raw_dir / f"{pid}.IMG"
    write_pds3(path, broken, embed_vicar=True)
    size = path.stat().st_size
    image_bytes = codes.nbytes
    keep = size - image_bytes + int(0.37 * image_bytes)
    with open(path, "r+b") as f:
        f.truncate(keep)
    reason = (f"image data truncated: the file ends {keep - (size - image_bytes)} bytes into the "
              f"{image_bytes}-byte image (simulated downlink gap)")
    return ExpectedBad(product_id=pid, path=str(path.relative_to(out)), reason=reason)
