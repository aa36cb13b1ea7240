"""Mosaic test data: a synthetic world seen by known cameras, and a ready-made mosaic to publish.

:func:`pointing_camera` and :func:`make_problem` build the mosaic stage's truth problem: frames
are rendered by sampling the synthetic world (:mod:`rovercam.synth.world`, at infinity) at every
pixel centre's ray through an ideal CAHV camera (what ``undistort`` hands the mosaic stage), so
the truth of any mosaic pixel is the world's radiance along its ray. Per-frame gains and
pointing perturbations are drawn from a seeded generator and recorded.

:func:`sample_mosaic` is a deterministic :class:`~rovercam.mosaic.model.Mosaic` (seeded random
radiance with an uncovered sky band, like a cylindrical Navcam panorama) for publishing tests.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - the library is imported where it is used
    from rovercam.camera import CAHV
    from rovercam.mosaic.cylindrical import FrameGeometry
    from rovercam.mosaic.model import Mosaic
    from rovercam.synth.world import Panorama

__all__ = ["TruthProblem", "make_world", "make_problem", "pointing_camera", "rotate_about_centre",
           "small_rotation", "sample_mosaic"]

_UTC = _dt.timezone.utc


def pointing_camera(az_deg: float, el_deg: float, focal_px: float, width: int, height: int,
                    *, roll_deg: float = 0.0) -> CAHV:
    """An ideal CAHV camera at the origin of SITE_FRAME looking at (az, el), rolled by ``roll_deg``:
    :func:`rovercam.camera.camera_from_pose` with yaw = azimuth, pitch = elevation
    (docs/conventions.md#camera-pose-yaw-pitch-roll), principal point at the image centre."""
    from rovercam.camera import camera_from_pose

    return camera_from_pose((0.0, 0.0, 0.0), yaw_deg=az_deg, pitch_deg=el_deg, roll_deg=roll_deg,
                            focal_px=focal_px, width=width, height=height)


def small_rotation(w: np.ndarray) -> np.ndarray:
    """Rotation matrix of the rotation vector ``w`` (radians), Rodrigues."""
    theta = float(np.linalg.norm(w))
    if theta < 1e-15:
        return np.eye(3)
    k = np.asarray(w) / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx


def rotate_about_centre(model, w: np.ndarray):
    """``model`` turned by the rotation vector ``w`` (radians, model frame) about its centre."""
    r = small_rotation(w)
    return model.transformed(r, model.c - r @ model.c)


def make_world(seed: int = 1, pixel_deg: float = 0.03, el_range: tuple[float, float] = (-40.0, 30.0)) -> Panorama:
    """The synthetic world's radiance panorama (band-limited to ~3 ``pixel_deg``)."""
    from rovercam.synth.world import default_world, render_panorama

    params = dataclasses.replace(default_world(seed, pixel_deg), elevation_range_deg=el_range)
    return render_panorama(params)


@dataclass
class TruthProblem:
    """Frames with truth. ``models`` are the true CAHV models (SITE_FRAME)."""

    world: Panorama
    models: list[CAHV]
    width: int
    height: int
    gains: np.ndarray  # true frame gains: frame = gain x truth (docs/mosaics.md#gains; 1 = none)

    def geometries(self, models: list | None = None) -> list[FrameGeometry]:
        """The frames' geometries (ids ``F000``, ``F001``, ...) under ``models`` or the true ones."""
        from rovercam.mosaic.cylindrical import FrameGeometry

        return [FrameGeometry(f"F{i:03d}", m, self.width, self.height) for i, m in enumerate(models or self.models)]

    def frame(self, i: int, *, with_gain: bool = True) -> np.ndarray:
        """Frame ``i`` (height, width, 3) float32: world radiance at every pixel centre's ray."""
        from rovercam.synth.world import sample_panorama

        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        _, d = self.models[i].unproject(np.stack([xs.ravel(), ys.ravel()], 1))
        az = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
        el = -np.degrees(np.arcsin(np.clip(d[:, 2], -1, 1)))
        img = sample_panorama(self.world, az.reshape(self.height, self.width), el.reshape(self.height, self.width))
        return img * np.float32(self.gains[i]) if with_gain else img

    def truth(self, az_deg: np.ndarray, el_deg: np.ndarray) -> np.ndarray:
        """World radiance (..., 3) float32 at (azimuth, elevation), degrees, SITE_FRAME."""
        from rovercam.synth.world import sample_panorama

        return sample_panorama(self.world, np.asarray(az_deg, np.float64), np.asarray(el_deg, np.float64))

    def write_frames(self, folder: Path, *, with_gain: bool = True) -> list[Path]:
        """Save every frame as ``F<i>.npy`` in ``folder``; returns the paths in frame order."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(len(self.models)):
            p = folder / f"F{i:03d}.npy"
            np.save(p, self.frame(i, with_gain=with_gain))
            paths.append(p)
        return paths


def make_problem(world: Panorama, *, columns: int = 20, tiers: tuple[float, ...] = (-16.0, -3.0),
                 width: int = 1648, height: int = 1200, hfov_deg: float = 25.0, gain_error: float = 0.15,
                 jitter_deg: float = 0.5, az0_deg: float = 0.0, seed: int = 0) -> TruthProblem:
    """A tiered 360-degree pan: ``columns`` frames per tier, pointing jittered, gains drawn
    uniformly in ``1 +- gain_error``."""
    rng = np.random.default_rng(seed)
    focal = (width / 2.0) / math.tan(math.radians(hfov_deg / 2.0))
    models = []
    for el in tiers:
        for k in range(columns):
            az = az0_deg + k * 360.0 / columns + rng.uniform(-jitter_deg, jitter_deg)
            models.append(pointing_camera(az, el + rng.uniform(-jitter_deg, jitter_deg), focal, width, height,
                                          roll_deg=rng.uniform(-jitter_deg, jitter_deg)))
    gains = rng.uniform(1 - gain_error, 1 + gain_error, len(models)) if gain_error else np.ones(len(models))
    return TruthProblem(world, models, width, height, gains)


def sample_mosaic(
    seed: int = 0,
    *,
    sol: int = 100,
    instrument: str = "NAVCAM_LEFT",
    name: str | None = None,
    width: int = 700,
    height: int = 240,
) -> Mosaic:
    """A deterministic synthetic mosaic (the same arguments give the same bytes when published).

    Parameters
    ----------
    seed : int
        Random radiance seed; different seeds give different content (a new version).
    sol, instrument : int, str
        Recorded in the mosaic; the input product ids and times follow from them.
    name : str, optional
        Default ``f"{instrument}_{sol:05d}_CYL"``.
    width, height : int
        Pixels; the top sixth (sky) and the right 7 % are NaN (not covered).

    Returns
    -------
    Mosaic
        ``image`` (height, width, 3) float32 radiance in [0, 0.1) W m-2 sr-1 nm-1; two inputs
        in the provenance; start/stop time on sol-dependent dates (UTC).
    """
    from rovercam.mosaic.model import CylindricalProjection, Mosaic
    from rovercam.provenance import Provenance

    rng = np.random.default_rng(seed)
    image = (rng.random((height, width, 3), dtype=np.float32) * np.float32(0.1)).astype(np.float32)
    image[: height // 6, :] = np.nan
    image[:, width - max(1, width * 7 // 100):] = np.nan
    start = _dt.datetime(2021, 2, 18, tzinfo=_UTC) + _dt.timedelta(days=sol * 1.0275, hours=seed % 12)
    code = instrument[:1] + instrument.split("_")[-1][:1]
    inputs = {f"{code}F_{sol:04d}_{673000000 + 10 * i + seed}_A": f"{(seed + i) % 16:x}" * 64
              for i in range(2)}
    return Mosaic(
        name=name or f"{instrument}_{sol:05d}_CYL",
        sol=sol,
        instrument=instrument,
        image=image,
        projection=CylindricalProjection(az_start_deg=-35.0, el_top_deg=12.0, scale_deg=0.1,
                                         width=width, height=height),
        provenance=Provenance(inputs=inputs, calibration={"FLAT.IMG": "f" * 64},
                              steps=["mosaic: cylindrical"], software_version="0.1.0",
                              config_hash="c" * 64),
        start_time=start,
        stop_time=start + _dt.timedelta(minutes=5),
    )
