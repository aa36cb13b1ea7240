"""Ground truth of a synthetic sol: the manifest and the radiance of the world.

A generated sol folder holds ``truth/manifest.json`` (:class:`SolManifest`) and
``truth/panorama.npy``, the world's equirectangular radiance panorama (float16 on disk; frames
were rendered from exactly these values). :func:`load_truth` returns a :class:`Truth` that
evaluates the world's radiance for any SITE_FRAME direction, so a test can build the truth
mosaic on any output grid::

    truth = load_truth(sol_dir)
    rgb = truth.radiance_grid(az_deg, el_deg)   # (H, W, 3) W m^-2 sr^-1 nm^-1, world RGB
    gray = truth.gray_radiance_grid(az_deg, el_deg)  # (H, W): what a panchromatic camera sees

Terrain sols with per-pixel 3-D truth (the ``stereo`` profiles by default) also give, per frame,
the SITE_FRAME point each pixel's ray hit and its range, and list their stereo pairs::

    for pair in truth.stereo_pairs:                  # StereoPairTruth: name, left_id, right_id
        xyz = truth.frame_xyz(pair.left_id)          # (H, W, 3) float32 m, NaN on the sky
        rng = truth.frame_range(pair.left_id)        # (H, W) float32 m from the model's C
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.camera.coordinates import quaternion_to_matrix
from rovercam.errors import RovercamError
from rovercam.synth.world import Panorama, WorldParams, sample_panorama

__all__ = ["SolManifest", "FrameTruth", "ExpectedBad", "StereoPairTruth", "Truth", "load_truth",
           "MANIFEST_FORMAT"]

MANIFEST_FORMAT = "rovercam-synth-truth/1"


@dataclass(frozen=True, slots=True)
class FrameTruth:
    """Truth of one generated product.

    Angles in degrees (azimuth clockwise from +x, elevation up) of the detector-centre ray of the
    TRUE camera model; ``true_camera_model`` / ``label_camera_model`` are the GEOMETRIC_CAMERA_MODEL
    keyword dicts in ROVER_NAV_FRAME (equal unless a pointing-knowledge error was asked for).
    """

    product_id: str
    path: str
    instrument_id: str
    eye: str
    pan_index: int
    sclk: float
    exposure_s: float
    samples: int
    lines: int
    rover_azimuth_deg: float
    rover_elevation_deg: float
    site_azimuth_deg: float
    site_elevation_deg: float
    saturated_fraction: float
    true_camera_model: dict[str, Any]
    label_camera_model: dict[str, Any]
    pointing_error_deg: float = 0.0
    #: Terrain profiles: the model's frame, the shot group, filter, product window, label
    #: format, the camera centre in SITE_FRAME and the per-frame truth files (relative to the
    #: sol folder); ``extra`` holds the rest (EDL altitude, zoom, tile index...).
    camera_frame: str = "ROVER_NAV_FRAME"
    group: str = ""
    filter: str | None = None
    first_line: int = 1
    first_sample: int = 1
    downsample: int = 1
    label_format: str = "pds3"
    camera_centre_site: tuple[float, float, float] | None = None
    radiance_file: str | None = None
    srgb_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Per-pixel 3-D truth (``truth/frames/<id>_xyz.npy``, relative to the sol folder), when
    #: generated: see :meth:`Truth.frame_xyz`. Absent from the JSON when None.
    xyz_file: str | None = None


@dataclass(frozen=True, slots=True)
class ExpectedBad:
    """A product the generator broke on purpose; the pipeline must quarantine it."""

    product_id: str
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class StereoPairTruth:
    """A stereo pair of a generated sol: two eyes exposed at one time.

    Attributes
    ----------
    name : str
        Camera pair: ``"navcam"``, ``"front_hazcam"``, ``"rear_hazcam"`` or ``"mastcamz"``.
    left_id, right_id : str
        Product ids of the left and right eyes (both in :attr:`SolManifest.frames`).
    sequence : str
        Sequence id both eyes share.
    sclk : float
        Spacecraft clock of both eyes, seconds.
    baseline_m : float
        Distance between the two true camera centres (the models' C), metres.
    """

    name: str
    left_id: str
    right_id: str
    sequence: str
    sclk: float
    baseline_m: float


@dataclass(frozen=True, slots=True)
class SolManifest:
    """Everything ``truth/manifest.json`` records about a generated sol.

    ``rover`` holds the rover pose (heading/pitch/roll in degrees, position in metres, the
    ROVER_NAV_FRAME -> SITE_FRAME quaternion); ``sensors`` each camera's sensor parameters
    (:meth:`rovercam.synth.sensor.SensorSpec.to_dict`); ``calibration`` the calibration files
    written, relative to the sol folder; ``panorama`` the truth panorama's file and geometry;
    ``supersampling`` the sub-pixel offsets (pixels) averaged per frame pixel;
    ``stereo_pairs`` the stereo pairs among the frames (absent from the JSON when empty).
    """

    profile: str
    seed: int
    sol: int
    world: WorldParams
    frames: tuple[FrameTruth, ...]
    expected_bad: tuple[ExpectedBad, ...]
    rover: dict[str, Any]
    sensors: dict[str, dict[str, Any]]
    calibration: dict[str, Any]
    panorama: dict[str, Any]
    supersampling: tuple[tuple[float, float], ...]
    format: str = MANIFEST_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)
    stereo_pairs: tuple[StereoPairTruth, ...] = ()

    @property
    def product_ids(self) -> tuple[str, ...]:
        """Ids of the good products, in generation order."""
        return tuple(f.product_id for f in self.frames)

    def frame(self, product_id: str) -> FrameTruth:
        """The truth of one product (KeyError naming it when unknown)."""
        for f in self.frames:
            if f.product_id == product_id:
                return f
        raise KeyError(f"{product_id} is not a good product of this sol")

    def to_json(self) -> str:
        """Deterministic JSON text (sorted keys, 2-space indent).

        ``stereo_pairs`` and the frames' ``xyz_file`` are left out when empty/None, so sols
        without 3-D truth keep the manifest text they always had.
        """
        data = asdict(self)
        data["world"] = self.world.to_dict()
        if not data["stereo_pairs"]:
            del data["stereo_pairs"]
        for f in data["frames"]:
            if f["xyz_file"] is None:
                del f["xyz_file"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "SolManifest":
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        if data.get("format") != MANIFEST_FORMAT:
            raise RovercamError(f"not a {MANIFEST_FORMAT} manifest (format={data.get('format')!r})")
        data["world"] = WorldParams.from_dict(data["world"])
        frames = []
        for f in data["frames"]:
            if f.get("camera_centre_site") is not None:
                f["camera_centre_site"] = tuple(f["camera_centre_site"])
            frames.append(FrameTruth(**f))
        data["frames"] = tuple(frames)
        data["expected_bad"] = tuple(ExpectedBad(**b) for b in data["expected_bad"])
        data["supersampling"] = tuple(tuple(p) for p in data["supersampling"])
        data["stereo_pairs"] = tuple(StereoPairTruth(**p) for p in data.get("stereo_pairs", ()))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Truth:
    """The world of a generated sol: its manifest and its radiance.

    Radiance is in W m^-2 sr^-1 nm^-1, three bands = world RGB (linear sRGB primaries); the world
    is at infinity, so it depends on the direction only (SITE_FRAME, north-east-down). For
    terrain sols the panorama is the view from the mast (:mod:`rovercam.synth.mission`), and
    :meth:`frame_xyz` / :meth:`frame_range` give each frame's per-pixel 3-D truth when the sol
    has it. ``root`` is the sol folder the truth was loaded from.
    """

    manifest: SolManifest
    panorama: Panorama
    root: Path | None = None

    @property
    def stereo_pairs(self) -> tuple[StereoPairTruth, ...]:
        """The sol's stereo pairs (empty for profiles without pairs), in generation order."""
        return self.manifest.stereo_pairs

    def frame_xyz(self, product_id: str, *,
                  frame: Literal["SITE_FRAME", "ROVER_NAV_FRAME"] = "SITE_FRAME"
                  ) -> NDArray[np.float32]:
        """The 3-D point each pixel of a product saw: where its ray hit the terrain.

        Exactly the points the renderer shaded: one ray per pixel centre through the frame's
        *true* camera model (the label model too, unless the sol was generated with a
        pointing-knowledge error), from the model's entrance pupil for that pixel.

        Parameters
        ----------
        product_id : str
            A good product of the sol.
        frame : {"SITE_FRAME", "ROVER_NAV_FRAME"}, keyword-only
            Frame of the result (docs/conventions.md#frames: +x north/forward, +y east/right,
            +z down). ROVER_NAV_FRAME uses the rover pose of the manifest (the labels' frame).

        Returns
        -------
        (H, W, 3) ndarray of float32
            Metres, on the product's own pixel grid: element ``[y, x]`` belongs to pixel
            (x=sample, y=line), 0-based, the grid the label's camera model describes (the
            stored image's ``lines`` x ``samples``). NaN where the ray hit nothing (sky) and in
            Mastcam-Z's dark columns.

        Raises
        ------
        KeyError
            ``product_id`` is not a good product of the sol.
        rovercam.errors.RovercamError
            The sol has no per-pixel 3-D truth for that product, or the truth was not loaded
            from a folder.
        """
        f = self.manifest.frame(product_id)
        if f.xyz_file is None or self.root is None:
            raise RovercamError(f"{product_id}: no per-pixel 3-D truth in this sol (profile "
                                f"{self.manifest.profile!r}; generate with xyz_truth=True)")
        xyz = np.load(self.root / f.xyz_file)
        if frame == "SITE_FRAME":
            return xyz
        if frame != "ROVER_NAV_FRAME":
            raise ValueError(f"frame must be 'SITE_FRAME' or 'ROVER_NAV_FRAME', got {frame!r}")
        rover = self.manifest.rover
        r_site_rover = quaternion_to_matrix(np.asarray(rover["quaternion"], np.float64))
        t_site_rover = np.asarray(rover["position_m"], np.float64)
        p_rover = (xyz.astype(np.float64) - t_site_rover) @ r_site_rover  # R^T (p - t)
        return p_rover.astype(np.float32)

    def frame_range(self, product_id: str) -> NDArray[np.float32]:
        """Range of every pixel of a product: ``|xyz - C|``, metres.

        ``C`` is the true camera model's C (``FrameTruth.camera_centre_site``), as MIPL's RNG
        products measure range from the camera model's C point. For the CAHVORE Hazcams, whose
        entrance pupil moves with the field angle, this differs from the distance along the ray
        by the pupil shift (a few millimetres at most).

        Returns
        -------
        (H, W) ndarray of float32
            On the grid of :meth:`frame_xyz`; NaN where it is NaN.
        """
        xyz = self.frame_xyz(product_id).astype(np.float64)
        c = np.asarray(self.manifest.frame(product_id).camera_centre_site, np.float64)
        return np.sqrt(np.sum((xyz - c) ** 2, axis=-1)).astype(np.float32)

    def radiance(self, directions_site: ArrayLike) -> NDArray[np.float32]:
        """World radiance towards SITE_FRAME directions.

        Parameters
        ----------
        directions_site : (N, 3) array_like
            Directions in SITE_FRAME (need not be unit length).

        Returns
        -------
        (N, 3) ndarray of float32
            World-RGB radiance, W m^-2 sr^-1 nm^-1.
        """
        d = np.asarray(directions_site, dtype=np.float64)
        if d.ndim != 2 or d.shape[1] != 3:
            raise ValueError(f"directions must be shaped (N, 3), got {d.shape}")
        norm = np.linalg.norm(d, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            az = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
            el = -np.degrees(np.arcsin(np.clip(d[:, 2] / norm, -1.0, 1.0)))
        return sample_panorama(self.panorama, az, el)

    def radiance_grid(self, az_deg: ArrayLike, el_deg: ArrayLike) -> NDArray[np.float32]:
        """World radiance on an azimuth/elevation grid (degrees, SITE_FRAME).

        Parameters
        ----------
        az_deg, el_deg : (H, W) array_like
            Azimuth clockwise from north and elevation up, per output pixel.

        Returns
        -------
        (H, W, 3) ndarray of float32
            World-RGB radiance, W m^-2 sr^-1 nm^-1.
        """
        return sample_panorama(self.panorama, np.asarray(az_deg, dtype=np.float64),
                               np.asarray(el_deg, dtype=np.float64))

    @property
    def gray_weights(self) -> NDArray[np.float32]:
        """(3,) world-RGB weights of the sol's panchromatic cameras (sum 1).

        Raises
        ------
        rovercam.errors.RovercamError
            The sol has no panchromatic cameras (its manifest records no weights).
        """
        w = self.manifest.panorama.get("gray_weights")
        if w is None:
            raise RovercamError(f"profile {self.manifest.profile!r}: no panchromatic cameras, so "
                                "no gray weights; pass weights= explicitly")
        return np.asarray(w, dtype=np.float32)

    def gray_radiance(self, directions_site: ArrayLike, *,
                      weights: ArrayLike | None = None) -> NDArray[np.float32]:
        """One-band radiance towards SITE_FRAME directions: ``weights @ world RGB``.

        Parameters
        ----------
        directions_site : (N, 3) array_like
            Directions in SITE_FRAME (need not be unit length).
        weights : (3,) array_like, keyword-only
            World-RGB weights; default :attr:`gray_weights` (what the sol's monochrome cameras
            see, e.g. the ``heritage-navcam`` profile's MSL Navcams).

        Returns
        -------
        (N,) ndarray of float32
            W m^-2 sr^-1 nm^-1.
        """
        w = self.gray_weights if weights is None else np.asarray(weights, dtype=np.float32)
        return self.radiance(directions_site) @ w

    def gray_radiance_grid(self, az_deg: ArrayLike, el_deg: ArrayLike, *,
                           weights: ArrayLike | None = None) -> NDArray[np.float32]:
        """One-band radiance on an azimuth/elevation grid (degrees, SITE_FRAME).

        The truth a one-band mosaic is scored against: :meth:`radiance_grid` through the
        sol's panchromatic weights (or ``weights``). Returns (H, W) float32,
        W m^-2 sr^-1 nm^-1.
        """
        w = self.gray_weights if weights is None else np.asarray(weights, dtype=np.float32)
        return self.radiance_grid(az_deg, el_deg) @ w

    def camera_radiance(self, directions_site: ArrayLike,
                        instrument_id: str) -> NDArray[np.float32]:
        """Radiance in a camera's own bands: ``camera_from_world @ world RGB`` (N, 3) float32."""
        m = np.asarray(self.manifest.sensors[instrument_id]["camera_from_world"], dtype=np.float32)
        return self.radiance(directions_site) @ m.T


def load_truth(sol_dir: str | Path) -> Truth:
    """Read the truth of a sol generated by :func:`rovercam.synth.generate_sol`.

    Parameters
    ----------
    sol_dir : path-like
        The folder ``generate_sol`` wrote (it holds ``truth/manifest.json``).

    Raises
    ------
    rovercam.errors.RovercamError
        No manifest, or a manifest of another format.
    """
    truth_dir = Path(sol_dir) / "truth"
    manifest_path = truth_dir / "manifest.json"
    if not manifest_path.is_file():
        raise RovercamError(f"{manifest_path}: no synthetic-sol manifest here")
    manifest = SolManifest.from_json(manifest_path.read_text())
    info = manifest.panorama
    data = np.load(truth_dir / info["file"]).astype(np.float32)
    panorama = Panorama(data=data, step_deg=float(info["step_deg"]),
                        elevation_max_deg=float(info["elevation_max_deg"]))
    return Truth(manifest=manifest, panorama=panorama, root=Path(sol_dir))
