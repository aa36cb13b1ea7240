"""Generate a terrain sol: every camera's products over a world with relief, and its truth.

The profiles ``navcam-pan``, ``mastcamz-pan``, ``edl`` and ``full`` (:mod:`rovercam.synth.shots`)
render the terrain of :mod:`rovercam.synth.terrain` through each shot's *true* camera model at
one ray per pixel centre (texture band-limited to the pixel footprint, then a 0.5-px Gaussian
optics blur), run the sensor model (:func:`rovercam.synth.sensor.expose_frame`: vignetting, dark
current, hot and dead pixels, shot and read noise, 10/11/12-bit ADC, companding LUT, onboard
Malvar demosaicking and JPEG where the shot says so) and write Mars 2020 products: PDS3 attached
ODL3 + embedded VICAR, PDS3 detached (.LBL + .IMG) or PDS4 (.xml + .IMG).

Truth (``truth/``): ``manifest.json``; ``panorama.npy``, the equirectangular radiance panorama
*from the mast* (the Navcam bar centre at the template pointing, SITE_FRAME), so
``load_truth(...).radiance_grid(az, el)`` is the exact view from that point (mast rotation moves
the cameras by a few centimetres; objects nearer than a few metres show parallax against it);
``frames/<id>_radiance.npy`` (float16 world RGB at every pixel centre, before blur and noise) and
``frames/<id>_srgb.png``; ``dem/`` with three terrain levels (heights float32 .npy, orthoimage of
the albedo as sRGB PNG, georeference JSON); landmarks (bright dots at known 3-D points) in the
manifest's ``extra``. Frames are rendered in 2 worker processes, each deterministic per
seed and shot, so the output does not depend on scheduling.

With ``xyz_truth`` (the default of the ``stereo`` profiles) every frame also gets
``frames/<id>_xyz.npy``: float32 (lines, samples, 3), the SITE_FRAME point (metres) where the
ray of each pixel centre of the *product grid* hit the terrain, NaN for the sky (and for
Mastcam-Z's dark columns). It is computed from the very rays and distances the radiance was
shaded at. Stereo pairs (both eyes at one SCLK, one sequence) are listed in the manifest's
``stereo_pairs``. The ``stereo`` profiles render a terrain whose rock-free pad under the rover is
1 m in radius (2.2 m otherwise), so rocks lie in the Hazcams' near field. Frames larger than
4 Mpx (``stereo-full``) are rendered in row blocks to bound memory.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.camera.coordinates import azimuth_elevation
from rovercam.products import CFA, Companding, CoordinateSystem, Product, ProductMeta, Subframe
from rovercam.products import format_m2020_id, write_pds3, write_pds4
from rovercam.radiometry import (
    cfa_phase,
    compand,
    design_sqrt_lut,
    srgb_encode,
    write_flat,
    write_lut,
)
from rovercam.synth.calibration import camera_table_path, write_camera_table
from rovercam.synth.cameras import CAMERAS, XYZ_FROM_CAMERA, CameraSpec, sensor_spec
from rovercam.synth.pointing import RoverPose, boresight, navcam_pair, perturbed
from rovercam.synth.sensor import (
    SensorSpec,
    auto_exposure,
    detector_defects,
    expose_frame,
    jpeg_round_trip,
    write_bad_pixel_map,
)
from rovercam.synth.shots import STEREO_PROFILES, Shot, shot_list
from rovercam.synth.terrain import Terrain, TerrainParams, build_terrain
from rovercam.synth.progress import Steps
from rovercam.synth.truth import ExpectedBad, FrameTruth, SolManifest, StereoPairTruth
from rovercam.synth.world import WorldParams

__all__ = ["generate_terrain_sol", "PANORAMA_STEP_DEG", "XYZ_FROM_CAMERA"]

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]

#: Step of the truth panorama from the mast, degrees.
PANORAMA_STEP_DEG = 0.2
_LUTS = {  # name -> design_sqrt_lut keywords (shapes: docs/calibration.md#decompanding)
    "M20_LUT2": dict(in_bits=12),
    "M20_MCZ_LUT0": dict(in_bits=11, floor_dn=2, pedestal_dn=0.0, top_dn=2025, max_dn=2033),
    "M20_EDL_LUT1": dict(in_bits=10, floor_dn=24, pedestal_dn=10.0),
}
_SCLK_SOL0 = 666893698.0
_SOL_S = 88775.244
_WHITE = 0.08  # display white radiance for the sRGB truth images, W m^-2 sr^-1 nm^-1
_STATE: dict[str, Any] = {}  # worker-process state, set by _init_worker in each worker only
_BLOCK_PIXELS = 4 * 2**20  # larger frames are ray cast in row blocks of about this many pixels
_STEREO_ROVER_PAD_M = 1.0  # rock-free pad radius under the rover in the stereo profiles


def _detector_grid(shot: Shot) -> tuple[int, int]:
    if shot.defects_grid is not None:
        return shot.defects_grid
    if shot.frame == "SITE_FRAME":
        return (shot.samples, shot.lines)
    return (5120, 3840)


def _flat(spec: SensorSpec, shot: Shot, samples: int) -> NDArray[np.float32]:
    """Vignetting at the product pixels: ``1 - a r^2 - b r^4``, r = 1 at the detector corner."""
    det_w, det_h = _detector_grid(shot)
    ds = shot.downsample if shot.frame != "SITE_FRAME" else 1
    x = (shot.first_sample - 1) + (np.arange(samples) + 0.5) * ds - 0.5
    y = (shot.first_line - 1) + (np.arange(shot.lines) + 0.5) * ds - 0.5
    x = x - (det_w - 1) / 2.0
    y = y - (det_h - 1) / 2.0
    r2 = (x[None, :] ** 2 + y[:, None] ** 2) / ((det_w - 1) ** 2 / 4.0 + (det_h - 1) ** 2 / 4.0)
    a, b = spec.vignetting
    return (1.0 - a * r2 - b * r2 * r2).astype(np.float32)


def _init_worker(state: dict[str, Any], terrain: Terrain | None = None) -> None:
    """Worker set-up: the shared state, and the terrain (rebuilt from its parameters)."""
    cv2.setNumThreads(1)
    _STATE.clear()
    _STATE.update(state)
    _STATE["terrain"] = terrain if terrain is not None else build_terrain(state["terrain_params"])
    _STATE["rays"] = {}


def _rays(shot: Shot) -> tuple[NDArray, NDArray]:
    cache = _STATE["rays"]
    if shot.template_key not in cache:
        xs, ys = np.meshgrid(np.arange(shot.samples, dtype=np.float64),
                             np.arange(shot.lines, dtype=np.float64))
        o, d = shot.template.unproject(np.column_stack([xs.ravel(), ys.ravel()]))
        if not np.isfinite(d).all():
            raise RuntimeError(f"{shot.template_key}: the model does not invert everywhere")
        if len(cache) > 6:
            cache.clear()
        cache[shot.template_key] = (o, d)
    return cache[shot.template_key]


def _render(shot: Shot, terrain: Terrain, r_site: NDArray, t_site: NDArray, pixel_rad: float,
            want_xyz: bool) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    """Radiance (H, W, 3) of a shot's rays and, with ``want_xyz``, their hit points (float32).

    The hit point of a pixel is ``origin + t * direction`` with the origin, direction and
    distance ``t`` the renderer shaded (NaN on the sky). Frames above ``_BLOCK_PIXELS`` are cast
    in row blocks, their rays unprojected per block (not cached).
    """
    lines, samples = shot.lines, shot.samples
    rows = lines if lines * samples <= _BLOCK_PIXELS else max(1, _BLOCK_PIXELS // samples)
    radiance = np.empty((lines, samples, 3), np.float32)
    xyz = np.empty((lines, samples, 3), np.float32) if want_xyz else None
    for y0 in range(0, lines, rows):
        y1 = min(lines, y0 + rows)
        if rows == lines:
            o_t, d_t = _rays(shot)
        else:
            xs, ys = np.meshgrid(np.arange(samples, dtype=np.float64),
                                 np.arange(y0, y1, dtype=np.float64))
            o_t, d_t = shot.template.unproject(np.column_stack([xs.ravel(), ys.ravel()]))
        origins = (o_t @ r_site.T + t_site).reshape(y1 - y0, samples, 3)
        dirs = (d_t @ r_site.T).reshape(y1 - y0, samples, 3)
        radiance[y0:y1], t = terrain.render_grid(origins, dirs, pixel_rad=pixel_rad,
                                                 solids=shot.solids)
        if xyz is not None:
            xyz[y0:y1] = origins + t[..., None] * dirs
    return radiance, xyz


def _radiance_bands(radiance: NDArray[np.float32], shot: Shot,
                    spec: SensorSpec) -> NDArray[np.float32]:
    """Camera-band radiance: the crosstalk matrix, or a narrowband filter's grey radiance."""
    cam = radiance @ spec.camera_from_world.T.astype(np.float32)
    if shot.wavelength_nm is None:
        return cam
    # world RGB -> a spectrum sampled at the filter (piecewise linear; flat-ish beyond red,
    # Martian dust reflectance rises to ~750 nm)
    lam = shot.wavelength_nm
    knots = np.array([442.0, 480.0, 544.0, 630.0, 750.0, 1022.0])
    b, g, r = radiance[..., 2], radiance[..., 1], radiance[..., 0]
    values = [b * 0.92, b, g, r, r * 1.18, r * 1.08]
    i = int(np.clip(np.searchsorted(knots, lam) - 1, 0, len(knots) - 2))
    w = np.float32((lam - knots[i]) / (knots[i + 1] - knots[i]))
    grey = (1.0 - w) * values[i] + w * values[i + 1]
    # Bayer dyes pass the narrow band with different efficiencies (all ~equal beyond 800 nm)
    qe = np.clip(np.array([np.exp(-((lam - 610.0) / 120.0) ** 2), np.exp(-((lam - 540.0) / 90.0) ** 2),
                           np.exp(-((lam - 460.0) / 70.0) ** 2)]), 0.0, 1.0)
    qe = np.where(lam > 760.0, 0.9, np.maximum(qe, 0.08)).astype(np.float32)
    return grey[..., None] * qe[None, None, :]


def _render_write(shot: Shot) -> dict[str, Any]:
    """Worker: render, expose and write one shot; returns its truth as a dict."""
    st = _STATE
    terrain: Terrain = st["terrain"]
    out: Path = st["out"]
    spec: SensorSpec = st["sensors"][shot.instrument_id]
    cam: CameraSpec = CAMERAS[shot.instrument_id]
    rng = np.random.default_rng(np.random.SeedSequence([st["seed"], 31337, shot.index]))
    r = np.asarray(shot.r)
    t = np.asarray(shot.t)
    if shot.frame == "ROVER_NAV_FRAME":
        r_site = st["r_site_rover"] @ r
        t_site = st["r_site_rover"] @ t + st["t_site_rover"]
    else:
        r_site, t_site = r, t
    model = shot.true_model
    pixel_rad = 1.0 / model.internal().hs
    radiance, xyz = _render(shot, terrain, r_site, t_site, pixel_rad, st["xyz_truth"])
    truth_rad = radiance
    blurred = cv2.GaussianBlur(radiance, (0, 0), 0.5)
    bands = _radiance_bands(blurred, shot, spec)
    flat = _flat(spec, shot, shot.samples)
    rate = bands * np.asarray(spec.responsivity, np.float32) * flat[..., None]
    exposure = auto_exposure(rate, spec)
    onboard_flat = shot.cfa_state == "decoded" or shot.group == "navcam-subframe"
    pattern = cfa_phase("RGGB", shot.first_line, shot.first_sample)
    spec_w = replace(spec, cfa_pattern=pattern)
    defects = None
    if shot.defects_grid is not None:
        defects = detector_defects(shot.instrument_id, *shot.defects_grid,
                                   hot_fraction=cam.hot_fraction, dead_fraction=cam.dead_fraction,
                                   seed=st["seed"])
    origin = (shot.first_sample - 1, shot.first_line - 1)
    lut = st["luts"].get(f"{cam.lut_prefix}{cam.lut_mode}")
    stored, dn = expose_frame(rate, exposure, spec_w, rng, lut=None, cfa_state=shot.cfa_state,
                              dark_dn_per_s=cam.dark_dn_per_s, defects=defects, origin=origin,
                              dark_columns=shot.dark_columns)
    if onboard_flat:  # onboard radial flat: divide above bias, as FLAT_FIELD_CORRECTION says
        f = flat if stored.ndim == 2 else flat[..., None]
        stored = np.clip(np.rint((stored.astype(np.float32) - spec.bias_dn) / f + spec.bias_dn),
                         0, spec.dn_max).astype(np.uint16)
    if lut is not None:
        stored = compand(stored, lut)
    elif stored.dtype != np.uint8 and spec.dn_max <= 255:
        stored = stored.astype(np.uint8)
    if shot.jpeg_quality is not None:
        stored = jpeg_round_trip(stored, shot.jpeg_quality)
    label_model = perturbed(model, st["pointing_error_deg"], rng)
    if shot.dark_columns != (0, 0):
        label_model = label_model.cropped(-shot.dark_columns[0], 0)  # model of the whole row
    sclk = round(st["sclk0"] + shot.seconds, 3)
    pid = format_m2020_id(
        instrument=shot.instrument_id, sol=st["sol"], sclk=sclk, site=st["rover"].site,
        drive=st["rover"].drive, sequence=shot.sequence, filter=shot.filter_code,
        camera_specific=shot.camera_specific,
        compression=f"{shot.jpeg_quality:02d}" if shot.jpeg_quality else "LU",
        sampling="S" if (shot.first_line, shot.first_sample) != (1, 1) else "N")
    product = _product(pid, shot, spec, cam, label_model, exposure, stored, sclk, onboard_flat)
    raw = out / "raw"
    if shot.label_format == "pds3":
        path = write_pds3(raw / f"{pid}.IMG", product, embed_vicar=True)
    elif shot.label_format == "pds3-detached":
        path = write_pds3(raw / f"{pid}.LBL", product, embed_vicar=True, detached=True)
    else:
        path = write_pds4(raw / f"{pid}.xml", product)
    frames_dir = out / "truth" / "frames"
    np.save(frames_dir / f"{pid}_radiance.npy", truth_rad.astype(np.float16))  # zlib: too slow
    srgb = (srgb_encode(np.clip(truth_rad / _WHITE, 0, 1)) * 255 + 0.5).astype(np.uint8)
    cv2.imwrite(str(frames_dir / f"{pid}_srgb.png"), srgb[..., ::-1],
                [cv2.IMWRITE_PNG_COMPRESSION, 1])
    xyz_file = None
    if xyz is not None:  # on the product grid: Mastcam-Z's dark columns have no ray
        xyz = np.pad(xyz, ((0, 0), shot.dark_columns, (0, 0)), constant_values=np.nan)
        xyz_file = f"truth/frames/{pid}_xyz.npy"
        np.save(out / xyz_file, xyz)
    centre = boresight(model, shot.samples, shot.lines)
    az_m, el_m = azimuth_elevation(centre[None, :])
    az_s, el_s = azimuth_elevation((st["r_site_rover"] @ centre if shot.frame ==
                                    "ROVER_NAV_FRAME" else centre)[None, :])
    c_site = (st["r_site_rover"] @ model.c + st["t_site_rover"]) if shot.frame == \
        "ROVER_NAV_FRAME" else model.c
    ft = FrameTruth(
        product_id=pid, path=str(path.relative_to(out)), instrument_id=shot.instrument_id,
        eye="left" if "LEFT" in shot.instrument_id else "right" if "RIGHT" in shot.instrument_id
        else "none", pan_index=int(shot.extra.get("pan_index", shot.index)), sclk=sclk,
        exposure_s=exposure, samples=int(stored.shape[1]), lines=int(stored.shape[0]),
        rover_azimuth_deg=float(az_m[0]), rover_elevation_deg=float(el_m[0]),
        site_azimuth_deg=float(az_s[0] % 360.0), site_elevation_deg=float(el_s[0]),
        saturated_fraction=float(np.mean(dn >= spec.dn_max)),
        true_camera_model=_jsonable(model.to_pds3()),
        label_camera_model=_jsonable(label_model.to_pds3()),
        pointing_error_deg=st["pointing_error_deg"], camera_frame=shot.frame, group=shot.group,
        filter=shot.filter_name, first_line=shot.first_line, first_sample=shot.first_sample,
        downsample=shot.downsample, label_format=shot.label_format,
        camera_centre_site=tuple(float(v) for v in c_site),
        radiance_file=f"truth/frames/{pid}_radiance.npy", srgb_file=f"truth/frames/{pid}_srgb.png",
        xyz_file=xyz_file,
        extra={k: v for k, v in (("altitude_m", shot.altitude_m), ("focal_mm", shot.focal_mm),
                                 ("zoom_count", shot.zoom_count),
                                 ("dark_columns", list(shot.dark_columns)),
                                 ("cfa_state", shot.cfa_state), ("jpeg_quality", shot.jpeg_quality),
                                 ("stereo_pair", shot.pair), *shot.extra.items()) if v is not None})
    return asdict(ft)


def _jsonable(keywords: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in keywords.items()}


def _product(pid: str, shot: Shot, spec: SensorSpec, cam: CameraSpec, model: Any,
             exposure: float, stored: NDArray, sclk: float, onboard_flat: bool) -> Product:
    st = _STATE
    rover: RoverPose = st["rover"]
    frames = st["frames"] if shot.frame == "ROVER_NAV_FRAME" else {}
    if cam.lut_mode == "NONE":
        companding = Companding()
    else:
        companding = Companding(method="SOFTWARE", lut=cam.lut_mode, state="companded",
                                original_bits=cam.bits)
    if shot.cfa_state == "encoded":
        cfa = CFA(pattern="RGGB", state="encoded", venue="NONE", method="RAW_BAYER")
    elif shot.cfa_state == "decoded":
        cfa = CFA(pattern="RGGB", state="decoded", venue="ONBOARD", method="MALVAR")
    else:
        cfa = CFA()
    ds = shot.downsample if shot.frame != "SITE_FRAME" else 1
    lines, samples = stored.shape[:2]
    return Product(ProductMeta(
        product_id=pid, mission="M2020", instrument=shot.instrument_id, sol=st["sol"], sclk=sclk,
        site=rover.site, drive=rover.drive, sequence_id=shot.sequence,
        product_type="ECM", start_time=st["utc"](sclk), camera_model=model,
        camera_frame=shot.frame, coordinate_systems=dict(frames), exposure_s=exposure,
        filter=shot.filter_name, temperature_c=spec.temperature_c, focal_length_mm=shot.focal_mm,
        zoom_position=shot.zoom_count, companding=companding, cfa=cfa,
        subframe=Subframe(first_line=shot.first_line, first_sample=shot.first_sample,
                          lines=lines * ds, samples=samples * ds),
        downsample=(ds, ds), flat_field_applied=onboard_flat), image=stored)


def _write_dem(terrain: Terrain, dem_dir: Path) -> dict[str, Any]:
    """Heights, albedo orthoimage and georeference of three levels (landing area to rover)."""
    dem_dir.mkdir(parents=True, exist_ok=True)
    info = {}
    n = len(terrain.levels)
    for name, k in (("landing_area", 0), ("site", min(2, n - 1)), ("rover", min(4, n - 1))):
        lev = terrain.levels[k]
        np.save(dem_dir / f"{name}_height.npy", lev.height)
        ortho = (srgb_encode(np.clip(lev.albedo / 0.6, 0, 1)) * 255 + 0.5).astype(np.uint8)
        cv2.imwrite(str(dem_dir / f"{name}_ortho.png"), ortho[..., ::-1])
        info[name] = {"height": f"truth/dem/{name}_height.npy",
                      "ortho": f"truth/dem/{name}_ortho.png", "cell_m": lev.cell_m,
                      "north_of_row0_m": lev.n_max, "east_of_col0_m": lev.e_min,
                      "frame": "SITE_FRAME", "height_units": "m, up (z_site = -height)",
                      "ortho_scale": "sRGB of albedo / 0.6",
                      "layout": "row i = north_of_row0 - i*cell, column j = east_of_col0 + j*cell"}
    (dem_dir / "dem.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def _panorama_task(centre_site: NDArray) -> NDArray[np.float32]:
    """Worker: the truth panorama from ``centre_site``."""
    return _panorama(_STATE["terrain"], centre_site, PANORAMA_STEP_DEG, (-85.0, 65.0))


def _panorama(terrain: Terrain, centre_site: NDArray, step: float,
              el_range: tuple[float, float]) -> NDArray[np.float32]:
    width = int(round(360.0 / step))
    height = int(np.floor((el_range[1] - el_range[0]) / step)) + 1
    az = np.radians(np.arange(width) * step)
    el = np.radians(el_range[1] - np.arange(height) * step)
    a, e = np.meshgrid(az, el)
    d = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), -np.sin(e)], axis=-1)
    o = np.broadcast_to(centre_site, d.shape)
    rad, _ = terrain.render_grid(o, d, pixel_rad=np.radians(step))
    return rad


def generate_terrain_sol(out_dir: Path, *, sol: int, profile: str, seed: int, settings: Any,
                         progress: Progress | None, pointing_error_deg: float,
                         utc: Callable[[float], Any], workers: int = 2,
                         select: Callable[[Shot], bool] | None = None,
                         xyz_truth: bool | None = None) -> SolManifest:
    """Generate a terrain profile (called by :func:`rovercam.synth.generate_sol`).

    ``select`` keeps only the shots it accepts (tests generate a few of each kind); every kept
    shot is rendered exactly as in the whole profile (a stereo pair is listed in the manifest
    only when both eyes are kept). ``xyz_truth`` writes each frame's per-pixel hit points
    (``truth/frames/<id>_xyz.npy``, see the module docstring); default: for the ``stereo``
    profiles only, so the other profiles' output stays as it was. ``settings`` is accepted
    and unused: camera values come from :data:`rovercam.synth.cameras.CAMERAS`, and each
    camera used gets its table in ``calibration/cameras/`` (:mod:`rovercam.synth.calibration`).

    OpenCV is switched to one thread for the duration (and restored): worker processes are
    forked, and a forked child must not inherit OpenCV's thread pool.
    """
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return _generate(Path(out_dir), sol=sol, profile=profile, seed=seed, settings=settings,
                         progress=progress, pointing_error_deg=pointing_error_deg, utc=utc,
                         workers=workers, select=select,
                         xyz_truth=profile in STEREO_PROFILES if xyz_truth is None else xyz_truth)
    finally:
        cv2.setNumThreads(threads)


def _generate(out: Path, *, sol: int, profile: str, seed: int, settings: Any,
              progress: Progress | None, pointing_error_deg: float,
              utc: Callable[[float], Any], workers: int,
              select: Callable[[Shot], bool] | None, xyz_truth: bool) -> SolManifest:
    for d in ("raw", "calibration/luts", "calibration/flats", "calibration/cameras",
              "calibration/badpixels", "truth/frames"):
        (out / d).mkdir(parents=True, exist_ok=True)
    base_rover = RoverPose()
    centre = (base_rover.position_m[0], base_rover.position_m[1])
    tparams = TerrainParams(seed=seed, centre_m=centre)
    if profile in STEREO_PROFILES:
        tparams = replace(tparams, rover_pad_m=_STEREO_ROVER_PAD_M)
    terrain = build_terrain(tparams)
    h0 = float(terrain.height(np.array([centre[0]]), np.array([centre[1]]))[0])
    rover = replace(base_rover, position_m=(centre[0], centre[1], -h0))
    shots = shot_list(profile, seed=seed, ground_site=(centre[0], centre[1], -h0))
    if select is not None:
        shots = [s for s in shots if select(s)]
        if not shots:
            raise ValueError("select kept no shot")
    step = Steps(len(shots) + 4, progress, label=f"synth {profile} sol {sol}")

    step("terrain")
    sensors = {iid: sensor_spec(iid) for iid in CAMERAS}  # never from settings
    luts = {name: design_sqrt_lut(name, **kw) for name, kw in _LUTS.items()}
    for name, lut in luts.items():
        write_lut(out / "calibration" / "luts" / f"{name}.txt", lut)
    used = sorted({s.instrument_id for s in shots})
    grids: dict[str, set] = {}
    for s in shots:
        if s.defects_grid is not None:
            grids.setdefault(s.instrument_id, set()).add(s.defects_grid)
    bad_maps = {}
    for iid in used:
        cam = CAMERAS[iid]
        write_camera_table(out / "calibration", sensors[iid], cam=cam)
        primary = next(s for s in shots if s.instrument_id == iid)
        flat = _flat(sensors[iid], primary, primary.samples)
        if primary.dark_columns != (0, 0):
            flat = np.pad(flat, ((0, 0), primary.dark_columns), constant_values=1.0)
        write_flat(out / "calibration" / sensors[iid].flat, flat)
        for grid in sorted(grids.get(iid, ())):
            defects = detector_defects(iid, *grid, hot_fraction=cam.hot_fraction,
                                       dead_fraction=cam.dead_fraction, seed=seed)
            path = write_bad_pixel_map(
                out / "calibration" / "badpixels" / f"{iid}_{grid[0]}x{grid[1]}.txt", defects, iid)
            bad_maps[f"{iid}_{grid[0]}x{grid[1]}"] = str(path.relative_to(out))
    step("calibration files")

    r_site_rover = rover.r_site_rover
    t_site_rover = np.asarray(rover.position_m)
    frames_def = {"ROVER_NAV_FRAME": CoordinateSystem(
        name="ROVER_NAV_FRAME", quaternion=rover.quaternion,
        offset=tuple(float(v) for v in rover.position_m), reference="SITE_FRAME",
        index=(rover.site, rover.drive))}
    lmst_s = 14.5 * 3600.0 * (_SOL_S / 86400.0)
    state = {"terrain_params": tparams, "out": out, "sensors": sensors, "seed": seed, "sol": sol,
             "rover": rover, "frames": frames_def, "r_site_rover": r_site_rover,
             "t_site_rover": t_site_rover, "luts": luts, "pointing_error_deg": pointing_error_deg,
             "sclk0": _SCLK_SOL0 + sol * _SOL_S + lmst_s, "utc": utc, "xyz_truth": xyz_truth}
    pair = navcam_pair(0.25, 1280, 960)
    mast_site = r_site_rover @ pair.bar_centre + t_site_rover
    results: list[dict[str, Any]] = []
    pano: NDArray[np.float32] | None = None
    if workers > 1 and "fork" in mp.get_all_start_methods():
        # fork: workers inherit the terrain; OpenCV runs single-threaded meanwhile (see
        # generate_terrain_sol) so that no thread pool is inherited half-alive
        ctx = mp.get_context("fork")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(state, terrain)) as pool:
            pano_job = pool.apply_async(_panorama_task, (mast_site,))
            for res in pool.imap(_render_write, shots, chunksize=1):
                results.append(res)
                step(f"{res['product_id']} ({res['group']})")
            pano = pano_job.get()
    else:
        saved = dict(_STATE)
        _init_worker(state, terrain)
        try:
            for shot in shots:
                res = _render_write(shot)
                results.append(res)
                step(f"{res['product_id']} ({res['group']})")
        finally:
            _STATE.clear()
            _STATE.update(saved)
    frame_truths = [FrameTruth(**{**r, "camera_centre_site": tuple(r["camera_centre_site"])})
                    for r in results]

    # one product broken on purpose: a copy of the first whose image is cut short
    first = frame_truths[0]
    bad = _truncated_copy(out, first)

    if pano is None:
        pano = _panorama(terrain, mast_site, PANORAMA_STEP_DEG, (-85.0, 65.0))
    stored = pano.astype(np.float16)
    np.save(out / "truth" / "panorama.npy", stored)
    dem = _write_dem(terrain, out / "truth" / "dem")
    step("truth panorama and DEM")

    world = WorldParams(seed=seed, pixel_deg=PANORAMA_STEP_DEG,
                        sun_azimuth_deg=tparams.sun_azimuth_deg,
                        sun_elevation_deg=tparams.sun_elevation_deg)
    manifest = SolManifest(
        profile=profile, seed=seed, sol=sol, world=world, frames=tuple(frame_truths),
        expected_bad=(bad,),
        rover={"heading_deg": rover.heading_deg, "pitch_deg": rover.pitch_deg,
               "roll_deg": rover.roll_deg, "position_m": list(rover.position_m),
               "quaternion": list(rover.quaternion), "site": rover.site, "drive": rover.drive,
               "frame": "ROVER_NAV_FRAME", "reference": "SITE_FRAME"},
        sensors={iid: sensors[iid].to_dict() for iid in used},
        calibration={"luts": {n: f"calibration/luts/{n}.txt" for n in luts},
                     "lut": "calibration/luts/M20_LUT2.txt",
                     "flats": {iid: f"calibration/{sensors[iid].flat}" for iid in used},
                     "cameras": {iid: f"calibration/{camera_table_path(iid)}" for iid in used},
                     "bad_pixels": bad_maps, "search_path": "calibration"},
        panorama={"file": "panorama.npy", "step_deg": PANORAMA_STEP_DEG,
                  "elevation_max_deg": 65.0, "shape": list(stored.shape), "frame": "SITE_FRAME",
                  "origin_site_m": [float(v) for v in mast_site],
                  "units": "W m^-2 sr^-1 nm^-1", "bands": "world RGB = linear sRGB primaries",
                  "sampling": "bilinear, wrap in azimuth; column j = azimuth j*step, "
                              "row i = elevation elevation_max - i*step"},
        supersampling=((0.0, 0.0),), stereo_pairs=_stereo_pairs(shots, frame_truths),
        extra={"world": "terrain", "terrain": _jsonable_params(tparams), "dem": dem,
               "landmarks": [asdict(lm) for lm in terrain.landmarks],
               "optics_blur_sigma_px": 0.5, "rays_per_pixel": 1},
    )
    (out / "truth" / "manifest.json").write_text(manifest.to_json())
    step("truth manifest")
    return manifest


def _stereo_pairs(shots: list[Shot], frames: list[FrameTruth]) -> tuple[StereoPairTruth, ...]:
    """The complete stereo pairs among the rendered shots (``frames[i]`` is ``shots[i]``)."""
    eyes: dict[tuple[str, str, float], dict[str, FrameTruth]] = {}
    for shot, f in zip(shots, frames):
        if shot.pair is not None:
            eyes.setdefault((shot.pair, shot.sequence, shot.seconds), {})[f.eye] = f
    pairs = []
    for (name, sequence, _), both in eyes.items():
        if set(both) == {"left", "right"}:
            left, right = both["left"], both["right"]
            baseline = np.linalg.norm(np.subtract(right.camera_centre_site,
                                                  left.camera_centre_site))
            pairs.append(StereoPairTruth(name=name, left_id=left.product_id,
                                         right_id=right.product_id, sequence=sequence,
                                         sclk=left.sclk, baseline_m=float(baseline)))
    return tuple(pairs)


def _jsonable_params(params: TerrainParams) -> dict[str, Any]:
    data = asdict(params)
    data.pop("sky", None)
    return json.loads(json.dumps(data))


def _truncated_copy(out: Path, first: FrameTruth) -> ExpectedBad:
    """A copy of ``first`` with a new id whose image ends 37 % of the way in (a downlink gap)."""
    src = out / first.path
    new_sclk = first.sclk + 1.0
    old_secs, new_secs = first.product_id[9:19], f"{int(new_sclk):010d}"
    pid = first.product_id.replace(old_secs, new_secs, 1)
    data_src = src.with_suffix(".IMG")
    if first.label_format == "pds3":
        dst = out / "raw" / f"{pid}.IMG"
        text = src.read_bytes().replace(first.product_id.encode(), pid.encode())
        image_bytes = first.samples * first.lines * (3 if first.extra.get("cfa_state") ==
                                                     "decoded" else 1)
        keep = len(text) - image_bytes + int(0.37 * image_bytes)
        dst.write_bytes(text[:keep])
    else:
        dst = out / "raw" / (pid + src.suffix)
        dst.write_bytes(src.read_bytes().replace(first.product_id.encode(), pid.encode()))
        data = data_src.read_bytes()
        (out / "raw" / f"{pid}.IMG").write_bytes(data[: int(0.37 * len(data))])
    reason = "image data truncated (simulated downlink gap): the file ends 37 % into the image"
    return ExpectedBad(product_id=pid, path=str(dst.relative_to(out)), reason=reason)
