"""Orthographic mosaics of a Hazcam pair on the terrain against the level plane (issue 20).

The scene: the terrain of the ``full`` synthetic profile (:mod:`rovercam.synth.terrain`, the
default :class:`~rovercam.synth.terrain.TerrainParams` for a seed, rover at the default
:class:`~rovercam.synth.pointing.RoverPose`), seen by the Front Hazcam left and right eyes
(:func:`rovercam.synth.cameras.hazcam_models`, scaled by ``scale``). Frames are the terrain's
radiance along every pixel centre's ray (:meth:`Terrain.render_grid`), with no sensor noise or
calibration: the figure isolates the geometry.

The truth orthoimage is the terrain's surface radiance at every ground point of the vertical
grid, band-limited to the grid's pixel (:meth:`Terrain.surface_radiance` with the footprint
``scale_m``). The comparison is over the grid pixels that *both eyes see*: the true ground
point projects inside both frames, and the generator's own ray cast from each eye's centre
reaches it (not hidden behind a rock); and both mosaics cover it.

Figures (:func:`terrain_vs_plane`): PSNR of the mosaic on the terrain (``surface = "terrain"``
with the DEM given) and on the level plane through the DEM's median height over the grid,
against the truth orthoimage, in linear radiance with the truth's 99.9th percentile as the peak;
``terrain_vs_plane_db`` is their difference (independent of the peak). The DEM can be any:
:func:`truth_dem` (the terrain's heights), :func:`xyz_dem` (the left eye's true XYZ gridded by
:func:`rovercam.terrain.dem_from_points`, what a perfect stereo pair gives), or a DEM from
stereo products.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rovercam.metrics import psnr
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.projections import VerticalProjection
from rovercam.mosaic.render import FrameStack, RenderOptions, render_mosaic
from rovercam.synth.cameras import hazcam_models
from rovercam.synth.pointing import RoverPose
from rovercam.synth.terrain import Terrain, TerrainParams, build_terrain
from rovercam.terrain import DEM, dem_from_points

__all__ = ["HazcamScene", "hazcam_scene", "truth_dem", "xyz_dem", "truth_orthoimage", "ortho_grid",
           "terrain_vs_plane", "run"]

EYES = ("FRONT_HAZCAM_LEFT_A", "FRONT_HAZCAM_RIGHT_A")


@dataclass(frozen=True)
class HazcamScene:
    """A Front Hazcam pair over the synthetic terrain.

    Attributes
    ----------
    terrain : Terrain
    geoms : list of FrameGeometry
        Left, right: models in SITE_FRAME, frame sizes.
    images : list of (H, W, 3) float32
        Radiance (world RGB), NaN on no pixel (the hazcams see ground everywhere).
    xyz : (H, W, 3) float64
        The left eye's true XYZ (SITE_FRAME, metres; NaN on the sky).
    ground_z_m : float
        z of the ground under the rover (SITE_FRAME, metres).
    forward : (2,) float64
        The rover's forward direction, (north, east).
    render_s : float
        Seconds to render both frames.
    """

    terrain: Terrain
    geoms: list[FrameGeometry]
    images: list[np.ndarray]
    xyz: np.ndarray
    ground_z_m: float
    forward: np.ndarray
    render_s: float


def hazcam_scene(*, seed: int = 7, scale: float = 0.25) -> HazcamScene:
    """Render the Front Hazcam pair of the ``full`` profile's terrain (``scale`` of 5120x3840)."""
    pose = RoverPose()
    centre = (pose.position_m[0], pose.position_m[1])
    terrain = build_terrain(TerrainParams(seed=seed, centre_m=centre))
    h0 = float(terrain.height(np.array([centre[0]]), np.array([centre[1]]))[0])
    r_site_rover = pose.r_site_rover
    t_site_rover = np.array([centre[0], centre[1], -h0])
    models = hazcam_models()
    geoms, images, xyz = [], [], None
    t0 = time.perf_counter()
    for eye in EYES:
        model = models[eye].scaled(scale, scale).transformed(r_site_rover, t_site_rover)
        w, h = int(5120 * scale), int(3840 * scale)
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        o, d = model.unproject(np.column_stack([xs.ravel(), ys.ravel()]))
        rad, rng = terrain.render_grid(o.reshape(h, w, 3), d.reshape(h, w, 3),
                                       pixel_rad=1.0 / model.internal().hs)
        if xyz is None:
            xyz = (o + d * rng.reshape(-1, 1)).reshape(h, w, 3)
        geoms.append(FrameGeometry(eye, model, w, h))
        images.append(rad.astype(np.float32))
    forward = r_site_rover[:2, 0] / np.linalg.norm(r_site_rover[:2, 0])
    assert xyz is not None
    return HazcamScene(terrain, geoms, images, xyz, -h0, forward, time.perf_counter() - t0)


def ortho_grid(scene: HazcamScene, *, scale_m: float = 0.01, ahead_m: float = 2.6,
               half_m: float = 2.0, ground_z_m: float | None = None, dem: DEM | None = None) -> VerticalProjection:
    """A north-up vertical grid ``2 half_m`` wide centred ``ahead_m`` in front of the rover."""
    c = np.mean([g.model.c for g in scene.geoms], axis=0)
    centre = c[:2] + ahead_m * scene.forward
    n = 2 * int(round(half_m / scale_m)) + 1
    z = scene.ground_z_m if ground_z_m is None else ground_z_m
    return VerticalProjection(float(centre[0]) + half_m, float(centre[1]) - half_m, scale_m, n, n, z,
                              origin=tuple(float(v) for v in c), dem=dem)  # type: ignore[arg-type]


def truth_dem(scene: HazcamScene, proj: VerticalProjection, *, cell_m: float = 0.02) -> DEM:
    """The terrain's own heights on a ``cell_m`` lattice covering ``proj`` (no holes)."""
    north0 = proj.north_top_m - (proj.height - 1) * proj.scale_m
    i0, i1 = int(np.floor(north0 / cell_m)) - 1, int(np.ceil(proj.north_top_m / cell_m)) + 1
    j0 = int(np.floor(proj.east_left_m / cell_m)) - 1
    j1 = int(np.ceil((proj.east_left_m + (proj.width - 1) * proj.scale_m) / cell_m)) + 1
    x, y = np.meshgrid(np.arange(i0, i1 + 1) * cell_m, np.arange(j0, j1 + 1) * cell_m, indexing="ij")
    h = scene.terrain.height(x.ravel(), y.ravel()).reshape(x.shape)
    return DEM(h.astype(np.float32), (i0 * cell_m, j0 * cell_m), cell_m)


def xyz_dem(scene: HazcamScene, proj: VerticalProjection, *, cell_m: float = 0.02) -> DEM:
    """The left eye's true XYZ over ``proj`` gridded by :func:`rovercam.terrain.dem_from_points`:
    the DEM a perfect stereo pair gives (holes behind rocks, nothing outside the view)."""
    north0 = proj.north_top_m - (proj.height - 1) * proj.scale_m
    east1 = proj.east_left_m + (proj.width - 1) * proj.scale_m
    bounds = (north0 - cell_m, proj.north_top_m + cell_m, proj.east_left_m - cell_m, east1 + cell_m)
    return dem_from_points(scene.xyz, cell_m=cell_m, bounds=bounds)


def truth_orthoimage(scene: HazcamScene, proj: VerticalProjection) -> np.ndarray:
    """(height, width, 3) float32: the terrain's radiance under every grid pixel, band-limited
    to the pixel (``proj.scale_m``)."""
    y, x = np.mgrid[0 : proj.height, 0 : proj.width]
    north = proj.north_top_m - y.ravel() * proj.scale_m
    east = proj.east_left_m + x.ravel() * proj.scale_m
    rad = scene.terrain.surface_radiance(north, east, np.full(north.shape, proj.scale_m))
    return rad.reshape(proj.height, proj.width, 3)


def _both_see(scene: HazcamScene, proj: VerticalProjection) -> np.ndarray:
    """(height, width) bool: the true ground point is inside both frames and not hidden from
    either eye's centre (the generator's ray cast reaches it within 1 cm + 0.5 %)."""
    y, x = np.mgrid[0 : proj.height, 0 : proj.width]
    north = proj.north_top_m - y.ravel() * proj.scale_m
    east = proj.east_left_m + x.ravel() * proj.scale_m
    pts = np.stack([north, east, -scene.terrain.height(north, east)], axis=1)
    ok = np.isfinite(pts).all(axis=1)
    for g in scene.geoms:
        px = g.model.project(pts)
        ok &= np.isfinite(px).all(axis=1)
        ok &= (px[:, 0] >= 0) & (px[:, 0] <= g.width - 1) & (px[:, 1] >= 0) & (px[:, 1] <= g.height - 1)
        c = np.asarray(g.model.c, dtype=np.float64)
        d = pts[ok] - c
        dist = np.linalg.norm(d, axis=1)
        t = scene.terrain.cast(np.broadcast_to(c, d.shape), d / dist[:, None],
                               pixel_rad=1.0 / g.model.internal().hs)
        seen = np.zeros(len(pts), bool)
        seen[np.flatnonzero(ok)] = np.isfinite(t) & (t > dist - (0.01 + 0.005 * dist))
        ok &= seen
    return ok.reshape(proj.height, proj.width)


def terrain_vs_plane(scene: HazcamScene, dem: DEM, *, scale_m: float = 0.01,
                     options: RenderOptions = RenderOptions(tile=512)) -> dict[str, float]:
    """PSNR (dB) of the orthomosaic of ``scene``'s pair on ``dem`` and on the level plane.

    Parameters
    ----------
    scene : HazcamScene
    dem : DEM
        SITE_FRAME heights (truth, gridded XYZ, or from stereo).
    scale_m : float
        Grid pixel, metres.
    options : RenderOptions

    Returns
    -------
    dict
        ``psnr_terrain_db``, ``psnr_plane_db``, ``terrain_vs_plane_db`` (their difference),
        ``compared_pct`` (the grid pixels compared), ``plane_z_m`` (the level plane: the DEM's
        median z over the grid), ``render_terrain_s``, ``render_plane_s``.
    """
    base = ortho_grid(scene, scale_m=scale_m)
    y, x = np.mgrid[0 : base.height, 0 : base.width]
    z = dem.z_at(base.north_top_m - y * base.scale_m, base.east_left_m + x * base.scale_m)
    plane_z = float(np.nanmedian(z)) if np.isfinite(z).any() else scene.ground_z_m
    stack = FrameStack(scene.geoms, lambda i: scene.images[i])
    out: dict[str, Any] = {}
    renders = {}
    for name, use_dem in (("terrain", dem), ("plane", None)):
        proj = ortho_grid(scene, scale_m=scale_m, ground_z_m=plane_z, dem=use_dem)
        t0 = time.perf_counter()
        renders[name], _ = render_mosaic(stack, proj, options=options)
        out[f"render_{name}_s"] = time.perf_counter() - t0
    truth = truth_orthoimage(scene, base)
    mask = _both_see(scene, base) & np.isfinite(renders["terrain"]).all(axis=2) \
        & np.isfinite(renders["plane"]).all(axis=2)
    peak = float(np.percentile(truth[mask], 99.9))
    for name, img in renders.items():
        out[f"psnr_{name}_db"] = psnr(img, truth, data_range=peak, mask=mask)
    out["terrain_vs_plane_db"] = out["psnr_terrain_db"] - out["psnr_plane_db"]
    out["compared_pct"] = 100.0 * float(mask.mean())
    out["plane_z_m"] = plane_z
    return out


def run(*, quick: bool = False) -> dict[str, object]:
    """Both DEMs (truth heights, the left eye's true XYZ gridded), on one Hazcam pair.

    ``quick``: the pair at 1/8 of full size (640x480) instead of 1/4, a 2 cm grid.
    """
    scale, grid = (0.125, 0.02) if quick else (0.25, 0.01)
    scene = hazcam_scene(scale=scale)
    figures: dict[str, object] = {"hazcam_render_s": scene.render_s}
    truth = terrain_vs_plane(scene, truth_dem(scene, ortho_grid(scene, scale_m=grid)), scale_m=grid)
    figures.update({f"{k}": v for k, v in truth.items()})
    t0 = time.perf_counter()
    dem = xyz_dem(scene, ortho_grid(scene, scale_m=grid))
    figures["dem_from_points_s"] = time.perf_counter() - t0
    gridded = terrain_vs_plane(scene, dem, scale_m=grid)
    figures.update({f"xyz_{k}": v for k, v in gridded.items()})
    return figures
